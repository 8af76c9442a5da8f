package main

// The scheduled sweeps of apibench (-sweeps-only): one org with -leads leads (1,000,000) and
// -deals deals (100,000), and for each of the seven cron checks (-sweeps: all, or some; see
// sweepNames for the order and the auto-priority sweep's two runs): the
// p99 of PATCH /leads/{id} on that org through the real bin/api with no sweep running (-sweep-idle),
// then the same load while the check's use case runs in this process (the one its job kind calls,
// with the slot = now), timing the sweep and sampling pg_stat_activity every 10 ms for the age of
// the sweep's open transaction (its pool has its own application_name). Reported in its own
// section of BENCHMARKS.md ("## Scheduled sweeps", between the apibench-sweeps markers).

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"example.com/crm/pkg/catalog"
	crmclient "example.com/crm/pkg/client"
	"example.com/crm/pkg/config"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/integrity"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
	weekly "example.com/crm/pkg/report"
	"example.com/crm/pkg/rules"
	"example.com/crm/tools/benchreport"
)

// sweepAppName is the application_name of the sweeps' pool, by which the sampler finds their
// transactions.
const sweepAppName = "apibench-sweep"

// The spreads of the sweep seed's creation times, chosen so that a share of the rows is due for
// each sweep and most are not (a sweep reads them all): leads created over the last 34 days
// (about a tenth of the open ones older than the 30 stale days; about four in five contacted or
// call_booked ones silent for the 7 ghost-risk days), deals over the last 19 days (their stage
// changed a day later: about a fifth of the open ones older than the 14 rotting days).
const (
	sweepLeadSpan = 34 * 24 * time.Hour
	sweepDealSpan = 19 * 24 * time.Hour
)

// Targets of the issue for each sweep.
const (
	targetSweepWall = 30 * time.Second
	targetP99Ratio  = 2.0
)

// minP99Samples is the fewest PATCHes during a sweep whose p99 the bench judges: with fewer, the
// 99th percentile is the slowest request or next to it, one stall of the machine, not a
// percentile. A sweep that short gets its ratio shown and no verdict.
const minP99Samples = 100

// The sweeps of the bench (-sweeps), in the order they run: the seven cron checks, the
// auto-priority one twice. Its first run (sweepPriorityBackfill) is a backfill: the seed's
// priorities are random, so about four leads in five disagree with the rule table, as in an org
// whose priorities were never computed. Its second run (the recurring sweep, the one the issue's
// target is about) follows a day's changes: the ghost-risk sweep's raises and the day's
// rescored and restaged leads (dayChangesSQL).
const sweepPriorityBackfill = "recalc_auto_priority_backfill"

var sweepNames = []string{"check_deal_decay", "check_lead_stale", sweepPriorityBackfill, "recalc_ghost_risk",
	"recalc_auto_priority", "renewal_reminder", "check_integrity", "generate_weekly_report", referenceBusyBackend}

// referenceBusyBackend is the bench's last row and no sweep: a backend of the same server that
// computes for the pace's aim, rests the pace's share of it, and again, for referenceBusyFor,
// reading no row, taking no lock and writing no WAL (busyBackend). It is the share of a core the
// pace gives a sweep, and nothing else, so its PATCH p99 ratio is what that share alone costs the
// api on this machine, a part of every sweep's ratio.
const referenceBusyBackend = "reference_busy_backend"

// referenceBusyFor is how long the reference backend runs: about as long as the lead sweeps.
const referenceBusyFor = 15 * time.Second

// busyBackend runs the reference on its own connection to url for forTime, or until ctx ends: a statement
// that keeps its backend on a core for aim without touching a table, then a rest of rest times
// aim, and again. It returns the number of statements.
func busyBackend(ctx context.Context, url string, aim time.Duration, rest float64, forTime time.Duration) (int, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, fmt.Errorf("connect the busy backend: %w", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	spin := fmt.Sprintf(`DO $$ DECLARE t timestamptz := clock_timestamp(); BEGIN
    WHILE clock_timestamp() < t + interval '%d microseconds' LOOP END LOOP; END $$`, aim.Microseconds())
	pause := time.Duration(rest * float64(aim))
	n := 0
	for end := time.Now().Add(forTime); time.Now().Before(end); n++ {
		if _, err := conn.Exec(ctx, spin); err != nil {
			return n, fmt.Errorf("busy backend: %w", err)
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(pause):
		}
	}
	return n, nil
}

// sweepLabel is how the report names sweep name.
func sweepLabel(name string) string {
	switch name {
	case sweepPriorityBackfill:
		return "`recalc_auto_priority` (backfill)"
	case "recalc_auto_priority":
		return "`recalc_auto_priority` (recurring)"
	case referenceBusyBackend:
		return "*reference*: a busy backend, no rows"
	}
	return "`" + name + "`"
}

// pickSweeps returns the sweeps of the comma-separated list, in the bench's order; the recurring
// auto-priority sweep needs the backfill before it.
func pickSweeps(list string) ([]string, error) {
	want := splitList(list)
	for _, w := range want {
		if !slices.Contains(sweepNames, w) {
			return nil, fmt.Errorf("unknown sweep %q (have %s)", w, strings.Join(sweepNames, ", "))
		}
	}
	if slices.Contains(want, "recalc_auto_priority") && !slices.Contains(want, sweepPriorityBackfill) {
		return nil, fmt.Errorf("sweep recalc_auto_priority (recurring) needs %s before it", sweepPriorityBackfill)
	}
	var out []string
	for _, n := range sweepNames {
		if slices.Contains(want, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// The day's changes before the recurring auto-priority sweep, besides the ghost-risk sweep's
// raises: a share of the org's live leads rescored (dayRescoredPerMille, a new score) and a share
// of its open leads moved on a stage (dayRestagedPerMille: new to qualified, contacted to
// call_booked, the others lost), each moving the lead's version as the api's writes do. Chosen
// by a hash of the lead's id, so every run changes the same leads.
const (
	dayRescoredPerMille = 20
	dayRestagedPerMille = 10
)

// dayChangesSQL applies the day's changes to the org ($1) and returns the leads rescored and
// restaged.
const dayChangesSQL = `
WITH rescored AS (
    UPDATE leads SET score = (coalesce(score, 0) + 17 + abs(hashtext(id::text || 'score')) % 60) % 101, version = version + 1
    WHERE org_id = $1 AND deleted_at IS NULL AND abs(hashtext(id::text || 'day')) % 1000 < $2
    RETURNING 1
), restaged AS (
    UPDATE leads SET stage = CASE stage WHEN 'new' THEN 'qualified' WHEN 'contacted' THEN 'call_booked' ELSE 'lost' END,
        stage_changed_at = now(), version = version + 1
    WHERE org_id = $1 AND deleted_at IS NULL AND stage IN ('new', 'qualified', 'nurture', 'contacted', 'call_booked')
      AND abs(hashtext(id::text || 'day')) % 1000 >= $2 AND abs(hashtext(id::text || 'day')) % 1000 < $2 + $3
    RETURNING 1
)
SELECT (SELECT count(*) FROM rescored), (SELECT count(*) FROM restaged)`

// sweepOutcome is what one sweep reports of itself: its chunk transactions (-1: not chunked) and
// what it found or changed, in words.
type sweepOutcome struct {
	chunks int
	did    string
	leads  int // leads the sweep updated (-1: it updates none)
}

// sweepRun is one measured sweep.
type sweepRun struct {
	name    string
	wall    time.Duration
	outcome sweepOutcome
	txs     sweepTxs // the longest writing and read-only transactions of the sweep's pool
	stopped bool     // the sweep was stopped at -sweep-max, unfinished
	// timeouts counts the chunks cut by their budget and rolled back (db.ChunkReport.TimedOut);
	// rested is the time the sweep rested between chunks.
	timeouts int
	rested   time.Duration
	// updated and hot are the updates of leads while the sweep and its PATCH load ran, all of them
	// and the HOT ones (pg_stat_user_tables). They count the rows of chunks cut by their budget
	// too, updated and then rolled back. Every HOT one is the sweep's, since a PATCH moves the
	// indexed updated_at.
	updated, hot int64
	probe        time.Duration // hostProbe just before the sweep's idle PATCHes
	idle         loadResult    // PATCH /leads/{id} without a sweep
	during       loadResult    // PATCH /leads/{id} while the sweep runs
}

// sweepSeed describes the data the sweeps ran over.
type sweepSeed struct {
	leads, deals, openDeals int64
	due                     map[string]int64 // rows due for a sweep when seeded, counted in SQL
	rescored, restaged      int64            // the day's changes before the recurring auto-priority sweep
}

// leadUpdates reads the updates of leads so far, all of them and the HOT ones
// (pg_stat_user_tables), on conn.
func leadUpdates(ctx context.Context, conn *pgx.Conn) (updated, hot int64, err error) {
	err = conn.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'leads'`).Scan(&updated, &hot)
	if err != nil {
		return updated, hot, fmt.Errorf("read lead updates: %w", err)
	}
	return updated, hot, nil
}

// hostProbeInts is how many integers hostProbe sorts.
const hostProbeInts = 1 << 20

// hostProbe times a sort of hostProbeInts pseudo-random integers in the bench's process, the
// fastest of three. It is the same work in every run, so it says how fast the machine was just
// before a sweep: the speed of a shared virtual machine moves from one run, and one minute, to
// the next, and a slow probe beside a slow sweep says that the machine was slow, not the code.
func hostProbe() time.Duration {
	src := hostProbeInput()
	buf := make([]uint64, len(src))
	best := time.Duration(1<<63 - 1)
	for range 3 {
		copy(buf, src)
		start := time.Now()
		slices.Sort(buf)
		best = min(best, time.Since(start))
	}
	return best
}

// hostProbeInput is what hostProbe sorts: hostProbeInts integers of a PCG generator with a fixed
// seed, the same in every run.
func hostProbeInput() []uint64 {
	r := rand.New(rand.NewPCG(1, 2))
	src := make([]uint64, hostProbeInts)
	for i := range src {
		src[i] = r.Uint64()
	}
	return src
}

// hotShare is the share of the sweep's own updates of leads that were HOT: the PATCHes measured
// during it (one update each, never HOT) are taken from all the updates. ok is false for a sweep
// that updated no lead. The api's backends report their updates to the statistics up to a second
// late, so the PATCHes counted may differ from those the counts saw by about a second's worth
// (about 1 % of a large sweep's updates); a share that comes out more than whole is shown as whole.
func (x sweepRun) hotShare() (share float64, ok bool) {
	own := x.updated - int64(x.during.requests)
	if x.outcome.leads <= 0 || own <= 0 {
		return 0, false
	}
	return min(1, float64(x.hot)/float64(own)), true
}

// flushStats makes the idle connections of the sweep's pool report their table statistics at
// once (pg_stat_force_next_flush, run as a statement of its own so that it is flushed after it),
// so that leadUpdates counts the sweep's updates.
func flushStats(ctx context.Context, d *db.DB) error {
	conns := d.Pool.AcquireAllIdle(ctx)
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for _, c := range conns {
		if _, err := c.Exec(ctx, "SELECT pg_stat_force_next_flush()"); err != nil {
			return fmt.Errorf("flush statistics: %w", err)
		}
		if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
			return fmt.Errorf("flush statistics: %w", err)
		}
	}
	return nil
}

// sweepRuns seeds the deals, starts bin/api and measures every sweep.
func (b *bench) sweepRuns(ctx context.Context, rep *report) error {
	ds, err := b.seedDeals(ctx, b.opts.deals, sweepDealSpan)
	if err != nil {
		return err
	}
	b.deals = ds
	rep.deals = ds
	logf("seed: %s deals in the org, %s, ready in %s", num(float64(ds.deals)), ds.size, ds.took.Round(time.Millisecond))
	orgID := b.seed.orgs[0].id
	ss := &sweepSeed{leads: b.seed.leads, deals: ds.deals, openDeals: ds.open}
	sampler, err := pgx.Connect(ctx, b.seed.superURL)
	if err != nil {
		return fmt.Errorf("connect the transaction sampler: %w", err)
	}
	defer func() { _ = sampler.Close(context.Background()) }()
	if !b.opts.reuse {
		// The bulk load of the leads skips their triggers: the weekly report reads the lead
		// projections they keep.
		t := time.Now()
		if _, err := sampler.Exec(ctx, rebuildProjectionsSQL); err != nil {
			return fmt.Errorf("rebuild the lead projections: %w", err)
		}
		if _, err := sampler.Exec(ctx, "VACUUM (ANALYZE) lead_funnel, lead_funnel_days, lead_stage_totals"); err != nil {
			return fmt.Errorf("vacuum the lead projections: %w", err)
		}
		logf("seed: lead projections rebuilt in %s", time.Since(t).Round(time.Millisecond))
	}
	// The seed's writes go to disk now, so that no checkpoint of them falls into a sweep's
	// measurement (the bulk load and the projections' rebuild write some gigabytes of WAL).
	if _, err := sampler.Exec(ctx, "CHECKPOINT"); err != nil {
		return fmt.Errorf("checkpoint the seed: %w", err)
	}
	if ss.due, err = countDue(ctx, sampler, orgID); err != nil {
		return err
	}
	rep.sweepSeed = ss

	d, err := db.Open(ctx, db.Options{URL: b.seed.appURL, MaxConns: 4, AppName: sweepAppName})
	if err != nil {
		return fmt.Errorf("open sweep pool: %w", err)
	}
	defer d.Close()
	var paceMu sync.Mutex
	var cur *sweepRun // the sweep that is running, told of its chunks by the pace
	pace := b.opts.sweepPace
	pace.Observe = func(r db.ChunkReport) {
		paceMu.Lock()
		defer paceMu.Unlock()
		if cur != nil {
			cur.rested += r.Rest
			if r.TimedOut {
				cur.timeouts++
			}
		}
	}
	d.SetPace(pace)
	emitter := events.NewEmitter(jobs.New(d, jobs.Config{}), catalog.New().EventJobs)
	orgRules := rules.For(config.Rules{})
	leads := lead.NewService(d, emitter)
	priority := func(ctx context.Context, slot time.Time) (sweepOutcome, error) {
		r, err := leads.RecalcAutoPriority(ctx, orgID, slot, lead.DefaultPriorityRules())
		return sweepOutcome{r.Chunks, fmt.Sprintf("%s priorities changed (walk: %s)", num(float64(r.Changed)), r.Walk), r.Changed}, err
	}
	sweeps := map[string]func(ctx context.Context, slot time.Time) (sweepOutcome, error){
		"check_deal_decay": func(ctx context.Context, slot time.Time) (sweepOutcome, error) {
			r, err := deal.NewDecaySweep(d, emitter, orgRules).Run(ctx, orgID, slot)
			return sweepOutcome{r.Chunks, fmt.Sprintf("%s stalled deals, %s events", num(float64(r.Found)), num(float64(r.Emitted))), -1}, err
		},
		"check_lead_stale": func(ctx context.Context, slot time.Time) (sweepOutcome, error) {
			r, err := lead.NewStaleSweep(d, emitter, orgRules).Run(ctx, orgID, slot)
			return sweepOutcome{r.Chunks, fmt.Sprintf("%s stale leads, %s events", num(float64(r.Found)), num(float64(r.Emitted))), -1}, err
		},
		"recalc_ghost_risk": func(ctx context.Context, slot time.Time) (sweepOutcome, error) {
			set, err := orgRules.Read(ctx, d, orgID)
			if err != nil {
				return sweepOutcome{leads: -1}, err
			}
			r, err := leads.RecalcGhostRisk(ctx, orgID, slot, set.GhostRiskSilenceDays)
			return sweepOutcome{r.Chunks, fmt.Sprintf("%s leads raised", num(float64(r.Changed))), r.Changed}, err
		},
		sweepPriorityBackfill:  priority,
		"recalc_auto_priority": priority,
		"renewal_reminder": func(ctx context.Context, _ time.Time) (sweepOutcome, error) {
			r, err := crmclient.NewService(d, emitter).RemindRenewals(ctx, orgID)
			return sweepOutcome{r.Chunks, fmt.Sprintf("%d renewals reminded", r.Reminded), -1}, err
		},
		"check_integrity": func(ctx context.Context, _ time.Time) (sweepOutcome, error) {
			r, err := integrity.NewService(d, emitter, integrity.Options{}).Check(ctx, orgID)
			opened := 0
			for _, n := range r.Opened {
				opened += n
			}
			return sweepOutcome{r.Chunks, fmt.Sprintf("%s alerts opened", num(float64(opened))), -1}, err
		},
		referenceBusyBackend: func(ctx context.Context, _ time.Time) (sweepOutcome, error) {
			rp := pace.Resolved()
			n, err := busyBackend(ctx, b.seed.appURL, rp.Aim, rp.Rest, referenceBusyFor)
			return sweepOutcome{n, fmt.Sprintf("computed %s, rested %s, and again; no row read or written", rp.Aim,
				time.Duration(rp.Rest*float64(rp.Aim))), -1}, err
		},
		"generate_weekly_report": func(ctx context.Context, slot time.Time) (sweepOutcome, error) {
			r, err := weekly.NewService(d, emitter, nil).Generate(ctx, orgID, slot, func(ctx context.Context, fn func(tx *gorm.DB) error) error {
				return d.Tx(ctx, orgID, fn)
			})
			did := "report stored"
			if r.Skipped != "" {
				did = "skipped: " + r.Skipped
			}
			return sweepOutcome{-1, did, -1}, err
		},
	}

	level := b.opts.logLevels[0]
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	p, err := startProc("api-"+level, b.opts.apiBin, []string{"serve"}, b.apiEnv(addr, level), addr, apiAppName, b.opts.logDir)
	if err != nil {
		return err
	}
	defer func() { _ = p.stop(15 * time.Second) }()
	if err := p.waitReady(ctx, "/readyz", 30*time.Second); err != nil {
		return err
	}
	patch := patchRequests(b.seed, 0)
	for _, name := range b.opts.sweeps {
		sr := sweepRun{name: name, probe: hostProbe()}
		if name == "recalc_auto_priority" {
			if err := sampler.QueryRow(ctx, dayChangesSQL, orgID, dayRescoredPerMille, dayRestagedPerMille).
				Scan(&ss.rescored, &ss.restaged); err != nil {
				return fmt.Errorf("the day's changes: %w", err)
			}
			logf("day's changes: %s leads rescored, %s restaged", num(float64(ss.rescored)), num(float64(ss.restaged)))
		}
		var updated0, hot0 int64
		cfg := loadConfig{addr: p.addr, conns: b.opts.sweepConns, rate: b.opts.sweepRate, warmup: b.opts.warmup, duration: b.opts.sweepIdle, next: patch,
			sample: func() cpuSnap { return cpuSnap{} }}
		var err error
		if sr.idle, err = runLoad(ctx, cfg); err != nil {
			return fmt.Errorf("%s: idle PATCH: %w", name, err)
		}
		cfg.during = func(ctx context.Context) error {
			// Counted from here, after the warm-up, so that the PATCHes counted are those measured.
			var err error
			if updated0, hot0, err = leadUpdates(ctx, sampler); err != nil {
				return err
			}
			var wg sync.WaitGroup
			sctx, stop := context.WithCancel(ctx)
			wg.Add(1)
			go func() {
				defer wg.Done()
				sr.txs = sampleLongest(sctx, sampler, b.seed.name)
			}()
			start := time.Now()
			rctx, cancel := ctx, context.CancelFunc(func() {})
			if b.opts.sweepMax > 0 {
				rctx, cancel = context.WithTimeout(ctx, b.opts.sweepMax)
			}
			paceMu.Lock()
			cur = &sr
			paceMu.Unlock()
			sr.outcome, err = sweeps[name](rctx, start.UTC())
			sr.wall = time.Since(start)
			paceMu.Lock()
			cur = nil
			paceMu.Unlock()
			if err != nil && rctx.Err() != nil && ctx.Err() == nil {
				sr.stopped, err = true, nil
			}
			cancel()
			stop()
			wg.Wait()
			return err
		}
		if sr.during, err = runLoad(ctx, cfg); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := flushStats(ctx, d); err != nil {
			return err
		}
		updated1, hot1, err := leadUpdates(ctx, sampler)
		if err != nil {
			return err
		}
		sr.updated, sr.hot = updated1-updated0, hot1-hot0
		if err := p.alive(); err != nil {
			return err
		}
		if sr.stopped {
			logf("%s: stopped unfinished at -sweep-max %s", name, b.opts.sweepMax)
		}
		logf("%s: %s in %s (host probe %s; %d chunks, %d cut by their budget, %s rested, %d HOT of %d lead updates with the PATCHes'), longest writing transaction %s (%s), longest read-only %s (%s); PATCH p99 %s idle, %s during (%d and %d requests, %d and %d errors%s)",
			name, sr.outcome.did, sr.wall.Round(time.Millisecond), ms(sr.probe), sr.outcome.chunks, sr.timeouts, sr.rested.Round(time.Millisecond), sr.hot, sr.updated, ms(sr.txs.writer.age), sr.txs.writer.waits(),
			ms(sr.txs.reader.age), sr.txs.reader.waits(), ms(pct(sr.idle.lat, 99)),
			ms(pct(sr.during.lat, 99)), sr.idle.requests, sr.during.requests, sr.idle.errors, sr.during.errors,
			firstErr(sr.during))
		rep.sweeps = append(rep.sweeps, sr)
	}
	if err := b.checkRole(ctx); err != nil {
		return err
	}
	return p.stop(15 * time.Second)
}

// sweepTx is what the sampler saw of one transaction of the sweeps' pool: its greatest age,
// whether it had written (backend_xid set: it holds the locks of what it wrote), and what its
// backend was doing at each sample (waitLabel), counted.
type sweepTx struct {
	age     time.Duration
	writes  bool
	samples map[string]int
}

// waits renders the transaction's samples as "what count" pairs, the most frequent first.
func (t sweepTx) waits() string {
	if len(t.samples) == 0 {
		return "–"
	}
	keys := make([]string, 0, len(t.samples))
	for k := range t.samples {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := t.samples[b] - t.samples[a]; c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, t.samples[k])
	}
	return strings.Join(parts, ", ")
}

// sweepTxs is the sampler's verdict on one sweep: its longest writing transaction and its longest
// read-only one, and how many samples it took.
type sweepTxs struct {
	writer, reader sweepTx
	samples        int
}

// sampleSQL reads the open transactions of the sweeps' pool: the start that identifies one (with
// its backend), its age, whether it has written, and what the backend is doing: "CPU" when it
// runs a statement and waits on nothing, the wait event (type:event) when it waits (Lock:* behind
// another transaction's lock, IO:WALSync or IO:WALWrite flushing a commit, IO:DataFileRead a cold
// page, LWLock:* a shared structure), "Client:ClientRead" between statements (the sweep's Go
// code, or its rest).
const sampleSQL = `SELECT pid, xact_start, clock_timestamp() - xact_start, backend_xid IS NOT NULL,
    CASE WHEN wait_event IS NOT NULL THEN wait_event_type || ':' || wait_event
         WHEN state = 'active' THEN 'CPU' ELSE coalesce(state, '?') END
FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 AND xact_start IS NOT NULL`

// sampleLongest polls pg_stat_activity every 10 ms until ctx ends and returns the longest
// transaction of the sweeps' pool that wrote (held row locks) and the longest that did not,
// each with what its backend was doing at the samples that saw it, and the number of samples.
// A transaction shorter than the interval may be missed: the ages are lower bounds, within
// 10 ms (plus the poll's own time) of the truth.
func sampleLongest(ctx context.Context, conn *pgx.Conn, dbName string) sweepTxs {
	type key struct {
		pid   int32
		start time.Time
	}
	seen := map[key]*sweepTx{}
	n := 0
	for ctx.Err() == nil {
		// A poll is not cancelled halfway: pgx closes a connection whose query's context ends,
		// and conn is the bench's for the rest of the run.
		rows, err := conn.Query(context.WithoutCancel(ctx), sampleSQL, dbName, sweepAppName)
		if err == nil {
			for rows.Next() {
				var k key
				var t sweepTx
				var what string
				if rows.Scan(&k.pid, &k.start, &t.age, &t.writes, &what) != nil {
					continue
				}
				x := seen[k]
				if x == nil {
					x = &sweepTx{samples: map[string]int{}}
					seen[k] = x
				}
				x.age, x.writes = max(x.age, t.age), x.writes || t.writes
				x.samples[what]++
			}
			if rows.Err() == nil {
				n++
			}
			rows.Close()
		}
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
	out := sweepTxs{samples: n}
	for _, t := range seen {
		best := &out.reader
		if t.writes {
			best = &out.writer
		}
		if t.age > best.age {
			*best = *t
		}
	}
	return out
}

// countDue counts on conn (the bench database as the superuser) the rows of the org due for the lead and deal sweeps at
// the seed's rules (14 rotting days, 30 stale days, 7 silence days).
func countDue(ctx context.Context, conn *pgx.Conn, orgID uuid.UUID) (map[string]int64, error) {
	var decay, stale, ghost int64
	err := conn.QueryRow(ctx, `SELECT
	(SELECT count(*) FROM deals WHERE org_id = $1 AND stage IN ('discovery', 'proposal', 'negotiation')
		AND stage_changed_at <= now() - interval '14 days'),
	(SELECT count(*) FROM leads WHERE org_id = $1 AND deleted_at IS NULL
		AND stage IN ('new', 'qualified', 'nurture', 'contacted', 'call_booked')
		AND coalesce(last_activity_at, created_at) <= now() - interval '30 days'),
	(SELECT count(*) FROM leads WHERE org_id = $1 AND deleted_at IS NULL AND stage IN ('contacted', 'call_booked')
		AND greatest(last_activity_at, stage_changed_at) <= now() - interval '7 days')`, orgID).Scan(&decay, &stale, &ghost)
	if err != nil {
		return nil, fmt.Errorf("count due rows: %w", err)
	}
	return map[string]int64{"check_deal_decay": decay, "check_lead_stale": stale, "recalc_ghost_risk": ghost}, nil
}

// patchRequests returns the request maker of PATCH /leads/{id} on the sampled leads of org o:
// a new note each time, without a version (no If-Match), as an edit from the UI.
func patchRequests(sd *seed, o int) requestFunc {
	t := sd.orgs[o]
	orgID := t.id.String()
	var ids []string
	for _, l := range sd.sample {
		if l.org == o {
			ids = append(ids, l.id.String())
		}
	}
	return func(rng *rand.Rand, buf []byte) request {
		id := ids[rng.IntN(len(ids))]
		body := `{"notes":"apibench note ` + strconv.FormatUint(rng.Uint64(), 36) + `"}`
		buf = append(buf, "PATCH /leads/"...)
		buf = append(buf, id...)
		buf = append(buf, " HTTP/1.1\r\nHost: apibench\r\nContent-Type: application/json\r\nAuthorization: Bearer "...)
		buf = append(buf, t.key...)
		buf = append(buf, "\r\nX-Org-Id: "...)
		buf = append(buf, orgID...)
		buf = append(buf, "\r\nContent-Length: "...)
		buf = strconv.AppendInt(buf, int64(len(body)), 10)
		buf = append(buf, "\r\n\r\n"...)
		buf = append(buf, body...)
		return request{raw: buf, want: []byte(`"id":"` + id + `"`)}
	}
}

// longRest is the method text's words for the rest of a sweep that has run p.Long: none when it
// never changes.
func longRest(p db.Pace) string {
	if p.Long < 0 {
		return ""
	}
	return fmt.Sprintf(", %.0f %% once the sweep has run %s", 100*p.LongRest, p.Long)
}

// sweepsMarkdown renders the sweeps as the body of the "## Scheduled sweeps" section.
func (r *report) sweepsMarkdown() string {
	var s strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&s, format+"\n", args...) }
	m := r.machine
	pace := r.opts.sweepPace.Resolved()
	p("Measured %s by `scripts/bench.sh` (`apibench %s`), on the machine of the API section (%d cores, %s; PostgreSQL %s), "+
		"which was busy with other work (builds and test suites of other sessions) at the same time: the figures are upper bounds.",
		m.date.Format("2006-01-02 15:04 MST"), strings.Join(os.Args[1:], " "), m.NProc, m.CPU, m.pgVersion)
	p("Load average (1/5/15 min): %s at start, %s at end.", r.startLoad, r.endLoad)
	p("")
	if ss := r.sweepSeed; ss != nil {
		p("**Data**: one org with %s leads (created over the last %d days; `leads` with its indexes: %s) and %s deals "+
			"(%s open, created over the last %d days, each stage changed a day after; `deals`: %s), bulk-loaded and vacuumed, so that "+
			"a share is due for each sweep at the rules' defaults and the rest is read and left alone: %s open deals rotting "+
			"(≥ 14 days in their stage), %s open leads stale (≥ 30 days without activity), %s contacted or booked leads silent "+
			"(≥ 7 days). No clients are seeded (the renewal reminder reads none), nor invoices: every won deal lacks its invoice "+
			"and contract, which the watchdog reports once its grace period has passed.",
			num(float64(ss.leads)), int(sweepLeadSpan.Hours()/24), r.seed.size, num(float64(ss.deals)), num(float64(ss.openDeals)),
			int(sweepDealSpan.Hours()/24), dealSize(r.deals), num(float64(ss.due["check_deal_decay"])),
			num(float64(ss.due["check_lead_stale"])), num(float64(ss.due["recalc_ghost_risk"])))
		p("")
		p("The seed's priorities are random (seven in ten normal), so about four leads in five disagree with the rule table: "+
			"the first `recalc_auto_priority` is the **backfill** of an org whose priorities were never computed, a one-off. "+
			"The **recurring** one runs after a day's changes: the ghost-risk sweep's raises, then %s live leads rescored (%.0f %%) "+
			"and %s open leads moved a stage on (%.0f %%), each moving the lead's version as the api's writes do.",
			num(float64(ss.rescored)), float64(dayRescoredPerMille)/10, num(float64(ss.restaged)), float64(dayRestagedPerMille)/10)
		p("")
	}
	p("**Method**: each sweep is the use case its job kind calls (services/worker/internal/handler), run in the bench's process "+
		"with the slot = now, on its own pool (%s as the app role, bound by row-level security). Before it, %s of `PATCH /leads/{id}` "+
		"(`{\"notes\": ...}`, no version) on random leads of the same org through `bin/api serve` (`LOG_LEVEL=%s`, `DB_MAX_CONNS=%d`) "+
		"%s after %s warm-up: the idle p99; then the same load for as long as the sweep runs: the p99 during. The longest transactions are the oldest `xact_start` among the sweep pool's backends in "+
		"`pg_stat_activity`, sampled every 10 ms while the sweep runs (lower bounds within about 10 ms): the longest that had "+
		"written (`backend_xid` set, so it held the locks of the rows it wrote; the issue's bound is about these) apart from the "+
		"longest read-only one, and for the writing one what its backend was doing at each sample that saw it (CPU: running a "+
		"statement; `Lock:*`: waiting behind another transaction's lock; `IO:WALSync`/`IO:WALWrite`: flushing WAL; "+
		"`IO:DataFileRead`: reading a page not in shared buffers; `LWLock:*`: a shared structure; `Client:ClientRead`: between "+
		"statements, in the sweep's own code). *HOT updates* are the "+
		"share of a sweep's own updates of leads whose new row version needed no index entry: `n_tup_hot_upd` of `leads` over "+
		"its `n_tup_upd` during the sweep less the PATCHes (which move the indexed `updated_at` and are never HOT), counting the "+
		"rows of chunks cut by their budget, updated and rolled back. *Host probe* is the time the bench's process took, just before "+
		"the sweep's idle PATCHes, to sort "+num(hostProbeInts)+" pseudo-random integers (the fastest of three): the same work in every run, so "+
		"a slow probe beside a slow sweep says that the machine was slow. The sweeps "+
		"run one after the other in this order, each over what the ones before left. The chunks run under the worker's pace "+
		"(db.Pace: budget %s, chunks sized towards %s, rest %.0f %% of a chunk's time%s): *Cut by budget* counts the "+
		"chunks rolled back for running out of their budget (each retried smaller), *Rested* the sweep's pauses between chunks, "+
		"part of its wall time.",
		"`application_name` "+sweepAppName, r.opts.sweepIdle, r.opts.logLevels[0], r.opts.maxConns, r.patchLoad(), r.opts.warmup,
		pace.Budget, pace.Aim, 100*pace.Rest, longRest(pace))
	if slices.ContainsFunc(r.sweeps, func(x sweepRun) bool { return x.name == referenceBusyBackend }) {
		p("")
		p("The reference row is no sweep: a backend of the same server that computes for the pace's aim (%s), rests the pace's "+
			"share of it, and again, for %s, reading no row, taking no lock and writing no WAL. It is the share of a core the pace "+
			"gives a sweep and nothing else, so its ratio is what that share alone does to the PATCH p99 on this machine.",
			pace.Aim, referenceBusyFor)
	}
	p("")
	p("| Sweep | Did | Wall | Host probe | Chunks | Cut by budget | Rested | HOT updates | Longest writing transaction | Its samples | Longest read-only transaction | PATCH p99 idle | PATCH p99 during | Ratio | PATCH requests during | Errors | Wall ≤ %s | p99 ≤ %.0f× idle |",
		targetSweepWall, targetP99Ratio)
	p("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
	for _, x := range r.sweeps {
		chunks := "–"
		if x.outcome.chunks >= 0 {
			chunks = num(float64(x.outcome.chunks))
		}
		idle, during := pct(x.idle.lat, 99), pct(x.during.lat, 99)
		// A sweep shorter than one PATCH has no p99 during it, and no verdict.
		ratio, p99Verdict := "–", "–"
		if idle > 0 && len(x.during.lat) > 0 {
			q := float64(during) / float64(idle)
			ratio, p99Verdict = fmt.Sprintf("%.2f", q), verdict(q <= targetP99Ratio)
			if len(x.during.lat) < minP99Samples {
				p99Verdict = fmt.Sprintf("– (< %d requests)", minP99Samples)
			}
		}
		wall := x.wall.Round(time.Millisecond).String()
		if x.stopped {
			wall = "> " + wall + " (stopped unfinished)"
		}
		hot := "–"
		if share, ok := x.hotShare(); ok {
			hot = fmt.Sprintf("%.0f %%", 100*share)
		}
		wallVerdict := verdict(x.wall <= targetSweepWall && !x.stopped)
		if x.name == referenceBusyBackend {
			wallVerdict, p99Verdict = "–", "(reference)"
		}
		p("| %s | %s | %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s | %s |", sweepLabel(x.name), x.outcome.did, wall,
			ms(x.probe), chunks, x.timeouts, x.rested.Round(time.Millisecond), hot, ms(x.txs.writer.age), x.txs.writer.waits(), ms(x.txs.reader.age), ms(idle), ms(during), ratio, num(float64(x.during.requests)), x.idle.errors+x.during.errors,
			wallVerdict, p99Verdict)
	}
	return s.String()
}

// patchLoad describes the PATCH load beside the sweeps (runLoad): a closed loop, or with
// -sweep-rate an open loop whose latencies run from when each request was due.
func (r *report) patchLoad() string {
	if r.opts.sweepRate > 0 {
		return fmt.Sprintf("at a fixed %s requests a second over %d keep-alive connections (an open loop: each request is due at "+
			"its place in the schedule, and its latency runs from then, a wait for a free connection included)",
			num(r.opts.sweepRate), r.opts.sweepConns)
	}
	return fmt.Sprintf("with %d keep-alive connections in a closed loop", r.opts.sweepConns)
}

// dealSize is the deal seed's table size, "?" without one.
func dealSize(ds *dealSeed) string {
	if ds == nil {
		return "?"
	}
	return ds.size
}

// hasSweeps reports whether the report measured the sweeps.
func (r *report) hasSweeps() bool { return len(r.sweeps) > 0 }

// Markers around the generated part of the "## Scheduled sweeps" section.
const (
	sweepsBeginMarker = "<!-- apibench-sweeps:begin: generated by scripts/bench.sh; edits between the markers are overwritten -->"
	sweepsEndMarker   = "<!-- apibench-sweeps:end -->"
)

// writeSweepsSection puts body between the sweep markers of path (benchreport.WriteSection).
func writeSweepsSection(path, body string) error {
	return benchreport.WriteSection(path, "## Scheduled sweeps", sweepsBeginMarker, sweepsEndMarker, body)
}
