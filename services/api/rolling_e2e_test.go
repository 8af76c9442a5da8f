package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/proctest"
)

// probeEvery is the readiness probe period of the test's load balancer.
const probeEvery = 100 * time.Millisecond

// replica is one process behind a pool.
type replica struct {
	proc  *proctest.Proc
	base  string
	ready atomic.Bool
}

// pool is the test's load balancer over the replicas of one binary: it sends each request to
// the next replica, round robin, among those whose last readiness probe (GET /readyz every
// probeEvery) answered 200, as a Kubernetes Service routes to the ready endpoints of a
// Deployment. A replica that is shutting down fails its probe at once and keeps serving for
// SHUTDOWN_DRAIN_MS, longer than the probe period, so no request should reach it once it has
// stopped listening.
type pool struct {
	mu       sync.Mutex
	replicas []*replica
	next     int
	probes   *http.Client
}

func newPool(ctx context.Context) *pool {
	p := &pool{probes: &http.Client{Timeout: probeEvery * 5}}
	go p.probe(ctx)
	return p
}

func (p *pool) add(r *replica) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.replicas = append(p.replicas, r)
}

func (p *pool) remove(r *replica) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.replicas = slices.DeleteFunc(p.replicas, func(x *replica) bool { return x == r })
}

// pick returns the next ready replica, or nil when none is ready.
func (p *pool) pick() *replica {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range p.replicas {
		r := p.replicas[p.next%len(p.replicas)]
		p.next++
		if r.ready.Load() {
			return r
		}
	}
	return nil
}

// probe asks every replica's /readyz every probeEvery until ctx ends.
func (p *pool) probe(ctx context.Context) {
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	for {
		p.mu.Lock()
		rs := slices.Clone(p.replicas)
		p.mu.Unlock()
		for _, r := range rs {
			r.ready.Store(p.readyz(ctx, r.base))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (p *pool) readyz(ctx context.Context, base string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
	if err != nil {
		return false
	}
	res, err := p.probes.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// shot is one request of a load generator and how it ended.
type shot struct {
	target   string // the replica's process name; "" when no replica was ready
	sent     time.Time
	took     time.Duration
	status   int    // 0 when no answer came
	err      string // the transport error, if any
	intakeID string // a webhook's 202
}

// failed says whether the shot got no 2xx answer.
func (s shot) failed() bool { return s.status < 200 || s.status > 299 }

// pace calls fire at rate per second, each call on its own goroutine so that a slow answer
// does not slow the pace, until ctx ends; it returns when every call has returned, with their
// shots in the order fired.
func pace(ctx context.Context, rate int, fire func(i int) shot) []shot {
	period := time.Second / time.Duration(rate)
	var mu sync.Mutex
	var shots []shot
	var wg sync.WaitGroup
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			wg.Wait()
			slices.SortFunc(shots, func(a, b shot) int { return a.sent.Compare(b.sent) })
			return shots
		case <-timer.C:
		}
		wg.Go(func() {
			s := fire(i)
			mu.Lock()
			shots = append(shots, s)
			mu.Unlock()
		})
		timer.Reset(time.Until(start.Add(time.Duration(i+1) * period)))
	}
}

// send does req through client and fills the shot's answer.
func send(client *http.Client, target string, req *http.Request) shot {
	s := shot{target: target, sent: time.Now()}
	res, err := client.Do(req)
	s.took = time.Since(s.sent)
	if err != nil {
		s.err = err.Error()
		return s
	}
	defer func() { _ = res.Body.Close() }()
	s.status = res.StatusCode
	body, err := io.ReadAll(res.Body)
	if err != nil {
		s.err = err.Error()
		return s
	}
	var ack struct {
		IntakeID string `json:"intakeId"`
	}
	if res.StatusCode == http.StatusAccepted && json.Unmarshal(body, &ack) == nil {
		s.intakeID = ack.IntakeID
	}
	return s
}

// drainWindow is the time, from its SIGTERM, during which a replica is still in the load
// balancer's rotation for all the balancer knows: SHUTDOWN_DRAIN_MS. A failed request sent to
// that replica inside it is the drain's to explain; any other failed request is a bug.
type drainWindow struct {
	name     string
	from, to time.Time
}

// enrichLatency is how long the rolling test's enrichment API takes to answer.
const enrichLatency = 50 * time.Millisecond

// rollingDrain is the SHUTDOWN_DRAIN_MS of the rolling test's gateways and apis.
const rollingDrain = 1000 * time.Millisecond

// TestRollingRestartUnderLoad restarts every binary in turn while lead sources post signed
// webhooks at 200/s and the UI reads leads at 20/s, each through the test's load balancer
// (pool) over two gateways and two apis. Each replica is replaced as a Kubernetes rolling
// update with maxSurge 1 does it: its replacement is started and becomes ready, then the old
// process gets SIGTERM and must exit 0; the two gateways, the two apis, the two workers and the
// scheduler, in that order. Then the load stops and the queue is worked off. It proves:
//
//   - every delivery the gateway acknowledged (202) has its lead_intake_raw row, and each is
//     processed into a lead of its own: no acknowledged delivery is lost;
//   - no job was rescued by the lease reaper: every job completed on its first counted attempt,
//     nothing failed or dead-lettered, and every job a stopped worker held at its SIGTERM ended
//     by one of its claims, logged: completed, released in its drain, or handed back unstarted.
//     The lease is 6 s with a reaper every 0.5 s, as in the kill -9 tests, so that a live
//     worker's lease that lapsed would be reaped within the test; it is as short as the test
//     honestly allows: a worker renews every 1.5 s and stops an attempt only 4.5 s after its
//     lease was last proven, slack for a busy machine (this test beside others runs at a load of
//     15 on two cores), and a shorter lease would test the machine's scheduling instead;
//   - no request failed (5xx, a refused connection, no ready replica) outside the drain window
//     of a replica, defined as SHUTDOWN_DRAIN_MS (1 s) from its SIGTERM for the requests sent to
//     it; the failures inside windows are counted and logged.
func TestRollingRestartUnderLoad(t *testing.T) {
	longE2E(t)
	t.Parallel()
	began := time.Now()
	_, url := dbtest.NewDB(t)
	super := dbtest.SuperDB(t, url)
	var created struct {
		OrgID  string `json:"orgId"`
		APIKey string `json:"apiKey"`
	}
	require.NoError(t, json.Unmarshal(proctest.Run(t, apiBin, proctest.Env(url), "org", "create", "--name", "Rolling"), &created))

	// A slow enrichment API keeps every worker slot busy in calls out, so that each worker is
	// stopped with attempts running and claims not yet started.
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(enrichLatency):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"company":"Rolling Ltd","employees":40}`)
	}))
	t.Cleanup(slow.Close)

	drain := fmt.Sprintf("SHUTDOWN_DRAIN_MS=%d", rollingDrain.Milliseconds())
	appEnv := proctest.Env(dbtest.AppURL(t, url), drain)
	workerEnv := proctest.Env(url,
		"ENRICHMENT_API_URL="+slow.URL,
		"WORKER_CONCURRENCY=4",
		"WORKER_POLL_INTERVAL_MS=200",
		"WORKER_SHUTDOWN_GRACE_MS=5000",
		"WORKER_LOCK_TIMEOUT_MINUTES=0.1", // 6 s: see the test's doc
		"WORKER_REAPER_INTERVAL_MS=500",
	)
	schedEnv := proctest.Env(url, "SCHEDULER_POLL_INTERVAL_MS=200")

	probeCtx, stopProbes := context.WithCancel(t.Context())
	defer stopProbes()
	gateways, apis := newPool(probeCtx), newPool(probeCtx)
	started := map[string]int{}
	startReplica := func(p *pool, bin, role string) *replica {
		started[role]++
		proc := proctest.Start(t, bin, fmt.Sprintf("%s-%d", role, started[role]), appEnv, "serve")
		r := &replica{proc: proc, base: proc.BaseURL(t)}
		p.add(r)
		proctest.Eventually(t, 10*time.Second, proc.Name+" in rotation", r.ready.Load)
		return r
	}
	startProc := func(bin, role string, env []string, startedMsg string) *proctest.Proc {
		started[role]++
		proc := proctest.Start(t, bin, fmt.Sprintf("%s-%d", role, started[role]), env, "serve")
		proc.LogLine(t, startedMsg, 20*time.Second)
		return proc
	}
	gws := []*replica{startReplica(gateways, gatewayBin(t), "gateway"), startReplica(gateways, gatewayBin(t), "gateway")}
	apiReplicas := []*replica{startReplica(apis, apiBin, "api"), startReplica(apis, apiBin, "api")}
	workerProcs := []*proctest.Proc{
		startProc(workerBin, "worker", workerEnv, "worker starting"),
		startProc(workerBin, "worker", workerEnv, "worker starting"),
	}
	sched := startProc(schedulerBin(t), "scheduler", schedEnv, "scheduler starting")

	u := &user{t: t, base: apiReplicas[0].base, org: created.OrgID, key: created.APIKey}
	src := u.newWebhookSource("rolling", 100000)

	// The load: webhooks at 200/s, reads at 20/s, until every replacement is done.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	loadCtx, stopLoad := context.WithCancel(t.Context())
	defer stopLoad()
	var hooks, reads []shot
	var loads sync.WaitGroup
	loads.Go(func() {
		hooks = pace(loadCtx, 200, func(i int) shot {
			r := gateways.pick()
			if r == nil {
				return shot{sent: time.Now(), err: "no gateway ready"}
			}
			body := fmt.Appendf(nil, `{"email":"lead%d@rolling-e2e.io","name":"Lead %d","company":"Rolling %d"}`, i, i, i)
			req, err := standardDelivery(context.WithoutCancel(loadCtx), r.base, src, fmt.Sprintf("msg_%d", i), body)
			if err != nil {
				return shot{sent: time.Now(), err: err.Error()}
			}
			return send(client, r.proc.Name, req)
		})
	})
	loads.Go(func() {
		reads = pace(loadCtx, 20, func(int) shot {
			r := apis.pick()
			if r == nil {
				return shot{sent: time.Now(), err: "no api ready"}
			}
			req, err := http.NewRequestWithContext(context.WithoutCancel(loadCtx), http.MethodGet, r.base+"/leads?limit=5", nil)
			if err != nil {
				return shot{sent: time.Now(), err: err.Error()}
			}
			req.Header.Set("Authorization", "Bearer "+created.APIKey)
			req.Header.Set("X-Org-Id", created.OrgID)
			return send(client, r.proc.Name, req)
		})
	})

	var windows []drainWindow
	stop := func(p *proctest.Proc, drain time.Duration) {
		signalled := time.Now()
		p.Signal(t, syscall.SIGTERM)
		windows = append(windows, drainWindow{name: p.Name, from: signalled, to: signalled.Add(drain)})
		require.Zero(t, p.WaitExit(t, 30*time.Second).ExitStatus(), "%s exits cleanly", p.Name)
	}
	// A second of load before the first restart, then each replica replaced in turn.
	proctest.Eventually(t, 10*time.Second, "a second of load", func() bool {
		return count(t, super, `SELECT count(*) FROM lead_intake_raw`) >= 200
	})
	rollPool := func(p *pool, olds []*replica, bin, role string) {
		for _, old := range olds {
			startReplica(p, bin, role)
			stop(old.proc, rollingDrain)
			p.remove(old)
		}
	}
	rollPool(gateways, gws, gatewayBin(t), "gateway")
	rollPool(apis, apiReplicas, apiBin, "api")
	// Each worker is stopped while it holds jobs (read from the jobs table just before its
	// SIGTERM; the slow enrichment makes them likely to be in flight at the signal).
	type stoppedWorker struct {
		name   string
		claims string  // the LIKE pattern of its claims' ids
		held   []int64 // the jobs it held just before its SIGTERM
	}
	var stoppedWorkers []stoppedWorker
	for _, old := range workerProcs {
		startProc(workerBin, "worker", workerEnv, "worker starting")
		w := stoppedWorker{name: old.Name, claims: fmt.Sprintf("%%-%d/%%", old.Cmd.Process.Pid)}
		proctest.Eventually(t, 10*time.Second, old.Name+" to hold jobs", func() bool {
			w.held = ids(t, super, `SELECT id FROM jobs WHERE status = 'running' AND locked_by LIKE $1`, w.claims)
			return len(w.held) > 0
		})
		stoppedWorkers = append(stoppedWorkers, w)
		stop(old, 0)
	}
	startProc(schedulerBin(t), "scheduler", schedEnv, "scheduler starting")
	stop(sched, 0)
	// A second of load after the last restart.
	after := count(t, super, `SELECT count(*) FROM lead_intake_raw`)
	proctest.Eventually(t, 10*time.Second, "a second of load after the restarts", func() bool {
		return count(t, super, `SELECT count(*) FROM lead_intake_raw`) >= after+200
	})
	stopLoad()
	loads.Wait()
	stopProbes()
	loadTime := hooks[len(hooks)-1].sent.Sub(hooks[0].sent)

	// No failure outside a drain window.
	windowOf := func(s shot) (drainWindow, bool) {
		for _, w := range windows {
			if s.target == w.name && !s.sent.Before(w.from) && !s.sent.After(w.to) {
				return w, true
			}
		}
		return drainWindow{}, false
	}
	var acked []string
	tolerated := 0
	var slowest time.Duration
	for _, set := range [][]shot{hooks, reads} {
		for _, s := range set {
			slowest = max(slowest, s.took)
			if !s.failed() {
				if s.intakeID != "" {
					acked = append(acked, s.intakeID)
				}
				continue
			}
			w, ok := windowOf(s)
			require.True(t, ok, "a request to %q sent at %s failed outside every drain window: status %d, %s",
				s.target, s.sent.Format(time.StampMilli), s.status, s.err)
			t.Logf("inside the drain window of %s: a request sent %s after its SIGTERM failed: status %d, %s",
				s.target, s.sent.Sub(w.from).Round(time.Millisecond), s.status, s.err)
			tolerated++
		}
	}
	t.Logf("load: %d webhooks (%d acknowledged) and %d reads over %s (%.0f webhooks/s); %d failed inside drain windows; slowest answer %s",
		len(hooks), len(acked), len(reads), loadTime.Round(time.Millisecond), float64(len(hooks))/loadTime.Seconds(), tolerated, slowest.Round(time.Millisecond))

	// Every acknowledged delivery has its row, and becomes its own lead once the queue is worked off.
	require.Equal(t, len(acked), count(t, super, `SELECT count(*) FROM lead_intake_raw WHERE id = ANY($1::uuid[])`, acked),
		"every acknowledged delivery has its row")
	proctest.Eventually(t, 3*time.Minute, "the queue worked off", func() bool {
		return count(t, super, `SELECT count(*) FROM jobs WHERE status <> 'completed'`) == 0
	})
	require.Equal(t, len(acked), count(t, super, `SELECT count(*) FROM lead_intake_raw
WHERE id = ANY($1::uuid[]) AND status = 'processed' AND lead_id IS NOT NULL`, acked), "every acknowledged delivery is a lead")
	require.Equal(t, len(acked), count(t, super, `SELECT count(*) FROM leads`), "one lead per delivery")

	// No job rescued by its lease: each completed on its first counted attempt.
	require.Zero(t, count(t, super, `SELECT count(*) FROM job_logs WHERE outcome = 'reaped'`), "no job is rescued by the lease reaper")
	require.Zero(t, count(t, super, `SELECT count(*) FROM job_logs WHERE outcome NOT IN ('completed', 'released')`), "no attempt failed")
	require.Zero(t, count(t, super, `SELECT count(*) FROM jobs WHERE attempts <> 1`), "every job completed on its first counted attempt")
	require.Zero(t, count(t, super, `SELECT count(*) FROM dead_letter_jobs`))
	held, byIt, drained, unstarted := 0, 0, 0, 0
	for _, w := range stoppedWorkers {
		// A job the worker held ended by one of its claims, with its log row: completed, released
		// in the drain, or handed back unstarted (a claim's spare jobs, or a claim that ran into
		// the signal); either way it completed on its first counted attempt, never reaped.
		require.Equal(t, len(w.held), count(t, super, `SELECT count(*) FROM jobs WHERE id = ANY($1) AND status = 'completed' AND attempts = 1`, w.held),
			"every job %s held at its SIGTERM completed on its first counted attempt", w.name)
		require.Equal(t, len(w.held), count(t, super, `SELECT count(DISTINCT job_id) FROM job_logs
WHERE job_id = ANY($1) AND worker LIKE $2 AND outcome IN ('completed', 'released')`, w.held, w.claims),
			"every job %s held at its SIGTERM ended by its claim, logged", w.name)
		held += len(w.held)
		byIt += count(t, super, `SELECT count(*) FROM job_logs WHERE job_id = ANY($1) AND worker LIKE $2 AND outcome = 'completed'`, w.held, w.claims)
		drained += count(t, super, `SELECT count(*) FROM job_logs WHERE job_id = ANY($1) AND worker LIKE $2 AND outcome = 'released'
AND error = 'worker shutting down'`, w.held, w.claims)
		unstarted += count(t, super, `SELECT count(*) FROM job_logs WHERE job_id = ANY($1) AND worker LIKE $2 AND outcome = 'released'
AND error LIKE 'not started:%'`, w.held, w.claims)
	}
	t.Logf("jobs: %d completed (%d hand-backs of unstarted claims logged in all); the stopped workers held %d at their SIGTERMs: "+
		"%d completed by them, %d released in their drains, %d handed back unstarted; the whole test took %s",
		count(t, super, `SELECT count(*) FROM jobs`), count(t, super, `SELECT count(*) FROM job_logs WHERE error LIKE 'not started:%'`),
		held, byIt, drained, unstarted, time.Since(began).Round(time.Millisecond))
}

// count runs a count query on the superuser connection.
func count(t *testing.T, super *db.DB, q string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, super.Pool.QueryRow(t.Context(), q, args...).Scan(&n))
	return n
}

// ids runs a query of job ids on the superuser connection.
func ids(t *testing.T, super *db.DB, q string, args ...any) []int64 {
	t.Helper()
	rows, err := super.Pool.Query(t.Context(), q, args...)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	return out
}
