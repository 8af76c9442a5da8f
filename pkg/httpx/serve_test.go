package httpx_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"example.com/crm/pkg/httpx"
)

// get sends GET url on a fresh connection and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Close = true
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = res.Body.Close() }()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(body)
}

// eventually polls cond every 10 ms until it holds or within has passed.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "timed out waiting for %s", what)
		select {
		case <-t.Context().Done():
			require.FailNow(t, "test ended")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestServeDrainsBeforeStopping proves the shutdown order: once the context ends, /readyz
// answers 503 "shutting down" while other requests are still served, and the server stops only
// after the drain.
func TestServeDrainsBeforeStopping(t *testing.T) {
	t.Parallel()
	const drain = 600 * time.Millisecond
	draining := &httpx.Draining{}
	mux := http.NewServeMux()
	mux.Handle("/readyz", httpx.OpsHandler(draining.Ready(func(context.Context) error { return nil }), prometheus.NewRegistry(), zap.NewNop()))
	mux.HandleFunc("GET /work", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "done") })
	core, logs := observer.New(zapcore.InfoLevel)

	ctx, stop := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() {
		served <- httpx.Serve(ctx, httpx.NewServer("127.0.0.1:0", mux), httpx.Shutdown{Drain: drain, Grace: time.Second, Draining: draining}, zap.New(core))
	}()
	var base string
	eventually(t, 5*time.Second, "the server to listen", func() bool {
		lines := logs.FilterMessage("http server listening").All()
		if len(lines) == 0 {
			return false
		}
		base = "http://" + lines[0].ContextMap()["addr"].(string)
		return true
	})
	code, body := get(t, base+"/readyz")
	require.Equal(t, http.StatusOK, code, body)

	stopped := time.Now()
	stop()
	eventually(t, time.Second, "/readyz to fail", func() bool {
		code, body = get(t, base+"/readyz")
		return code == http.StatusServiceUnavailable
	})
	var ready map[string]string
	require.NoError(t, json.Unmarshal([]byte(body), &ready))
	require.Equal(t, map[string]string{"status": "unavailable", "detail": "shutting down"}, ready)
	code, body = get(t, base+"/work")
	require.Equal(t, http.StatusOK, code, "requests are still served during the drain")
	require.Equal(t, "done", body)

	select {
	case err := <-served:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		require.FailNow(t, "the server did not stop after its drain")
	}
	require.GreaterOrEqual(t, time.Since(stopped), drain, "the server stops only after the drain")
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/work", nil)
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	if err == nil {
		_ = res.Body.Close()
	}
	require.Error(t, err, "nothing answers once the server has stopped")
}

// TestServeDrainKeepsIdleConnectionsAnswering proves that the drain does not close a client's
// idle keep-alive connection under it: a client that sends its next request on such a
// connection after the drain has begun (its load balancer has not yet seen the failed
// readiness) gets an answer, marked Connection: close, rather than a closed connection, which
// Go's client and most others do not retry for a POST.
func TestServeDrainKeepsIdleConnectionsAnswering(t *testing.T) {
	t.Parallel()
	draining := &httpx.Draining{}
	mux := http.NewServeMux()
	mux.Handle("/readyz", httpx.OpsHandler(draining.Ready(func(context.Context) error { return nil }), prometheus.NewRegistry(), zap.NewNop()))
	mux.HandleFunc("POST /work", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "done") })
	core, logs := observer.New(zapcore.InfoLevel)
	ctx, stop := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() {
		served <- httpx.Serve(ctx, httpx.NewServer("127.0.0.1:0", mux), httpx.Shutdown{Drain: 2 * time.Second, Grace: time.Second, Draining: draining}, zap.New(core))
	}()
	var addr string
	eventually(t, 5*time.Second, "the server to listen", func() bool {
		lines := logs.FilterMessage("http server listening").All()
		if len(lines) == 0 {
			return false
		}
		addr = lines[0].ContextMap()["addr"].(string)
		return true
	})

	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	rd := bufio.NewReader(conn)
	post := func() (*http.Response, error) {
		if _, err := io.WriteString(conn, "POST /work HTTP/1.1\r\nHost: crm\r\nContent-Length: 2\r\n\r\nhi"); err != nil {
			return nil, err
		}
		res, err := http.ReadResponse(rd, nil)
		if err != nil {
			return nil, err
		}
		_, err = io.ReadAll(res.Body)
		return res, err
	}
	res, err := post()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.False(t, res.Close, "the connection is kept alive before the drain")

	stop()
	eventually(t, time.Second, "the drain to begin", func() bool {
		code, _ := get(t, "http://"+addr+"/readyz")
		return code == http.StatusServiceUnavailable
	})
	eventually(t, time.Second, "the drain to be logged", func() bool {
		return logs.FilterMessage("draining: not ready, still serving").Len() > 0
	})
	res, err = post()
	require.NoError(t, err, "the idle connection still answers during the drain")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.True(t, res.Close, "and closes after the answer")
	require.NoError(t, <-served)
}
