// Command schedbench measures how late the scheduler fires cron slots at scale, with real
// scheduler processes, and writes the figures into BENCHMARKS.md (between the generated-part
// markers of "## Scheduler").
//
// On a fresh database (CREATE DATABASE, db.Migrate up; dropped after) it inserts -orgs orgs with
// -tasks-per-org per-minute noop cron tasks each (10,000 due every minute by default), whose
// slots are accounted for up to the current minute, and starts -replicas real bin/scheduler
// processes (the binary's defaults, plus -scheduler-env). Once all answer /readyz, the next
// -slots minute boundaries are measured:
//
//   - fire lag: jobs.created_at minus the slot of the job's idempotency key, both on the
//     database clock. created_at is the start of the enqueuing tick's transaction, so the lag
//     is when the tick that fired the slot began; the time until the last job of a slot was
//     committed is reported beside it (the replicas' "schedule tick" log lines, written after the
//     commit, local clock);
//   - every (task, slot) is checked to have exactly one job;
//   - CPU: of the scheduler processes (/proc, from readiness to the end) and of the PostgreSQL
//     processes serving their connections (application_name crm-scheduler; /proc, so only when
//     the server runs on this machine);
//   - the cron_tasks rows the ticks read (pg_stat_user_tables: rows fetched by sequential and
//     index scans over the same window).
//
// -idle-tasks-per-org adds hourly tasks to each org whose slot falls half an hour from the start,
// so none is due during the run: what an idle tick costs with many tasks that are not due (an org
// is seeded with seven daily and weekly checks). -settle waits that long after readiness before
// measuring, so that the first ticks' one-time work (computing next slots) is left out, then
// analyzes cron_tasks as autovacuum would soon after that work.
//
// Usage (scripts/bench.sh, i.e. make bench, builds the binary; BENCH_STEPS=scheduler runs only
// this step):
//
//	go build -o bin/scheduler ./services/scheduler
//	go run ./services/scheduler/cmd/schedbench -scheduler bin/scheduler -out BENCHMARKS.md
//
// The server URL is BENCH_DATABASE_URL, else the superuser URL of the devdb test cluster
// (scripts/devdb.sh superurl test); the role must be allowed to create databases.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"example.com/crm/pkg/db"
	"example.com/crm/tools/benchreport"
)

// targetP99 is the target for the fire lag.
const targetP99 = 5 * time.Second

// benchDB is the name of the database the benchmark creates and drops.
const benchDB = "bench_sched"

// clkTck is the kernel's USER_HZ, the unit of /proc/<pid>/stat times.
const clkTck = 100

type options struct {
	serverURL string
	bin       string
	orgs      int
	perOrg    int
	replicas  int
	slots     int
	env       []string
	note      string
	out       string
	keep      bool
	idle      int
	settle    time.Duration
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "schedbench:", err)
		os.Exit(1)
	}
}

func run() error {
	var o options
	var env string
	flag.StringVar(&o.serverURL, "database-url", os.Getenv("BENCH_DATABASE_URL"), "superuser URL of the PostgreSQL server (default $BENCH_DATABASE_URL, else the devdb test cluster)")
	flag.StringVar(&o.bin, "scheduler", "bin/scheduler", "scheduler binary (go build -o bin/scheduler ./services/scheduler)")
	flag.IntVar(&o.orgs, "orgs", 1000, "orgs")
	flag.IntVar(&o.perOrg, "tasks-per-org", 10, "per-minute cron tasks of each org")
	flag.IntVar(&o.replicas, "replicas", 2, "scheduler processes")
	flag.IntVar(&o.slots, "slots", 3, "minute slots measured")
	flag.StringVar(&env, "scheduler-env", "", "KEY=VALUE settings (comma-separated) of the schedulers; the rest keep the binary's defaults")
	flag.StringVar(&o.note, "note", "", "a sentence the report adds about the conditions (e.g. that the machine was busy)")
	flag.StringVar(&o.out, "out", "", "Markdown file in whose \"## Scheduler\" section the report replaces the generated part (empty: stdout only)")
	flag.BoolVar(&o.keep, "keep", false, "keep the bench database")
	flag.IntVar(&o.idle, "idle-tasks-per-org", 0, "hourly cron tasks of each org that are not due during the run")
	flag.DurationVar(&o.settle, "settle", 0, "wait after readiness before measuring")
	flag.Parse()
	if o.orgs < 1 || o.perOrg < 1 || o.replicas < 1 || o.slots < 1 || o.idle < 0 || o.settle < 0 {
		return errors.New("-orgs, -tasks-per-org, -replicas and -slots must be positive")
	}
	for _, kv := range strings.Split(env, ",") {
		if kv = strings.TrimSpace(kv); kv != "" {
			if !strings.Contains(kv, "=") {
				return fmt.Errorf("bad -scheduler-env entry %q (want KEY=VALUE)", kv)
			}
			o.env = append(o.env, kv)
		}
	}
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return fmt.Errorf("scheduler binary: %w", err)
	}
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		return fmt.Errorf("scheduler binary %s not found (build it: go build -o bin/scheduler ./services/scheduler)", bin)
	}
	o.bin = bin
	if o.serverURL == "" {
		out, err := exec.Command("scripts/devdb.sh", "superurl", "test").Output()
		if err != nil {
			return fmt.Errorf("no BENCH_DATABASE_URL and no devdb test cluster (scripts/devdb.sh start test): %w", err)
		}
		o.serverURL = strings.TrimSpace(string(out))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := bench(ctx, o)
	if err != nil {
		return err
	}
	md := rep.markdown()
	fmt.Print(md)
	if o.out != "" {
		if err := benchreport.WriteSection(o.out, "## Scheduler",
			"<!-- schedbench:begin: generated by scripts/bench.sh; edits between the markers are overwritten -->",
			"<!-- schedbench:end -->", md); err != nil {
			return err
		}
		logf("wrote %s", o.out)
	}
	return nil
}

// report is what one run measured.
type report struct {
	opts        options
	machine     benchreport.Machine
	pgVersion   string
	pgSettings  []string
	schedGo     string
	date        time.Time
	loadBefore  string
	loadAfter   string
	slots       []time.Time
	perSlot     map[int64]int           // jobs by slot (unix seconds)
	lags        []time.Duration         // created_at - slot, sorted
	commitLag   map[int64]time.Duration // by slot (unix seconds)
	fired       []int                   // cron jobs each replica enqueued, from its log
	window      time.Duration
	schedCPU    time.Duration
	pgCPU       time.Duration
	pgCPUOK     bool
	tasks       int
	idleTasks   int
	rowsRead    int64
	seedTime    time.Duration
	pollSetting string
}

func bench(ctx context.Context, o options) (*report, error) {
	admin, err := pgx.Connect(ctx, o.serverURL)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", benchreport.Redact(o.serverURL), err)
	}
	defer func() { _ = admin.Close(context.Background()) }()
	r := &report{opts: o, machine: benchreport.DescribeMachine(), schedGo: benchreport.BinaryGo(o.bin), date: time.Now().UTC(),
		perSlot: map[int64]int{}, commitLag: map[int64]time.Duration{}, pollSetting: "1000 (default)"}
	for _, kv := range o.env {
		if k, v, _ := strings.Cut(kv, "="); k == "SCHEDULER_POLL_INTERVAL_MS" {
			r.pollSetting = v
		}
	}
	r.pgVersion, r.pgSettings, err = benchreport.ServerSettings(ctx, admin, "shared_buffers", "synchronous_commit", "fsync", "max_connections")
	if err != nil {
		return nil, err
	}
	ident := pgx.Identifier{benchDB}.Sanitize()
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return nil, fmt.Errorf("drop old %s: %w", benchDB, err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return nil, fmt.Errorf("create %s: %w", benchDB, err)
	}
	defer func() {
		if !o.keep {
			if _, err := admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
				logf("drop %s: %v", benchDB, err)
			}
		}
	}()
	u, err := url.Parse(o.serverURL)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	u.Path = "/" + benchDB
	dbURL := u.String()
	if _, err := db.Migrate(dbURL, "up"); err != nil {
		return nil, fmt.Errorf("migrate %s: %w", benchDB, err)
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", benchDB, err)
	}
	defer pool.Close()

	seedStart := time.Now()
	logf("seeding %d orgs with %d per-minute tasks each", o.orgs, o.perOrg)
	for _, q := range []string{
		`INSERT INTO orgs (name) SELECT 'schedbench-' || g FROM generate_series(1, ` + strconv.Itoa(o.orgs) + `) g`,
		// Only the benchmark's tasks: whatever else a migration or seed adds stays out of it.
		`DELETE FROM cron_tasks`,
		`INSERT INTO cron_tasks (org_id, name, job_type, cron_expr, last_slot_at)
SELECT o.id, 'bench-' || g, 'noop', '* * * * *', date_trunc('minute', now()) FROM orgs o, generate_series(1, ` + strconv.Itoa(o.perOrg) + `) g`,
		`INSERT INTO cron_tasks (org_id, name, job_type, cron_expr, last_slot_at)
SELECT o.id, 'idle-' || g, 'noop', ((extract(minute FROM now())::int + 30) % 60) || ' * * * *', date_trunc('minute', now())
FROM orgs o, generate_series(1, ` + strconv.Itoa(o.idle) + `) g`,
		`ANALYZE`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE cron_expr = '* * * * *'), count(*) FILTER (WHERE cron_expr <> '* * * * *')
FROM cron_tasks`).Scan(&r.tasks, &r.idleTasks); err != nil {
		return nil, fmt.Errorf("count tasks: %w", err)
	}
	r.seedTime = time.Since(seedStart)

	logDir, err := os.MkdirTemp("", "schedbench-")
	if err != nil {
		return nil, fmt.Errorf("log dir: %w", err)
	}
	defer func() { _ = os.RemoveAll(logDir) }()
	procs := make([]*proc, o.replicas)
	defer func() {
		for _, p := range procs {
			if p != nil {
				p.stop()
			}
		}
	}()
	for i := range procs {
		if procs[i], err = start(o.bin, dbURL, o.env, logDir, fmt.Sprintf("scheduler-%d", i+1)); err != nil {
			return nil, err
		}
	}
	for _, p := range procs {
		if err := p.waitReady(ctx, 30*time.Second); err != nil {
			return nil, err
		}
	}
	if o.settle > 0 {
		logf("settling for %s", o.settle)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(o.settle):
		}
		// What autovacuum does within a minute of the first ticks' writes: fresh statistics,
		// which also make the schedulers' connections plan the tick's statements again.
		if _, err := pool.Exec(ctx, `ANALYZE cron_tasks`); err != nil {
			return nil, fmt.Errorf("analyze: %w", err)
		}
	}
	r.loadBefore = benchreport.LoadAvg()
	var ready time.Time
	if err := pool.QueryRow(ctx, `SELECT now()`).Scan(&ready); err != nil {
		return nil, fmt.Errorf("database clock: %w", err)
	}
	first := ready.UTC().Truncate(time.Minute).Add(time.Minute)
	for i := range o.slots {
		r.slots = append(r.slots, first.Add(time.Duration(i)*time.Minute))
	}
	last := r.slots[len(r.slots)-1]
	cpu0 := make([]uint64, len(procs))
	for i, p := range procs {
		cpu0[i] = jiffies(p.cmd.Process.Pid)
	}
	pg0, pgOK0 := backendJiffies(ctx, pool)
	read0, err := rowsRead(ctx, pool)
	if err != nil {
		return nil, err
	}
	wall0 := time.Now()

	// Wait until every measured slot has all its jobs, or until the last slot is two poll
	// intervals and a minute old (a slot that never fires is reported, not waited for).
	poll, _ := strconv.Atoi(strings.TrimSuffix(r.pollSetting, " (default)"))
	deadline := last.Add(2*time.Duration(poll)*time.Millisecond + time.Minute)
	logf("measuring the slots %s .. %s", first.Format(time.TimeOnly), last.Format(time.TimeOnly))
	for {
		var n int
		var now time.Time
		if err := pool.QueryRow(ctx, `SELECT count(*), now() FROM jobs WHERE idempotency_key LIKE 'cron:%'
AND split_part(idempotency_key, ':', 3)::bigint BETWEEN $1 AND $2`, first.Unix(), last.Unix()).Scan(&n, &now); err != nil {
			return nil, fmt.Errorf("count jobs: %w", err)
		}
		if n >= r.tasks*o.slots || now.After(deadline) {
			break
		}
		for _, p := range procs {
			if err := p.alive(); err != nil {
				return nil, err
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	r.window = time.Since(wall0)
	read1, err := rowsRead(ctx, pool)
	if err != nil {
		return nil, err
	}
	r.rowsRead = read1 - read0
	for i, p := range procs {
		r.schedCPU += time.Duration(jiffies(p.cmd.Process.Pid)-cpu0[i]) * time.Second / clkTck
	}
	if pg1, ok := backendJiffies(ctx, pool); ok && pgOK0 {
		r.pgCPU, r.pgCPUOK = time.Duration(pg1-pg0)*time.Second/clkTck, true
	}
	r.loadAfter = benchreport.LoadAvg()
	for _, p := range procs {
		p.stop()
	}

	rows, err := pool.Query(ctx, `SELECT split_part(idempotency_key, ':', 3)::bigint, extract(epoch FROM created_at)
FROM jobs WHERE idempotency_key LIKE 'cron:%' AND split_part(idempotency_key, ':', 3)::bigint BETWEEN $1 AND $2`, first.Unix(), last.Unix())
	if err != nil {
		return nil, fmt.Errorf("read jobs: %w", err)
	}
	for rows.Next() {
		var slot int64
		var created float64
		if err := rows.Scan(&slot, &created); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read jobs: %w", err)
		}
		r.perSlot[slot]++
		r.lags = append(r.lags, time.Duration((created-float64(slot))*float64(time.Second)))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read jobs: %w", err)
	}
	slices.Sort(r.lags)
	for _, p := range procs {
		fired, err := p.ticks(r.slots, r.commitLag)
		if err != nil {
			return nil, err
		}
		r.fired = append(r.fired, fired)
	}
	return r, nil
}

// rowsRead is how many cron_tasks rows scans have returned so far (sequential and index scans),
// as the statistics collector counts them.
func rowsRead(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	var n int64
	if err := pool.QueryRow(ctx, `SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)
FROM pg_stat_user_tables WHERE relname = 'cron_tasks'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("read table statistics: %w", err)
	}
	return n, nil
}

// backendJiffies is the CPU time (in clock ticks) of the server processes serving the
// schedulers' connections; ok is false when they are not on this machine.
func backendJiffies(ctx context.Context, pool *pgxpool.Pool) (uint64, bool) {
	rows, err := pool.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'crm-scheduler'`)
	if err != nil {
		return 0, false
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil || len(pids) == 0 {
		return 0, false
	}
	var total uint64
	for _, pid := range pids {
		if _, err := os.Stat("/proc/" + strconv.Itoa(int(pid))); err != nil {
			return 0, false
		}
		total += jiffies(int(pid))
	}
	return total, true
}

// jiffies is utime+stime of pid from /proc/<pid>/stat (0 when unreadable).
func jiffies(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return ut + st
}

// proc is one scheduler process.
type proc struct {
	cmd     *exec.Cmd
	addr    string
	logPath string
	exited  chan struct{}
	waitErr error
}

func start(bin, dbURL string, settings []string, logDir, name string) (*proc, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create log: %w", err)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "DATABASE_URL=" + dbURL, "HTTP_ADDR=" + addr,
		"LOG_FORMAT=json", "LOG_LEVEL=info", "SHUTDOWN_DRAIN_MS=0"}, settings...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &proc{cmd: cmd, addr: addr, logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		_ = f.Close()
		close(p.exited)
	}()
	return p, nil
}

func (p *proc) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		if err := p.alive(); err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+"/readyz", nil)
		if err != nil {
			return fmt.Errorf("readyz request: %w", err)
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("scheduler not ready after %s (log: %s)", timeout, p.logPath)
}

func (p *proc) alive() error {
	select {
	case <-p.exited:
		b, _ := os.ReadFile(p.logPath)
		return fmt.Errorf("scheduler %d exited: %v\n%s", p.cmd.Process.Pid, p.waitErr, b)
	default:
		return nil
	}
}

// stop sends SIGTERM and waits for the exit (SIGKILL after 20 s).
func (p *proc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// ticks reads the process's "schedule tick" log lines: the cron jobs it enqueued in the
// measured slots' minutes, and, per slot, the latest time a tick that fired something in the
// slot's minute finished (its commit), which it keeps in commitLag as the lag after the slot.
func (p *proc) ticks(slots []time.Time, commitLag map[int64]time.Duration) (int, error) {
	f, err := os.Open(p.logPath)
	if err != nil {
		return 0, fmt.Errorf("read log: %w", err)
	}
	defer func() { _ = f.Close() }()
	fired := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg       string `json:"msg"`
			Time      string `json:"time"`
			CronFired int    `json:"cron_fired"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.Msg != "schedule tick" || line.CronFired == 0 {
			continue
		}
		at, err := time.Parse("2006-01-02T15:04:05.000Z0700", line.Time)
		if err != nil {
			continue
		}
		slot := at.UTC().Truncate(time.Minute)
		if !slices.ContainsFunc(slots, slot.Equal) {
			continue
		}
		fired += line.CronFired
		if lag := at.Sub(slot); lag > commitLag[slot.Unix()] {
			commitLag[slot.Unix()] = lag
		}
	}
	return fired, sc.Err()
}

// markdown renders the report as the body of the "## Scheduler" section.
func (r *report) markdown() string {
	var s strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&s, format+"\n", args...) }
	m := r.machine
	p("Measured %s on %d CPU(s) (%s, %s RAM); load average %s before, %s after. %s, scheduler built with %s. "+
		"PostgreSQL %s (%s).", r.date.Format("2006-01-02 15:04 MST"), m.NProc, m.CPU, m.Memory, r.loadBefore, r.loadAfter,
		m.Go, r.schedGo, r.pgVersion, strings.Join(r.pgSettings, ", "))
	if r.opts.note != "" {
		p("")
		p("%s", r.opts.note)
	}
	p("")
	env := "none"
	if len(r.opts.env) > 0 {
		env = "`" + strings.Join(r.opts.env, "` `") + "`"
	}
	p("%s per-minute `noop` cron tasks (%s orgs × %d), %d scheduler processes (settings beyond the defaults: %s; "+
		"`SCHEDULER_POLL_INTERVAL_MS` %s), %d minute slots measured after all were ready (seeding took %s). *Fire lag* is "+
		"`jobs.created_at` minus the slot (database clock; `created_at` is the start of the tick's transaction); "+
		"*committed by* is when the last tick that fired in the slot's minute logged its result, after its commit "+
		"(local clock).", benchreport.Num(float64(r.tasks)), benchreport.Num(float64(r.opts.orgs)), r.opts.perOrg,
		r.opts.replicas, env, r.pollSetting, r.opts.slots, sec(r.seedTime))
	if r.idleTasks > 0 {
		p("")
		p("Besides them, %s hourly `noop` tasks (%d per org) whose slot falls half an hour from the start: none is due during the run.",
			benchreport.Num(float64(r.idleTasks)), r.opts.idle)
	}
	if r.opts.settle > 0 {
		p("")
		p("Measured from %s after all schedulers were ready (then `ANALYZE cron_tasks`), leaving out their first ticks.", r.opts.settle)
	}
	p("")
	p("| Slot | Jobs | Missing | Committed by |")
	p("| --- | ---: | ---: | ---: |")
	missing := 0
	for _, slot := range r.slots {
		n := r.perSlot[slot.Unix()]
		missing += r.tasks - n
		p("| %s | %s | %s | %s |", slot.Format(time.TimeOnly), benchreport.Num(float64(n)), benchreport.Num(float64(r.tasks-n)), sec(r.commitLag[slot.Unix()]))
	}
	p("")
	pct := func(q float64) time.Duration { return benchreport.Percentile(r.lags, q) }
	var maxLag time.Duration
	if len(r.lags) > 0 {
		maxLag = r.lags[len(r.lags)-1]
	}
	p("| Fire lag | p50 | p95 | p99 | max | Target p99 |")
	p("| --- | ---: | ---: | ---: | ---: | ---: |")
	p("| %s jobs | %s | %s | %s | %s | ≤ %s: %s |", benchreport.Num(float64(len(r.lags))), sec(pct(50)), sec(pct(95)), sec(pct(99)), sec(maxLag),
		sec(targetP99), verdict(missing == 0 && pct(99) <= targetP99))
	p("")
	minutes := r.window.Minutes()
	fired := make([]string, len(r.fired))
	for i, n := range r.fired {
		fired[i] = benchreport.Num(float64(n))
	}
	pgCPU := "not measured (server not on this machine)"
	if r.pgCPUOK {
		pgCPU = fmt.Sprintf("%s (%.1f %% of a core)", sec(r.pgCPU), 100*r.pgCPU.Seconds()/r.window.Seconds())
	}
	p("- Jobs enqueued per replica (from their logs): %s; every (task, slot) has exactly one job: %s.",
		strings.Join(fired, " / "), yesNo(missing == 0))
	p("- CPU over the %s measured (%.1f min): schedulers %s (%.1f %% of a core); PostgreSQL backends serving them %s.",
		sec(r.window), minutes, sec(r.schedCPU), 100*r.schedCPU.Seconds()/r.window.Seconds(), pgCPU)
	p("- `cron_tasks` rows read by scans over the same window: %s (%s a second, all replicas).",
		benchreport.Num(float64(r.rowsRead)), benchreport.Num(float64(r.rowsRead)/r.window.Seconds()))
	return s.String()
}

func sec(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// logf prints progress to stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "schedbench: "+format+"\n", args...)
}
