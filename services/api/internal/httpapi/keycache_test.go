package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/config"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/org"
	"example.com/crm/services/api/internal/httpapi"
)

// TestAPIKeyCacheTTL proves Config.KeyCacheTTL reaches authentication: with a cache, a key
// revoked by an operator keeps working until its entry expires (the trade-off README
// documents for API_KEY_CACHE_TTL_MS), while the org check, unknown keys and other orgs' keys
// are refused as without it. TestAuthentication covers the api without a cache (TTL 0), where
// a revoked key fails at once.
func TestAPIKeyCacheTTL(t *testing.T) {
	t.Parallel()
	owner, url := dbtest.NewDB(t)
	app, err := db.Open(t.Context(), db.Options{URL: dbtest.AppURL(t, url), MaxConns: 4, AppName: "api-keycache-test"})
	require.NoError(t, err)
	t.Cleanup(app.Close)
	acme, err := org.Create(t.Context(), owner, "acme")
	require.NoError(t, err)
	other, err := org.Create(t.Context(), owner, "other")
	require.NoError(t, err)
	k, err := org.CreateKey(t.Context(), owner, acme.OrgID, "second")
	require.NoError(t, err)

	queue := jobs.New(app, jobs.Config{})
	srv := httpapi.New(httpapi.Deps{
		DB: app, Queue: queue, Emitter: events.NewEmitter(queue, catalog.New().EventJobs), Log: zaptest.NewLogger(t),
		Config: config.APIConfig{BodyLimit: 64 << 10, KeyCacheTTL: time.Hour}, Registry: prometheus.NewRegistry(),
	})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	status := func(orgID uuid.UUID, key string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.URL+"/leads?limit=1", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("X-Org-Id", orgID.String())
		res, err := ts.Client().Do(req)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		return res.StatusCode
	}

	require.Equal(t, http.StatusOK, status(acme.OrgID, k.Clear))
	require.NoError(t, org.RevokeKey(t.Context(), owner, acme.OrgID, k.ID))
	require.Equal(t, http.StatusOK, status(acme.OrgID, k.Clear), "remembered for the TTL")
	require.Equal(t, http.StatusForbidden, status(other.OrgID, k.Clear), "a remembered key still names its org")
	require.Equal(t, http.StatusForbidden, status(acme.OrgID, other.APIKey))
	require.Equal(t, http.StatusUnauthorized, status(acme.OrgID, k.Clear[:len(k.Clear)-4]+"AAAA"))
}
