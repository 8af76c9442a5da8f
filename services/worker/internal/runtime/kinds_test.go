package runtime_test

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"example.com/crm/pkg/jobs"
)

// testRun is what the tests' handlers see of one attempt: its job, and the transaction of the
// batch it runs in.
type testRun struct {
	Job *jobs.Job
	tx  *jobs.Batch
}

// CompleteInTx runs fn in the attempt's transaction, which the runtime commits with the job's
// completion.
func (r *testRun) CompleteInTx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return r.tx.Exec(ctx, fn)
}

// handler is a test's work for one job; a kind built from it works a batch job by job.
type handler func(ctx context.Context, run *testRun) error

// testArgs are the (empty) arguments of the test kind named by N.
type testArgs[N interface{ name() string }] struct{}

func (testArgs[N]) Kind() string {
	var n N
	return n.name()
}

// The test kinds' names.
type (
	kWrite     struct{}
	kWriteFail struct{}
	kSolo      struct{}
	kSlow      struct{}
	kQuick     struct{}
	kOK        struct{}
	kBoom      struct{}
	kHang      struct{}
	kComplete  struct{}
	kIgnore    struct{}
	kHold      struct{}
	kCheck     struct{}
)

func (kWrite) name() string     { return "write" }
func (kWriteFail) name() string { return "write_fail" }
func (kSolo) name() string      { return "solo" }
func (kSlow) name() string      { return "slow" }
func (kQuick) name() string     { return "quick" }
func (kOK) name() string        { return "ok" }
func (kBoom) name() string      { return "boom" }
func (kHang) name() string      { return "hang" }
func (kComplete) name() string  { return "complete" }
func (kIgnore) name() string    { return "ignore" }
func (kHold) name() string      { return "hold" }
func (kCheck) name() string     { return "check" }

// kindOf registers h under the test kind name, job by job over a batch.
func kindOf(name string, sharing jobs.Sharing, h handler) jobs.Kind {
	switch name {
	case "write":
		return kind[kWrite](sharing, h)
	case "write_fail":
		return kind[kWriteFail](sharing, h)
	case "solo":
		return kind[kSolo](sharing, h)
	case "slow":
		return kind[kSlow](sharing, h)
	case "quick":
		return kind[kQuick](sharing, h)
	case "ok":
		return kind[kOK](sharing, h)
	case "boom":
		return kind[kBoom](sharing, h)
	case "hang":
		return kind[kHang](sharing, h)
	case "complete":
		return kind[kComplete](sharing, h)
	case "ignore":
		return kind[kIgnore](sharing, h)
	case "hold":
		return kind[kHold](sharing, h)
	case "check":
		return kind[kCheck](sharing, h)
	}
	panic(fmt.Sprintf("no test kind %q", name))
}

func kind[N interface{ name() string }](sharing jobs.Sharing, h handler) jobs.Kind {
	return jobs.NewKind(sharing, func(ctx context.Context, tx *jobs.Batch, js []jobs.Attempt[testArgs[N]]) error {
		for _, j := range js {
			if err := h(ctx, &testRun{Job: j.Job, tx: tx}); err != nil {
				return err
			}
		}
		return nil
	})
}
