// Command worker runs the job handlers: it claims jobs from PostgreSQL, runs them on
// WORKER_CONCURRENCY goroutines, and serves /healthz, /readyz and /metrics on HTTP_ADDR
// (default :3002). Run any number of them.
//
// Usage:
//
//	worker [serve]                          run until SIGINT/SIGTERM
//	worker migrate up|down|version          migrate the database
//	worker enqueue --org ID [--type noop] [--payload JSON] [--count N] [--key K]
//	                                        enqueue jobs by hand (smoke checks, operators)
package main

import (
	"context"

	"example.com/crm/pkg/cli"
	"example.com/crm/pkg/config"
)

func main() {
	cli.Main(config.Worker, serve, map[string]cli.Command{
		"enqueue": {Usage: "enqueue --org ID [--type noop] [--payload JSON] [--count N] [--key K]   enqueue jobs by hand", Run: enqueueCmd},
	})
}

func serve(ctx context.Context, env cli.Env) error {
	app, err := newApp(ctx, env.Config, env.Log)
	if err != nil {
		return err
	}
	defer app.close()
	return app.run(ctx)
}
