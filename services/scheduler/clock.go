package main

import (
	"time"

	"github.com/jonboulle/clockwork"
)

// skewedClock is the local clock shifted by skew (SCHEDULER_CLOCK_SKEW_MS): the clock of the
// ticker's timer and of the log timestamps, so that a test can run a replica whose host clock is
// off. Now keeps the monotonic reading (Time.Add shifts both), so the intervals gocron waits are
// those of the real clock whatever the skew; only the wall times it and the logs see move.
type skewedClock struct {
	clockwork.Clock
	skew time.Duration
}

func newClock(skew time.Duration) skewedClock {
	return skewedClock{Clock: clockwork.NewRealClock(), skew: skew}
}

// Now is the real clock's time shifted by the skew.
func (c skewedClock) Now() time.Time { return c.Clock.Now().Add(c.skew) }

// Since is the time elapsed since t on the skewed clock.
func (c skewedClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Until is the time until t on the skewed clock.
func (c skewedClock) Until(t time.Time) time.Duration { return t.Sub(c.Now()) }

// logClock is skewedClock as a zapcore.Clock, for the log timestamps.
type logClock struct{ c skewedClock }

// Now is the skewed clock's time.
func (c logClock) Now() time.Time { return c.c.Now() }

// NewTicker is time.NewTicker, which zapcore.Clock asks for (clockwork's NewTicker returns its
// own Ticker type, so one type cannot be both).
func (c logClock) NewTicker(d time.Duration) *time.Ticker { return time.NewTicker(d) }
