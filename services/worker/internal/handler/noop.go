package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"example.com/crm/pkg/jobs"
)

// NoopPayload is the optional payload of a noop job.
type NoopPayload struct {
	// SleepMs makes the job take that long (0..3,600,000), for smoke checks of timeouts,
	// shutdown and the reaper.
	SleepMs int `json:"sleepMs"`
	// Fail makes every attempt fail with this message ("permanent" dead-letters at once, "panic"
	// panics), for smoke checks of retries.
	Fail string `json:"fail,omitempty"`
}

// Noop does nothing (or sleeps, or fails, as its payload asks): the job type of benchmarks and
// smoke checks. It writes nothing, so the runtime completes it in a batch.
func Noop(ctx context.Context, run *jobs.Run) error {
	var p NoopPayload
	if len(run.Job.Payload) > 0 && !bytes.Equal(run.Job.Payload, []byte("{}")) {
		dec := json.NewDecoder(bytes.NewReader(run.Job.Payload))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return jobs.Permanentf("noop payload: %w", err)
		}
	}
	if p.SleepMs < 0 || p.SleepMs > 3_600_000 {
		return jobs.Permanentf("noop payload: sleepMs must be 0..3600000, got %d", p.SleepMs)
	}
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
