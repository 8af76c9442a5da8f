package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/config"
)

// TestSweepPace proves the sweeps' chunk budget and rest default to 100 ms and 25 %, are read
// from the environment, and are refused outside their ranges.
func TestSweepPace(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://x@localhost/db")
	cfg, err := config.Load(config.Worker)
	require.NoError(t, err)
	require.Equal(t, 100*time.Millisecond, cfg.Worker.SweepBudget)
	require.InDelta(t, 0.25, cfg.Worker.SweepRest, 1e-9)

	t.Setenv("SWEEP_CHUNK_BUDGET_MS", "250")
	t.Setenv("SWEEP_CHUNK_REST_PERCENT", "0")
	cfg, err = config.Load(config.Worker)
	require.NoError(t, err)
	require.Equal(t, 250*time.Millisecond, cfg.Worker.SweepBudget)
	require.Zero(t, cfg.Worker.SweepRest)

	for _, bad := range []string{"0", "9", "10001"} {
		t.Setenv("SWEEP_CHUNK_BUDGET_MS", bad)
		_, err = config.Load(config.Worker)
		require.ErrorContains(t, err, "SWEEP_CHUNK_BUDGET_MS must be 10..10000", bad)
	}
	t.Setenv("SWEEP_CHUNK_BUDGET_MS", "100")
	for _, bad := range []string{"-1", "1001"} {
		t.Setenv("SWEEP_CHUNK_REST_PERCENT", bad)
		_, err = config.Load(config.Worker)
		require.ErrorContains(t, err, "SWEEP_CHUNK_REST_PERCENT must be 0..1000", bad)
	}
}
