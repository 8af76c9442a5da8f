package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/dbtest"
)

// TestSweepsMarkdown proves the section has one row per sweep with its wall time, chunks,
// longest writing transaction with what it was doing (the most frequent first), longest read-only
// transaction and PATCH p99 idle and during, and judges both targets: a sweep over 30 s
// or stopped unfinished misses the wall target, a p99 over twice the idle one misses the other,
// and a p99 of fewer than 100 requests is not judged; the reference row (a busy backend) is
// judged by neither. The HOT share is of the sweep's own updates (its chunks cut by their budget
// included, the PATCHes taken out), not of the leads it changed: the backfill's 9 HOT of 12 own
// updates are 75 %, not 100 %.
func TestSweepsMarkdown(t *testing.T) {
	t.Parallel()
	lat := func(p99 time.Duration) []time.Duration {
		out := make([]time.Duration, 100)
		for i := range out {
			out[i] = time.Millisecond
		}
		out[98], out[99] = p99, p99
		return out
	}
	res := func(p99 time.Duration) loadResult { return loadResult{requests: 100, took: time.Second, lat: lat(p99)} }
	r := &report{
		opts:      options{logLevels: []string{"info"}, maxConns: 20, sweepConns: 4, sweepIdle: 10 * time.Second, warmup: time.Second},
		seed:      &seed{leads: 1000, orgs: make([]tenant, 1), size: "1 MB"},
		deals:     &dealSeed{deals: 100, open: 80, size: "64 kB"},
		sweepSeed: &sweepSeed{leads: 1000, deals: 100, openDeals: 80, due: map[string]int64{"check_deal_decay": 17, "check_lead_stale": 90, "recalc_ghost_risk": 120}},
		sweeps: []sweepRun{
			{name: "check_deal_decay", wall: 1500 * time.Millisecond, probe: 80 * time.Millisecond, outcome: sweepOutcome{chunks: 100, did: "17 stalled deals", leads: -1},
				txs: sweepTxs{writer: sweepTx{age: 40 * time.Millisecond, writes: true, samples: map[string]int{"CPU": 3, "IO:WALSync": 1}},
					reader: sweepTx{age: 5 * time.Millisecond}}, idle: res(10 * time.Millisecond), during: res(15 * time.Millisecond)},
			{name: sweepPriorityBackfill, wall: 8 * time.Minute, probe: 120 * time.Millisecond, stopped: true, outcome: sweepOutcome{chunks: 5000, did: "9 changed", leads: 9},
				updated: 112, hot: 9, timeouts: 3, rested: 1200 * time.Millisecond, txs: sweepTxs{writer: sweepTx{age: 450 * time.Millisecond, writes: true,
					samples: map[string]int{"Lock:transactionid": 30, "CPU": 10, "Client:ClientRead": 10}}}, idle: res(10 * time.Millisecond), during: res(25 * time.Millisecond)},
			{name: "renewal_reminder", wall: 2 * time.Millisecond, outcome: sweepOutcome{chunks: 1, did: "0 renewals reminded", leads: -1},
				idle: res(10 * time.Millisecond)},
			{name: "generate_weekly_report", wall: 31 * time.Second, outcome: sweepOutcome{chunks: -1, did: "report stored", leads: -1},
				idle: res(10 * time.Millisecond), during: res(20 * time.Millisecond)},
			{name: "check_integrity", wall: 90 * time.Millisecond, outcome: sweepOutcome{chunks: 1, did: "0 alerts opened", leads: -1},
				idle: res(10 * time.Millisecond), during: loadResult{requests: 27, took: 90 * time.Millisecond, lat: lat(40 * time.Millisecond)[73:]}},
			{name: referenceBusyBackend, wall: 15 * time.Second, outcome: sweepOutcome{chunks: 240, did: "computed 50ms", leads: -1},
				idle: res(10 * time.Millisecond), during: res(21 * time.Millisecond)},
		},
	}
	md := r.sweepsMarkdown()
	require.Contains(t, md, "| `check_deal_decay` | 17 stalled deals | 1.5s | 80.00 ms | 100 | 0 | 0s | – | 40.00 ms | CPU 3, IO:WALSync 1 | 5.00 ms | 10.00 ms | 15.00 ms | 1.50 | 100 | 0 | met | met |")
	require.Contains(t, md, "| `recalc_auto_priority` (backfill) | 9 changed | > 8m0s (stopped unfinished) | 120.00 ms | 5,000 | 3 | 1.2s | 75 % | 450.00 ms | Lock:transactionid 30, CPU 10, Client:ClientRead 10 | 0.00 ms | 10.00 ms | 25.00 ms | 2.50 | 100 | 0 | **missed** | **missed** |")
	require.Contains(t, md, "| `generate_weekly_report` | report stored | 31s | 0.00 ms | – | 0 | 0s | – | 0.00 ms | – | 0.00 ms | 10.00 ms | 20.00 ms | 2.00 | 100 | 0 | **missed** | met |")
	require.Contains(t, md, "| `renewal_reminder` | 0 renewals reminded | 2ms | 0.00 ms | 1 | 0 | 0s | – | 0.00 ms | – | 0.00 ms | 10.00 ms | 0.00 ms | – | 0 | 0 | met | – |",
		"a sweep shorter than one PATCH has no verdict on the p99")
	require.Contains(t, md, "| `check_integrity` | 0 alerts opened | 90ms | 0.00 ms | 1 | 0 | 0s | – | 0.00 ms | – | 0.00 ms | 10.00 ms | 40.00 ms | 4.00 | 27 | 0 | met | – (< 100 requests) |",
		"a p99 of fewer than 100 requests is shown and not judged")
	require.Contains(t, md, "| *reference*: a busy backend, no rows | computed 50ms | 15s | 0.00 ms | 240 | 0 | 0s | – | 0.00 ms | – | 0.00 ms | 10.00 ms | 21.00 ms | 2.10 | 100 | 0 | – | (reference) |",
		"the reference is judged by neither target")
	require.Contains(t, md, "computes for the pace's aim (50ms)")
	require.Contains(t, md, "17 open deals rotting")
	require.Contains(t, md, "90 open leads stale")
	require.Contains(t, md, "120 contacted or booked leads silent")
	require.Contains(t, md, "busy with other work")
	require.Contains(t, md, "budget 100ms, chunks sized towards 50ms, rest 25 % of a chunk's time, 100 % once the sweep has run 30s)", "the worker's default pace")
	require.Contains(t, md, "with 4 keep-alive connections in a closed loop after 1s warm-up")

	r.opts.sweepPace.Aim = 5 * time.Millisecond
	require.Contains(t, r.sweepsMarkdown(), "budget 100ms, chunks sized towards 5ms,", "the method names the aim that ran")

	r.opts.sweepPace.Long = -1
	require.Contains(t, r.sweepsMarkdown(), "rest 25 % of a chunk's time)", "a pace whose rest never changes names one")

	r.opts.sweepRate, r.opts.sweepConns = 200, 16
	require.Contains(t, r.sweepsMarkdown(), "at a fixed 200 requests a second over 16 keep-alive connections (an open loop",
		"the method names the load that ran")
}

// TestPickSweeps proves -sweeps runs the sweeps asked for in the bench's order, refuses an
// unknown one, and refuses the recurring auto-priority sweep without the backfill before it.
func TestPickSweeps(t *testing.T) {
	t.Parallel()
	got, err := pickSweeps("recalc_auto_priority, recalc_ghost_risk," + sweepPriorityBackfill)
	require.NoError(t, err)
	require.Equal(t, []string{sweepPriorityBackfill, "recalc_ghost_risk", "recalc_auto_priority"}, got)
	got, err = pickSweeps("")
	require.NoError(t, err)
	require.Empty(t, got)
	_, err = pickSweeps("recalc_ghost_risk,nope")
	require.ErrorContains(t, err, `unknown sweep "nope"`)
	_, err = pickSweeps("recalc_auto_priority")
	require.ErrorContains(t, err, "needs "+sweepPriorityBackfill)
}

// TestWriteSweepsSectionKeepsTheOthers proves the sweeps report has its own markers: writing it
// leaves the API and deal sections as they are, and writing those leaves it as it is.
func TestWriteSweepsSectionKeepsTheOthers(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	require.NoError(t, writeSection(path, "leads"))
	require.NoError(t, writeSweepsSection(path, "sweeps one"))
	require.NoError(t, writeDealsSection(path, "deals"))
	require.NoError(t, writeSweepsSection(path, "sweeps two"))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	text := string(b)
	require.Equal(t, 1, strings.Count(text, "## Scheduled sweeps\n"))
	require.Contains(t, text, beginMarker+"\n\nleads\n"+endMarker)
	require.Contains(t, text, dealsBeginMarker+"\n\ndeals\n"+dealsEndMarker)
	require.Contains(t, text, sweepsBeginMarker+"\n\nsweeps two\n"+sweepsEndMarker)
	require.NotContains(t, text, "one")
}

// TestRunLoadDuring proves a load with during set measures for as long as during runs, and
// returns its error.
func TestRunLoadDuring(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"id":"x"}`))
	}))
	t.Cleanup(srv.Close)
	cfg := loadConfig{
		addr: strings.TrimPrefix(srv.URL, "http://"), conns: 2, duration: time.Hour,
		next: func(_ *rand.Rand, buf []byte) request {
			return request{raw: appendGet(buf, "/", "org", "key"), want: []byte(`"id"`)}
		},
		sample: func() cpuSnap { return cpuSnap{} },
		during: func(ctx context.Context) error {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
				return nil
			}
		},
	}
	res, err := runLoad(t.Context(), cfg)
	require.NoError(t, err)
	require.Positive(t, res.requests)
	require.Less(t, res.took, time.Minute)

	boom := errors.New("boom")
	cfg.during = func(context.Context) error { return boom }
	_, err = runLoad(t.Context(), cfg)
	require.ErrorIs(t, err, boom)
}

// TestBusyBackend proves the reference backend keeps a backend of the server busy for about the
// pace's aim per statement and rests between them, so that no more statements run than aim plus
// rest fit into its time, and stops when its context ends.
func TestBusyBackend(t *testing.T) {
	t.Parallel()
	url := dbtest.ServerURL(t)
	ctx := context.Background()
	start := time.Now()
	n, err := busyBackend(ctx, url, 20*time.Millisecond, 0.5, 600*time.Millisecond)
	took := time.Since(start)
	require.NoError(t, err)
	require.GreaterOrEqual(t, took, 600*time.Millisecond)
	// Each round takes at least 30 ms (20 busy, 10 resting): at most 21 fit in 630 ms.
	require.LessOrEqual(t, n, 21)
	require.GreaterOrEqual(t, n, 1)
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = busyBackend(cctx, url, 20*time.Millisecond, 0.5, time.Minute)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// TestHostProbe proves the probe sorts the same unsorted integers in every run (so that its times
// compare across runs) and times the sort.
func TestHostProbe(t *testing.T) {
	t.Parallel()
	a, b := hostProbeInput(), hostProbeInput()
	require.Len(t, a, hostProbeInts)
	require.Equal(t, a, b, "the same input in every run")
	require.False(t, slices.IsSorted(a), "the input is not sorted already")
	require.Greater(t, len(slices.Compact(slices.Sorted(slices.Values(a)))), hostProbeInts*99/100, "the input is nearly all distinct")
	require.Positive(t, hostProbe())
}
