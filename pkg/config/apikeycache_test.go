package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/config"
)

// TestAPIKeyCacheTTL proves API_KEY_CACHE_TTL_MS: 5 s by default, 0 turns the cache off, and
// values below 0 or above a minute (how long a revoked key may keep working) stop the binary.
func TestAPIKeyCacheTTL(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://x@localhost/db")
	cfg, err := config.Load(config.API)
	require.NoError(t, err)
	require.Equal(t, 5*time.Second, cfg.API.KeyCacheTTL)

	t.Setenv("API_KEY_CACHE_TTL_MS", "0")
	cfg, err = config.Load(config.API)
	require.NoError(t, err)
	require.Zero(t, cfg.API.KeyCacheTTL)

	t.Setenv("API_KEY_CACHE_TTL_MS", "60000")
	cfg, err = config.Load(config.API)
	require.NoError(t, err)
	require.Equal(t, time.Minute, cfg.API.KeyCacheTTL)

	for _, bad := range []string{"-1", "60001"} {
		t.Setenv("API_KEY_CACHE_TTL_MS", bad)
		_, err = config.Load(config.API)
		require.ErrorContains(t, err, "API_KEY_CACHE_TTL_MS must be 0..60000", bad)
	}
}
