package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/integrity"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/page"
)

// observabilityRoutes registers the queue observability routes of API.md: the org's jobs with
// their attempts, dead letters and their retry, events, job logs and integrity alerts. Every
// read runs in a tenant transaction and filters the org itself.
func (s *Server) observabilityRoutes(r router) {
	r.GET("/observability/jobs", s.listJobs)
	r.GET("/observability/jobs/:id", s.getJob)
	r.GET("/observability/dead-letters", s.listDeadLetters)
	r.POST("/observability/dead-letters/:id/retry", s.retryDeadLetter)
	r.GET("/observability/events", s.listEvents)
	r.GET("/observability/logs", s.listJobLogs)
	r.GET("/observability/integrity-alerts", s.listIntegrityAlerts)
	r.POST("/observability/integrity-alerts/:id/resolve", s.resolveIntegrityAlert)
}

// jobResponse is a job.
type jobResponse struct {
	ID          int64           `json:"id"`
	Type        string          `json:"type"`
	Status      string          `json:"status"`
	Attempts    int             `json:"attempts"`
	MaxAttempts int             `json:"maxAttempts"`
	RunAt       time.Time       `json:"runAt"`
	LockedAt    *time.Time      `json:"lockedAt"`
	LockedBy    *string         `json:"lockedBy"`
	LastError   *string         `json:"lastError"`
	EventID     *int64          `json:"eventId"`
	CreatedAt   time.Time       `json:"createdAt"`
	CompletedAt *time.Time      `json:"completedAt"`
	FailedAt    *time.Time      `json:"failedAt"`
	Payload     json.RawMessage `json:"payload"`
}

// jobDetailResponse is a job with its attempts, oldest first. API.md names the list "attempts",
// the name the job's attempt counter has in the list: here the counter is "attemptCount" (the
// outer field hides the embedded one of the same JSON name).
type jobDetailResponse struct {
	jobResponse
	AttemptCount int               `json:"attemptCount"`
	Attempts     []attemptResponse `json:"attempts"`
}

// attemptResponse is one finished attempt of a job.
type attemptResponse struct {
	Attempt    int       `json:"attempt"`
	Worker     string    `json:"worker"`
	Outcome    string    `json:"outcome"`
	Error      *string   `json:"error"`
	DurationMS int       `json:"durationMs"`
	FinishedAt time.Time `json:"finishedAt"`
}

// jobLogResponse is one job_logs row.
type jobLogResponse struct {
	ID         int64     `json:"id"`
	JobID      int64     `json:"jobId"`
	Type       string    `json:"type"`
	Attempt    int       `json:"attempt"`
	Worker     string    `json:"worker"`
	Outcome    string    `json:"outcome"`
	Error      *string   `json:"error"`
	DurationMS int       `json:"durationMs"`
	FinishedAt time.Time `json:"finishedAt"`
}

// deadLetterResponse is a dead letter.
type deadLetterResponse struct {
	ID        int64           `json:"id"`
	JobID     int64           `json:"jobId"`
	Type      string          `json:"type"`
	Payload   json.RawMessage `json:"payload"`
	Attempts  int             `json:"attempts"`
	LastError *string         `json:"lastError"`
	Reason    string          `json:"reason"`
	FailedAt  time.Time       `json:"failedAt"`
	RetriedAt *time.Time      `json:"retriedAt"`
	RetriedBy *string         `json:"retriedBy"`
}

// retryResponse answers a dead letter's retry: the job is pending again.
type retryResponse struct {
	JobID  int64  `json:"jobId"`
	Status string `json:"status"`
}

// eventResponse is an event.
type eventResponse struct {
	ID             int64           `json:"id"`
	Type           string          `json:"type"`
	EntityType     string          `json:"entityType"`
	EntityID       *uuid.UUID      `json:"entityId"`
	Payload        json.RawMessage `json:"payload"`
	Actor          string          `json:"actor"`
	OccurredAt     time.Time       `json:"occurredAt"`
	IdempotencyKey string          `json:"idempotencyKey"`
}

// integrityAlertResponse is an integrity alert.
type integrityAlertResponse struct {
	ID         uuid.UUID       `json:"id"`
	CheckName  string          `json:"checkName"`
	Severity   string          `json:"severity"`
	EntityType *string         `json:"entityType"`
	EntityID   *uuid.UUID      `json:"entityId"`
	Detail     json.RawMessage `json:"detail"`
	DetectedAt time.Time       `json:"detectedAt"`
	ResolvedAt *time.Time      `json:"resolvedAt"`
}

// GET /observability/jobs?status=&type=
func (s *Server) listJobs(c echo.Context) error {
	status, err := queryOneOf(c, "status", jobs.Statuses...)
	if err != nil {
		return err
	}
	typ, err := queryJobType(c, "type")
	if err != nil {
		return err
	}
	return listInOrg(s, c, func(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, pr page.Request) (page.Page[jobs.Record], error) {
		return jobs.List(ctx, tx, orgID, jobs.Filter{Status: jobs.Status(status), Type: typ}, pr)
	}, toJobResponse)
}

// GET /observability/jobs/{id}
func (s *Server) getJob(c echo.Context) error {
	id, err := pathInt64(c, "id")
	if err != nil {
		return err
	}
	var (
		job  jobs.Record
		logs []jobs.LogEntry
	)
	err = s.inOrg(c, func(tx *gorm.DB) error {
		ctx, orgID := c.Request().Context(), orgOf(c)
		var err error
		if job, err = jobs.Get(ctx, tx, orgID, id); err != nil {
			return err
		}
		logs, err = jobs.JobLogs(ctx, tx, orgID, id)
		return err
	})
	if err != nil {
		return err
	}
	out := jobDetailResponse{jobResponse: toJobResponse(job), AttemptCount: job.Attempts, Attempts: make([]attemptResponse, len(logs))}
	for i, l := range logs {
		out.Attempts[i] = attemptResponse{
			Attempt: l.Attempt, Worker: l.Worker, Outcome: l.Outcome, Error: l.Error,
			DurationMS: l.DurationMS, FinishedAt: l.FinishedAt.UTC(),
		}
	}
	return c.JSON(http.StatusOK, out)
}

// GET /observability/dead-letters?type=&open=
func (s *Server) listDeadLetters(c echo.Context) error {
	typ, err := queryJobType(c, "type")
	if err != nil {
		return err
	}
	open, err := queryBool(c, "open")
	if err != nil {
		return err
	}
	return listInOrg(s, c, func(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, pr page.Request) (page.Page[jobs.DeadLetter], error) {
		return jobs.ListDeadLetters(ctx, tx, orgID, jobs.DeadLetterFilter{Type: typ, Open: open}, pr)
	}, func(d jobs.DeadLetter) deadLetterResponse {
		return deadLetterResponse{
			ID: d.ID, JobID: d.JobID, Type: d.Type, Payload: d.Payload, Attempts: d.Attempts, LastError: d.LastError,
			Reason: d.Reason, FailedAt: d.FailedAt.UTC(), RetriedAt: utcPtr(d.RetriedAt), RetriedBy: d.RetriedBy,
		}
	})
}

// POST /observability/dead-letters/{id}/retry: the job runs again with a fresh set of attempts;
// a dead letter is retried once (409 after).
func (s *Server) retryDeadLetter(c echo.Context) error {
	id, err := pathInt64(c, "id")
	if err != nil {
		return err
	}
	var jobID int64
	err = s.inOrg(c, func(tx *gorm.DB) error {
		var err error
		jobID, err = s.Queue.RetryDeadLetterTx(c.Request().Context(), tx, orgOf(c), id, actorOf(c))
		return err
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, retryResponse{JobID: jobID, Status: string(jobs.StatusPending)})
}

// GET /observability/events?type=&entityType=&entityId=
func (s *Server) listEvents(c echo.Context) error {
	var f events.Filter
	if f.Type = c.QueryParam("type"); f.Type != "" && !events.ValidType(f.Type) {
		return badQuery("type", "must be an event type such as lead.created")
	}
	if f.EntityType = c.QueryParam("entityType"); len(f.EntityType) > events.MaxEntityTypeLen {
		return badQuery("entityType", "must have at most 64 characters")
	}
	var err error
	if f.EntityID, err = queryUUID(c, "entityId"); err != nil {
		return err
	}
	return listInOrg(s, c, func(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, pr page.Request) (page.Page[events.Event], error) {
		return events.List(ctx, tx, orgID, f, pr)
	}, func(ev events.Event) eventResponse {
		return eventResponse{
			ID: ev.ID, Type: ev.Type, EntityType: ev.EntityType, EntityID: ev.EntityID, Payload: ev.Payload,
			Actor: ev.Actor, OccurredAt: ev.OccurredAt.UTC(), IdempotencyKey: ev.IdempotencyKey,
		}
	})
}

// GET /observability/logs?jobId=&outcome=&type=
func (s *Server) listJobLogs(c echo.Context) error {
	var f jobs.LogFilter
	if raw := c.QueryParam("jobId"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n <= 0 {
			return badQuery("jobId", "must be a positive integer")
		}
		f.JobID = n
	}
	var err error
	if f.Outcome, err = queryOneOf(c, "outcome", jobs.Outcomes...); err != nil {
		return err
	}
	if f.Type, err = queryJobType(c, "type"); err != nil {
		return err
	}
	return listInOrg(s, c, func(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, pr page.Request) (page.Page[jobs.LogEntry], error) {
		return jobs.ListLogs(ctx, tx, orgID, f, pr)
	}, func(l jobs.LogEntry) jobLogResponse {
		return jobLogResponse{
			ID: l.ID, JobID: l.JobID, Type: l.Type, Attempt: l.Attempt, Worker: l.Worker, Outcome: l.Outcome,
			Error: l.Error, DurationMS: l.DurationMS, FinishedAt: l.FinishedAt.UTC(),
		}
	})
}

// maxCheckNameLen is the longest checkName filter accepted.
const maxCheckNameLen = 100

// GET /observability/integrity-alerts?open=&severity=&checkName=
func (s *Server) listIntegrityAlerts(c echo.Context) error {
	open, err := queryBool(c, "open")
	if err != nil {
		return err
	}
	severity, err := queryOneOf(c, "severity", integrity.Severities...)
	if err != nil {
		return err
	}
	check := c.QueryParam("checkName")
	if len(check) > maxCheckNameLen {
		return badQuery("checkName", "must have at most 100 characters")
	}
	return listInOrg(s, c, func(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, pr page.Request) (page.Page[integrity.Alert], error) {
		return integrity.List(ctx, tx, orgID, integrity.Filter{Open: open, Severity: severity, CheckName: check}, pr)
	}, toAlertResponse)
}

// POST /observability/integrity-alerts/{id}/resolve: a person resolves an open alert; one
// resolved already is 409 (integrity.Service.Resolve).
func (s *Server) resolveIntegrityAlert(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	a, err := integrity.NewService(s.DB, s.Emitter, integrity.Options{}).Resolve(c.Request().Context(), orgOf(c), actorOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAlertResponse(a))
}

func toAlertResponse(a integrity.Alert) integrityAlertResponse {
	return integrityAlertResponse{
		ID: a.ID, CheckName: a.CheckName, Severity: a.Severity, EntityType: a.EntityType, EntityID: a.EntityID,
		Detail: a.Detail, DetectedAt: a.DetectedAt.UTC(), ResolvedAt: utcPtr(a.ResolvedAt),
	}
}

// listInOrg answers a list route: it reads the page request, runs list in a tenant transaction
// of the caller's org and answers with the page, each item mapped by to. The route's own filters
// are read (and refused) before it.
func listInOrg[T, R any](s *Server, c echo.Context, list func(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, pr page.Request) (page.Page[T], error), to func(T) R) error {
	pr, err := pageRequest(c)
	if err != nil {
		return err
	}
	var p page.Page[T]
	err = s.inOrg(c, func(tx *gorm.DB) error {
		var err error
		p, err = list(c.Request().Context(), tx, orgOf(c), pr)
		return err
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, mapPage(p, to))
}

// inOrg runs fn in a tenant transaction of the caller's org.
func (s *Server) inOrg(c echo.Context, fn func(tx *gorm.DB) error) error {
	return s.DB.Tx(c.Request().Context(), orgOf(c), fn)
}

func toJobResponse(j jobs.Record) jobResponse {
	return jobResponse{
		ID: j.ID, Type: j.Type, Status: string(j.Status), Attempts: j.Attempts, MaxAttempts: j.MaxAttempts,
		RunAt: j.RunAt.UTC(), LockedAt: utcPtr(j.LockedAt), LockedBy: j.LockedBy, LastError: j.LastError,
		EventID: j.EventID, CreatedAt: j.CreatedAt.UTC(), CompletedAt: utcPtr(j.CompletedAt),
		FailedAt: utcPtr(j.FailedAt), Payload: j.Payload,
	}
}

// mapPage maps a page's rows to their response DTOs, keeping its cursor.
func mapPage[T, D any](p page.Page[T], f func(T) D) page.Page[D] {
	out := page.Page[D]{Data: make([]D, len(p.Data)), NextCursor: p.NextCursor}
	for i, v := range p.Data {
		out.Data[i] = f(v)
	}
	return out
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// queryJobType reads an optional query parameter that must have the form of a job type.
func queryJobType(c echo.Context, name string) (string, error) {
	raw := c.QueryParam(name)
	if raw != "" && !jobs.ValidType(raw) {
		return "", badQuery(name, "must be a job type: lower-case letters, digits and _, starting with a letter")
	}
	return raw, nil
}

// queryBool reads an optional query parameter that must be true or false.
func queryBool(c echo.Context, name string) (*bool, error) {
	raw, err := queryOneOf(c, name, "true", "false")
	if err != nil || raw == "" {
		return nil, err
	}
	v := raw == "true"
	return &v, nil
}

// badQuery is the 400 of a query parameter that is not acceptable.
func badQuery(name, message string) error {
	return apperr.Errorf(apperr.BadRequest, "%s %s", name, message).
		WithFields(apperr.FieldError{Field: name, Message: message})
}
