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
