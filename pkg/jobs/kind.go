package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"time"
)

// Args are the typed arguments of a job kind, as river's JobArgs: the job's payload decoded,
// with the name of the kind (the jobs table's job_type). Each domain declares its kinds' Args
// next to the code that works them.
type Args interface {
	Kind() string
}

// Checker is implemented by Args that can tell, once decoded, that a payload is not one their
// kind can work (an event about another entity): such a job fails permanently, alone.
type Checker interface {
	Check() error
}

// Attempt is one claimed attempt of a job of kind A with its decoded arguments.
type Attempt[A Args] struct {
	*Job
	Args A
}

// Sharing says whether the jobs of a kind may share one transaction.
type Sharing bool

const (
	// Shared jobs of one org run together, up to the runtime's batch size, in one call of Work
	// and one transaction: for kinds whose work only reads and writes the database.
	Shared Sharing = true
	// Alone jobs run one per call of Work: for kinds that make a slow call (a network API, a
	// model) per job, which they make before the first tx.Exec, so that no transaction is open
	// across it.
	Alone Sharing = false
)

// WorkFunc does the work of jobs of one kind and one org (one job when the kind runs Alone). Its
// writes go through tx.Exec, in the transaction the runtime commits together with the jobs'
// completions after it returns; tx opens at its first Exec, so that slow calls made before it
// hold no transaction open. A WorkFunc that never calls tx.Exec writes nothing, and its jobs are
// completed in the runtime's background batches.
//
// It returns nil when every job's work is done, an error to retry, or a Permanent error to
// dead-letter. An error of a batch of several jobs makes the runtime roll the batch back and run
// each job alone, so that a failure or dead letter stays the one job's own: WorkFunc may refuse a
// batch for any one of its jobs. It must stop when ctx is cancelled and be idempotent: delivery is
// at least once.
type WorkFunc[A Args] func(ctx context.Context, tx *Batch, jobs []Attempt[A]) error

// Kind is a job kind as the runtime runs it: registered once, by NewKind, from its Args type.
type Kind struct {
	name    string
	sharing Sharing
	timeout time.Duration
	decode  func(*Job) (any, error)
	work    func(ctx context.Context, tx *Batch, jobs []*Job, args []any) error
}

// NewKind registers the kind of A (A's Kind()), worked by work with the given sharing.
func NewKind[A Args](sharing Sharing, work WorkFunc[A]) Kind {
	var zero A
	if zero.Kind() == "" || work == nil {
		panic("jobs.NewKind: a kind needs a name and a WorkFunc")
	}
	return Kind{
		name:    zero.Kind(),
		sharing: sharing,
		decode: func(j *Job) (any, error) {
			var a A
			if err := decodeArgs(j.Payload, &a); err != nil {
				return nil, Permanentf("%s payload: %w", j.Type, err)
			}
			if c, ok := any(a).(Checker); ok {
				if err := c.Check(); err != nil {
					return nil, Permanentf("%s: %w", j.Type, err)
				}
			}
			return a, nil
		},
		work: func(ctx context.Context, tx *Batch, jobs []*Job, args []any) error {
			typed := make([]Attempt[A], len(jobs))
			for i, j := range jobs {
				typed[i] = Attempt[A]{Job: j, Args: args[i].(A)}
			}
			return work(ctx, tx, typed)
		},
	}
}

// Name is the kind's job_type.
func (k Kind) Name() string { return k.name }

// Shared reports whether the kind's jobs may share a transaction.
func (k Kind) Shared() bool { return bool(k.sharing) }

// WithTimeout is the kind with its own time limit per attempt, in place of the runtime's
// (JOB_TIMEOUT_MS): for a kind whose work is long by nature, such as a sweep of a large org that
// paces itself (db.DB.Chunks). Zero or less keeps the runtime's.
func (k Kind) WithTimeout(d time.Duration) Kind {
	k.timeout = max(0, d)
	return k
}

// Timeout is the kind's own time limit per attempt; zero when it takes the runtime's.
func (k Kind) Timeout() time.Duration { return k.timeout }

// Decode reads job's payload into the kind's Args; an error is permanent (retrying cannot fix a
// payload), and concerns that job alone.
func (k Kind) Decode(job *Job) (any, error) { return k.decode(job) }

// Work does the work of jobs, whose payloads Decode read into args, in tx.
func (k Kind) Work(ctx context.Context, tx *Batch, jobs []*Job, args []any) error {
	return k.work(ctx, tx, jobs, args)
}

var emptyObject = []byte("{}")

// decodeArgs reads a job's JSON payload into dst; an empty payload, or {}, leaves dst zero
// without decoding (the noop jobs of the queue's benchmarks carry {}).
func decodeArgs(payload []byte, dst any) error {
	if len(payload) == 0 || bytes.Equal(payload, emptyObject) {
		return nil
	}
	return json.NewDecoder(bytes.NewReader(payload)).Decode(dst)
}
