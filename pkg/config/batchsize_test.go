package config_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/config"
)

// TestWorkerBatchSize proves WORKER_BATCH_SIZE defaults to 64, is read from the environment and
// is refused outside 1..1000.
func TestWorkerBatchSize(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://x@localhost/db")
	cfg, err := config.Load(config.Worker)
	require.NoError(t, err)
	require.Equal(t, 64, cfg.Worker.BatchSize)

	t.Setenv("WORKER_BATCH_SIZE", "1")
	cfg, err = config.Load(config.Worker)
	require.NoError(t, err)
	require.Equal(t, 1, cfg.Worker.BatchSize)

	for _, bad := range []string{"0", "-3", "1001"} {
		t.Setenv("WORKER_BATCH_SIZE", bad)
		_, err = config.Load(config.Worker)
		require.ErrorContains(t, err, "WORKER_BATCH_SIZE must be 1..1000", bad)
	}
}
