package analytics

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCutCountsEveryInstantOnce proves Window.cut exact: over random windows (some with edges on
// midnights, some shorter than a day) and random instants around them, an instant counts once
// (whole day + spans added - spans subtracted) exactly when it is in the window; and no span is
// longer than half a day unless the window has no whole day.
func TestCutCountsEveryInstantOnce(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(33, 17))
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	in := func(s span, at time.Time) int {
		if !at.Before(s.From) && at.Before(s.To) {
			return 1
		}
		return 0
	}
	for range 2000 {
		from := base.Add(time.Duration(rng.Int64N(int64(10 * 24 * time.Hour))))
		if rng.IntN(5) == 0 {
			from = from.Truncate(24 * time.Hour)
		}
		to := from.Add(time.Duration(rng.Int64N(int64(5 * 24 * time.Hour))))
		if rng.IntN(5) == 0 {
			to = to.Truncate(24 * time.Hour).Add(24 * time.Hour)
		}
		w := Window{From: from, To: to}
		days, plus, minus := w.cut()
		whole := !days.From.Equal(days.To)
		for _, s := range append(plus[:], minus[:]...) {
			require.False(t, s.To.Before(s.From))
			if whole {
				require.LessOrEqual(t, s.To.Sub(s.From), 12*time.Hour, "%v: %v", w, s)
			}
		}
		require.True(t, days.From.Equal(days.From.Truncate(24*time.Hour)) && days.To.Equal(days.To.Truncate(24*time.Hour)))
		for range 50 {
			at := from.Add(time.Duration(rng.Int64N(int64(to.Sub(from)+48*time.Hour))) - 24*time.Hour)
			if rng.IntN(4) == 0 {
				at = []time.Time{from, to, from.Add(-time.Nanosecond), to.Add(-time.Nanosecond)}[rng.IntN(4)]
			}
			day := at.Truncate(24 * time.Hour)
			n := in(plus[0], at) + in(plus[1], at) - in(minus[0], at) - in(minus[1], at)
			if !day.Before(days.From) && day.Before(days.To) {
				n++
			}
			require.Equal(t, in(span{from, to}, at), n, "window %v, instant %v: %v %v %v", w, at, days, plus, minus)
		}
	}
}
