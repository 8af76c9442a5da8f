package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/jobs"
	"example.com/crm/tools/benchreport"
)

// server is the PostgreSQL server the bench databases are created on.
type server struct {
	url        string // superuser URL (any database)
	admin      *pgx.Conn
	postmaster int // pid of the postmaster when it runs on this machine, else 0
}

func connectServer(ctx context.Context, rawURL string) (*server, error) {
	conn, err := pgx.Connect(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", benchreport.Redact(rawURL), err)
	}
	s := &server{url: rawURL, admin: conn}
	var backend int
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err == nil {
		if ppid, _, _, ok := procStat(backend); ok {
			s.postmaster = ppid
		}
	}
	return s, nil
}

func (s *server) close() { _ = s.admin.Close(context.Background()) }

// dbURL is the server URL pointed at database name.
func (s *server) dbURL(name string) (string, error) {
	u, err := url.Parse(s.url)
	if err != nil {
		return "", fmt.Errorf("parse database url: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// benchDB is one fresh, migrated database with an org.
type benchDB struct {
	name  string
	url   string
	db    *db.DB
	queue *jobs.Queue
	org   uuid.UUID
}

// createDB drops a leftover database of that name, creates it, applies the settings
// ("name=value", with ALTER DATABASE ... SET), migrates it and inserts an org.
func (s *server) createDB(ctx context.Context, name string, settings []string) (*benchDB, error) {
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return nil, fmt.Errorf("drop old %s: %w", name, err)
	}
	if _, err := s.admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	for _, kv := range settings {
		k, v, _ := strings.Cut(kv, "=")
		if _, err := s.admin.Exec(ctx, "ALTER DATABASE "+ident+" SET "+pgx.Identifier(strings.Split(k, ".")).Sanitize()+" = "+benchreport.PGLiteral(v)); err != nil {
			return nil, fmt.Errorf("set %s on %s: %w", k, name, err)
		}
	}
	u, err := s.dbURL(name)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(u, "up"); err != nil {
		return nil, fmt.Errorf("migrate %s: %w", name, err)
	}
	d, err := db.Open(ctx, db.Options{URL: u, MaxConns: 4, AppName: "jobbench"})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	b := &benchDB{name: name, url: u, db: d, queue: jobs.New(d, jobs.Config{})}
	if err := d.Pool.QueryRow(ctx, "INSERT INTO orgs (name) VALUES ('jobbench') RETURNING id").Scan(&b.org); err != nil {
		d.Close()
		return nil, fmt.Errorf("insert org: %w", err)
	}
	return b, nil
}

// dropDB closes b and drops its database unless keep is set.
func (s *server) dropDB(ctx context.Context, b *benchDB, keep bool) error {
	b.db.Close()
	if keep {
		return nil
	}
	if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{b.name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", b.name, err)
	}
	return nil
}

// enqueue inserts n noop jobs through jobs.Queue.Enqueue, batch jobs per call (one statement and
// one transaction each), with idempotency keys prefix-0 .. prefix-(n-1). It returns the time taken.
func (b *benchDB) enqueue(ctx context.Context, prefix string, n, batch int) (time.Duration, error) {
	start := time.Now()
	buf := make([]jobs.NewJob, 0, batch)
	for i := 0; i < n; {
		buf = buf[:0]
		for ; i < n && len(buf) < batch; i++ {
			buf = append(buf, jobs.NewJob{OrgID: b.org, Type: jobs.KindNoop, IdempotencyKey: prefix + "-" + strconv.Itoa(i)})
		}
		ids, err := b.queue.Enqueue(ctx, b.db.Gorm, buf...)
		if err != nil {
			return 0, err
		}
		if len(ids) != len(buf) {
			return 0, fmt.Errorf("enqueue: %d of %d jobs inserted", len(ids), len(buf))
		}
	}
	return time.Since(start), nil
}

// checkpoint forces a checkpoint; without the privilege it warns once and goes on.
func (b *benchDB) checkpoint(ctx context.Context) error {
	_, err := b.db.Pool.Exec(ctx, "CHECKPOINT")
	if db.PgCode(err) == "42501" { // insufficient_privilege
		warnCheckpoint.Do(func() { logf("warning: CHECKPOINT not allowed for this role; runs may include checkpoints") })
		return nil
	}
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

var warnCheckpoint sync.Once

// exec runs statements outside a transaction (VACUUM cannot run in one).
func (b *benchDB) exec(ctx context.Context, stmts ...string) error {
	for _, q := range stmts {
		if _, err := b.db.Pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", firstWords(q), err)
		}
	}
	return nil
}

// walLSN is the server's current WAL position in bytes.
func (b *benchDB) walLSN(ctx context.Context) (int64, error) {
	var lsn int64
	if err := b.db.Pool.QueryRow(ctx, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").Scan(&lsn); err != nil {
		return 0, fmt.Errorf("read wal position: %w", err)
	}
	return lsn, nil
}

// deleteJobs removes the jobs with keys prefix-N and their log rows, then vacuums, so that the
// next pass finds the queue as the previous one did.
func (b *benchDB) deleteJobs(ctx context.Context, prefix string) error {
	if _, err := b.db.Pool.Exec(ctx, `
DELETE FROM job_logs l USING jobs j
WHERE j.org_id = l.org_id AND j.id = l.job_id AND j.idempotency_key LIKE $1 || '-%'`, prefix); err != nil {
		return fmt.Errorf("delete job logs: %w", err)
	}
	if _, err := b.db.Pool.Exec(ctx, `DELETE FROM jobs WHERE idempotency_key LIKE $1 || '-%'`, prefix); err != nil {
		return fmt.Errorf("delete jobs: %w", err)
	}
	return b.exec(ctx, "VACUUM (ANALYZE) jobs", "VACUUM (ANALYZE) job_logs")
}

// now is the database clock.
func (b *benchDB) now(ctx context.Context) (time.Time, error) {
	var t time.Time
	err := b.db.Pool.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&t)
	if err != nil {
		return t, fmt.Errorf("read database clock: %w", err)
	}
	return t, nil
}

// unfinished reports whether any job is pending or running. The scalar subqueries with ORDER
// BY walk the partial claim and lease indexes; an EXISTS is planned as a sequential scan that
// passes over every finished row at the start of the table, which made polling cost the server
// a tenth of what the worker's claims cost.
func (b *benchDB) unfinished(ctx context.Context) (bool, error) {
	var open bool
	err := b.db.Pool.QueryRow(ctx, `
SELECT (SELECT id FROM jobs WHERE status = 'pending' ORDER BY run_at, id LIMIT 1) IS NOT NULL
    OR (SELECT id FROM jobs WHERE status = 'running' ORDER BY locked_at LIMIT 1) IS NOT NULL`).Scan(&open)
	if err != nil {
		return false, fmt.Errorf("poll queue: %w", err)
	}
	return open, nil
}

// waitDone polls until no job is pending or running, checking that the workers live.
func (b *benchDB) waitDone(ctx context.Context, timeout time.Duration, every time.Duration, procs []*workerProc) error {
	deadline := time.Now().Add(timeout)
	for {
		open, err := b.unfinished(ctx)
		if err != nil {
			return err
		}
		if !open {
			return nil
		}
		for _, p := range procs {
			if err := p.alive(); err != nil {
				return err
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("jobs still unfinished after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

// outcome checks a finished run: every job of the prefix completed on its first attempt, with
// exactly one log row, and returns the database-clock span of the run.
type outcome struct {
	firstStart, lastDone time.Time
	completed            int64
	claims               int64 // distinct claims (locked_by is unique per claim)
	completions          int64 // distinct completion statements (finished_at is their now())
}

func (b *benchDB) checkRun(ctx context.Context, prefix string, n int) (outcome, error) {
	var o outcome
	var notCompleted, retried, logs, badLogs int64
	err := b.db.Pool.QueryRow(ctx, `
SELECT count(*) FILTER (WHERE status = 'completed'),
       count(*) FILTER (WHERE status <> 'completed'),
       count(*) FILTER (WHERE attempts <> 1),
       min(attempted_at), max(completed_at)
FROM jobs WHERE idempotency_key LIKE $1 || '-%'`, prefix).Scan(&o.completed, &notCompleted, &retried, &o.firstStart, &o.lastDone)
	if err != nil {
		return o, fmt.Errorf("check run: %w", err)
	}
	err = b.db.Pool.QueryRow(ctx, `
SELECT count(*) FILTER (WHERE l.outcome = 'completed'), count(*) FILTER (WHERE l.outcome <> 'completed'),
       count(DISTINCT l.worker), count(DISTINCT l.finished_at)
FROM job_logs l JOIN jobs j ON j.org_id = l.org_id AND j.id = l.job_id
WHERE j.idempotency_key LIKE $1 || '-%'`, prefix).Scan(&logs, &badLogs, &o.claims, &o.completions)
	if err != nil {
		return o, fmt.Errorf("check job logs: %w", err)
	}
	var errs []error
	if o.completed != int64(n) || notCompleted != 0 {
		errs = append(errs, fmt.Errorf("%d of %d jobs completed, %d not", o.completed, n, notCompleted))
	}
	if retried != 0 {
		errs = append(errs, fmt.Errorf("%d jobs took more than one attempt", retried))
	}
	if logs != int64(n) || badLogs != 0 {
		errs = append(errs, fmt.Errorf("%d completion log rows and %d others for %d jobs", logs, badLogs, n))
	}
	return o, errors.Join(errs...)
}

// insertHistory fills the queue with rows completed jobs and their log rows, as a week of
// traffic leaves them (inside the default 7-day retention, so the pruner keeps them), then
// vacuums and analyzes both tables as autovacuum would have.
func (b *benchDB) insertHistory(ctx context.Context, rows int) error {
	return b.exec(ctx, fmt.Sprintf(`
INSERT INTO jobs (org_id, job_type, payload, idempotency_key, status, attempts, max_attempts,
                  run_at, locked_by, attempted_at, completed_at, created_at)
SELECT '%s'::uuid, 'noop', '{}'::jsonb, 'history-' || g, 'completed', 1, 3,
       t, 'history-worker/' || (g %% 997), t + interval '2 ms', t + interval '3 ms', t
FROM (SELECT g, now() - (%d - g) * interval '500 ms' AS t FROM generate_series(1, %d) AS g) s`,
		b.org, rows+1, rows),
		`INSERT INTO job_logs (org_id, job_id, job_type, attempt, worker, outcome, duration_ms, finished_at)
SELECT org_id, id, job_type, attempts, locked_by, 'completed', 0, completed_at FROM jobs WHERE status = 'completed'`,
		"VACUUM (ANALYZE) jobs",
		"VACUUM (ANALYZE) job_logs",
	)
}

// workerBackendCPU is the CPU time spent so far by the server processes serving the workers'
// connections to this database (application_name crm-worker), read from /proc; ok is false when
// the server is not on this machine. Unlike the server total it excludes everything else the
// server is doing (other databases, the harness's polling, background writers, autovacuum).
func (b *benchDB) workerBackendCPU(ctx context.Context) (time.Duration, bool, error) {
	return b.backendCPU(ctx, "crm-worker")
}

// backendCPU is the CPU time spent so far by the server processes serving the connections to
// this database whose application_name is app (see workerBackendCPU).
func (b *benchDB) backendCPU(ctx context.Context, app string) (time.Duration, bool, error) {
	rows, err := b.db.Pool.Query(ctx, `SELECT pid FROM pg_stat_activity
	    WHERE datname = current_database() AND application_name = $1`, app)
	if err != nil {
		return 0, false, fmt.Errorf("list worker backends: %w", err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return 0, false, fmt.Errorf("list worker backends: %w", err)
	}
	var total uint64
	for _, pid := range pids {
		_, own, _, ok := procStat(int(pid))
		if !ok {
			return 0, false, nil
		}
		total += own
	}
	return time.Duration(total) * time.Second / clkTck, len(pids) > 0, nil
}

func firstWords(q string) string {
	f := strings.Fields(q)
	if len(f) > 3 {
		f = f[:3]
	}
	return strings.Join(f, " ")
}
