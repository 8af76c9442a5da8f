package main

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/cli"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/httpx"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lifecycle"
	"example.com/crm/services/api/internal/httpapi"
)

// serve runs the API until shutdown. It should connect as a member of crm_app (see README):
// then row-level security binds every query it makes.
func serve(ctx context.Context, env cli.Env) error {
	// The api enqueues jobs by the catalog's mappings but works none: it refuses to start when a
	// mapping or a seeded cron task names a kind the catalog (the worker's list) does not have.
	cat := catalog.New()
	if err := cat.Check(); err != nil {
		return fmt.Errorf("job catalog: %w", err)
	}
	d, err := cli.OpenDB(ctx, env, "crm-api")
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.CheckAppRole(ctx); err != nil {
		env.Log.Warn("row-level security does not bind this connection", zap.Error(err))
	}
	reg := httpx.NewRegistry()
	queue := jobs.New(d, jobs.Config{BaseDelay: env.Config.Jobs.BaseDelay, MaxAttempts: env.Config.Jobs.MaxAttempts})
	draining := &httpx.Draining{}
	srv := httpapi.New(httpapi.Deps{
		DB: d, Queue: queue, Emitter: events.NewEmitter(queue, cat.EventJobs), Log: env.Log, Config: env.Config.API, Registry: reg,
		Ready: draining.Ready(d.Ready), TrustedProxies: env.Config.TrustedProxies, Rules: env.Config.Rules,
	})
	return lifecycle.Run(ctx, env.Log, cli.HTTPComponent(env, srv, draining, 10*time.Second))
}
