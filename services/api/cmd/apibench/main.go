// Command apibench benchmarks the API's hot reads end to end against the real bin/api process
// and writes the figures into BENCHMARKS.md (between the generated-part markers of "## API").
//
// What it does, in order:
//
//  1. seed: a fresh database (bench_api) on the server of BENCH_DATABASE_URL (a superuser),
//     migrated with db.Migrate, 10 orgs made with org.Create (each with its API key), and
//     1,000,000 leads spread evenly over them, inserted with INSERT ... SELECT generate_series as
//     the superuser (valid rows: an email each, the intake fingerprint, realistic names and
//     companies: each company word is 0.1 % of an org's leads) as a bulk load (insertLeads:
//     secondary indexes rebuilt from their definitions afterwards), then VACUUM ANALYZE. A login
//     role that is a member of crm_app (crm_apibench) is ensured, so the api runs bound by
//     row-level security exactly as in production. The database is dropped at the end (-keep
//     keeps it, and -reuse measures an earlier kept one again without seeding).
//  2. floor: `apibench floor` started as its own process, an echo server with one route that
//     reads one lead by primary key through a pgx pool (same driver, same pool size as the api)
//     and writes it as the API does; no authentication, no tenant transaction, superuser
//     connection (so no row-level security either). It is the most a Go handler on this machine
//     can do per read, and the yardstick of the API.
//  3. api: the real bin/api with DATABASE_URL set to the crm_apibench role and the production
//     defaults (LOG_LEVEL=info, i.e. one JSON access-log line per request); then once more at
//     LOG_LEVEL=warn to show what the access log costs.
//  4. load: a closed loop of 50 keep-alive connections (raw HTTP/1.1 over TCP, one goroutine
//     each, so that the generator takes as little of the shared CPU as it can), a warm-up, then
//     a fixed duration per scenario with every latency recorded: floor GET, GET /leads/{id},
//     GET /leads?limit=50 and GET /leads?q=<company word>&limit=50, random leads, orgs and words
//     from the seeded set.
//  5. deals (deals.go): 100,000 deals (-deals) in the first org, then GET /deals?limit=50 and
//     GET /analytics/pipeline on the same api process, reported beside the floor in their own
//     section ("## Deals API"); -deals-only runs the floor and these two alone.
//  6. documents (documents.go): 5,000 invoices (-documents) in the second org, each of its own
//     won deal and with its own PDF rendered by invoice.PDF and stored, then
//     GET /invoices/{id}/document on the same api process, every answer checked against the
//     stored bytes, reported beside GET /leads/{id} in its own section ("## Documents API");
//     -documents-only runs GET /leads/{id} and it alone.
//  7. sweeps (sweeps.go): -sweeps-only seeds one org alone with the leads and deals, and times
//     each of the seven scheduled sweeps (the use case its job kind calls, in this process; the
//     auto-priority one as a backfill and as the recurring sweep; -sweeps picks some) beside a
//     PATCH /leads/{id} load on the same org, reported in their own section ("## Scheduled
//     sweeps").
//  8. analytics (analytics.go): -analytics-only seeds one org with the leads and deals beside a few
//     smaller orgs, and measures the analytics routes, a long lead's timeline and asOf, and
//     GET /leads/{id} beside them ("## Analytics API").
//
// Before the load every scenario is checked once for correctness: the lead asked for (and
// byte-for-byte what the floor returns for it), a page of 50 of the right org in order, search
// hits that contain the word, 404 for another org's lead, and that the api's connections log in
// as the crm_app member.
//
// Usage (scripts/bench.sh, i.e. make bench, builds both binaries and starts the devdb test
// cluster when BENCH_DATABASE_URL is unset):
//
//	go build -o bin/api ./services/api
//	go run ./services/api/cmd/apibench -api bin/api -out BENCHMARKS.md
//
// -profile FILE runs the api in this process instead (same handler, same settings) and writes a
// CPU profile of the measured part of GET /leads/{id}: a diagnostic, its figures are not the
// report's.
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
	"strings"
	"syscall"
	"time"

	"example.com/crm/pkg/db"
)

// Scenario names, in the order they run.
const (
	scFloor  = "floor"
	scGet    = "get"
	scList   = "list"
	scSearch = "search"
)

var allScenarios = []string{scFloor, scGet, scList, scSearch, scDeals, scPipeline, scDocument}

// options are the command line.
type options struct {
	serverURL string
	apiBin    string
	dbName    string
	leads     int
	orgs      int
	deals     int  // deals seeded in one org for the deal scenarios (deals.go)
	dealsOnly bool // run the floor and the deal scenarios only, and write only their section
	documents int  // invoices with stored PDFs seeded in one org for the document scenario (documents.go)
	docsOnly  bool // run GET /leads/{id} and the document scenario only, and write only their section
	// sweepsOnly seeds one org and measures the scheduled sweeps alone (sweeps.go), writing only
	// their section.
	sweepsOnly bool
	sweepConns int           // connections of the PATCH load beside the sweeps
	sweepRate  float64       // requests a second of that load, an open loop (0: a closed loop)
	sweepIdle  time.Duration // measured time of the idle PATCH load before each sweep
	sweepMax   time.Duration // a sweep still running after this is stopped and reported unfinished (0: no limit)
	sweepPace  db.Pace       // the sweeps' chunk budget and rest (zero: the worker's defaults)
	// analyticsOnly seeds one large org beside smaller ones and measures the analytics routes
	// alone (analytics.go), writing only their section.
	analyticsOnly                           bool
	analyticsOtherOrgs, analyticsOtherLeads int
	sweeps                                  []string      // the sweeps to measure, in the order they run (sweepNames)
	leadSpan                                time.Duration // the seeded leads are created over this span before now
	conns                                   int
	warmup                                  time.Duration
	duration                                time.Duration
	scenarios                               []string
	logLevels                               []string // LOG_LEVEL of each api run; the first is the headline
	apiEnv                                  []string // more settings of the api process
	maxConns                                int      // DB_MAX_CONNS of the api, and the floor's pool size
	runs                                    int
	out                                     string
	keep                                    bool
	reuse                                   bool // use an already seeded bench database (diagnostics)
	profile                                 string
	logDir                                  string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "floor" {
		if err := floorMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "apibench floor:", err)
			os.Exit(1)
		}
		return
	}
	if err := runMain(); err != nil {
		fmt.Fprintln(os.Stderr, "apibench:", err)
		os.Exit(1)
	}
}

func runMain() error {
	var o options
	var scen, levels, extra, sweeps string
	flag.StringVar(&o.serverURL, "database-url", os.Getenv("BENCH_DATABASE_URL"), "superuser URL of the PostgreSQL server (default $BENCH_DATABASE_URL, else the devdb test cluster)")
	flag.StringVar(&o.apiBin, "api", "bin/api", "api binary (go build -o bin/api ./services/api)")
	flag.StringVar(&o.dbName, "db", "bench_api", "name of the bench database (dropped and created)")
	flag.IntVar(&o.leads, "leads", 1_000_000, "leads to seed")
	flag.IntVar(&o.orgs, "orgs", 10, "orgs to spread the leads over")
	flag.IntVar(&o.deals, "deals", 100_000, "deals to seed in one org for the deal scenarios")
	flag.BoolVar(&o.dealsOnly, "deals-only", false, "run only the floor and the deal scenarios (deals, pipeline) and write only the \"## Deals API\" section")
	flag.IntVar(&o.documents, "documents", 5_000, "invoices with their own stored PDF seeded in one org for the document scenario")
	flag.BoolVar(&o.docsOnly, "documents-only", false, "run only GET /leads/{id} and GET /invoices/{id}/document and write only the \"## Documents API\" section")
	flag.BoolVar(&o.sweepsOnly, "sweeps-only", false, "seed one org with -leads leads and -deals deals and measure only the seven scheduled sweeps with PATCH /leads/{id} beside them; write only the \"## Scheduled sweeps\" section")
	flag.IntVar(&o.sweepConns, "sweep-conns", 4, "keep-alive connections of the PATCH /leads/{id} load beside the sweeps: the closed loop's, or with -sweep-rate the open loop's senders")
	flag.Float64Var(&o.sweepRate, "sweep-rate", 0, "PATCH /leads/{id} a second beside the sweeps on a fixed schedule, an open loop whose latencies run from when each request was due (diagnostics); 0: a closed loop of -sweep-conns connections")
	flag.DurationVar(&o.sweepIdle, "sweep-idle", 10*time.Second, "measured time of the idle PATCH /leads/{id} load before each sweep")
	flag.DurationVar(&o.sweepMax, "sweep-max", 0, "stop a sweep still running after this long and report it unfinished (0: no limit)")
	flag.DurationVar(&o.sweepPace.Budget, "sweep-budget", 0, "budget of a sweep's chunk (db.Pace.Budget; 0: the worker's default, SWEEP_CHUNK_BUDGET_MS)")
	flag.DurationVar(&o.sweepPace.Aim, "sweep-aim", 0, "time a sweep's chunk is sized towards (db.Pace.Aim; 0: half the budget, as the worker)")
	flag.Float64Var(&o.sweepPace.Rest, "sweep-rest", 0, "rest after a sweep's chunk per unit of its time (db.Pace.Rest; 0: the worker's default, SWEEP_CHUNK_REST_PERCENT; negative: none)")
	flag.DurationVar(&o.sweepPace.Long, "sweep-long", 0, "how long a sweep rests -sweep-rest before it rests -sweep-long-rest (db.Pace.Long; 0: the worker's default, SWEEP_LONG_AFTER_S; negative: never)")
	flag.Float64Var(&o.sweepPace.LongRest, "sweep-long-rest", 0, "rest after a chunk per unit of its time once the sweep has run -sweep-long (db.Pace.LongRest; 0: the worker's default, SWEEP_LONG_REST_PERCENT; negative: none)")
	flag.StringVar(&sweeps, "sweeps", strings.Join(sweepNames, ","), "comma-separated sweeps of -sweeps-only, run in this order (recalc_auto_priority, the recurring sweep, needs "+sweepPriorityBackfill+")")
	flag.BoolVar(&o.analyticsOnly, "analytics-only", false, "seed one org with -leads leads and -deals deals beside smaller orgs and measure only the analytics routes, a 1,000-event lead's timeline and asOf, and GET /leads/{id}; write only the \"## Analytics API\" section")
	flag.IntVar(&o.analyticsOtherOrgs, "analytics-other-orgs", 3, "orgs beside the large one for -analytics-only")
	flag.IntVar(&o.analyticsOtherLeads, "analytics-other-leads", 150_000, "leads of the other orgs, spread evenly, for -analytics-only")
	flag.IntVar(&o.conns, "conns", 50, "concurrent keep-alive connections of the load generator")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "warm-up before each measurement")
	flag.DurationVar(&o.duration, "duration", 15*time.Second, "measured time per scenario")
	flag.StringVar(&scen, "scenarios", strings.Join(allScenarios, ","), "comma-separated scenarios: floor, get, list, search, deals, pipeline, document")
	flag.StringVar(&levels, "log-levels", "info,warn", "LOG_LEVEL of each api run (the first is the production default and the headline)")
	flag.StringVar(&extra, "api-env", "", "more KEY=VALUE settings (comma-separated) for the api process")
	flag.IntVar(&o.maxConns, "db-max-conns", 20, "DB_MAX_CONNS of the api and pool size of the floor")
	flag.IntVar(&o.runs, "runs", 1, "repetitions of each measurement (the one with the most requests/s counts)")
	flag.StringVar(&o.out, "out", "", "Markdown file whose \"## API\" section is replaced by the report (empty: stdout only)")
	flag.BoolVar(&o.keep, "keep", false, "keep the bench database")
	flag.BoolVar(&o.reuse, "reuse", false, "reuse the bench database of an earlier -keep run instead of seeding")
	flag.StringVar(&o.profile, "profile", "", "run the api in process and write a CPU profile of GET /leads/{id} to this file (diagnostics)")
	flag.Parse()

	o.scenarios = splitList(scen)
	o.leadSpan = 730 * 24 * time.Hour
	if o.sweepsOnly {
		if o.dealsOnly || o.docsOnly {
			return errors.New("-sweeps-only excludes -deals-only and -documents-only")
		}
		o.orgs, o.leadSpan, scen = 1, sweepLeadSpan, ""
		if o.sweepConns < 1 || o.sweepIdle <= 0 || o.sweepRate < 0 {
			return errors.New("-sweep-conns and -sweep-idle must be positive, -sweep-rate zero or more")
		}
		var err error
		if o.sweeps, err = pickSweeps(sweeps); err != nil {
			return err
		}
	}
	if o.analyticsOnly {
		if o.dealsOnly || o.docsOnly || o.sweepsOnly {
			return errors.New("-analytics-only excludes -deals-only, -documents-only and -sweeps-only")
		}
		o.orgs, o.leadSpan, scen = 1, analyticsLeadSpan, ""
	}
	if o.dealsOnly || o.docsOnly || o.sweepsOnly || o.analyticsOnly {
		o.scenarios = nil
	}
	if o.dealsOnly {
		o.scenarios = append(o.scenarios, scFloor, scDeals, scPipeline)
	}
	if o.docsOnly {
		o.scenarios = append(o.scenarios, scGet, scDocument)
	}
	for _, s := range o.scenarios {
		if !slices.Contains(allScenarios, s) {
			return fmt.Errorf("unknown scenario %q", s)
		}
	}
	o.logLevels = splitList(levels)
	for _, l := range o.logLevels {
		if !slices.Contains([]string{"debug", "info", "warn", "error"}, l) {
			return fmt.Errorf("bad -log-levels entry %q", l)
		}
	}
	if len(o.logLevels) == 0 {
		return errors.New("-log-levels needs at least one level")
	}
	for _, kv := range splitList(extra) {
		if !strings.Contains(kv, "=") {
			return fmt.Errorf("bad -api-env entry %q (want KEY=VALUE)", kv)
		}
		o.apiEnv = append(o.apiEnv, kv)
	}
	if o.deals < 1 || o.documents < 1 {
		return errors.New("-deals and -documents must be at least 1")
	}
	if o.leads < o.orgs || (o.orgs < 2 && !o.sweepsOnly && !o.analyticsOnly) || o.conns < 1 || o.warmup < 0 || o.duration <= 0 || o.runs < 1 || o.maxConns < 2 {
		return errors.New("need leads >= orgs >= 2, and positive connections, durations, runs and pool size")
	}
	if o.profile == "" {
		bin, err := filepath.Abs(o.apiBin)
		if err != nil {
			return fmt.Errorf("api binary: %w", err)
		}
		if st, err := os.Stat(bin); err != nil || st.IsDir() {
			return fmt.Errorf("api binary %s not found (build it: go build -o bin/api ./services/api)", bin)
		}
		o.apiBin = bin
	}
	if o.serverURL == "" {
		out, err := exec.Command("scripts/devdb.sh", "superurl", "test").Output()
		if err != nil {
			return fmt.Errorf("no BENCH_DATABASE_URL and no devdb test cluster (scripts/devdb.sh start test): %w", err)
		}
		o.serverURL = strings.TrimSpace(string(out))
	}
	var err error
	o.logDir, err = os.MkdirTemp("", "apibench-")
	if err != nil {
		return fmt.Errorf("log dir: %w", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{opts: o}
	rep, err := b.all(ctx)
	if err != nil {
		logf("logs kept in %s", o.logDir)
		return err
	}
	md := rep.markdown()
	apiSection := !o.dealsOnly && !o.docsOnly && !o.sweepsOnly && !o.analyticsOnly
	if apiSection {
		fmt.Print(md)
	}
	var dealsMD string
	if rep.hasDeals() {
		dealsMD = rep.dealsMarkdown()
		fmt.Print("\n" + dealsMD)
	}
	var docsMD string
	if rep.hasDocuments() {
		docsMD = rep.documentsMarkdown()
		fmt.Print("\n" + docsMD)
	}
	var sweepsMD string
	if rep.hasSweeps() {
		sweepsMD = rep.sweepsMarkdown()
		fmt.Print("\n" + sweepsMD)
	}
	var analyticsMD string
	if rep.hasAnalytics() {
		analyticsMD = rep.analyticsMarkdown()
		fmt.Print("\n" + analyticsMD)
	}
	if o.out != "" && o.profile == "" {
		if analyticsMD != "" {
			if err := writeAnalyticsSection(o.out, analyticsMD); err != nil {
				return err
			}
		}
		if sweepsMD != "" {
			if err := writeSweepsSection(o.out, sweepsMD); err != nil {
				return err
			}
		}
		if apiSection {
			if err := writeSection(o.out, md); err != nil {
				return err
			}
		}
		if dealsMD != "" {
			if err := writeDealsSection(o.out, dealsMD); err != nil {
				return err
			}
		}
		if docsMD != "" {
			if err := writeDocumentsSection(o.out, docsMD); err != nil {
				return err
			}
		}
		logf("wrote %s", o.out)
	}
	_ = os.RemoveAll(o.logDir)
	return nil
}

// splitList splits a comma-separated flag, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// logf prints progress to stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "apibench: "+format+"\n", args...)
}
