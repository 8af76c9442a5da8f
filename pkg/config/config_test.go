package config_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/config"
)

func TestLoadDefaults(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://x@localhost/db")
	cfg, err := config.Load(config.Worker)
	require.NoError(t, err)
	require.Equal(t, ":3002", cfg.HTTPAddr)
	require.Equal(t, 2, cfg.Worker.Concurrency)
	require.Equal(t, time.Second, cfg.Worker.PollInterval)
	require.Equal(t, 10*time.Minute, cfg.Worker.LockTimeout)
	require.Equal(t, 5*time.Second, cfg.Jobs.BaseDelay)
	require.Equal(t, 3, cfg.Jobs.MaxAttempts)
	require.Equal(t, "gpt-4o", cfg.AI.Model)
	require.Equal(t, 75, cfg.Rules.BuyingSignalThreshold)
	require.Equal(t, 14, cfg.Rules.DealDecayDays)
	require.Equal(t, 7, cfg.Rules.GhostRiskSilenceDays)
}

func TestLoadEnvAndFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "crm.yaml")
	require.NoError(t, os.WriteFile(file, []byte("WORKER_CONCURRENCY: 7\nAI_MODEL: from-file\n"), 0o600))
	t.Setenv("CONFIG_FILE", file)
	t.Setenv("DATABASE_URL", "postgres://x@localhost/db")
	t.Setenv("AI_MODEL", "from-env")
	t.Setenv("WORKER_LOCK_TIMEOUT_MINUTES", "0.05")
	t.Setenv("HTTP_ADDR", "127.0.0.1:9999")
	cfg, err := config.Load(config.API)
	require.NoError(t, err)
	require.Equal(t, 7, cfg.Worker.Concurrency, "file value")
	require.Equal(t, "from-env", cfg.AI.Model, "environment wins over the file")
	require.Equal(t, 3*time.Second, cfg.Worker.LockTimeout)
	require.Equal(t, "127.0.0.1:9999", cfg.HTTPAddr)
}

func TestLoadRejectsBadValues(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	t.Setenv("WORKER_CONCURRENCY", "0")
	t.Setenv("LOG_FORMAT", "xml")
	t.Setenv("DEAL_DECAY_THRESHOLD_DAYS", "0")
	t.Setenv("GHOST_RISK_SILENCE_DAYS", "366")
	_, err := config.Load(config.Worker)
	require.ErrorContains(t, err, "DEAL_DECAY_THRESHOLD_DAYS must be 1..365, got 0")
	require.ErrorContains(t, err, "GHOST_RISK_SILENCE_DAYS must be 1..365, got 366")
	require.ErrorContains(t, err, "DATABASE_URL is required")
	require.ErrorContains(t, err, "WORKER_CONCURRENCY must be 1..10000")
	require.ErrorContains(t, err, "LOG_FORMAT must be json or console")
}

func TestLoadShutdownDrainAndTrustedProxies(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://x@localhost/db")
	cfg, err := config.Load(config.API)
	require.NoError(t, err)
	require.Equal(t, 5*time.Second, cfg.ShutdownDrain)
	require.Empty(t, cfg.TrustedProxies, "no proxy is trusted by default")

	t.Setenv("SHUTDOWN_DRAIN_MS", "250")
	t.Setenv("TRUSTED_PROXIES", " 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32")
	cfg, err = config.Load(config.IntakeGateway)
	require.NoError(t, err)
	require.Equal(t, 250*time.Millisecond, cfg.ShutdownDrain)
	nets := make([]string, len(cfg.TrustedProxies))
	for i, n := range cfg.TrustedProxies {
		nets[i] = n.String()
	}
	require.Equal(t, []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"}, nets)

	t.Setenv("TRUSTED_PROXIES", "10.0.0.0/8,proxy.internal")
	_, err = config.Load(config.API)
	require.ErrorContains(t, err, `TRUSTED_PROXIES: "proxy.internal" is neither a CIDR nor an IP address`)

	t.Setenv("TRUSTED_PROXIES", "")
	t.Setenv("SHUTDOWN_DRAIN_MS", "-1")
	_, err = config.Load(config.API)
	require.ErrorContains(t, err, "SHUTDOWN_DRAIN_MS must be 0..60000")
}
