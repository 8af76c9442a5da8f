package httpapi_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/config"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/services/api/internal/httpapi"
)

// TestForwardedForTrustedOnlyFromProxies proves that the access log's remote_ip comes from
// X-Forwarded-For only when the peer is a trusted proxy (TRUSTED_PROXIES); from anyone else, or
// with no proxy trusted, it is the peer itself.
func TestForwardedForTrustedOnlyFromProxies(t *testing.T) {
	t.Parallel()
	_, url := dbtest.NewDB(t)
	app, err := db.Open(t.Context(), db.Options{URL: dbtest.AppURL(t, url), MaxConns: 4, AppName: "api-clientip-test"})
	require.NoError(t, err)
	t.Cleanup(app.Close)
	_, loopback, err := net.ParseCIDR("127.0.0.0/8")
	require.NoError(t, err)
	_, elsewhere, err := net.ParseCIDR("10.0.0.0/8")
	require.NoError(t, err)

	cases := []struct {
		name    string
		trusted []*net.IPNet
		want    string
	}{
		{"no proxy trusted", nil, "127.0.0.1"},
		{"the peer is not a trusted proxy", []*net.IPNet{elsewhere}, "127.0.0.1"},
		{"the peer is a trusted proxy", []*net.IPNet{loopback}, "203.0.113.9"},
	}
	for _, c := range cases {
		core, logs := observer.New(zapcore.InfoLevel)
		queue := jobs.New(app, jobs.Config{})
		ts := httptest.NewServer(httpapi.New(httpapi.Deps{
			DB: app, Queue: queue, Emitter: events.NewEmitter(queue, catalog.New().EventJobs), Log: zap.New(core),
			Config: config.APIConfig{BodyLimit: 64 << 10}, Registry: prometheus.NewRegistry(), TrustedProxies: c.trusted,
		}))
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.URL+"/leads", nil)
		require.NoError(t, err)
		req.Header.Set("X-Forwarded-For", "198.51.100.1, 203.0.113.9")
		res, err := ts.Client().Do(req)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		ts.Close()
		require.Equal(t, http.StatusUnauthorized, res.StatusCode)
		lines := logs.FilterMessage("http request").All()
		require.Len(t, lines, 1, c.name)
		require.Equal(t, c.want, lines[0].ContextMap()["remote_ip"], c.name)
		require.Equal(t, int64(http.StatusUnauthorized), lines[0].ContextMap()["status"], "%s: the status sent", c.name)
	}
}
