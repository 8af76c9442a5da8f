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

	// Each setting out of its range, the others at valid values.
	for _, tc := range []struct {
		name, good, want string
		bad              []string
	}{
		{"SWEEP_CHUNK_BUDGET_MS", "100", "must be 10..10000", []string{"0", "9", "10001"}},
		{"SWEEP_CHUNK_REST_PERCENT", "25", "must be 0..1000", []string{"-1", "1001"}},
		{"SWEEP_LONG_AFTER_S", "30", "must be 1..86400", []string{"0", "-1", "86401"}},
		{"SWEEP_LONG_REST_PERCENT", "100", "must be 0..1000", []string{"-1", "1001"}},
		{"SWEEP_JOB_TIMEOUT_MS", "3600000", "must be 1000..86400000", []string{"999", "86400001"}},
	} {
		for _, bad := range tc.bad {
			t.Setenv(tc.name, bad)
			_, err = config.Load(config.Worker)
			require.ErrorContains(t, err, tc.name+" "+tc.want, bad)
		}
		t.Setenv(tc.name, tc.good)
	}
	_, err = config.Load(config.Worker)
	require.NoError(t, err)
}
