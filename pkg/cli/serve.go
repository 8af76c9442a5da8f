package cli

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/httpx"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lifecycle"
)

// OpenDB opens the service's database handle, named appName in pg_stat_activity, with a pool of
// exactly DB_MAX_CONNS connections (pkg/config refuses fewer than 2). Its tenant transactions
// (DB.Tx) wake the workers after their commit rather than NOTIFY inside it
// (jobs.WakeAfterCommit), so that the service's requests never commit one at a time behind
// PostgreSQL's notify lock.
func OpenDB(ctx context.Context, env Env, appName string) (*db.DB, error) {
	d, err := db.Open(ctx, db.Options{
		URL:      env.Config.DatabaseURL,
		MaxConns: env.Config.DBMaxConns,
		AppName:  appName,
		Logger:   env.Log,
	})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	jobs.WakeAfterCommit(d)
	return d, nil
}

// HTTPComponent serves h on HTTP_ADDR until shutdown. When shutdown begins, draining fails the
// service's readiness and the server goes on answering for SHUTDOWN_DRAIN_MS, so that a load
// balancer takes the instance out of rotation before it stops; requests still in flight then
// get up to grace to finish. h's /readyz must ask draining.Ready.
func HTTPComponent(env Env, h http.Handler, draining *httpx.Draining, grace time.Duration) lifecycle.Component {
	srv := httpx.NewServer(env.Config.HTTPAddr, h)
	stop := httpx.Shutdown{Drain: env.Config.ShutdownDrain, Grace: grace, Draining: draining}
	return lifecycle.Component{
		Name: "http",
		Run:  func(ctx context.Context) error { return httpx.Serve(ctx, srv, stop, env.Log) },
	}
}

// OpsComponent serves /healthz, /readyz (the database answers and its schema is current) and
// /metrics (from reg) on HTTP_ADDR until shutdown, when it stops at once: no load balancer
// sends requests to the worker or the scheduler, so a drain (SHUTDOWN_DRAIN_MS) would only slow
// their restarts.
func OpsComponent(env Env, d *db.DB, reg *prometheus.Registry) lifecycle.Component {
	srv := httpx.NewServer(env.Config.HTTPAddr, httpx.OpsHandler(d.Ready, reg, env.Log.Named("http")))
	stop := httpx.Shutdown{Grace: 5 * time.Second}
	return lifecycle.Component{
		Name: "http",
		Run:  func(ctx context.Context) error { return httpx.Serve(ctx, srv, stop, env.Log) },
	}
}
