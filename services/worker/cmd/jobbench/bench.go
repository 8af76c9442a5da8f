package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/jobs"
)

// bench runs the scenarios.
type bench struct {
	opts options
	srv  *server
}

// tpRun is one throughput measurement.
type tpRun struct {
	workers  int
	jobs     int
	history  int           // completed jobs in the queue before the run
	enqueue  time.Duration // filling the queue
	wall     time.Duration // worker start -> last completion
	steady   time.Duration // first claim -> last completion
	cpu      cpuUse
	walBytes int64 // WAL the server wrote during the run (all databases)
	warnings int
	// claims and completions count the claim and completion statements of the run.
	claims, completions int64
}

func (r tpRun) rate() float64       { return perSec(r.jobs, r.wall) }
func (r tpRun) steadyRate() float64 { return perSec(r.jobs, r.steady) }

// claimRun is one pass of the raw claim loop.
type claimRun struct {
	jobs     int
	took     time.Duration
	cpu      time.Duration // of the server process serving the loop's connection
	cpuOK    bool
	walBytes int64
}

func (c claimRun) rate() float64 { return perSec(c.jobs, c.took) }

func perSec(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// latResult is the latency scenario.
type latResult struct {
	sent        int
	sendSpan    time.Duration
	pickup      []time.Duration // attempted_at - created_at, sorted
	enqueueCall []time.Duration // client-side Enqueue round trip (includes the commit), sorted
	settings    []string
	warnings    int
}

// growthState is one side of the growth comparison.
type growthState struct {
	history int // completed jobs in the queue
	claims  []claimRun
	runs    []tpRun
}

// growthResult compares an empty queue with one holding many completed jobs.
type growthResult struct {
	claimBatch  int
	empty, full growthState
}

// report is everything measured.
type report struct {
	opts       options
	machine    machineInfo
	startLoad  string
	endLoad    string
	throughput []tpRun
	latency    *latResult
	growth     *growthResult
	money      *moneyResult
	took       time.Duration
}

// hasQueue reports whether a scenario of the "## Job queue" section ran.
func (r *report) hasQueue() bool {
	return len(r.throughput) > 0 || r.latency != nil || r.growth != nil
}

// all runs the chosen scenarios in order.
func (b *bench) all(ctx context.Context) (*report, error) {
	start := time.Now()
	rep := &report{opts: b.opts, startLoad: loadAvg()}
	var err error
	if rep.machine, err = b.machine(ctx); err != nil {
		return nil, err
	}
	for _, s := range b.opts.scenarios {
		switch s {
		case "throughput":
			for _, w := range b.opts.workerCounts {
				for i := range b.opts.runs {
					r, err := b.throughput(ctx, fmt.Sprintf("bench_jobs_tp%d_%d", w, i+1), w)
					if err != nil {
						return nil, fmt.Errorf("throughput, %d workers: %w", w, err)
					}
					logf("throughput: %d worker(s): %.0f jobs/s (steady %.0f jobs/s)", w, r.rate(), r.steadyRate())
					rep.throughput = append(rep.throughput, r)
				}
			}
		case "latency":
			r, err := b.latency(ctx)
			if err != nil {
				return nil, fmt.Errorf("latency: %w", err)
			}
			logf("latency: p50 %s p99 %s", pct(r.pickup, 50), pct(r.pickup, 99))
			rep.latency = r
		case "growth":
			r, err := b.growth(ctx)
			if err != nil {
				return nil, fmt.Errorf("growth: %w", err)
			}
			logf("growth: claim loop %.0f -> %.0f jobs/s, worker run %.0f -> %.0f jobs/s", bestClaim(r.empty.claims).rate(),
				bestClaim(r.full.claims).rate(), bestRun(r.empty.runs).rate(), bestRun(r.full.runs).rate())
			rep.growth = r
		case scMoney:
			r, err := b.money(ctx)
			if err != nil {
				return nil, fmt.Errorf("money: %w", err)
			}
			rep.money = r
		}
	}
	rep.endLoad = loadAvg()
	rep.took = time.Since(start)
	return rep, nil
}

// throughput measures workers worker processes working off the jobs of a fresh database.
func (b *bench) throughput(ctx context.Context, name string, workers int) (tpRun, error) {
	logf("%s: creating database", name)
	d, err := b.srv.createDB(ctx, name, b.opts.pgSet)
	if err != nil {
		return tpRun{}, err
	}
	r, runErr := b.fillAndRun(ctx, d, "tp", workers, 0)
	if err := b.srv.dropDB(context.WithoutCancel(ctx), d, b.opts.keep); err != nil && runErr == nil {
		runErr = err
	}
	return r, runErr
}

// fillAndRun enqueues the bench's jobs into d (keys prefix-N) and runs workers worker processes
// until all are done. history is only recorded.
func (b *bench) fillAndRun(ctx context.Context, d *benchDB, prefix string, workers, history int) (tpRun, error) {
	n := b.opts.jobs
	r := tpRun{workers: workers, jobs: n, history: history}
	// Checkpoint before the fill, not after it: the run then works on pages that the fill has
	// already logged in full since the checkpoint, as a queue whose jobs run soon after they
	// are enqueued does, and no checkpoint forced by the fill's WAL lands in the run.
	if err := d.checkpoint(ctx); err != nil {
		return r, err
	}
	logf("%s: enqueueing %d jobs", d.name, n)
	var err error
	if r.enqueue, err = d.enqueue(ctx, prefix, n, b.opts.enqueueBatch); err != nil {
		return r, err
	}
	// Statistics as autovacuum would leave them after such an insert.
	if err := d.exec(ctx, "ANALYZE jobs"); err != nil {
		return r, err
	}
	before := takeCPU(b.srv.postmaster)
	walBefore, err := d.walLSN(ctx)
	if err != nil {
		return r, err
	}
	t0, err := d.now(ctx)
	if err != nil {
		return r, err
	}
	logf("%s: starting %d worker(s)", d.name, workers)
	procs := make([]*workerProc, 0, workers)
	stopAll := func() (time.Duration, error) {
		var cpu time.Duration
		var errs []error
		for _, p := range procs {
			c, err := p.stop(30 * time.Second)
			cpu += c
			errs = append(errs, err)
		}
		return cpu, errors.Join(errs...)
	}
	for i := range workers {
		p, err := startWorker(b.opts.workerBin, d.url, b.opts.settings, b.opts.logDir, d.name+"-w"+strconv.Itoa(i+1))
		if err != nil {
			_, _ = stopAll()
			return r, err
		}
		procs = append(procs, p)
	}
	timeout := max(2*time.Minute, time.Duration(n)*time.Millisecond)
	if err := d.waitDone(ctx, timeout, 50*time.Millisecond, procs); err != nil {
		_, _ = stopAll()
		return r, err
	}
	after := takeCPU(b.srv.postmaster)
	walAfter, err := d.walLSN(ctx)
	if err != nil {
		_, _ = stopAll()
		return r, err
	}
	backendCPU, backendOK, err := d.workerBackendCPU(ctx)
	if err != nil {
		_, _ = stopAll()
		return r, err
	}
	workerCPU, stopErr := stopAll()
	for _, p := range procs {
		r.warnings += p.warnings()
	}
	o, err := d.checkRun(ctx, prefix, n)
	if err != nil {
		return r, err
	}
	if stopErr != nil {
		return r, stopErr
	}
	r.wall, r.steady = o.lastDone.Sub(t0), o.lastDone.Sub(o.firstStart)
	r.claims, r.completions = o.claims, o.completions
	r.cpu = cpuBetween(before, after, workerCPU)
	r.cpu.backends, r.cpu.backendsOK = backendCPU, backendOK
	r.walBytes = walAfter - walBefore
	return r, nil
}

// latency measures enqueue-to-start of jobs trickling into an idle queue, one worker, defaults.
func (b *bench) latency(ctx context.Context) (*latResult, error) {
	const name = "bench_jobs_latency"
	logf("%s: creating database", name)
	d, err := b.srv.createDB(ctx, name, b.opts.pgSet)
	if err != nil {
		return nil, err
	}
	r, runErr := b.latencyOn(ctx, d)
	if err := b.srv.dropDB(context.WithoutCancel(ctx), d, b.opts.keep); err != nil && runErr == nil {
		runErr = err
	}
	return r, runErr
}

func (b *bench) latencyOn(ctx context.Context, d *benchDB) (*latResult, error) {
	r := &latResult{settings: []string{"(none: every WORKER_* and JOB_* setting at its default)"}}
	p, err := startWorker(b.opts.workerBin, d.url, nil, b.opts.logDir, d.name+"-w1")
	if err != nil {
		return nil, err
	}
	defer func() { _, _ = p.stop(30 * time.Second) }()
	if err := p.waitReady(ctx, 30*time.Second); err != nil {
		return nil, err
	}
	// Wait until the worker listens for notifications, then let it settle into idle.
	for i := 0; ; i++ {
		var listening bool
		err := d.db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
		    WHERE datname = current_database() AND query = 'LISTEN jobs_inserted')`).Scan(&listening)
		if err != nil {
			return nil, fmt.Errorf("look for the listener: %w", err)
		}
		if listening {
			break
		}
		if i > 500 {
			return nil, errors.New("the worker never ran LISTEN jobs_inserted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(time.Second)

	n := int(float64(b.opts.latRate) * b.opts.latDuration.Seconds())
	interval := time.Second / time.Duration(b.opts.latRate)
	logf("%s: enqueueing %d jobs one by one at %d/s", d.name, n, b.opts.latRate)
	start := time.Now()
	for i := range n {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		t := time.Now()
		if _, err := d.queue.Enqueue(ctx, d.db.Gorm, jobs.NewJob{OrgID: d.org, Type: jobs.KindNoop, IdempotencyKey: "lat-" + strconv.Itoa(i)}); err != nil {
			return nil, err
		}
		r.enqueueCall = append(r.enqueueCall, time.Since(t))
	}
	r.sendSpan = time.Since(start)
	r.sent = n
	if err := d.waitDone(ctx, time.Minute, 20*time.Millisecond, []*workerProc{p}); err != nil {
		return nil, err
	}
	if _, err := d.checkRun(ctx, "lat", n); err != nil {
		return nil, err
	}
	rows, err := d.db.Pool.Query(ctx, `SELECT (extract(epoch FROM attempted_at - created_at) * 1e6)::bigint
	    FROM jobs WHERE idempotency_key LIKE 'lat-%'`)
	if err != nil {
		return nil, fmt.Errorf("read latencies: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var us int64
		if err := rows.Scan(&us); err != nil {
			return nil, fmt.Errorf("read latencies: %w", err)
		}
		r.pickup = append(r.pickup, time.Duration(us)*time.Microsecond)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read latencies: %w", err)
	}
	slices.Sort(r.pickup)
	slices.Sort(r.enqueueCall)
	if _, err := p.stop(30 * time.Second); err != nil {
		return nil, err
	}
	r.warnings = p.warnings()
	return r, nil
}

// growth compares an empty queue with one holding growthRows completed jobs (and their log
// rows), each in its own database: the raw claim loop and the worker run, each repeated and
// alternating between the two databases, so that a change in the machine's load hits both
// sides alike. Every pass leaves its database as it found it.
func (b *bench) growth(ctx context.Context) (*growthResult, error) {
	g := &growthResult{claimBatch: b.claimBatch()}
	g.full.history = b.opts.growthRows
	var dbs []*benchDB
	defer func() {
		for _, d := range dbs {
			if err := b.srv.dropDB(context.WithoutCancel(ctx), d, b.opts.keep); err != nil {
				logf("%v", err)
			}
		}
	}()
	for _, name := range []string{"bench_jobs_growth_empty", "bench_jobs_growth_full"} {
		logf("%s: creating database", name)
		d, err := b.srv.createDB(ctx, name, b.opts.pgSet)
		if err != nil {
			return nil, err
		}
		dbs = append(dbs, d)
	}
	sides := []struct {
		d  *benchDB
		st *growthState
	}{{dbs[0], &g.empty}, {dbs[1], &g.full}}
	logf("%s: inserting %d completed jobs and their logs", dbs[1].name, g.full.history)
	start := time.Now()
	if err := dbs[1].insertHistory(ctx, g.full.history); err != nil {
		return nil, err
	}
	logf("%s: history in %s", dbs[1].name, time.Since(start).Round(time.Second))
	// order alternates which side goes first, so that a trend in the load cancels out.
	order := func(i int) []int {
		if i%2 == 0 {
			return []int{0, 1}
		}
		return []int{1, 0}
	}
	for i := range b.opts.growthRounds {
		for _, k := range order(i) {
			side := sides[k]
			c, err := b.claimLoop(ctx, side.d, fmt.Sprintf("claim%d", i+1))
			if err != nil {
				return nil, err
			}
			logf("%s: claim loop %.0f jobs/s", side.d.name, c.rate())
			side.st.claims = append(side.st.claims, c)
		}
	}
	for i := range b.opts.runs {
		for _, k := range order(i) {
			side := sides[k]
			prefix := fmt.Sprintf("run%d", i+1)
			r, err := b.fillAndRun(ctx, side.d, prefix, 1, side.st.history)
			if err != nil {
				return nil, err
			}
			logf("%s: worker run %.0f jobs/s", side.d.name, r.rate())
			side.st.runs = append(side.st.runs, r)
			if err := side.d.deleteJobs(ctx, prefix); err != nil {
				return nil, err
			}
		}
	}
	return g, nil
}

// claimLoop enqueues the bench's job count, claims them all with one client on one connection
// as fast as it can (no completions), then deletes them again, leaving the queue as it found it.
func (b *bench) claimLoop(ctx context.Context, d *benchDB, prefix string) (claimRun, error) {
	n := b.opts.jobs
	c := claimRun{jobs: n}
	if err := d.checkpoint(ctx); err != nil {
		return c, err
	}
	if _, err := d.enqueue(ctx, prefix, n, b.opts.enqueueBatch); err != nil {
		return c, err
	}
	if err := d.exec(ctx, "ANALYZE jobs"); err != nil {
		return c, err
	}
	conn, err := db.Open(ctx, db.Options{URL: d.url, MaxConns: 1, AppName: "jobbench-claim"})
	if err != nil {
		return c, fmt.Errorf("open claim connection: %w", err)
	}
	defer conn.Close()
	q := jobs.New(conn, jobs.Config{})
	var pid int32
	if err := conn.Pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		return c, fmt.Errorf("claim connection pid: %w", err)
	}
	logf("%s: claiming %d jobs, %d per claim", d.name, n, b.claimBatch())
	_, cpuBefore, _, okBefore := procStat(int(pid))
	walBefore, err := d.walLSN(ctx)
	if err != nil {
		return c, err
	}
	start := time.Now()
	got := 0
	for got < n {
		js, err := q.Claim(ctx, jobs.NewClaimID("jobbench"), b.claimBatch())
		if err != nil {
			return c, err
		}
		if len(js) == 0 {
			return c, fmt.Errorf("claim loop: queue empty after %d of %d jobs", got, n)
		}
		got += len(js)
	}
	c.took = time.Since(start)
	walAfter, err := d.walLSN(ctx)
	if err != nil {
		return c, err
	}
	c.walBytes = walAfter - walBefore
	if _, cpuAfter, _, ok := procStat(int(pid)); ok && okBefore {
		c.cpu, c.cpuOK = time.Duration(cpuAfter-cpuBefore)*time.Second/clkTck, true
	}
	return c, d.deleteJobs(ctx, prefix)
}

// claimBatch is the WORKER_CLAIM_BATCH of the throughput settings (100, the default, if unset).
func (b *bench) claimBatch() int {
	n := 100
	for _, kv := range b.opts.settings {
		if v, ok := strings.CutPrefix(kv, "WORKER_CLAIM_BATCH="); ok {
			if x, err := strconv.Atoi(v); err == nil {
				n = x
			}
		}
	}
	return n
}

// bestRun is the fastest of runs (noise only ever slows a run down).
func bestRun(runs []tpRun) tpRun {
	var best tpRun
	for _, r := range runs {
		if r.rate() > best.rate() {
			best = r
		}
	}
	return best
}

// bestClaim is the fastest claim loop.
func bestClaim(cs []claimRun) claimRun {
	var best claimRun
	for _, c := range cs {
		if c.rate() > best.rate() {
			best = c
		}
	}
	return best
}
