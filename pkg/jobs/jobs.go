package jobs

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Status is a job's state in the jobs table.
type Status string

// Job states.
const (
	StatusPending   Status = "pending"
	StatusRunning   Status = "running"
	StatusCompleted Status = "completed"
	StatusFailed    Status = "failed" // dead-lettered
)

// NewJob describes a job to enqueue.
type NewJob struct {
	OrgID uuid.UUID
	Type  string
	// Payload is marshalled to JSON; a json.RawMessage or []byte is used as it is.
	Payload any
	// IdempotencyKey makes the enqueue a no-op when (org, type, key) already exists.
	IdempotencyKey string
	// Delay postpones the first run: run_at = now() + Delay on the database clock.
	Delay time.Duration
	// MaxAttempts overrides the queue's default (JOB_MAX_ATTEMPTS) when positive.
	MaxAttempts int
	// EventID links the job to the event that caused it.
	EventID *int64
}

// Job is one claimed attempt of a job.
type Job struct {
	OrgID          uuid.UUID
	ID             int64
	Type           string
	Payload        json.RawMessage
	IdempotencyKey string
	// Attempt is the number of this attempt, from 1.
	Attempt     int
	MaxAttempts int
	// LockedBy identifies the claim that holds the job; it fences every later update.
	LockedBy  string
	CreatedAt time.Time
}

// ErrLeaseLost means the attempt no longer holds its job (it was reaped, released or finished by
// another claim); the caller's work must be dropped, and any transaction it opened rolled back.
var ErrLeaseLost = errors.New("job lease lost")

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return "permanent: " + e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent wraps err so that the job is dead-lettered at once instead of retried.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// Permanentf is Permanent(fmt.Errorf(format, args...)).
func Permanentf(format string, args ...any) error {
	return Permanent(fmt.Errorf(format, args...))
}

// IsPermanent reports whether err (or anything it wraps) was marked Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

func marshalPayload(p any) ([]byte, error) {
	switch v := p.(type) {
	case nil:
		return []byte("{}"), nil
	case json.RawMessage:
		if len(v) == 0 {
			return []byte("{}"), nil
		}
		return v, nil
	case []byte:
		if len(v) == 0 {
			return []byte("{}"), nil
		}
		return v, nil
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("marshal payload: %w", err)
		}
		return b, nil
	}
}
