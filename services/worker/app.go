package main

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/cli"
	"example.com/crm/pkg/config"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/httpx"
	"example.com/crm/pkg/invoice"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/lifecycle"
	"example.com/crm/services/worker/internal/handler"
	"example.com/crm/services/worker/internal/runtime"
)

// app is the wired worker process.
type app struct {
	cfg     config.Config
	log     *zap.Logger
	db      *db.DB
	reg     *prometheus.Registry
	runtime *runtime.Runtime
}

func newApp(ctx context.Context, cfg config.Config, log *zap.Logger) (*app, error) {
	// Every mapped event and seeded cron task names a kind of the catalog, and the worker works
	// every kind of it (CheckWorked below): nothing is enqueued only to be dead-lettered.
	cat := catalog.New()
	if err := cat.Check(); err != nil {
		return nil, fmt.Errorf("job catalog: %w", err)
	}
	// Each running job may hold a connection, plus the completer, reaper and claims (README: the
	// worker takes at least concurrency + 6); the listener and the lease renewals have connections
	// of their own.
	maxConns := max(cfg.DBMaxConns, int32(min(cfg.Worker.Concurrency, 200))+6)
	if maxConns != cfg.DBMaxConns {
		log.Info("DB_MAX_CONNS raised to fit WORKER_CONCURRENCY", zap.Int32("db_max_conns", cfg.DBMaxConns), zap.Int32("pool_size", maxConns))
	}
	d, err := db.Open(ctx, db.Options{URL: cfg.DatabaseURL, MaxConns: maxConns, AppName: "crm-worker", Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	// The use cases' own transactions (DB.Tx) wake the workers after their commit, as the job
	// batches do (cli.OpenDB does the same for the other binaries).
	jobs.WakeAfterCommit(d)
	// The scheduled sweeps' chunks run under the configured budget and rests (db.DB.Chunks); a
	// rest of 0 % is none, which db.Pace spells as a negative rest.
	d.SetPace(db.Pace{Budget: cfg.Worker.SweepBudget, Rest: paceRest(cfg.Worker.SweepRest),
		Long: cfg.Worker.SweepLongAfter, LongRest: paceRest(cfg.Worker.SweepLongRest)})
	reg := httpx.NewRegistry()
	queue := jobs.New(d, jobs.Config{BaseDelay: cfg.Jobs.BaseDelay, MaxAttempts: cfg.Jobs.MaxAttempts})
	reg.MustRegister(jobs.NewDepthCollector(queue))
	emitter := events.NewEmitter(queue, cat.EventJobs)
	pipeline, err := handler.NewLeadPipeline(d, emitter, cfg.AI, cfg.Enrichment)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("build lead pipeline: %w", err)
	}
	leads := lead.NewService(d, emitter)
	calls, err := handler.NewCallService(d, emitter, leads, cfg.AI, cfg.Rules)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("build call service: %w", err)
	}
	reports, err := handler.NewReportService(d, emitter, cfg.AI)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("build report service: %w", err)
	}
	kinds := handler.Kinds(handler.Deps{DB: d, Queue: queue, Emitter: emitter, Log: log, Pipeline: pipeline, Leads: leads, Calls: calls,
		InvoiceRenderer: invoice.PDF{}, Reports: reports, Rules: cfg.Rules, SweepTimeout: cfg.Worker.SweepTimeout})
	if err := cat.CheckWorked(handler.Names(kinds)); err != nil {
		d.Close()
		return nil, fmt.Errorf("job kinds: %w", err)
	}
	rt := runtime.New(runtime.Config{
		Concurrency:    cfg.Worker.Concurrency,
		ClaimBatch:     cfg.Worker.ClaimBatch,
		PollInterval:   cfg.Worker.PollInterval,
		LockTimeout:    cfg.Worker.LockTimeout,
		JobTimeout:     cfg.Jobs.Timeout,
		ShutdownGrace:  cfg.Worker.ShutdownGrace,
		ReaperInterval: cfg.Worker.ReaperInterval,
		Retention:      cfg.Jobs.Retention,
		BatchSize:      cfg.Worker.BatchSize,
	}, d, queue, kinds, log, reg)
	return &app{cfg: cfg, log: log, db: d, reg: reg, runtime: rt}, nil
}

func (a *app) run(ctx context.Context) error {
	components := []lifecycle.Component{cli.OpsComponent(cli.Env{Config: a.cfg, Log: a.log}, a.db, a.reg)}
	if a.cfg.Worker.Enabled {
		components = append(components, lifecycle.Component{Name: "worker", Run: a.runtime.Run})
	} else {
		a.log.Warn("WORKER_ENABLED is false: serving health only")
	}
	return lifecycle.Run(ctx, a.log, components...)
}

func (a *app) close() { a.db.Close() }

// paceRest is a configured rest as db.Pace spells it: zero (none) is negative there, since a
// zero field is its default.
func paceRest(r float64) float64 {
	if r == 0 {
		return -1
	}
	return r
}
