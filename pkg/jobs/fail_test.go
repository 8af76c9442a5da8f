package jobs_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/jobs"
)

// TestBackoff proves Backoff is BaseDelay * 2^(attempt-1) scaled by a jitter factor in
// [0.8, 1.2), capped at MaxDelay even when the exponent overflows, with attempts below 1 treated
// as 1; and that New fills in its documented defaults.
func TestBackoff(t *testing.T) {
	t.Parallel()
	// Backoff touches no database; New only needs a handle to hold.
	handle := &db.DB{}
	cfg := func(jitter float64) jobs.Config {
		return jobs.Config{BaseDelay: time.Second, MaxDelay: time.Minute, Jitter: func() float64 { return jitter }}
	}
	low, high := jobs.New(handle, cfg(0)), jobs.New(handle, cfg(0.999))

	tests := []struct {
		attempt   int
		low, high time.Duration
	}{
		{-1, 800 * time.Millisecond, 1199600 * time.Microsecond},
		{0, 800 * time.Millisecond, 1199600 * time.Microsecond},
		{1, 800 * time.Millisecond, 1199600 * time.Microsecond},
		{2, 1600 * time.Millisecond, 2399200 * time.Microsecond},
		{3, 3200 * time.Millisecond, 4798400 * time.Microsecond},
		{6, 25600 * time.Millisecond, 38387200 * time.Microsecond},
		{7, 51200 * time.Millisecond, time.Minute}, // 64 s * 1.1996 is over the cap
		{8, time.Minute, time.Minute},
		{64, time.Minute, time.Minute},
		{100000, time.Minute, time.Minute}, // 2^99999 is +Inf
	}
	for _, tc := range tests {
		require.InDelta(t, float64(tc.low), float64(low.Backoff(tc.attempt)), 2, "attempt %d, jitter 0", tc.attempt)
		require.InDelta(t, float64(tc.high), float64(high.Backoff(tc.attempt)), 2, "attempt %d, jitter 0.999", tc.attempt)
	}

	random := jobs.New(handle, jobs.Config{BaseDelay: time.Second, MaxDelay: time.Hour})
	for attempt := 1; attempt <= 8; attempt++ {
		base := time.Second << (attempt - 1)
		seen := map[time.Duration]bool{}
		for range 200 {
			d := random.Backoff(attempt)
			require.GreaterOrEqual(t, d, base*8/10, "attempt %d", attempt)
			require.Less(t, d, base*12/10, "attempt %d", attempt)
			seen[d] = true
		}
		require.Greater(t, len(seen), 100, "the default jitter spreads retries")
	}

	defaults := jobs.New(handle, jobs.Config{Jitter: func() float64 { return 0 }})
	require.Equal(t, 4*time.Second, defaults.Backoff(1), "default BaseDelay is 5 s")
	require.Equal(t, 24*time.Hour, defaults.Backoff(30), "default MaxDelay is 24 h")

	require.Panics(t, func() { jobs.New(nil, jobs.Config{}) })
}

// TestFailRetriesThenDeadLetters proves the retry path end to end: each failed attempt returns
// the job to pending with run_at exactly now() + Backoff(attempt) on the database clock (so it
// cannot be claimed early), last_error and a 'failed' log row; the last allowed attempt marks
// the job failed, writes a dead letter with reason 'max_attempts' and a 'dead' log row, and the
// job is never claimed again.
func TestFailRetriesThenDeadLetters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	nj := b.job("j")
	nj.Payload = map[string]string{"leadId": "l-1"}
	id := b.enqueue(t, nj)[0]

	var claims []string
	for attempt := 1; attempt <= 3; attempt++ {
		j := b.claimOne(t, jobs.NewClaimID("w"))
		require.Equal(t, attempt, j.Attempt)
		claims = append(claims, j.LockedBy)
		res, err := b.q.Fail(ctx, j, fmt.Errorf("boom %d", attempt), 250*time.Millisecond)
		require.NoError(t, err)
		r := b.row(t, id)
		require.Equal(t, ptr(fmt.Sprintf("boom %d", attempt)), r.LastError)
		require.False(t, r.LockedAt)
		require.Equal(t, attempt, r.Attempts)
		if attempt == 3 {
			require.Equal(t, jobs.FailResult{Dead: true}, res)
			break
		}

		want := testBaseDelay * 8 / 10 << (attempt - 1) // zero jitter: 8 s, then 16 s
		require.Equal(t, jobs.FailResult{RetryIn: want}, res)
		require.Equal(t, want, b.q.Backoff(attempt))
		require.Equal(t, jobs.StatusPending, r.Status)
		require.False(t, r.FailedAt)
		require.Greater(t, r.RunInMS, 0.0, "the retry waits on the database clock")
		var gapMS int64
		require.NoError(t, b.db.Pool.QueryRow(ctx, `
SELECT (extract(epoch FROM j.run_at - l.finished_at) * 1000)::bigint
FROM jobs j JOIN job_logs l ON l.job_id = j.id AND l.attempt = $2
WHERE j.id = $1`, id, attempt).Scan(&gapMS))
		require.Equal(t, want.Milliseconds(), gapMS, "run_at is the failing statement's now() + backoff")

		b.claim(t, jobs.NewClaimID("w"), 10, 0)
		b.makeRunnable(t, id)
	}

	r := b.row(t, id)
	require.Equal(t, jobs.StatusFailed, r.Status)
	require.True(t, r.FailedAt)
	require.False(t, r.CompletedAt)

	dls := b.deadLetters(t, id)
	require.Len(t, dls, 1)
	require.Equal(t, "max_attempts", dls[0].Reason)
	require.Equal(t, 3, dls[0].Attempts)
	require.Equal(t, ptr("boom 3"), dls[0].LastError)
	require.Equal(t, b.org, dls[0].OrgID)
	require.Equal(t, jobs.KindNoop, dls[0].JobType)
	require.JSONEq(t, `{"leadId":"l-1"}`, string(dls[0].Payload))
	require.False(t, dls[0].Retried)

	require.Equal(t, []logRow{
		{Attempt: 1, Worker: claims[0], Outcome: "failed", Error: ptr("boom 1"), DurationMS: 250},
		{Attempt: 2, Worker: claims[1], Outcome: "failed", Error: ptr("boom 2"), DurationMS: 250},
		{Attempt: 3, Worker: claims[2], Outcome: "dead", Error: ptr("boom 3"), DurationMS: 250},
	}, b.logs(t, id))

	b.exec(t, `UPDATE jobs SET run_at = now() - interval '1 hour' WHERE id = $1`, id)
	b.claim(t, jobs.NewClaimID("w"), 10, 0)
}

// TestFailPermanentDeadLettersAtOnce proves a Permanent error, even wrapped, dead-letters the
// job on its first attempt with reason 'permanent' although attempts remain.
func TestFailPermanentDeadLettersAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	nj := b.job("j")
	nj.MaxAttempts = 5
	id := b.enqueue(t, nj)[0]
	j := b.claimOne(t, jobs.NewClaimID("w"))

	cause := fmt.Errorf("handler: %w", jobs.Permanentf("bad input %d", 7))
	res, err := b.q.Fail(t.Context(), j, cause, 0)
	require.NoError(t, err)
	require.Equal(t, jobs.FailResult{Dead: true}, res)

	r := b.row(t, id)
	require.Equal(t, jobs.StatusFailed, r.Status)
	require.Equal(t, 1, r.Attempts)
	require.True(t, r.FailedAt)
	dls := b.deadLetters(t, id)
	require.Len(t, dls, 1)
	require.Equal(t, "permanent", dls[0].Reason)
	require.Equal(t, 1, dls[0].Attempts)
	require.Equal(t, ptr("handler: permanent: bad input 7"), dls[0].LastError)
	require.Equal(t, []string{"dead"}, b.outcomes(t, id))
	b.claim(t, jobs.NewClaimID("w"), 10, 0)
}

// TestPermanent proves the Permanent marker survives wrapping, is not set on plain errors, and
// keeps nil nil.
func TestPermanent(t *testing.T) {
	t.Parallel()
	base := errors.New("bad")
	p := jobs.Permanent(base)
	require.True(t, jobs.IsPermanent(p))
	require.True(t, jobs.IsPermanent(fmt.Errorf("wrapped: %w", p)))
	require.ErrorIs(t, p, base)
	require.EqualError(t, p, "permanent: bad")
	require.False(t, jobs.IsPermanent(base))
	require.False(t, jobs.IsPermanent(nil))
	require.NoError(t, jobs.Permanent(nil))
	require.False(t, jobs.IsPermanent(fmt.Errorf("x: %w", base)))
}

// TestFailStoresAnyErrorText proves an error message that PostgreSQL could not store as text
// (NUL bytes, invalid UTF-8) or that is very long is cleaned and cut to about 4,000 bytes, so the
// failure is still recorded instead of the Fail statement itself failing.
func TestFailStoresAnyErrorText(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.enqueue(t, b.job("j"))[0]
	j := b.claimOne(t, jobs.NewClaimID("w"))

	msg := "nul\x00 bad\xff utf8 " + strings.Repeat("é", 5000)
	_, err := b.q.Fail(t.Context(), j, errors.New(msg), 0)
	require.NoError(t, err)

	r := b.row(t, id)
	require.Equal(t, jobs.StatusPending, r.Status)
	require.NotNil(t, r.LastError)
	stored := *r.LastError
	require.True(t, utf8.ValidString(stored))
	require.NotContains(t, stored, "\x00")
	require.True(t, strings.HasPrefix(stored, "nul bad? utf8 éé"), stored[:20])
	require.True(t, strings.HasSuffix(stored, "é…"))
	require.LessOrEqual(t, len(stored), 4000+len("…"))
	require.Greater(t, len(stored), 3990)
	require.Equal(t, r.LastError, b.logs(t, id)[0].Error)
}
