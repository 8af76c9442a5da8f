package handler

import (
	"context"
	"fmt"
	"time"

	"example.com/crm/pkg/jobs"
)

// Noop is the noop kind: each job does nothing (or sleeps, or fails, as its jobs.NoopArgs ask),
// for benchmarks and smoke checks. It writes nothing, so the runtime completes its jobs in the
// background batches; its jobs run alone, so that one's sleep does not hold up another's.
func Noop() jobs.Kind {
	return jobs.NewKind(jobs.Alone, func(ctx context.Context, _ *jobs.Batch, js []jobs.Attempt[jobs.NoopArgs]) error {
		for _, j := range js {
			if err := noop(ctx, j.Args); err != nil {
				return err
			}
		}
		return nil
	})
}

func noop(ctx context.Context, p jobs.NoopArgs) error {
	if p.SleepMs > 0 {
		t := time.NewTimer(time.Duration(p.SleepMs) * time.Millisecond)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return fmt.Errorf("noop interrupted: %w", ctx.Err())
		case <-t.C:
		}
	}
	switch p.Fail {
	case "":
		return nil
	case "permanent":
		return jobs.Permanentf("noop asked to fail permanently")
	case "panic":
		panic("noop asked to panic")
	default:
		return fmt.Errorf("noop asked to fail: %s", p.Fail)
	}
}
