package httpapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/page"
	"example.com/crm/pkg/pipeline"
)

// obsJob is a job as the API shows it.
type obsJob struct {
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

// obsJobDetail is GET /observability/jobs/{id}.
type obsJobDetail struct {
	ID           int64  `json:"id"`
	Status       string `json:"status"`
	AttemptCount int    `json:"attemptCount"`
	Attempts     []struct {
		Attempt    int       `json:"attempt"`
		Worker     string    `json:"worker"`
		Outcome    string    `json:"outcome"`
		Error      *string   `json:"error"`
		DurationMS int       `json:"durationMs"`
		FinishedAt time.Time `json:"finishedAt"`
	} `json:"attempts"`
}

// obsLog is a job log as the API shows it.
type obsLog struct {
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

// obsDeadLetter is a dead letter as the API shows it.
type obsDeadLetter struct {
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

// obsEvent is an event as the API shows it.
type obsEvent struct {
	ID             int64           `json:"id"`
	Type           string          `json:"type"`
	EntityType     string          `json:"entityType"`
	EntityID       *uuid.UUID      `json:"entityId"`
	Payload        json.RawMessage `json:"payload"`
	Actor          string          `json:"actor"`
	OccurredAt     time.Time       `json:"occurredAt"`
	IdempotencyKey string          `json:"idempotencyKey"`
}

// obsAlert is an integrity alert as the API shows it.
type obsAlert struct {
	ID         uuid.UUID       `json:"id"`
	CheckName  string          `json:"checkName"`
	Severity   string          `json:"severity"`
	EntityType *string         `json:"entityType"`
	EntityID   *uuid.UUID      `json:"entityId"`
	Detail     json.RawMessage `json:"detail"`
	DetectedAt time.Time       `json:"detectedAt"`
	ResolvedAt *time.Time      `json:"resolvedAt"`
}

// walkList GETs every page of the list at path (which may carry a query) with pages of limit rows,
// as the caller given by opts, and returns all rows. It requires full pages before the last and
// an end.
func walkList[T any](a *apiTest, path string, limit int, opts ...reqOpt) []T {
	a.t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	out := []T{}
	cursor := ""
	for range 100 {
		p := fmt.Sprintf("%s%slimit=%d", path, sep, limit)
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		r := a.do(http.MethodGet, p, nil, opts...)
		require.Equal(a.t, http.StatusOK, r.Status, "%s: %s", p, r.Body)
		var pg page.Page[T]
		r.json(a.t, &pg)
		require.NotNil(a.t, pg.Data, "data is a list, never null")
		out = append(out, pg.Data...)
		if pg.NextCursor == nil {
			return out
		}
		require.Len(a.t, pg.Data, limit, "%s: only the last page is short", p)
		cursor = *pg.NextCursor
	}
	require.FailNow(a.t, "pagination does not end", path)
	return nil
}

// obsQueue is a job queue in every state in two orgs, made by a worker (the owner role, as the
// worker connects). In the test's org: done (noop, completed first time), flaky (enrich_lead,
// failed once then completed), dead (noop, dead-lettered after its one attempt), perm
// (enrich_lead, dead-lettered by a permanent error), running (noop, claimed) and waiting (noop,
// pending). In other: otherDone (completed) and otherDead (dead-lettered).
type obsQueue struct {
	other                               uuid.UUID
	otherKey                            string
	claimID                             string
	done, flaky, dead, perm, running    int64
	waiting, otherDone, otherDead       int64
	deadLetter, permLetter, otherLetter int64
}

func seedObsQueue(a *apiTest) *obsQueue {
	a.t.Helper()
	t, ctx := a.t, a.t.Context()
	q := &obsQueue{claimID: jobs.NewClaimID("worker-1")}
	q.other, q.otherKey = a.newOrg("other")
	worker := jobs.New(a.owner, jobs.Config{BaseDelay: time.Hour})
	enqueue := func(org uuid.UUID, typ, key string, maxAttempts int) int64 {
		var ids []int64
		require.NoError(t, a.owner.Tx(ctx, org, func(tx *gorm.DB) error {
			var err error
			ids, err = worker.Enqueue(ctx, tx, jobs.NewJob{OrgID: org, Type: typ, IdempotencyKey: key, MaxAttempts: maxAttempts, Payload: map[string]string{"key": key}})
			return err
		}))
		require.Len(t, ids, 1)
		return ids[0]
	}
	q.done = enqueue(a.org, jobs.KindNoop, "done", 0)
	q.flaky = enqueue(a.org, pipeline.KindEnrichLead, "flaky", 0)
	q.dead = enqueue(a.org, jobs.KindNoop, "dead", 1)
	q.perm = enqueue(a.org, pipeline.KindEnrichLead, "perm", 0)
	q.running = enqueue(a.org, jobs.KindNoop, "running", 0)
	q.otherDone = enqueue(q.other, jobs.KindNoop, "done", 0)
	q.otherDead = enqueue(q.other, jobs.KindNoop, "dead", 1)

	claimed, err := worker.Claim(ctx, q.claimID, 10)
	require.NoError(t, err)
	require.Len(t, claimed, 7)
	byID := map[int64]*jobs.Job{}
	for _, j := range claimed {
		byID[j.ID] = j
	}
	ok, err := worker.CompleteMany(ctx, []jobs.Completion{{Job: byID[q.done], Duration: 12 * time.Millisecond}, {Job: byID[q.otherDone]}})
	require.NoError(t, err)
	require.Len(t, ok, 2)
	for _, f := range []struct {
		id    int64
		cause error
	}{{q.flaky, errors.New("timeout")}, {q.dead, errors.New("boom")}, {q.perm, jobs.Permanentf("bad payload")}, {q.otherDead, errors.New("boom")}} {
		_, err := worker.Fail(ctx, byID[f.id], f.cause, 0)
		require.NoError(t, err)
	}
	_, err = a.super.Exec(ctx, `UPDATE jobs SET run_at = now() WHERE id = $1`, q.flaky)
	require.NoError(t, err)
	again, err := worker.Claim(ctx, q.claimID, 10)
	require.NoError(t, err)
	require.Len(t, again, 1)
	ok, err = worker.CompleteMany(ctx, []jobs.Completion{{Job: again[0]}})
	require.NoError(t, err)
	require.Len(t, ok, 1)
	q.waiting = enqueue(a.org, jobs.KindNoop, "waiting", 0)

	letter := func(jobID int64) int64 {
		var id int64
		require.NoError(t, a.super.QueryRow(ctx, `SELECT id FROM dead_letter_jobs WHERE job_id = $1`, jobID).Scan(&id))
		return id
	}
	q.deadLetter, q.permLetter, q.otherLetter = letter(q.dead), letter(q.perm), letter(q.otherDead)
	return q
}

func obsJobIDs(items []obsJob) []int64 {
	out := []int64{}
	for _, j := range items {
		out = append(out, j.ID)
	}
	return out
}

// TestObservabilityJobs proves GET /observability/jobs lists only the caller's org's jobs,
// newest first, with every field of API.md in RFC 3339 UTC, narrowed by status and type, and
// that pages of any size walkList every job exactly once.
func TestObservabilityJobs(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	q := seedObsQueue(a)
	all := []int64{q.waiting, q.running, q.perm, q.dead, q.flaky, q.done}
	for _, limit := range []int{1, 2, 4, 6, 200} {
		require.Equal(t, all, obsJobIDs(walkList[obsJob](a, "/observability/jobs", limit)), "limit %d", limit)
	}
	require.Equal(t, []int64{q.otherDead, q.otherDone}, obsJobIDs(walkList[obsJob](a, "/observability/jobs", 1, asOrg(q.other, q.otherKey))))

	for query, want := range map[string][]int64{
		"status=pending":                  {q.waiting},
		"status=running":                  {q.running},
		"status=completed":                {q.flaky, q.done},
		"status=failed":                   {q.perm, q.dead},
		"type=enrich_lead":                {q.perm, q.flaky},
		"type=noop&status=completed":      {q.done},
		"type=create_invoice":             {},
		"status=failed&type=noop":         {q.dead},
		"type=enrich_lead&status=running": {},
	} {
		require.Equal(t, want, obsJobIDs(walkList[obsJob](a, "/observability/jobs?"+query, 1)), query)
	}

	r := a.do(http.MethodGet, "/observability/jobs?limit=50", nil)
	require.Equal(t, http.StatusOK, r.Status)
	var raw struct {
		Data       []map[string]any `json:"data"`
		NextCursor *string          `json:"nextCursor"`
	}
	r.json(t, &raw)
	require.Nil(t, raw.NextCursor)
	require.Contains(t, string(r.Body), `"nextCursor":null`)
	for _, k := range []string{"id", "type", "status", "attempts", "maxAttempts", "runAt", "lockedAt", "lockedBy", "lastError", "eventId", "createdAt", "completedAt", "failedAt", "payload"} {
		require.Contains(t, raw.Data[0], k, "every field is present, null when unset")
	}
	require.Len(t, raw.Data[0], 14)
	require.True(t, strings.HasSuffix(raw.Data[0]["createdAt"].(string), "Z"), "times are UTC")

	var listed struct{ Data []obsJob }
	r.json(t, &listed)
	byID := map[int64]obsJob{}
	for _, j := range listed.Data {
		byID[j.ID] = j
	}
	done := byID[q.done]
	require.Equal(t, jobs.KindNoop, done.Type)
	require.Equal(t, "completed", done.Status)
	require.Equal(t, 1, done.Attempts)
	require.Equal(t, 3, done.MaxAttempts)
	require.NotNil(t, done.CompletedAt)
	require.Nil(t, done.FailedAt)
	require.Nil(t, done.LockedAt)
	require.JSONEq(t, `{"key":"done"}`, string(done.Payload))
	running := byID[q.running]
	require.Equal(t, "running", running.Status)
	require.NotNil(t, running.LockedAt)
	require.Equal(t, &q.claimID, running.LockedBy)
	dead := byID[q.dead]
	require.Equal(t, "failed", dead.Status)
	require.NotNil(t, dead.FailedAt)
	require.Equal(t, "boom", *dead.LastError)
	require.Equal(t, time.UTC, dead.CreatedAt.Location())
}

// TestObservabilityJob proves GET /observability/jobs/{id} shows the job with its attempts
// from job_logs, oldest first, and that an unknown id or another org's job is 404 while an id
// that is not a positive integer is 400.
func TestObservabilityJob(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	q := seedObsQueue(a)

	r := a.do(http.MethodGet, fmt.Sprintf("/observability/jobs/%d", q.flaky), nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var d obsJobDetail
	r.json(t, &d)
	require.Equal(t, q.flaky, d.ID)
	require.Equal(t, "completed", d.Status)
	require.Equal(t, 2, d.AttemptCount)
	require.Len(t, d.Attempts, 2)
	first, second := d.Attempts[0], d.Attempts[1]
	require.Equal(t, 1, first.Attempt)
	require.Equal(t, "failed", first.Outcome)
	require.Equal(t, "timeout", *first.Error)
	require.Equal(t, q.claimID, first.Worker)
	require.Equal(t, 2, second.Attempt)
	require.Equal(t, "completed", second.Outcome)
	require.Nil(t, second.Error)
	require.False(t, second.FinishedAt.Before(first.FinishedAt))

	r = a.do(http.MethodGet, fmt.Sprintf("/observability/jobs/%d", q.done), nil)
	r.json(t, &d)
	require.Len(t, d.Attempts, 1)
	require.Equal(t, 12, d.Attempts[0].DurationMS)
	r = a.do(http.MethodGet, fmt.Sprintf("/observability/jobs/%d", q.waiting), nil)
	r.json(t, &d)
	require.Equal(t, "pending", d.Status)
	require.NotNil(t, d.Attempts)
	require.Empty(t, d.Attempts)

	for _, id := range []int64{q.otherDone, q.otherDead, q.waiting + 1000} {
		r := a.do(http.MethodGet, fmt.Sprintf("/observability/jobs/%d", id), nil)
		require.Equal(t, http.StatusNotFound, r.Status, "job %d: %s", id, r.Body)
		require.Equal(t, "not_found", r.problem(t).Code)
	}
	r = a.do(http.MethodGet, fmt.Sprintf("/observability/jobs/%d", q.otherDone), nil, asOrg(q.other, q.otherKey))
	require.Equal(t, http.StatusOK, r.Status, "the other org sees its own job")
	for _, id := range []string{"abc", "0", "-1", "1.5", "99999999999999999999"} {
		r := a.do(http.MethodGet, "/observability/jobs/"+id, nil)
		require.Equal(t, http.StatusBadRequest, r.Status, id)
		require.Equal(t, "id", r.problem(t).Errors[0].Field)
	}
}

// TestObservabilityDeadLetters proves GET /observability/dead-letters lists only the caller's
// org's dead letters, newest first, with the open and type filters; that a retry puts the job
// back to pending with a fresh set of attempts and records the API key that asked, inside the
// tenant transaction of the row-level-security-bound API; that a second retry is 409 and
// changes nothing; and that another org's dead letter is 404 and stays open.
func TestObservabilityDeadLetters(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	q := seedObsQueue(a)
	ids := func(items []obsDeadLetter) []int64 {
		out := []int64{}
		for _, d := range items {
			out = append(out, d.ID)
		}
		return out
	}
	list := walkList[obsDeadLetter](a, "/observability/dead-letters", 1)
	require.Equal(t, []int64{q.permLetter, q.deadLetter}, ids(list))
	perm, dead := list[0], list[1]
	require.Equal(t, q.perm, perm.JobID)
	require.Equal(t, pipeline.KindEnrichLead, perm.Type)
	require.Equal(t, "permanent", perm.Reason)
	require.Equal(t, "permanent: bad payload", *perm.LastError)
	require.JSONEq(t, `{"key":"perm"}`, string(perm.Payload))
	require.Equal(t, q.dead, dead.JobID)
	require.Equal(t, "max_attempts", dead.Reason)
	require.Equal(t, 1, dead.Attempts)
	require.Nil(t, dead.RetriedAt)
	require.Nil(t, dead.RetriedBy)
	require.Equal(t, []int64{q.otherLetter}, ids(walkList[obsDeadLetter](a, "/observability/dead-letters", 5, asOrg(q.other, q.otherKey))))
	require.Equal(t, []int64{q.permLetter}, ids(walkList[obsDeadLetter](a, "/observability/dead-letters?type=enrich_lead", 5)))

	var keyID uuid.UUID
	require.NoError(t, a.super.QueryRow(t.Context(), `SELECT id FROM api_keys WHERE org_id = $1`, a.org).Scan(&keyID))
	retry := func(id int64, opts ...reqOpt) response {
		return a.do(http.MethodPost, fmt.Sprintf("/observability/dead-letters/%d/retry", id), nil, opts...)
	}
	r := retry(q.deadLetter)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.JSONEq(t, fmt.Sprintf(`{"jobId": %d, "status": "pending"}`, q.dead), string(r.Body))
	var status string
	var attempts int
	var retriedBy *string
	require.NoError(t, a.super.QueryRow(t.Context(), `SELECT status, attempts FROM jobs WHERE id = $1`, q.dead).Scan(&status, &attempts))
	require.Equal(t, "pending", status)
	require.Zero(t, attempts)
	require.NoError(t, a.super.QueryRow(t.Context(), `SELECT retried_by FROM dead_letter_jobs WHERE id = $1`, q.deadLetter).Scan(&retriedBy))
	require.Equal(t, "apikey:"+keyID.String(), *retriedBy)

	r = retry(q.deadLetter)
	require.Equal(t, http.StatusConflict, r.Status, string(r.Body))
	require.Equal(t, "conflict", r.problem(t).Code)
	require.Equal(t, 1, a.count(`SELECT count(*) FROM dead_letter_jobs WHERE id = $1 AND retried_by = $2`, q.deadLetter, "apikey:"+keyID.String()))

	for _, id := range []int64{q.otherLetter, q.otherLetter + 1000} {
		r := retry(id)
		require.Equal(t, http.StatusNotFound, r.Status, "dead letter %d: %s", id, r.Body)
	}
	require.Equal(t, 1, a.count(`SELECT count(*) FROM dead_letter_jobs WHERE id = $1 AND retried_at IS NULL`, q.otherLetter))
	require.Equal(t, 1, a.count(`SELECT count(*) FROM jobs WHERE id = $1 AND status = 'failed'`, q.otherDead))

	require.Equal(t, []int64{q.permLetter}, ids(walkList[obsDeadLetter](a, "/observability/dead-letters?open=true", 5)))
	retried := walkList[obsDeadLetter](a, "/observability/dead-letters?open=false", 5)
	require.Equal(t, []int64{q.deadLetter}, ids(retried))
	require.NotNil(t, retried[0].RetriedAt)
	require.Equal(t, "apikey:"+keyID.String(), *retried[0].RetriedBy)
	require.Empty(t, walkList[obsDeadLetter](a, "/observability/dead-letters?open=false&type=enrich_lead", 5))

	r = a.do(http.MethodGet, fmt.Sprintf("/observability/jobs/%d", q.dead), nil)
	var d obsJobDetail
	r.json(t, &d)
	require.Equal(t, "pending", d.Status)
	require.Zero(t, d.AttemptCount)

	r = retry(q.otherLetter, asOrg(q.other, q.otherKey))
	require.Equal(t, http.StatusOK, r.Status, "the other org retries its own: %s", r.Body)
	require.Equal(t, 1, a.count(`SELECT count(*) FROM dead_letter_jobs WHERE retried_at IS NULL`), "only perm's is open now")
}

// TestObservabilityLogs proves GET /observability/logs lists only the caller's org's attempts,
// newest first, narrowed by job, outcome and type, and walks every row once.
func TestObservabilityLogs(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	q := seedObsQueue(a)
	jobsOf := func(items []obsLog) []int64 {
		out := []int64{}
		for _, l := range items {
			out = append(out, l.JobID)
		}
		return out
	}
	all := walkList[obsLog](a, "/observability/logs", 50)
	require.Len(t, all, 5)
	for i := 1; i < len(all); i++ {
		require.Greater(t, all[i-1].ID, all[i].ID, "newest first")
	}
	require.ElementsMatch(t, []int64{q.done, q.flaky, q.flaky, q.dead, q.perm}, jobsOf(all))
	for _, limit := range []int{1, 2, 3} {
		require.Equal(t, all, walkList[obsLog](a, "/observability/logs", limit), "limit %d", limit)
	}
	require.ElementsMatch(t, []int64{q.otherDone, q.otherDead}, jobsOf(walkList[obsLog](a, "/observability/logs", 1, asOrg(q.other, q.otherKey))))

	flaky := walkList[obsLog](a, fmt.Sprintf("/observability/logs?jobId=%d", q.flaky), 1)
	require.Len(t, flaky, 2)
	require.Equal(t, "completed", flaky[0].Outcome)
	require.Equal(t, 2, flaky[0].Attempt)
	require.Equal(t, "failed", flaky[1].Outcome)
	require.Equal(t, "timeout", *flaky[1].Error)
	require.Equal(t, pipeline.KindEnrichLead, flaky[1].Type)
	require.Equal(t, q.claimID, flaky[1].Worker)

	require.ElementsMatch(t, []int64{q.dead, q.perm}, jobsOf(walkList[obsLog](a, "/observability/logs?outcome=dead", 1)))
	require.ElementsMatch(t, []int64{q.flaky, q.flaky, q.perm}, jobsOf(walkList[obsLog](a, "/observability/logs?type=enrich_lead", 1)))
	require.Equal(t, []int64{q.done}, jobsOf(walkList[obsLog](a, "/observability/logs?type=noop&outcome=completed", 1)))
	require.Empty(t, walkList[obsLog](a, fmt.Sprintf("/observability/logs?jobId=%d", q.otherDone), 5), "another org's job has no logs here")
	require.Empty(t, walkList[obsLog](a, "/observability/logs?outcome=reaped", 5))
}

// TestObservabilityEvents proves GET /observability/events lists only the caller's org's
// events, newest first, with every field, narrowed by type, entity type and entity id, and
// walks every row once.
func TestObservabilityEvents(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ctx := t.Context()
	other, otherKey := a.newOrg("other")
	em := events.NewEmitter(jobs.New(a.owner, jobs.Config{}), catalog.New().EventJobs)
	one, two := uuid.New(), uuid.New()
	emit := func(org uuid.UUID, typ, entityType string, entityID uuid.UUID, key string) int64 {
		var id int64
		require.NoError(t, a.owner.Tx(ctx, org, func(tx *gorm.DB) error {
			ev, _, err := em.Emit(ctx, tx, events.NewEvent{
				OrgID: org, Type: typ, EntityType: entityType, EntityID: entityID, IdempotencyKey: key,
				Payload: map[string]string{"key": key}, Actor: "job:" + key,
			})
			id = ev.ID
			return err
		}))
		return id
	}
	c1 := emit(a.org, lead.EventCreated, "lead", one, "c1")
	c2 := emit(a.org, lead.EventCreated, "lead", two, "c2")
	s1 := emit(a.org, lead.EventStageChanged, "lead", one, "s1")
	d1 := emit(a.org, deal.EventCreated, "deal", uuid.New(), "d1")
	n1 := emit(a.org, catalog.EventNoop, "system", uuid.Nil, "n1")
	o1 := emit(other, lead.EventCreated, "lead", one, "c1")

	ids := func(items []obsEvent) []int64 {
		out := []int64{}
		for _, e := range items {
			out = append(out, e.ID)
		}
		return out
	}
	all := []int64{n1, d1, s1, c2, c1}
	for _, limit := range []int{1, 2, 5, 50} {
		require.Equal(t, all, ids(walkList[obsEvent](a, "/observability/events", limit)), "limit %d", limit)
	}
	require.Equal(t, []int64{o1}, ids(walkList[obsEvent](a, "/observability/events", 1, asOrg(other, otherKey))))
	for query, want := range map[string][]int64{
		"type=lead.created":                          {c2, c1},
		"type=lead.stage_changed":                    {s1},
		"entityType=lead":                            {s1, c2, c1},
		"entityType=lead&entityId=" + one.String():   {s1, c1},
		"entityId=" + one.String():                   {s1, c1},
		"type=lead.created&entityId=" + two.String(): {c2},
		"entityType=deal&entityId=" + one.String():   {},
		"type=invoice.paid":                          {},
	} {
		require.Equal(t, want, ids(walkList[obsEvent](a, "/observability/events?"+query, 1)), query)
	}

	got := walkList[obsEvent](a, "/observability/events", 50)
	noop, c1Item := got[0], got[len(got)-1]
	require.Equal(t, catalog.EventNoop, noop.Type)
	require.Equal(t, "system", noop.EntityType)
	require.Nil(t, noop.EntityID)
	require.Equal(t, "n1", noop.IdempotencyKey)
	require.Equal(t, "job:n1", noop.Actor)
	require.JSONEq(t, `{"key":"n1"}`, string(noop.Payload))
	require.Equal(t, time.UTC, noop.OccurredAt.Location())
	require.Equal(t, &one, c1Item.EntityID)
	require.Equal(t, lead.EventCreated, c1Item.Type)
}

// TestObservabilityIntegrityAlerts proves GET /observability/integrity-alerts lists only the
// caller's org's alerts, newest first with ties of detected_at broken by id (and split across
// pages without loss), narrowed by open and severity.
func TestObservabilityIntegrityAlerts(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ctx := t.Context()
	other, otherKey := a.newOrg("other")
	seed := func(org uuid.UUID, check, severity string, entity bool, detected string, resolved bool) {
		var entityType, entityID, resolvedAt any
		if entity {
			entityType, entityID = "deal", uuid.NewString()
		}
		if resolved {
			resolvedAt = "2026-05-02T00:00:00Z"
		}
		_, err := a.super.Exec(ctx, `INSERT INTO integrity_alerts
			(org_id, check_name, severity, entity_type, entity_id, detail, detected_at, resolved_at)
			VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::timestamptz, $8::timestamptz)`,
			org, check, severity, entityType, entityID, `{"check":"`+check+`"}`, detected, resolvedAt)
		require.NoError(t, err)
	}
	same := "2026-05-01T09:30:00.5Z"
	seed(a.org, "won_without_invoice", "critical", true, same, false)
	seed(a.org, "won_without_invoice", "critical", true, same, true)
	seed(a.org, "won_without_invoice", "warning", true, same, false)
	seed(a.org, "queue_backlog", "warning", false, "2026-05-01T10:00:00Z", false)
	seed(a.org, "stale_lead", "info", true, "2026-04-30T00:00:00Z", false)
	seed(other, "queue_backlog", "critical", false, "2026-05-01T11:00:00Z", false)

	var want []uuid.UUID
	rows, err := a.super.Query(ctx, `SELECT id FROM integrity_alerts WHERE org_id = $1 ORDER BY detected_at DESC, id DESC`, a.org)
	require.NoError(t, err)
	for rows.Next() {
		var id uuid.UUID
		require.NoError(t, rows.Scan(&id))
		want = append(want, id)
	}
	require.NoError(t, rows.Err())
	ids := func(items []obsAlert) []uuid.UUID {
		out := []uuid.UUID{}
		for _, x := range items {
			out = append(out, x.ID)
		}
		return out
	}
	for _, limit := range []int{1, 2, 3, 5, 50} {
		require.Equal(t, want, ids(walkList[obsAlert](a, "/observability/integrity-alerts", limit)), "limit %d", limit)
	}
	theirs := walkList[obsAlert](a, "/observability/integrity-alerts", 5, asOrg(other, otherKey))
	require.Len(t, theirs, 1)
	require.Equal(t, "critical", theirs[0].Severity)

	count := func(query string) int {
		return len(walkList[obsAlert](a, "/observability/integrity-alerts?"+query, 1))
	}
	require.Equal(t, 4, count("open=true"))
	require.Equal(t, 1, count("open=false"))
	require.Equal(t, 2, count("severity=critical"))
	require.Equal(t, 1, count("severity=critical&open=true"))
	require.Equal(t, 2, count("severity=warning"))
	require.Equal(t, 0, count("severity=info&open=false"))

	first := walkList[obsAlert](a, "/observability/integrity-alerts", 50)[0]
	require.Equal(t, "queue_backlog", first.CheckName)
	require.Nil(t, first.EntityType)
	require.Nil(t, first.EntityID)
	require.Nil(t, first.ResolvedAt)
	require.JSONEq(t, `{"check":"queue_backlog"}`, string(first.Detail))
	require.Equal(t, time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC), first.DetectedAt)
	resolved := walkList[obsAlert](a, "/observability/integrity-alerts?open=false", 5)[0]
	require.Equal(t, time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC), *resolved.ResolvedAt)
	require.Equal(t, "deal", *resolved.EntityType)
	require.NotNil(t, resolved.EntityID)
}

// TestObservabilityRefusesBadInput proves that filters outside their allowed values, limits
// outside 1..200, cursors the list did not make and ids that are not positive integers are 400
// problems naming the field, and that none of them writes anything (the retry included).
func TestObservabilityRefusesBadInput(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	q := seedObsQueue(a)
	snapshot := func() string {
		var s string
		require.NoError(t, a.super.QueryRow(t.Context(), `SELECT concat_ws(',',
			(SELECT count(*) FROM jobs), (SELECT string_agg(status || attempts, '' ORDER BY id) FROM jobs),
			(SELECT count(*) FROM dead_letter_jobs WHERE retried_at IS NULL), (SELECT count(*) FROM job_logs),
			(SELECT count(*) FROM events), (SELECT count(*) FROM idempotency_records))`).Scan(&s))
		return s
	}
	before := snapshot()
	jobsCursor := firstCursor(a, "/observability/jobs?limit=1")
	cases := []struct {
		method, path, field string
	}{
		{http.MethodGet, "/observability/jobs?status=dead", "status"},
		{http.MethodGet, "/observability/jobs?status=PENDING", "status"},
		{http.MethodGet, "/observability/jobs?type=Enrich", "type"},
		{http.MethodGet, "/observability/jobs?type=enrich-lead", "type"},
		{http.MethodGet, "/observability/jobs?type=" + url.QueryEscape("noop' OR 1=1 --"), "type"},
		{http.MethodGet, "/observability/jobs?limit=0", "limit"},
		{http.MethodGet, "/observability/jobs?limit=201", "limit"},
		{http.MethodGet, "/observability/jobs?limit=ten", "limit"},
		{http.MethodGet, "/observability/jobs?cursor=nope", "cursor"},
		{http.MethodGet, "/observability/jobs?cursor=" + page.Encode(map[string]int{"id": 0}), "cursor"},
		{http.MethodGet, "/observability/jobs/abc", "id"},
		{http.MethodGet, "/observability/jobs/0", "id"},
		{http.MethodGet, "/observability/dead-letters?open=yes", "open"},
		{http.MethodGet, "/observability/dead-letters?type=1x", "type"},
		{http.MethodGet, "/observability/dead-letters?cursor=%7B%7D", "cursor"},
		{http.MethodPost, "/observability/dead-letters/abc/retry", "id"},
		{http.MethodPost, "/observability/dead-letters/0/retry", "id"},
		{http.MethodPost, "/observability/dead-letters/-3/retry", "id"},
		{http.MethodGet, "/observability/events?type=lead", "type"},
		{http.MethodGet, "/observability/events?type=Lead.Created", "type"},
		{http.MethodGet, "/observability/events?entityType=" + strings.Repeat("x", 65), "entityType"},
		{http.MethodGet, "/observability/events?entityId=42", "entityId"},
		{http.MethodGet, "/observability/events?cursor=" + page.Encode(map[string]string{"id": "x"}), "cursor"},
		{http.MethodGet, "/observability/logs?jobId=abc", "jobId"},
		{http.MethodGet, "/observability/logs?jobId=0", "jobId"},
		{http.MethodGet, "/observability/logs?jobId=-1", "jobId"},
		{http.MethodGet, "/observability/logs?outcome=ok", "outcome"},
		{http.MethodGet, "/observability/logs?type=noop!", "type"},
		{http.MethodGet, "/observability/logs?limit=-1", "limit"},
		{http.MethodGet, "/observability/integrity-alerts?open=1", "open"},
		{http.MethodGet, "/observability/integrity-alerts?severity=high", "severity"},
		{http.MethodGet, "/observability/integrity-alerts?cursor=" + jobsCursor, "cursor"},
		{http.MethodGet, "/observability/integrity-alerts?cursor=" + page.Encode(map[string]string{"at": "soon", "id": uuid.NewString()}), "cursor"},
	}
	for _, tc := range cases {
		r := a.do(tc.method, tc.path, nil)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s %s: %s", tc.method, tc.path, r.Body)
		p := r.problem(t)
		require.Equal(t, "bad_request", p.Code, tc.path)
		require.NotEmpty(t, p.Errors, tc.path)
		require.Equal(t, tc.field, p.Errors[0].Field, tc.path)
	}
	require.Equal(t, before, snapshot(), "refused requests write nothing")
	require.Equal(t, 1, a.count(`SELECT count(*) FROM dead_letter_jobs WHERE id = $1 AND retried_at IS NULL`, q.deadLetter))
}

// firstCursor returns the nextCursor of the first page at path (which must have one).
func firstCursor(a *apiTest, path string) string {
	a.t.Helper()
	r := a.do(http.MethodGet, path, nil)
	require.Equal(a.t, http.StatusOK, r.Status)
	var p page.Page[json.RawMessage]
	r.json(a.t, &p)
	require.NotNil(a.t, p.NextCursor)
	return *p.NextCursor
}
