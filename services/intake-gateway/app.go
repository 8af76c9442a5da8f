package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"go.uber.org/zap"

	"example.com/crm/pkg/cli"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/httpx"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lifecycle"
	"example.com/crm/services/intake-gateway/internal/httpapi"
)

// app is the gateway's wiring: its database handle, queue and HTTP handler.
type app struct {
	env      cli.Env
	db       *db.DB
	handler  http.Handler
	draining *httpx.Draining
}

// newApp connects and builds the server. It should connect as a member of crm_app (README):
// then row-level security binds every query it makes.
func newApp(ctx context.Context, env cli.Env) (*app, error) {
	cfg, err := gatewayConfig(os.LookupEnv)
	if err != nil {
		return nil, err
	}
	d, err := cli.OpenDB(ctx, env, "crm-intake-gateway")
	if err != nil {
		return nil, err
	}
	if err := d.CheckAppRole(ctx); err != nil {
		env.Log.Warn("row-level security does not bind this connection", zap.Error(err))
	}
	reg := httpx.NewRegistry()
	draining := &httpx.Draining{}
	jobsCfg := jobs.Config{BaseDelay: env.Config.Jobs.BaseDelay, MaxAttempts: env.Config.Jobs.MaxAttempts}
	srv := httpapi.New(httpapi.Deps{
		DB: d, Queue: jobs.New(d, jobsCfg), Acceptor: intake.NewAcceptor(d, jobsCfg),
		Log: env.Log, Registry: reg, Config: cfg,
		Ready: draining.Ready(d.Ready), TrustedProxies: env.Config.TrustedProxies,
	})
	return &app{env: env, db: d, handler: srv, draining: draining}, nil
}

// run serves until ctx ends (SIGINT/SIGTERM), then fails readiness for SHUTDOWN_DRAIN_MS while
// still serving, and stops, giving requests in flight up to 10 s.
func (a *app) run(ctx context.Context) error {
	return lifecycle.Run(ctx, a.env.Log, cli.HTTPComponent(a.env, a.handler, a.draining, 10*time.Second))
}

// close releases the database.
func (a *app) close() { a.db.Close() }

// serve runs the gateway until shutdown.
func serve(ctx context.Context, env cli.Env) error {
	a, err := newApp(ctx, env)
	if err != nil {
		return err
	}
	defer a.close()
	return a.run(ctx)
}

// gatewayConfig reads the gateway's own settings (README "Configuration"); unset ones keep the
// httpapi defaults.
func gatewayConfig(lookup func(string) (string, bool)) (httpapi.Config, error) {
	var cfg httpapi.Config
	ints := []struct {
		name     string
		min, max int64
		set      func(int64)
	}{
		{"INTAKE_BODY_LIMIT_BYTES", 1024, 16 << 20, func(v int64) { cfg.BodyLimit = v }},
		{"INTAKE_CSV_LIMIT_BYTES", 1024, 8 << 30, func(v int64) { cfg.CSVLimit = v }},
		{"INTAKE_CSV_BATCH_ROWS", 1, 10_000, func(v int64) { cfg.CSVBatchRows = int(v) }},
		{"INTAKE_CSV_TIMEOUT_MS", 1000, 24 * 3600 * 1000, func(v int64) { cfg.CSVTimeout = time.Duration(v) * time.Millisecond }},
		{"INTAKE_MAX_IN_FLIGHT", 1, 100_000, func(v int64) { cfg.MaxInFlight = int(v) }},
		{"INTAKE_SOURCE_CACHE_TTL_MS", 0, 60_000, func(v int64) {
			cfg.SourceCacheTTL = time.Duration(v) * time.Millisecond
			cfg.DisableSourceCache = v == 0
		}},
	}
	for _, s := range ints {
		raw, ok := lookup(s.name)
		if !ok || raw == "" {
			continue
		}
		v, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || v < s.min || v > s.max {
			return httpapi.Config{}, fmt.Errorf("%s must be an integer from %d to %d, got %q", s.name, s.min, s.max, raw)
		}
		s.set(v)
	}
	return cfg, nil
}
