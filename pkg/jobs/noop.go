package jobs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// KindNoop is the queue's own job kind, which does nothing (or sleeps, or fails, as its
// arguments ask): the kind of benchmarks and smoke checks of the queue and the event path.
const KindNoop = "noop"

// NoopArgs are the arguments of a noop job; every field is optional.
type NoopArgs struct {
	// SleepMs makes the job take that long (0..3,600,000), for smoke checks of timeouts,
	// shutdown and the reaper.
	SleepMs int `json:"sleepMs"`
	// Fail makes every attempt fail with this message ("permanent" dead-letters at once, "panic"
	// panics), for smoke checks of retries.
	Fail string `json:"fail,omitempty"`
	// Slot is the cron slot a scheduled run covers: the scheduler adds it to every cron task's
	// payload (and POST /cron-tasks/{id}/run does too), so a noop cron task decodes.
	Slot *time.Time `json:"slot,omitempty"`
}

// Kind is noop.
func (NoopArgs) Kind() string { return KindNoop }

// UnmarshalJSON reads the arguments strictly: a field it does not know is an error.
func (a *NoopArgs) UnmarshalJSON(b []byte) error {
	type plain NoopArgs
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode((*plain)(a)); err != nil {
		return fmt.Errorf("noop arguments: %w", err)
	}
	return nil
}

// Check refuses a sleep out of range.
func (a NoopArgs) Check() error {
	if a.SleepMs < 0 || a.SleepMs > 3_600_000 {
		return fmt.Errorf("sleepMs must be 0..3600000, got %d", a.SleepMs)
	}
	return nil
}
