package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/crm/pkg/intake"
)

// pipelineOwner is the role that owns the pipeline database and that the workers connect as, as
// the README's owner role does in production: not a superuser, so the forced row-level security
// of the business tables binds the workers exactly as it would there.
const pipelineOwner = "crm_pipelinebench"

// pipelineExcluded is on the bench org's ICP exclusion list, so that its leads are disqualified.
const pipelineExcluded = "excluded.example"

// pipelineResult are the figures of the pipeline scenario.
type pipelineResult struct {
	leads, workers, senders int
	workerEnv               []string
	// posted is the time from the first post to the last 202; routed from the first post to the
	// last route_outreach completion (database clock).
	posted, routed time.Duration
	retries        int
	// lat are percentiles of the time from a delivery's received_at to its route_outreach
	// completion (database clock).
	latP50, latP99, latMax time.Duration
	paths                  map[string]int
	jobs                   map[string]int
	events                 int
	// cpu of the gateway, the workers, and the PostgreSQL backends serving each (-1: unknown).
	cpuGateway, cpuWorkers, cpuGatewayDB, cpuWorkerDB time.Duration
	warnings                                          int
	// work is what PostgreSQL counted for the run's database (pg_stat_database), nil when it
	// could not be read.
	work *dbWork
}

// dbWork is pg_stat_database's count of transactions and row writes in one database: figures
// that, unlike time and CPU, do not depend on what else the machine does, so builds compare by
// them exactly.
type dbWork struct {
	commits, rollbacks, inserted, updated, deleted int64
}

// readDBWork reads the counts of the run's database.
func readDBWork(ctx context.Context, e *benchEnv) (dbWork, error) {
	var w dbWork
	err := e.super.Pool.QueryRow(ctx, `SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted
FROM pg_stat_database WHERE datname = current_database()`).Scan(&w.commits, &w.rollbacks, &w.inserted, &w.updated, &w.deleted)
	if err != nil {
		return dbWork{}, fmt.Errorf("read pg_stat_database: %w", err)
	}
	return w, nil
}

func (w dbWork) minus(o dbWork) dbWork {
	return dbWork{w.commits - o.commits, w.rollbacks - o.rollbacks, w.inserted - o.inserted, w.updated - o.updated, w.deleted - o.deleted}
}

// pipelineBody is lead i's webhook body: a quarter each of leads the built-in scorer sends to
// book_call (a c-level contact at a business domain), nurture (free mail, a name), disqualify
// (a domain the ICP excludes), and book_call again with a different title.
func pipelineBody(i int) []byte {
	n := strconv.Itoa(i)
	switch i % 4 {
	case 0:
		return []byte(`{"email":"cto` + n + `@company` + n + `.example","name":"Chief ` + n + `","title":"CTO","company":"Company ` + n +
			`","phone":"+1555` + n + `","website":"https://company` + n + `.example"}`)
	case 1:
		return []byte(`{"email":"person` + n + `@gmail.com","name":"Person ` + n + `"}`)
	case 2:
		return []byte(`{"email":"lead` + n + `@` + pipelineExcluded + `","name":"Excluded ` + n + `","title":"Intern"}`)
	default:
		return []byte(`{"email":"vp` + n + `@firm` + n + `.example","firstName":"Vera","lastName":"P` + n + `","title":"VP Sales","company":"Firm ` + n +
			`","website":"https://firm` + n + `.example"}`)
	}
}

// pipelineScenario sends o.pipelineLeads signed webhooks through a fresh gateway, with
// o.pipelineWorkers worker processes running the pipeline (built-in scorer) at the same time,
// and measures until every lead is qualified and routed. It uses its own database, so that no
// job of the other scenarios is in the queue.
func pipelineScenario(ctx context.Context, o options) (pipelineResult, error) {
	po := o
	po.dbName = o.dbName + "_pipeline"
	e, err := setupDB(ctx, po, pipelineOwner)
	if err != nil {
		return pipelineResult{}, err
	}
	defer e.close(ctx, o.keep)
	if _, err := e.super.Pool.Exec(ctx, `UPDATE orgs SET icp = $1::jsonb WHERE id = $2`,
		`{"excludedDomains":["`+pipelineExcluded+`"]}`, e.created.OrgID); err != nil {
		return pipelineResult{}, fmt.Errorf("set icp: %w", err)
	}
	r := pipelineResult{leads: o.pipelineLeads, workers: o.pipelineWorkers, senders: o.pipelineSenders,
		workerEnv: strings.Fields(o.pipelineWorkerEnv)}

	gw, err := startGateway(ctx, o, e)
	if err != nil {
		return r, err
	}
	defer gw.stop()
	workers := make([]*workerProc, 0, o.pipelineWorkers)
	defer func() {
		for _, w := range workers {
			w.stop()
		}
	}()
	for range o.pipelineWorkers {
		w, err := startWorker(ctx, o, e.ownerURL, r.workerEnv)
		if err != nil {
			return r, err
		}
		workers = append(workers, w)
	}

	// Signed up front, so that signing costs the generator nothing during the run; the 300 s
	// tolerance leaves ample time.
	signedAt := time.Now()
	bodies := make([][]byte, r.leads)
	sigs := make([]string, r.leads)
	for i := range bodies {
		bodies[i] = pipelineBody(i)
		sigs[i] = intake.Sign(e.hook.SigningSecret, signedAt, bodies[i])
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: r.senders}}
	url := gw.base + "/intake/webhook/" + e.hook.ID.String()
	post := func(i int) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytesReader(bodies[i]))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Signature", sigs[i])
		res, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		return res.StatusCode, nil
	}

	workBefore, workErr := readDBWork(ctx, e)
	before := pipelineCPU(ctx, e, gw, workers)
	var next atomic.Int64
	var retries atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range r.senders {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= r.leads || ctx.Err() != nil {
					return
				}
				for attempt := 0; ; attempt++ {
					status, err := post(i)
					if err == nil && status == http.StatusAccepted {
						break
					}
					// 429 and 503 say "later": the lead must still get in.
					if err == nil && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && attempt < 50 {
						retries.Add(1)
						time.Sleep(50 * time.Millisecond)
						continue
					}
					errOnce.Do(func() {
						if err == nil {
							err = fmt.Errorf("lead %d: status %d", i, status)
						}
						firstErr = err
					})
					return
				}
			}
		})
	}
	wg.Wait()
	r.posted = time.Since(start)
	r.retries = int(retries.Load())
	if firstErr != nil {
		return r, fmt.Errorf("post: %w", firstErr)
	}

	// Done when every lead has its route_outreach job and no job is left to run: every job was
	// then completed (checked below). The poll reads the two small partial indexes of pending
	// and running jobs, and counts the route_outreach jobs (through the idempotency key index,
	// 10,000 entries by the end) only once none is left, so that it takes little of the machine
	// the run shares: counting them on every poll cost a fifth of a core.
	deadline := time.Now().Add(o.pipelineTimeout)
	for {
		var routed, open int
		if err := pgx.BeginFunc(ctx, e.super.Pool, func(tx pgx.Tx) error {
			// Without statistics yet the planner reads the whole table for these counts (6,854
			// buffers a poll by the end of a 10,000-lead run), and a bitmap scan of the partial
			// indexes visits the heap for each of their dead entries on every poll; a plain index
			// scan marks those dead once, and a poll then reads a few dozen buffers.
			if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off`); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `SELECT
	(SELECT count(*) FROM jobs WHERE status = 'pending') + (SELECT count(*) FROM jobs WHERE status = 'running')`).Scan(&open)
		}); err != nil {
			return r, fmt.Errorf("poll: %w", err)
		}
		if open == 0 {
			if err := e.super.Pool.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE org_id = $1 AND job_type = 'route_outreach'`,
				e.created.OrgID).Scan(&routed); err != nil {
				return r, fmt.Errorf("poll: %w", err)
			}
		}
		if routed >= r.leads && open == 0 {
			break
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("after %s: %d of %d leads routed, %d jobs not completed", o.pipelineTimeout, routed, r.leads, open)
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	after := pipelineCPU(ctx, e, gw, workers)
	r.cpuGateway, r.cpuGatewayDB = cpuBetween(before.gateway, after.gateway)
	r.cpuWorkers, r.cpuWorkerDB = cpuBetween(before.workers, after.workers)

	var last time.Time
	if err := e.super.Pool.QueryRow(ctx, `SELECT max(completed_at) FROM jobs WHERE job_type = 'route_outreach'`).Scan(&last); err != nil {
		return r, fmt.Errorf("last routed: %w", err)
	}
	r.routed = last.Sub(start)
	if err := pipelineChecks(ctx, e, &r); err != nil {
		return r, err
	}
	for _, w := range workers {
		r.warnings += w.warnings()
	}
	// A backend reports its counts to pg_stat_database when it is idle or when it ends: stop the
	// processes, so that every backend of theirs has ended, before reading them.
	for _, w := range workers {
		w.stop()
	}
	gw.stop()
	if workErr == nil {
		var after dbWork
		if after, workErr = readDBWork(ctx, e); workErr == nil {
			w := after.minus(workBefore)
			r.work = &w
		}
	}
	if workErr != nil {
		fmt.Fprintln(os.Stderr, "gatewaybench: no database work figures:", workErr)
	}
	return r, nil
}

// pipelineChecks proves the run did what it claims: every lead once, qualified and routed as its
// path says, every job completed on its first attempt, nothing dead-lettered; and fills in the
// per-path, per-job and latency figures.
func pipelineChecks(ctx context.Context, e *benchEnv, r *pipelineResult) error {
	var problems []string
	check := func(what string, got, want int) {
		if got != want {
			problems = append(problems, fmt.Sprintf("%s: %d, want %d", what, got, want))
		}
	}
	count := func(q string) int {
		n, err := e.count(ctx, q)
		if err != nil {
			problems = append(problems, err.Error())
		}
		return n
	}
	check("leads", count(`SELECT count(*) FROM leads`), r.leads)
	check("raw rows processed", count(`SELECT count(*) FROM lead_intake_raw WHERE status = 'processed'`), r.leads)
	check("leads scored", count(`SELECT count(*) FROM leads WHERE scored_by = 'builtin'`), r.leads)
	check("lead.qualified events", count(`SELECT count(*) FROM events WHERE type = 'lead.qualified'`), r.leads)
	check("lead.enriched events", count(`SELECT count(*) FROM events WHERE type = 'lead.enriched'`), r.leads)
	check("jobs not completed on their first attempt", count(`SELECT count(*) FROM jobs WHERE status <> 'completed' OR attempts <> 1`), 0)
	check("dead letters", count(`SELECT count(*) FROM dead_letter_jobs`), 0)
	r.paths = map[string]int{}
	rows, err := e.super.Pool.Query(ctx, `SELECT recommended_path, count(*) FROM leads GROUP BY 1`)
	if err != nil {
		return fmt.Errorf("paths: %w", err)
	}
	for rows.Next() {
		var p string
		var n int
		if err := rows.Scan(&p, &n); err != nil {
			return fmt.Errorf("paths: %w", err)
		}
		r.paths[p] = n
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("paths: %w", err)
	}
	check("book_call leads routed (priority high and a task)", count(`SELECT count(*) FROM leads l WHERE priority = 'high' AND stage = 'qualified'
	AND EXISTS (SELECT 1 FROM lead_activities a WHERE a.lead_id = l.id AND a.kind = 'task')`), r.paths["book_call"])
	check("nurture leads routed (a follow-up)", count(`SELECT count(*) FROM leads l WHERE stage = 'nurture'
	AND EXISTS (SELECT 1 FROM scheduled_tasks s WHERE s.entity_id = l.id)`), r.paths["nurture"])
	check("disqualified leads", count(`SELECT count(*) FROM leads WHERE stage = 'disqualified'`), r.paths["disqualify"])
	if len(r.paths) != 3 {
		problems = append(problems, fmt.Sprintf("paths %v, want all three", r.paths))
	}
	r.jobs = map[string]int{}
	rows, err = e.super.Pool.Query(ctx, `SELECT job_type, count(*) FROM jobs GROUP BY 1`)
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	for rows.Next() {
		var t string
		var n int
		if err := rows.Scan(&t, &n); err != nil {
			return fmt.Errorf("jobs: %w", err)
		}
		r.jobs[t] = n
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	for _, t := range []string{"process_intake", "enrich_lead", "qualify_lead", "route_outreach"} {
		check(t+" jobs", r.jobs[t], r.leads)
	}
	r.events = count(`SELECT count(*) FROM events`)
	err = e.super.Pool.QueryRow(ctx, `SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY d), percentile_disc(0.99) WITHIN GROUP (ORDER BY d), max(d)
FROM (SELECT j.completed_at - r.received_at AS d FROM jobs j
	JOIN leads l ON l.id = (j.payload->>'entityId')::uuid
	JOIN lead_intake_raw r ON r.org_id = l.org_id AND r.id = l.intake_id
	WHERE j.job_type = 'route_outreach') x`).Scan(&r.latP50, &r.latP99, &r.latMax)
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	if len(problems) > 0 {
		return errors.New("checks failed: " + strings.Join(problems, "; "))
	}
	return nil
}

// pipelineSnap is the CPU time of the gateway and of the workers, each with its backends.
type pipelineSnap struct {
	gateway, workers cpuSnap
}

func pipelineCPU(ctx context.Context, e *benchEnv, gw *gatewayProc, workers []*workerProc) pipelineSnap {
	s := pipelineSnap{gateway: gw.cpu(ctx, e), workers: cpuSnap{backends: backendCPU(ctx, e, "crm-worker")}}
	for _, w := range workers {
		if c, ok := procCPU(w.cmd.Process.Pid); ok {
			s.workers.proc += c
		}
	}
	return s
}

// workerProc is one running worker.
type workerProc struct{ *child }

// startWorker runs the worker binary against dbURL with extra settings and waits for its
// "worker starting" log line.
func startWorker(ctx context.Context, o options, dbURL string, extra []string) (*workerProc, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	_ = l.Close()
	logFile, err := os.CreateTemp("", "gatewaybench-worker-*.log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.worker, "serve")
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"), "DATABASE_URL=" + dbURL, "HTTP_ADDR=" + addr, "LOG_LEVEL=info", "LOG_FORMAT=json", "SHUTDOWN_DRAIN_MS=0",
	}, extra...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", o.worker, err)
	}
	w := &workerProc{&child{cmd: cmd, log: logFile, name: "worker", grace: 30 * time.Second}}
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(logFile.Name())
		if strings.Contains(string(b), `"worker starting"`) {
			return w, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			w.stop()
			return nil, fmt.Errorf("the worker did not start; its log is %s", logFile.Name())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// warnings counts the warn and error lines the worker logged.
func (w *workerProc) warnings() int {
	b, err := os.ReadFile(w.log.Name())
	if err != nil {
		return -1
	}
	return strings.Count(string(b), `"level":"warn"`) + strings.Count(string(b), `"level":"error"`)
}
