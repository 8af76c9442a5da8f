package main

import (
	"context"

	"example.com/crm/pkg/cli"
	"example.com/crm/pkg/httpx"
	"example.com/crm/pkg/lifecycle"
)

// serve runs the API until shutdown. The business routes come with the API issue; today the
// process serves its health, readiness and metrics.
func serve(ctx context.Context, env cli.Env) error {
	d, err := cli.OpenDB(ctx, env, "crm-api", 10)
	if err != nil {
		return err
	}
	defer d.Close()
	reg := httpx.NewRegistry()
	return lifecycle.Run(ctx, env.Log, cli.OpsComponent(env, d, reg))
}
