package main

import (
	"context"

	"go.uber.org/zap"

	"example.com/crm/pkg/cli"
	"example.com/crm/pkg/httpx"
	"example.com/crm/pkg/lifecycle"
)

// serve runs the gateway until shutdown. The intake routes come with the intake issue; today
// the process serves its health, readiness and metrics.
func serve(ctx context.Context, env cli.Env) error {
	d, err := cli.OpenDB(ctx, env, "crm-intake-gateway", 10)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.CheckAppRole(ctx); err != nil {
		env.Log.Warn("row-level security does not bind this connection", zap.Error(err))
	}
	reg := httpx.NewRegistry()
	return lifecycle.Run(ctx, env.Log, cli.OpsComponent(env, d, reg))
}
