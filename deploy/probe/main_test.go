package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTarget(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		":8080":          "http://127.0.0.1:8080/readyz",
		"0.0.0.0:8080":   "http://127.0.0.1:8080/readyz",
		"[::]:8080":      "http://127.0.0.1:8080/readyz",
		"10.1.2.3:3000":  "http://10.1.2.3:3000/readyz",
		"localhost:3001": "http://localhost:3001/readyz",
	} {
		got, err := target(addr, "/readyz")
		require.NoError(t, err, addr)
		require.Equal(t, want, got, addr)
	}
	_, err := target("", "/readyz")
	require.ErrorContains(t, err, "HTTP_ADDR is not set")
	_, err = target("8080", "/readyz")
	require.Error(t, err)
}

func TestProbe(t *testing.T) {
	t.Parallel()
	var notReady atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" && !notReady.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)
	addr := ":" + port

	require.NoError(t, probe(t.Context(), addr, "/readyz"))
	require.ErrorContains(t, probe(t.Context(), addr, "/healthz"), "status 503")
	notReady.Store(true)
	require.ErrorContains(t, probe(t.Context(), addr, "/readyz"), "status 503")
	srv.Close()
	require.ErrorContains(t, probe(t.Context(), addr, "/readyz"), "connection refused")
}
