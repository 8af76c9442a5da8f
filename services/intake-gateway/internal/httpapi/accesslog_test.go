package httpapi_test

import (
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"example.com/crm/pkg/httpx"
	"example.com/crm/pkg/intake"
	"example.com/crm/services/intake-gateway/internal/httpapi"
)

// observed counts the requests of route answered with status in the gateway's duration
// histogram.
func observed(t *testing.T, reg prometheus.Gatherer, route string, status int) uint64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	var n uint64
	for _, f := range families {
		if f.GetName() != "crm_intake_http_request_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["route"] == route && labels["status"] == strconv.Itoa(status) {
				n += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return n
}

// TestRefusedDeliveriesAreObservedWithTheirStatus proves that a delivery refused with 401, 404,
// 415 or 429 is counted in /metrics and written to the access log with the status the client
// got, and that no refusal is counted as a 200.
func TestRefusedDeliveriesAreObservedWithTheirStatus(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.InfoLevel)
	reg := httpx.NewRegistry()
	b := setup(t, httpapi.Config{}, func(d *httpapi.Deps) { d.Log, d.Registry = zap.New(core), reg })
	src := b.source(t, intake.NewSource{Kind: intake.KindWebhook, Name: "hook", RateLimitPerMinute: 1})
	const route = "/intake/webhook/:sourceId"
	body := []byte(`{"email":"ann@example.com"}`)

	cases := []struct {
		name string
		send func() response
		want int
	}{
		{"bad signature", func() response { return b.webhook(t, src.ID, "whsec_wrong", b.clock.now(), body) }, http.StatusUnauthorized},
		{"unknown source", func() response { return b.webhook(t, uuid.New(), src.SigningSecret, b.clock.now(), body) }, http.StatusNotFound},
		{"not JSON", func() response {
			return b.do(t, http.MethodPost, "/intake/webhook/"+src.ID.String(), map[string]string{
				"Content-Type": "text/plain", httpapi.SignatureHeader: intake.Sign(src.SigningSecret, b.clock.now(), body),
			}, body)
		}, http.StatusUnsupportedMediaType},
		{"over the rate limit", func() response {
			require.Equal(t, http.StatusAccepted, b.webhook(t, src.ID, src.SigningSecret, b.clock.now(), body).status)
			return b.webhook(t, src.ID, src.SigningSecret, b.clock.now().Add(time.Second), []byte(`{"email":"bob@example.com"}`))
		}, http.StatusTooManyRequests},
	}
	for _, c := range cases {
		before := observed(t, reg, route, c.want)
		r := c.send()
		requireProblem(t, r, c.want)
		require.Equal(t, before+1, observed(t, reg, route, c.want), "%s: counted with status %d", c.name, c.want)
		lines := logs.FilterMessage("http request").FilterField(zap.Int("status", c.want)).All()
		require.NotEmpty(t, lines, "%s: the access log records status %d", c.name, c.want)
		require.Equal(t, r.header.Get("X-Request-Id"), lines[len(lines)-1].ContextMap()["request_id"], c.name)
	}
	require.Zero(t, observed(t, reg, route, http.StatusOK), "no refused delivery is counted as 200")
	require.Equal(t, uint64(1), observed(t, reg, route, http.StatusAccepted))
}

// TestForwardedForTrustedOnlyFromProxies proves that X-Forwarded-For decides the client address
// (the access log's remote_ip and the remote-addr stored with a delivery) only when the peer is
// a trusted proxy (TRUSTED_PROXIES); from anyone else, or with no proxy trusted, the client is
// the peer itself.
func TestForwardedForTrustedOnlyFromProxies(t *testing.T) {
	t.Parallel()
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
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			core, logs := observer.New(zapcore.InfoLevel)
			b := setup(t, httpapi.Config{}, func(d *httpapi.Deps) { d.Log, d.TrustedProxies = zap.New(core), c.trusted })
			src := b.source(t, intake.NewSource{Kind: intake.KindWebhook, Name: "hook"})
			body := []byte(`{"email":"ann@example.com"}`)
			r := b.do(t, http.MethodPost, "/intake/webhook/"+src.ID.String(), map[string]string{
				"Content-Type": "application/json", httpapi.SignatureHeader: intake.Sign(src.SigningSecret, b.clock.now(), body),
				"X-Forwarded-For": "198.51.100.1, 203.0.113.9",
			}, body)
			require.Equal(t, http.StatusAccepted, r.status, string(r.body))
			var stored string
			require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT headers->>'remote-addr' FROM lead_intake_raw`).Scan(&stored))
			require.Equal(t, c.want, stored)

			// A refused request is logged at info, with the address decided the same way.
			r = b.do(t, http.MethodPost, "/intake/webhook/"+uuid.NewString(), map[string]string{"X-Forwarded-For": "203.0.113.9"}, nil)
			require.Equal(t, http.StatusUnsupportedMediaType, r.status)
			lines := logs.FilterMessage("http request").FilterField(zap.Int("status", http.StatusUnsupportedMediaType)).All()
			require.Len(t, lines, 1)
			require.Equal(t, c.want, lines[0].ContextMap()["remote_ip"])
		})
	}
}
