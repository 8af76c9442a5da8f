// Command gatewaybench benchmarks the intake gateway against the real binary and writes the
// figures into BENCHMARKS.md (between the gatewaybench markers of "## Intake gateway").
//
// What it does, in order:
//
//  1. setup: a fresh database (bench_gateway) on the server of BENCH_DATABASE_URL (a superuser),
//     migrated with db.Migrate; one org made with org.Create, a webhook source and a csv source
//     (each with the highest rate limit a source may have, so that the limiter never refuses),
//     and a login role that is a member of crm_app (crm_gatewaybench), so that the gateway runs
//     bound by row-level security exactly as in production.
//  2. webhook: the real gateway binary (production defaults, LOG_LEVEL=info) and an open-loop
//     load generator sending signed webhooks at a fixed rate (default 1,000/s for 30 s, after a
//     5 s warm-up), each a distinct lead, each request on its own goroutine at its scheduled
//     time, over keep-alive connections. Latency is measured from the scheduled send time to the
//     end of the answer, so that a stalled generator counts against the figures rather than
//     hiding them. Accepted/s is 202s divided by the measured window; the rows are counted in
//     lead_intake_raw afterwards.
//  3. csv: a fresh gateway process (so that its peak RSS is the upload's alone), one upload of a
//     generated file of 1,000,000 rows (text/csv, with its Content-Length), rows/s from the
//     start of the request to the 202, the rows counted in the table, and the process's peak
//     resident set (VmHWM of /proc/<pid>/status).
//  4. pipeline (its own database, bench_gateway_pipeline, owned by the login role
//     crm_pipelinebench, which the workers connect as, as the production owner does): a fresh
//     gateway and two worker processes (-worker, built-in scorer, -pipeline-worker-env), and
//     10,000 distinct signed webhook leads posted by 32 concurrent senders as fast as the
//     gateway takes them, while the workers run process_intake, enrich_lead, qualify_lead and
//     route_outreach. Leads/s runs from the first post to the last route_outreach completion;
//     the run is then checked (every lead once, qualified and routed as its path says, every job
//     completed on its first attempt). Its report goes between the gatewaybench-pipeline markers,
//     so that it can be re-taken alone: -scenarios pipeline (or -pipeline-only).
//
// Usage (scripts/bench.sh builds the binaries and starts the devdb test cluster when
// BENCH_DATABASE_URL is unset):
//
//	go build -o bin/intake-gateway ./services/intake-gateway
//	go build -o bin/worker ./services/worker
//	go run ./services/intake-gateway/cmd/gatewaybench -gateway bin/intake-gateway -worker bin/worker -out BENCHMARKS.md
//	go run ./services/intake-gateway/cmd/gatewaybench -pipeline-only   # the pipeline alone
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// options are the command line.
type options struct {
	serverURL string
	gateway   string
	out       string
	dbName    string
	rate      int
	duration  time.Duration
	warmup    time.Duration
	csvRows   int
	scenarios []string
	keep      bool

	worker            string
	pipelineLeads     int
	pipelineWorkers   int
	pipelineSenders   int
	pipelineWorkerEnv string
	pipelineTimeout   time.Duration
}

// defaultPipelineWorkerEnv are the worker settings of the pipeline scenario: the production
// defaults, named, and the Go runtime settings that docker-compose.yml and `make run` give
// worker processes (README "Docker").
const defaultPipelineWorkerEnv = "WORKER_CONCURRENCY=2 WORKER_BATCH_SIZE=64 GOMAXPROCS=1 GOGC=400"

func main() {
	var o options
	var scenarios string
	flag.StringVar(&o.serverURL, "db", os.Getenv("BENCH_DATABASE_URL"), "superuser URL of the PostgreSQL server (BENCH_DATABASE_URL)")
	flag.StringVar(&o.gateway, "gateway", "bin/intake-gateway", "the gateway binary")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "file whose \"## Intake gateway\" section gets the report ('' prints it)")
	flag.StringVar(&o.dbName, "dbname", "bench_gateway", "database to create (dropped first, and afterwards unless -keep)")
	flag.IntVar(&o.rate, "rate", 1000, "webhook requests per second")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "measured webhook load")
	flag.DurationVar(&o.warmup, "warmup", 5*time.Second, "webhook warm-up before the measured load")
	flag.IntVar(&o.csvRows, "csv-rows", 1_000_000, "rows of the CSV upload")
	flag.StringVar(&scenarios, "scenarios", "webhook,csv,pipeline", "scenarios to run (webhook, csv, pipeline)")
	flag.BoolVar(&o.keep, "keep", false, "keep the databases afterwards")
	flag.StringVar(&o.worker, "worker", "bin/worker", "the worker binary (pipeline scenario)")
	flag.IntVar(&o.pipelineLeads, "pipeline-leads", 10_000, "webhook leads of the pipeline scenario")
	flag.IntVar(&o.pipelineWorkers, "pipeline-workers", 2, "worker processes of the pipeline scenario")
	flag.IntVar(&o.pipelineSenders, "pipeline-senders", 32, "concurrent senders of the pipeline scenario")
	flag.StringVar(&o.pipelineWorkerEnv, "pipeline-worker-env", defaultPipelineWorkerEnv, "settings of the pipeline's workers (space-separated NAME=value)")
	flag.DurationVar(&o.pipelineTimeout, "pipeline-timeout", 10*time.Minute, "how long the pipeline may take to route every lead")
	pipelineOnly := flag.Bool("pipeline-only", false, "run only the pipeline scenario (same as -scenarios pipeline)")
	flag.Parse()
	if *pipelineOnly {
		scenarios = "pipeline"
	}
	o.scenarios = strings.Split(scenarios, ",")
	if o.serverURL == "" {
		fmt.Fprintln(os.Stderr, "gatewaybench: set BENCH_DATABASE_URL or -db (a superuser URL)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "gatewaybench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	began := time.Now()
	admin, err := pgx.Connect(ctx, o.serverURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() { _ = admin.Close(ctx) }()
	rep := report{opts: o, machine: machine(ctx, admin), began: began}
	// The webhook and csv scenarios share one database, made when the first of them runs.
	var env *benchEnv
	for _, sc := range o.scenarios {
		if (sc == "webhook" || sc == "csv") && env == nil {
			if env, err = setup(ctx, o); err != nil {
				return err
			}
			defer env.close(ctx, o.keep)
		}
		switch sc {
		case "pipeline":
			r, err := pipelineScenario(ctx, o)
			if err != nil {
				return fmt.Errorf("pipeline: %w", err)
			}
			rep.pipeline = &r
		case "webhook":
			r, err := webhookScenario(ctx, o, env)
			if err != nil {
				return fmt.Errorf("webhook: %w", err)
			}
			rep.webhook = &r
		case "csv":
			r, err := csvScenario(ctx, o, env)
			if err != nil {
				return fmt.Errorf("csv: %w", err)
			}
			rep.csv = &r
		default:
			return errors.New("unknown scenario " + sc)
		}
	}
	rep.took = time.Since(began)
	rep.machine.loadEnd = loadAvg()
	// Each part goes between its own markers, so that a run of some scenarios keeps the
	// figures of the others.
	for _, part := range []struct {
		text       string
		begin, end string
	}{
		{rep.markdown(), beginMarker, endMarker},
		{rep.pipelineMarkdown(), pipelineBeginMarker, pipelineEndMarker},
	} {
		if part.text == "" {
			continue
		}
		fmt.Println(part.text)
		if o.out == "" {
			continue
		}
		if err := writeSection(o.out, part.begin, part.end, part.text); err != nil {
			return err
		}
	}
	return nil
}
