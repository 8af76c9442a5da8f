package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/page"
)

// The read side of the queue, for operators: jobs, their attempts (job_logs) and dead letters,
// newest first, one org at a time. Every function takes the caller's transaction (a tenant
// transaction under row-level security in the api) and also filters org_id itself, so the
// policies are defence in depth rather than the only fence. Lists are keyset-paginated on id.

// Statuses lists every job status, as strings (query parameter values).
var Statuses = []string{string(StatusPending), string(StatusRunning), string(StatusCompleted), string(StatusFailed)}

// Outcomes of one attempt in job_logs.
const (
	OutcomeCompleted = "completed"
	OutcomeFailed    = "failed"   // failed, retried after a backoff
	OutcomeDead      = "dead"     // failed and dead-lettered
	OutcomeReaped    = "reaped"   // its lease expired; retried
	OutcomeReleased  = "released" // handed back on shutdown, or unstarted from a claim; not counted
)

// Outcomes lists every attempt outcome.
var Outcomes = []string{OutcomeCompleted, OutcomeFailed, OutcomeDead, OutcomeReaped, OutcomeReleased}

var typeRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// ValidType reports whether s has the form of a job type (the jobs.job_type check:
// ^[a-z][a-z0-9_]*$), at most 100 characters.
func ValidType(s string) bool { return len(s) <= 100 && typeRE.MatchString(s) }

// Record is a job as an operator sees it.
type Record struct {
	OrgID       uuid.UUID
	ID          int64
	Type        string
	Status      Status
	Attempts    int
	MaxAttempts int
	RunAt       time.Time
	LockedAt    *time.Time
	LockedBy    *string
	LastError   *string
	EventID     *int64
	CreatedAt   time.Time
	CompletedAt *time.Time
	FailedAt    *time.Time
	Payload     json.RawMessage
}

// LogEntry is one finished attempt of a job (a job_logs row).
type LogEntry struct {
	ID         int64
	JobID      int64
	Type       string
	Attempt    int
	Worker     string
	Outcome    string
	Error      *string
	DurationMS int
	FinishedAt time.Time
}

// DeadLetter is a dead_letter_jobs row: a job that ran out of attempts or failed permanently.
type DeadLetter struct {
	ID        int64
	JobID     int64
	Type      string
	Payload   json.RawMessage
	Attempts  int
	LastError *string
	// Reason is max_attempts, permanent or reaped.
	Reason    string
	FailedAt  time.Time
	RetriedAt *time.Time
	RetriedBy *string
}

// Filter narrows List; zero fields do not filter.
type Filter struct {
	Status Status
	Type   string
}

// DeadLetterFilter narrows ListDeadLetters; zero fields do not filter.
type DeadLetterFilter struct {
	Type string
	// Open, when set, keeps only the dead letters not yet retried (true) or only the retried
	// ones (false).
	Open *bool
}

// LogFilter narrows ListLogs; zero fields do not filter.
type LogFilter struct {
	JobID   int64
	Outcome string
	Type    string
}

const recordColumns = `org_id, id, job_type, status, attempts, max_attempts, run_at, locked_at, locked_by,
last_error, event_id, created_at, completed_at, failed_at, payload`

func scanRecord(rows *sql.Rows) (Record, error) {
	var r Record
	var payload []byte
	err := rows.Scan(&r.OrgID, &r.ID, &r.Type, &r.Status, &r.Attempts, &r.MaxAttempts, &r.RunAt, &r.LockedAt, &r.LockedBy,
		&r.LastError, &r.EventID, &r.CreatedAt, &r.CompletedAt, &r.FailedAt, &payload)
	r.Payload = payload
	return r, err
}

// List returns the org's jobs, newest first (id descending), narrowed by f. The status filter
// and the unfiltered list are served by jobs_org_status_idx and the primary key. A cursor that
// is not one of these lists is apperr.BadRequest.
func List(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, f Filter, p page.Request) (page.Page[Record], error) {
	limit := p.Clamped()
	pos, err := recordKeyset.Position(p.Cursor)
	if err != nil {
		return page.Page[Record]{}, err
	}
	q := tx.WithContext(ctx).Table("jobs").Select(recordColumns).Where("org_id = ?", orgID)
	if f.Status != "" {
		q = q.Where("status = ?", string(f.Status))
	}
	if f.Type != "" {
		q = q.Where("job_type = ?", f.Type)
	}
	out, err := collect(after(q, pos).Order(recordKeyset.Order()).Limit(limit+1), scanRecord)
	if err != nil {
		return page.Page[Record]{}, fmt.Errorf("list jobs: %w", err)
	}
	return recordKeyset.Page(out, limit), nil
}

// Get returns the org's job id, or apperr.NotFound (another org's job included).
func Get(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, id int64) (Record, error) {
	q := tx.WithContext(ctx).Table("jobs").Select(recordColumns).Where("org_id = ? AND id = ?", orgID, id)
	out, err := collect(q, scanRecord)
	if err != nil {
		return Record{}, fmt.Errorf("get job %d: %w", id, err)
	}
	if len(out) == 0 {
		return Record{}, apperr.Errorf(apperr.NotFound, "job %d not found", id)
	}
	return out[0], nil
}

// MaxAttemptsShown bounds JobLogs: a job has at most max_attempts (<= 100) attempts per run,
// but operator retries and releases add more. The newest are kept; ListLogs pages through all.
const MaxAttemptsShown = 500

const logColumns = `id, job_id, job_type, attempt, worker, outcome, error, duration_ms, finished_at`

func scanLog(rows *sql.Rows) (LogEntry, error) {
	var l LogEntry
	err := rows.Scan(&l.ID, &l.JobID, &l.Type, &l.Attempt, &l.Worker, &l.Outcome, &l.Error, &l.DurationMS, &l.FinishedAt)
	return l, err
}

// JobLogs returns the attempts of the org's job jobID, oldest first: the newest
// MaxAttemptsShown of them (job_logs_job_idx). An unknown job has none.
func JobLogs(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, jobID int64) ([]LogEntry, error) {
	q := tx.WithContext(ctx).Table("job_logs").Select(logColumns).
		Where("org_id = ? AND job_id = ?", orgID, jobID).Order("id DESC").Limit(MaxAttemptsShown)
	out, err := collect(q, scanLog)
	if err != nil {
		return nil, fmt.Errorf("list attempts of job %d: %w", jobID, err)
	}
	slices.Reverse(out)
	return out, nil
}

// ListLogs returns the org's job logs, newest first (id descending), narrowed by f. The job
// filter is served by job_logs_job_idx, the rest by the primary key (org_id, id) scanned
// backwards. A bad cursor is apperr.BadRequest.
func ListLogs(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, f LogFilter, p page.Request) (page.Page[LogEntry], error) {
	limit := p.Clamped()
	pos, err := logKeyset.Position(p.Cursor)
	if err != nil {
		return page.Page[LogEntry]{}, err
	}
	q := tx.WithContext(ctx).Table("job_logs").Select(logColumns).Where("org_id = ?", orgID)
	if f.JobID != 0 {
		q = q.Where("job_id = ?", f.JobID)
	}
	if f.Outcome != "" {
		q = q.Where("outcome = ?", f.Outcome)
	}
	if f.Type != "" {
		q = q.Where("job_type = ?", f.Type)
	}
	out, err := collect(after(q, pos).Order(logKeyset.Order()).Limit(limit+1), scanLog)
	if err != nil {
		return page.Page[LogEntry]{}, fmt.Errorf("list job logs: %w", err)
	}
	return logKeyset.Page(out, limit), nil
}

const deadLetterColumns = `id, job_id, job_type, payload, attempts, last_error, reason, failed_at, retried_at, retried_by`

func scanDeadLetter(rows *sql.Rows) (DeadLetter, error) {
	var d DeadLetter
	var payload []byte
	err := rows.Scan(&d.ID, &d.JobID, &d.Type, &payload, &d.Attempts, &d.LastError, &d.Reason, &d.FailedAt, &d.RetriedAt, &d.RetriedBy)
	d.Payload = payload
	return d, err
}

// ListDeadLetters returns the org's dead letters, newest first (id descending, the primary
// key), narrowed by f. A bad cursor is apperr.BadRequest.
func ListDeadLetters(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, f DeadLetterFilter, p page.Request) (page.Page[DeadLetter], error) {
	limit := p.Clamped()
	pos, err := deadLetterKeyset.Position(p.Cursor)
	if err != nil {
		return page.Page[DeadLetter]{}, err
	}
	q := tx.WithContext(ctx).Table("dead_letter_jobs").Select(deadLetterColumns).Where("org_id = ?", orgID)
	if f.Type != "" {
		q = q.Where("job_type = ?", f.Type)
	}
	if f.Open != nil {
		if *f.Open {
			q = q.Where("retried_at IS NULL")
		} else {
			q = q.Where("retried_at IS NOT NULL")
		}
	}
	out, err := collect(after(q, pos).Order(deadLetterKeyset.Order()).Limit(limit+1), scanDeadLetter)
	if err != nil {
		return page.Page[DeadLetter]{}, fmt.Errorf("list dead letters: %w", err)
	}
	return deadLetterKeyset.Page(out, limit), nil
}

// The orders of List, ListLogs and ListDeadLetters: newest first, by id.
var (
	recordKeyset     = page.Desc(page.Serial("id", "id", func(r Record) int64 { return r.ID }))
	logKeyset        = page.Desc(page.Serial("id", "id", func(l LogEntry) int64 { return l.ID }))
	deadLetterKeyset = page.Desc(page.Serial("id", "id", func(d DeadLetter) int64 { return d.ID }))
)

// after narrows q to the rows after pos (none for the first page).
func after[T any](q *gorm.DB, pos page.Position[T]) *gorm.DB {
	var args db.Marks
	if cond := pos.After(&args); cond != "" {
		return q.Where(cond, args...)
	}
	return q
}

// collect runs q and scans every row with scan.
func collect[T any](q *gorm.DB, scan func(*sql.Rows) (T, error)) ([]T, error) {
	rows, err := q.Rows()
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
