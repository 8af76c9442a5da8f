package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGatewayConfig(t *testing.T) {
	t.Parallel()
	env := func(kv map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
	}
	cfg, err := gatewayConfig(env(nil))
	require.NoError(t, err)
	require.Zero(t, cfg.BodyLimit, "unset keeps the httpapi default")

	cfg, err = gatewayConfig(env(map[string]string{
		"INTAKE_BODY_LIMIT_BYTES": "2048", "INTAKE_CSV_LIMIT_BYTES": "1048576", "INTAKE_CSV_BATCH_ROWS": "500",
		"INTAKE_CSV_TIMEOUT_MS": "60000", "INTAKE_SOURCE_CACHE_TTL_MS": "0",
	}))
	require.NoError(t, err)
	require.Equal(t, int64(2048), cfg.BodyLimit)
	require.Equal(t, int64(1<<20), cfg.CSVLimit)
	require.Equal(t, 500, cfg.CSVBatchRows)
	require.Equal(t, time.Minute, cfg.CSVTimeout)
	require.True(t, cfg.DisableSourceCache)

	for _, bad := range []map[string]string{
		{"INTAKE_BODY_LIMIT_BYTES": "10"}, {"INTAKE_CSV_BATCH_ROWS": "lots"}, {"INTAKE_SOURCE_CACHE_TTL_MS": "-1"},
	} {
		_, err := gatewayConfig(env(bad))
		require.Error(t, err)
	}
}
