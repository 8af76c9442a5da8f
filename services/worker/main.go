// Command worker runs the job handlers: it claims jobs from PostgreSQL, runs them on
// WORKER_CONCURRENCY goroutines, and serves /healthz, /readyz and /metrics on HTTP_ADDR
// (default :3002). Run any number of them.
//
// Usage:
//
//	worker [serve]              run until SIGINT/SIGTERM
//	worker migrate up|down|version
package main

import (
	"context"
	"fmt"
	"os"

	"example.com/crm/pkg/config"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/logging"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	cfg, err := config.Load(config.Worker)
	if err != nil {
		return err
	}
	if len(args) > 0 && args[0] == "migrate" {
		return db.RunMigrateCommand(os.Stdout, cfg.DatabaseURL, args[1:])
	}
	if len(args) > 0 && args[0] != "serve" {
		return fmt.Errorf("unknown command %q (want serve or migrate)", args[0])
	}
	log, err := logging.New(cfg.Log, config.Worker)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	app, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer app.close()
	return app.run(ctx)
}
