package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/config"
)

// TestSweepPace proves the sweeps' chunk budget and rests default to 100 ms, 25 % and, after 30
// s, 100 %, are read from the environment, and are refused outside their ranges.
func TestSweepPace(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://x@localhost/db")
	cfg, err := config.Load(config.Worker)
	require.NoError(t, err)
	require.Equal(t, 100*time.Millisecond, cfg.Worker.SweepBudget)
	require.InDelta(t, 0.25, cfg.Worker.SweepRest, 1e-9)
	require.Equal(t, 30*time.Second, cfg.Worker.SweepLongAfter)
	require.InDelta(t, 1.0, cfg.Worker.SweepLongRest, 1e-9)
	require.Equal(t, time.Hour, cfg.Worker.SweepTimeout)

	t.Setenv("SWEEP_CHUNK_BUDGET_MS", "250")
	t.Setenv("SWEEP_CHUNK_REST_PERCENT", "0")
	t.Setenv("SWEEP_LONG_AFTER_S", "120")
	t.Setenv("SWEEP_LONG_REST_PERCENT", "300")
	t.Setenv("SWEEP_JOB_TIMEOUT_MS", "600000")
	cfg, err = config.Load(config.Worker)
	require.NoError(t, err)
	require.Equal(t, 10*time.Minute, cfg.Worker.SweepTimeout)
	require.Equal(t, 250*time.Millisecond, cfg.Worker.SweepBudget)
	require.Zero(t, cfg.Worker.SweepRest)
	require.Equal(t, 2*time.Minute, cfg.Worker.SweepLongAfter)
	require.InDelta(t, 3.0, cfg.Worker.SweepLongRest, 1e-9)

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
	t.Setenv("SWEEP_CHUNK_REST_PERCENT", "25")
	for _, bad := range []string{"0", "-1", "86401"} {
		t.Setenv("SWEEP_LONG_AFTER_S", bad)
		_, err = config.Load(config.Worker)
		require.ErrorContains(t, err, "SWEEP_LONG_AFTER_S must be 1..86400", bad)
	}
	t.Setenv("SWEEP_LONG_AFTER_S", "30")
	for _, bad := range []string{"-1", "1001"} {
		t.Setenv("SWEEP_LONG_REST_PERCENT", bad)
		_, err = config.Load(config.Worker)
		require.ErrorContains(t, err, "SWEEP_LONG_REST_PERCENT must be 0..1000", bad)
	}
	t.Setenv("SWEEP_LONG_REST_PERCENT", "100")
	for _, bad := range []string{"999", "86400001"} {
		t.Setenv("SWEEP_JOB_TIMEOUT_MS", bad)
		_, err = config.Load(config.Worker)
		require.ErrorContains(t, err, "SWEEP_JOB_TIMEOUT_MS must be 1000..86400000", bad)
	}
}
