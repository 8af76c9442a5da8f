// Command jobbench benchmarks the job queue end to end with real worker processes and writes
// the figures into BENCHMARKS.md (between the generated-part markers of "## Job queue").
//
// Scenarios, each on fresh databases (CREATE DATABASE, db.Migrate up, one org; dropped after):
//
//   - throughput: 100,000 noop jobs are enqueued in batches through jobs.Queue.Enqueue, then 1
//     and 2 worker processes (the real bin/worker, with explicit settings) are started, and the
//     time from their start until the last job is completed is measured on the database clock.
//     Each run is checked (every job completed on its first attempt, one job_logs row each) and
//     costed: CPU of the worker processes and of the server processes serving them (from /proc,
//     so only when the server runs on this machine), WAL written, claim and completion
//     statements issued.
//   - latency: one worker with the default configuration; noop jobs are enqueued one at a time
//     (each its own autocommit Enqueue) at 200/s for 10 s into the idle queue; the latency of
//     each job is jobs.attempted_at - jobs.created_at (both database clock).
//   - growth: a raw claim loop (jobs.Queue.Claim on one connection, no completions) and the
//     1-worker throughput run, on an empty queue and on one holding 1,000,000 completed jobs
//     and their job_logs rows.
//   - money (money.go, its own section "## Money"): 10,000 open deals of one org are won through
//     deal.Service.ChangeStage from 8 goroutines while 2 worker processes invoice them and draw up
//     their contracts (both PDFs rendered and stored), then again with the workers started only
//     after the wins; won deals/s until the last document, CPU per deal, batch sizes, what the
//     workers' backends waited for (pg_stat_activity), and the renderers' time per document.
//     -money-only runs it alone and writes only its section.
//
// Throughput and growth runs are repeated (-runs, -growth-claim-rounds) and the fastest counts:
// on a shared machine noise only ever slows a run down. CPU per job varies far less than jobs/s
// with the load of the machine, so it is the figure to compare changes by.
//
// Usage (scripts/bench.sh, i.e. make bench, builds both binaries and starts the devdb test
// cluster when BENCH_DATABASE_URL is unset):
//
//	go build -o bin/worker ./services/worker
//	go run ./services/worker/cmd/jobbench -worker bin/worker -out BENCHMARKS.md
//
// The server URL is BENCH_DATABASE_URL, else the superuser URL of the devdb test cluster
// (scripts/devdb.sh superurl test). The role must be allowed to create databases; CHECKPOINT
// before each fill needs a superuser or pg_checkpoint and is skipped (with a warning) otherwise.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command line.
type options struct {
	serverURL    string
	workerBin    string
	scenarios    []string
	jobs         int
	workerCounts []int
	runs         int
	enqueueBatch int
	settings     []string // WORKER_* env of throughput and growth workers
	latRate      int
	latDuration  time.Duration
	growthRows   int
	growthRounds int
	out          string
	keep         bool
	pgSet        []string // ALTER DATABASE ... SET of every bench database (diagnostics)
	logDir       string
	// The money scenario (money.go).
	moneyDeals    int
	moneyWinners  int
	moneyWorkers  int
	moneySettings []string // the environment of its workers
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "jobbench:", err)
		os.Exit(1)
	}
}

func run() error {
	var o options
	var scen, counts, extra, pgSet string
	var concurrency, claimBatch, maxConns int
	var moneyEnv string
	var moneyOnly bool
	flag.StringVar(&o.serverURL, "database-url", os.Getenv("BENCH_DATABASE_URL"), "superuser URL of the PostgreSQL server (default $BENCH_DATABASE_URL, else the devdb test cluster)")
	flag.StringVar(&o.workerBin, "worker", "bin/worker", "worker binary (go build -o bin/worker ./services/worker)")
	flag.StringVar(&scen, "scenarios", "throughput,latency,growth,money", "comma-separated scenarios to run")
	flag.IntVar(&o.jobs, "jobs", 100_000, "noop jobs per throughput run")
	flag.StringVar(&counts, "workers", "1,2", "worker process counts of the throughput scenario")
	flag.IntVar(&o.runs, "runs", 2, "repetitions of each throughput measurement and growth worker run (the fastest counts)")
	flag.IntVar(&o.enqueueBatch, "enqueue-batch", 10_000, "jobs per Enqueue call when filling the queue")
	// Twice as many slots as a claim takes: a claim is made as soon as any slot is free, so with
	// concurrency = batch the claims average half a batch; with twice the slots they are full.
	flag.IntVar(&concurrency, "concurrency", 1024, "WORKER_CONCURRENCY of throughput and growth workers")
	flag.IntVar(&claimBatch, "claim-batch", 512, "WORKER_CLAIM_BATCH of throughput and growth workers")
	flag.IntVar(&maxConns, "db-max-conns", 0, "DB_MAX_CONNS of throughput and growth workers (0: the worker's default)")
	flag.StringVar(&extra, "worker-env", "", "more KEY=VALUE settings (comma-separated) for throughput and growth workers")
	flag.IntVar(&o.latRate, "latency-rate", 200, "jobs per second of the latency scenario")
	flag.DurationVar(&o.latDuration, "latency-duration", 10*time.Second, "length of the latency scenario")
	flag.IntVar(&o.growthRows, "growth-rows", 1_000_000, "completed jobs in the queue of the growth scenario")
	flag.IntVar(&o.growthRounds, "growth-claim-rounds", 3, "claim loops per side of the growth scenario (the fastest counts)")
	flag.StringVar(&o.out, "out", "", "Markdown file in whose \"## Job queue\" section the report replaces the generated part (empty: stdout only)")
	flag.BoolVar(&o.keep, "keep", false, "keep the bench databases")
	flag.StringVar(&pgSet, "pg-set", "", "name=value,... set on every bench database with ALTER DATABASE (diagnostics, e.g. auto_explain)")
	flag.IntVar(&o.moneyDeals, "money-deals", 10_000, "deals of one org won in the money scenario")
	flag.IntVar(&o.moneyWinners, "money-winners", 8, "goroutines winning the deals of the money scenario (deal.Service.ChangeStage)")
	flag.IntVar(&o.moneyWorkers, "money-workers", 2, "worker processes of the money scenario")
	flag.StringVar(&moneyEnv, "money-worker-env", "GOMAXPROCS=1,GOGC=400", "KEY=VALUE settings (comma-separated) of the money scenario's workers; WORKER_* settings not named keep their defaults")
	flag.BoolVar(&moneyOnly, "money-only", false, "run only the money scenario and write only the \"## Money\" section")
	flag.Parse()

	o.scenarios = strings.Split(scen, ",")
	if moneyOnly {
		o.scenarios = []string{scMoney}
	}
	for _, s := range o.scenarios {
		if !slices.Contains([]string{"throughput", "latency", "growth", scMoney}, s) {
			return fmt.Errorf("unknown scenario %q", s)
		}
	}
	for _, c := range strings.Split(counts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			return fmt.Errorf("bad -workers entry %q", c)
		}
		o.workerCounts = append(o.workerCounts, n)
	}
	for _, kv := range strings.Split(moneyEnv, ",") {
		if kv = strings.TrimSpace(kv); kv != "" {
			if !strings.Contains(kv, "=") {
				return fmt.Errorf("bad -money-worker-env entry %q (want KEY=VALUE)", kv)
			}
			o.moneySettings = append(o.moneySettings, kv)
		}
	}
	if o.moneyDeals < 1 || o.moneyWinners < 1 || o.moneyWorkers < 1 {
		return errors.New("-money-deals, -money-winners and -money-workers must be positive")
	}
	if o.jobs < 1 || o.runs < 1 || o.enqueueBatch < 1 || o.latRate < 1 || o.latDuration <= 0 || o.growthRows < 1 || o.growthRounds < 1 {
		return errors.New("counts, rates and durations must be positive")
	}
	o.settings = []string{"WORKER_CONCURRENCY=" + strconv.Itoa(concurrency), "WORKER_CLAIM_BATCH=" + strconv.Itoa(claimBatch)}
	if maxConns > 0 {
		o.settings = append(o.settings, "DB_MAX_CONNS="+strconv.Itoa(maxConns))
	}
	for _, kv := range strings.Split(extra, ",") {
		if kv = strings.TrimSpace(kv); kv != "" {
			if !strings.Contains(kv, "=") {
				return fmt.Errorf("bad -worker-env entry %q (want KEY=VALUE)", kv)
			}
			o.settings = append(o.settings, kv)
		}
	}
	for _, kv := range strings.Split(pgSet, ",") {
		if kv = strings.TrimSpace(kv); kv != "" {
			if !strings.Contains(kv, "=") {
				return fmt.Errorf("bad -pg-set entry %q (want name=value)", kv)
			}
			o.pgSet = append(o.pgSet, kv)
		}
	}
	bin, err := filepath.Abs(o.workerBin)
	if err != nil {
		return fmt.Errorf("worker binary: %w", err)
	}
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		return fmt.Errorf("worker binary %s not found (build it: go build -o bin/worker ./services/worker)", bin)
	}
	o.workerBin = bin
	if o.serverURL == "" {
		out, err := exec.Command("scripts/devdb.sh", "superurl", "test").Output()
		if err != nil {
			return fmt.Errorf("no BENCH_DATABASE_URL and no devdb test cluster (scripts/devdb.sh start test): %w", err)
		}
		o.serverURL = strings.TrimSpace(string(out))
	}
	o.logDir, err = os.MkdirTemp("", "jobbench-")
	if err != nil {
		return fmt.Errorf("log dir: %w", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := connectServer(ctx, o.serverURL)
	if err != nil {
		return err
	}
	defer srv.close()

	b := &bench{opts: o, srv: srv}
	rep, err := b.all(ctx)
	if err != nil {
		return fmt.Errorf("%w (worker logs kept in %s)", err, o.logDir)
	}
	var md, moneyMD string
	if rep.hasQueue() {
		md = rep.markdown()
		fmt.Print(md)
	}
	if rep.money != nil {
		moneyMD = rep.moneyMarkdown()
		fmt.Print("\n" + moneyMD)
	}
	if o.out != "" {
		if md != "" {
			if err := writeSection(o.out, md); err != nil {
				return err
			}
		}
		if moneyMD != "" {
			if err := writeMoneySection(o.out, moneyMD); err != nil {
				return err
			}
		}
		fmt.Fprintf(os.Stderr, "jobbench: wrote %s\n", o.out)
	}
	_ = os.RemoveAll(o.logDir)
	return nil
}

// logf prints progress to stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "jobbench: "+format+"\n", args...)
}
