package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/httpx"
	"example.com/crm/pkg/lifecycle"
)

// OpenDB opens the service's database handle, named appName in pg_stat_activity, with at least
// minConns connections (DB_MAX_CONNS raises it).
func OpenDB(ctx context.Context, env Env, appName string, minConns int32) (*db.DB, error) {
	d, err := db.Open(ctx, db.Options{
		URL:      env.Config.DatabaseURL,
		MaxConns: max(env.Config.DBMaxConns, minConns),
		AppName:  appName,
		Logger:   env.Log,
	})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return d, nil
}

// OpsComponent serves /healthz, /readyz (the database answers and its schema is current) and
// /metrics (from reg) on HTTP_ADDR until shutdown.
func OpsComponent(env Env, d *db.DB, reg *prometheus.Registry) lifecycle.Component {
	srv := httpx.NewServer(env.Config.HTTPAddr, httpx.OpsHandler(d.Ready, reg))
	return lifecycle.Component{
		Name: "http",
		Run:  func(ctx context.Context) error { return httpx.Serve(ctx, srv, 5*time.Second, env.Log) },
	}
}
