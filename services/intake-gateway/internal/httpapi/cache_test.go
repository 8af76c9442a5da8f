package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/intake"
	"example.com/crm/services/intake-gateway/internal/httpapi"
)

// TestSourceCache shows the documented staleness: a deleted source goes on accepting until its
// cache entry expires, and is refused after.
func TestSourceCache(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{SourceCacheTTL: time.Minute})
	src := b.source(t, intake.NewSource{Kind: intake.KindWebhook, Name: "cached"})
	require.Equal(t, http.StatusAccepted, b.webhook(t, src.ID, src.SigningSecret, b.clock.now(), []byte(`{"n":1}`)).status)
	require.NoError(t, b.svc.Delete(t.Context(), b.org, "apikey:test", src.ID))
	// The row itself still exists (soft delete), so the cached source can still store.
	require.Equal(t, http.StatusAccepted, b.webhook(t, src.ID, src.SigningSecret, b.clock.now(), []byte(`{"n":2}`)).status)
	b.clock.advance(61 * time.Second)
	requireProblem(t, b.webhook(t, src.ID, src.SigningSecret, b.clock.now(), []byte(`{"n":3}`)), http.StatusNotFound)
	raw, jobs := b.stored(t)
	require.Equal(t, 2, raw)
	require.Equal(t, 2, jobs)
}

// TestSourceCacheNewSecret shows that a rotation needs no waiting for the cache: a signature
// that the cached secrets refuse reloads the source (at most once a second per source), so the
// new secret is accepted at once; the replaced one, without grace, is refused from that reload
// on; and a refusal right after a load (a forgery, say) does not reload.
func TestSourceCacheNewSecret(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{SourceCacheTTL: time.Minute})
	src := b.source(t, intake.NewSource{Kind: intake.KindWebhook, Name: "rotating"})
	require.Equal(t, http.StatusAccepted, b.webhook(t, src.ID, src.SigningSecret, b.clock.now(), []byte(`{"n":1}`)).status)
	noGrace := time.Duration(0)
	rotated, err := b.svc.RotateSecret(t.Context(), b.org, "apikey:test", src.ID, &noGrace)
	require.NoError(t, err)

	// Cached a moment ago: too young to reload, so the new secret waits a second.
	requireProblem(t, b.webhook(t, src.ID, rotated.SigningSecret, b.clock.now(), []byte(`{"n":2}`)), http.StatusUnauthorized)
	b.clock.advance(time.Second)
	r := b.webhook(t, src.ID, rotated.SigningSecret, b.clock.now(), []byte(`{"n":3}`))
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	requireProblem(t, b.webhook(t, src.ID, src.SigningSecret, b.clock.now(), []byte(`{"n":4}`)), http.StatusUnauthorized)

	// The reload is what the cache holds now: deleting the source does not show before the TTL.
	require.NoError(t, b.svc.Delete(t.Context(), b.org, "apikey:test", src.ID))
	r = b.webhook(t, src.ID, rotated.SigningSecret, b.clock.now(), []byte(`{"n":5}`))
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	// A refused signature a second later reloads and finds the source gone.
	b.clock.advance(time.Second)
	requireProblem(t, b.webhook(t, src.ID, "not-the-secret", b.clock.now(), []byte(`{"n":6}`)), http.StatusNotFound)
	raw, jobs := b.stored(t)
	require.Equal(t, 3, raw)
	require.Equal(t, 3, jobs)
}
