package main

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWriteSectionKeepsTheRest proves the report replaces only what lies between its markers:
// a missing section is appended after the others, and a later report replaces the first one
// while the other sections, and the text around the markers, stay as they are.
func TestWriteSectionKeepsTheRest(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	other := "# Benchmarks\n\n## Job queue\n\n<!-- jobbench:begin -->\njobs\n<!-- jobbench:end -->\n\nnotes\n"
	require.NoError(t, os.WriteFile(path, []byte(other), 0o644))

	require.NoError(t, writeSection(path, "first"))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(b), other), string(b))
	require.Contains(t, string(b), "## API\n\n"+beginMarker+"\n\nfirst\n"+endMarker)

	withIntro := strings.Replace(string(b), "## API\n", "## API\n\nintro\n", 1) + "\nafter\n"
	require.NoError(t, os.WriteFile(path, []byte(withIntro), 0o644))
	require.NoError(t, writeSection(path, "second"))
	b, err = os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, strings.Replace(withIntro, "first", "second", 1), string(b))

	fresh := filepath.Join(t.TempDir(), "new.md")
	require.NoError(t, writeSection(fresh, "x"))
	b, err = os.ReadFile(fresh)
	require.NoError(t, err)
	require.Equal(t, "# Benchmarks\n\n## API\n\n"+beginMarker+"\n\nx\n"+endMarker+"\n", string(b))
}

// TestRunLoad proves the closed loop counts the answers of its window, and counts a wrong
// status or a body without the expected bytes as an error rather than a latency.
func TestRunLoad(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			_, _ = w.Write([]byte(`{"id":"x"}`))
		case "/big":
			_, _ = w.Write([]byte(strings.Repeat("a", 100_000) + "needle")) // chunked
		default:
			http.Error(w, "no", http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	run := func(path, want string) loadResult {
		t.Helper()
		res, err := runLoad(context.Background(), loadConfig{
			addr: addr, conns: 4, warmup: 50 * time.Millisecond, duration: 200 * time.Millisecond,
			next: func(_ *rand.Rand, buf []byte) request {
				return request{raw: appendGet(buf, path, "org", "key"), want: []byte(want)}
			},
			sample: func() cpuSnap { return cpuSnap{} },
		})
		require.NoError(t, err)
		return res
	}
	ok := run("/ok", `"id":"x"`)
	require.Positive(t, ok.requests)
	require.Zero(t, ok.errors, ok.firstErr)
	require.Len(t, ok.lat, ok.requests)
	require.Positive(t, ok.rate())

	big := run("/big", "needle")
	require.Positive(t, big.requests)
	require.Zero(t, big.errors, big.firstErr)

	missing := run("/missing", "")
	require.Zero(t, missing.requests)
	require.Positive(t, missing.errors)
	require.Contains(t, missing.firstErr, "status 404")

	wrong := run("/ok", "other")
	require.Zero(t, wrong.requests)
	require.Contains(t, wrong.firstErr, "body without")
}

// TestRunLoadOpenLoop proves the open loop keeps to its schedule and counts a request's wait
// for a connection in its latency: behind an answer that takes 300 ms on the one connection,
// the requests due meanwhile are sent late and their latencies run from when they were due.
func TestRunLoadOpenLoop(t *testing.T) {
	t.Parallel()
	var slow atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" && slow.CompareAndSwap(false, true) {
			time.Sleep(300 * time.Millisecond)
		}
		_, _ = w.Write([]byte(`{"id":"x"}`))
	}))
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	const rate, window = 100.0, 600 * time.Millisecond
	run := func(path string) loadResult {
		t.Helper()
		res, err := runLoad(context.Background(), loadConfig{
			addr: addr, conns: 1, rate: rate, warmup: 0, duration: window,
			next: func(_ *rand.Rand, buf []byte) request {
				return request{raw: appendGet(buf, path, "org", "key"), want: []byte(`"id":"x"`)}
			},
			sample: func() cpuSnap { return cpuSnap{} },
		})
		require.NoError(t, err)
		require.Zero(t, res.errors, res.firstErr)
		return res
	}
	// The schedule bounds the requests, however fast the answers: the window's and the one due
	// at its end.
	fast := run("/fast")
	require.Positive(t, fast.requests)
	require.LessOrEqual(t, fast.requests, int(rate*window.Seconds())+1)

	// The first request holds the connection for 300 ms; the one due 10 ms after it waits
	// about 290 ms for it, and the wait is its latency.
	late := run("/slow")
	require.Positive(t, late.requests)
	require.GreaterOrEqual(t, late.lat[len(late.lat)-1], 300*time.Millisecond)
	require.GreaterOrEqual(t, late.lat[len(late.lat)-2], 250*time.Millisecond)
}
