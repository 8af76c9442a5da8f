package main

// The money scenario of jobbench: -money-deals open deals of one org (10,000 by default) are won
// through deal.Service.ChangeStage from -money-winners goroutines, as the api wins them, while
// -money-workers bin/worker processes turn each deal.won into its invoice (create_invoice, with
// its PDF and a gapless number from the org's counter row) and its contract (generate_contract,
// with its PDF). It measures the time from the first win to the last document, samples what the
// workers' PostgreSQL backends wait for, times the two renderers in this process, and reports it
// all in its own section of BENCHMARKS.md ("## Money", between the jobbench-money markers).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/document"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/invoice"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
	"example.com/crm/tools/benchreport"
)

// scMoney is the money scenario's name.
const scMoney = "money"

// targetWonPerSec is the money target: won deals per second, both documents included.
const targetWonPerSec = 200

// The two ways the money scenario runs: the workers running while the deals are won (live), and
// starting only once every deal is won (backlog: the workers' own rate, without the wins beside
// them).
const (
	modeLive    = "live"
	modeBacklog = "backlog"
)

// moneyResult is the money scenario: one run per mode, and what they share.
type moneyResult struct {
	deals, winners, workers int
	settings                []string
	render                  renderCost
	runs                    []moneyRun
}

// moneyRun is one run of the money scenario on a fresh database.
type moneyRun struct {
	mode string
	seed time.Duration // leads and deals inserted and vacuumed
	// wins runs from the first ChangeStage call to the last one's return (client clock).
	wins time.Duration
	// lastInvoice and lastContract are the last invoice's and contract's creation after the
	// start (database clock): the first win (live) or the start of the workers (backlog).
	lastInvoice, lastContract time.Duration
	// afterWins is how long the last document came after the last win (live only).
	afterWins       time.Duration
	cpu             cpuUse        // from the start; workers and their backends
	winnersCPU      time.Duration // of the winners' backends, for all wins
	winnersCPUOK    bool
	walBytes        int64
	invoiceBatches  batchStats
	contractBatches batchStats
	waits           waitSample
	winnerWaits     waitSample // of the wins' backends (live only: in backlog the wins come before the timed span)
	retried         int64      // jobs of the two kinds with more than one attempt
	warnings        int
	checks          []string
}

// total is the time from the start to the last document.
func (r moneyRun) total() time.Duration { return max(r.lastInvoice, r.lastContract) }

func (r moneyRun) rate(deals int) float64 { return perSec(deals, r.total()) }

// live is the run of mode live (the headline), or the first.
func (m *moneyResult) live() moneyRun {
	for _, r := range m.runs {
		if r.mode == modeLive {
			return r
		}
	}
	if len(m.runs) > 0 {
		return m.runs[0]
	}
	return moneyRun{}
}

// batchStats are the sizes of the transactions that made one kind of document: the documents
// sharing one creation time (the batch transaction's time).
type batchStats struct {
	batches      int
	mean         float64
	p50, largest int
}

// batchStatsOf summarises batch sizes.
func batchStatsOf(sizes []int) batchStats {
	if len(sizes) == 0 {
		return batchStats{}
	}
	s := slices.Clone(sizes)
	slices.Sort(s)
	sum := 0
	for _, n := range s {
		sum += n
	}
	return batchStats{batches: len(s), mean: float64(sum) / float64(len(s)), p50: s[(len(s)-1)/2], largest: s[len(s)-1]}
}

// waitSample counts what the workers' backends were doing, sampled from pg_stat_activity.
type waitSample struct {
	every   time.Duration
	samples int            // polls of pg_stat_activity
	busy    int            // backend observations not idle (one poll sees several backends)
	idle    int            // observations of idle backends (pool connections waiting for work)
	by      map[string]int // "state | wait | statement" -> observations
}

// waitKey classifies one pg_stat_activity row of a worker backend.
func waitKey(state, waitType, wait, query string) string {
	w := "CPU (no wait event)"
	if waitType != "" {
		w = waitType + "/" + wait
	}
	return state + " | " + w + " | " + statementOf(query)
}

// statementOf names the statement a worker backend runs or ran last, by the text of the queries
// of pkg/invoice, pkg/contract, pkg/events and pkg/jobs.
func statementOf(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	switch {
	case strings.Contains(q, "invoice_counters"):
		return "take invoice numbers (counter row)"
	case strings.Contains(q, "FOR UPDATE OF d") && strings.Contains(q, "l.email"):
		return "lock the won deals (invoices)"
	case strings.Contains(q, "FOR UPDATE OF d"):
		return "lock the won deals (contracts)"
	case strings.HasPrefix(q, "SELECT deal_id FROM invoices"):
		return "read invoiced deals"
	case strings.HasPrefix(q, "SELECT deal_id FROM contracts"):
		return "read contracted deals"
	case strings.HasPrefix(q, "UPDATE deals SET stage"):
		return "move the deal (pipeline totals trigger)"
	case strings.HasPrefix(q, "SELECT") && strings.Contains(q, "FROM deals") && strings.HasSuffix(q, "FOR UPDATE"):
		return "lock the deal"
	case strings.HasPrefix(q, "INSERT INTO invoices"):
		return "insert invoices (with PDFs)"
	case strings.HasPrefix(q, "INSERT INTO contracts"):
		return "insert contracts (with PDFs)"
	case strings.Contains(q, "INSERT INTO events"):
		return "emit events"
	case strings.Contains(q, "INSERT INTO jobs"):
		return "enqueue jobs"
	case strings.Contains(q, "FOR UPDATE SKIP LOCKED"):
		return "claim jobs"
	case strings.HasPrefix(q, "WITH done AS") || strings.HasPrefix(q, "UPDATE jobs") || strings.Contains(q, "job_logs"):
		return "complete jobs"
	case strings.EqualFold(q, "COMMIT"):
		return "COMMIT"
	case strings.EqualFold(q, "BEGIN") || strings.Contains(q, "set_config"):
		return "BEGIN / tenant scope"
	case strings.HasPrefix(q, "LISTEN"):
		return "LISTEN"
	case q == "":
		return "(none)"
	}
	return "other: " + firstWords(q)
}

// waitRow is one line of the report's wait table.
type waitRow struct {
	key   string
	n     int
	share float64 // of the busy observations
}

// top returns the n most frequent busy classes, most frequent first.
func (w waitSample) top(n int) []waitRow {
	rows := make([]waitRow, 0, len(w.by))
	for k, c := range w.by {
		rows = append(rows, waitRow{key: k, n: c, share: float64(c) / float64(max(w.busy, 1))})
	}
	slices.SortFunc(rows, func(a, b waitRow) int {
		if a.n != b.n {
			return b.n - a.n
		}
		return strings.Compare(a.key, b.key)
	})
	return rows[:min(n, len(rows))]
}

// share is the part of the busy observations whose key contains every one of parts.
func (w waitSample) share(parts ...string) float64 {
	n := 0
	for k, c := range w.by {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(k, p)
		}
		if ok {
			n += c
		}
	}
	return float64(n) / float64(max(w.busy, 1))
}

// renderCost is the renderers' CPU time per document in this process (one goroutine, the
// process's CPU time, so garbage collection included, at the workers' GOGC).
type renderCost struct {
	n                   int
	invoice, contract   time.Duration
	invoiceB, contractB int // bytes of one document
}

// measureRender renders n invoices with invoice.PDF and n contracts of the default template, as
// the workers do, and returns the mean CPU time of each. Nothing else of this process runs
// meanwhile.
func measureRender(n int) (renderCost, error) {
	rc := renderCost{n: n}
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	at := time.Now().UTC()
	start := processCPU()
	for i := range n {
		b, err := invoice.PDF{}.RenderInvoice(invoice.Document{
			Number: invoice.Number(invoice.DefaultPrefix, at.Year(), int64(i+1)), IssuedAt: at, DueAt: at.AddDate(0, 0, 30),
			Buyer: invoice.Buyer{Company: "Company " + strconv.Itoa(i), Name: "Buyer " + strconv.Itoa(i), Email: "buyer@example.com"},
			Line:  "Deal " + strconv.Itoa(i), Amount: int64(100_000 + i), Currency: "EUR",
		})
		if err != nil {
			return rc, err
		}
		rc.invoiceB = len(b)
	}
	rc.invoice = (processCPU() - start) / time.Duration(n)
	start = processCPU()
	for i := range n {
		value, err := document.FormatAmount(int64(100_000+i), "EUR")
		if err != nil {
			return rc, fmt.Errorf("format amount: %w", err)
		}
		b, err := document.Contract(document.ContractInput{
			Title: document.DefaultContractTemplate.Title, Body: document.DefaultContractTemplate.Body, Date: at,
			Values: map[string]string{
				document.PlaceholderClientName: "Buyer " + strconv.Itoa(i), document.PlaceholderClientCompany: "Company " + strconv.Itoa(i),
				document.PlaceholderDealTitle: "Deal " + strconv.Itoa(i), document.PlaceholderDealValue: value,
				document.PlaceholderSellerName: "",
			},
		})
		if err != nil {
			return rc, fmt.Errorf("render contract: %w", err)
		}
		rc.contractB = len(b)
	}
	rc.contract = (processCPU() - start) / time.Duration(n)
	return rc, nil
}

// processCPU is the CPU time (user and system) this process has spent.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// seedMoneySQL inserts $2 converted leads into org $1 and one open deal (negotiation, value
// 1,000.00 EUR plus its number in cents) for each.
var seedMoneySQL = []string{
	`INSERT INTO leads (org_id, email, name, company, fingerprint, stage)
SELECT $1, 'buyer' || g || '@example.com', 'Buyer ' || g, 'Company ' || g || ' Ltd', 'moneybench:' || g, 'converted'
FROM generate_series(1, $2) g`,
	`INSERT INTO deals (org_id, lead_id, title, deal_value, currency, stage, probability)
SELECT org_id, id, 'Deal of ' || name, 100000 + row_number() OVER (ORDER BY id), 'EUR', 'negotiation', 0.6
FROM leads WHERE org_id = $1 LIMIT $2`,
}

// money runs the money scenario: the renderers timed in this process, then each mode on a fresh
// database.
func (b *bench) money(ctx context.Context) (*moneyResult, error) {
	o := b.opts
	m := &moneyResult{deals: o.moneyDeals, winners: o.moneyWinners, workers: o.moneyWorkers, settings: o.moneySettings}
	var err error
	if m.render, err = measureRender(500); err != nil {
		return nil, err
	}
	logf("money: render: invoice %s, contract %s per document", m.render.invoice, m.render.contract)
	for _, mode := range []string{modeLive, modeBacklog} {
		name := "bench_jobs_money_" + mode
		logf("%s: creating database", name)
		d, err := b.srv.createDB(ctx, name, o.pgSet)
		if err != nil {
			return nil, err
		}
		r, runErr := b.moneyOn(ctx, d, mode)
		if err := b.srv.dropDB(context.WithoutCancel(ctx), d, o.keep); err != nil && runErr == nil {
			runErr = err
		}
		if runErr != nil {
			return nil, fmt.Errorf("%s: %w", mode, runErr)
		}
		logf("money (%s): %d deals, every invoice and contract after %s: %.0f won deals/s", mode, m.deals,
			r.total().Round(time.Millisecond), r.rate(m.deals))
		m.runs = append(m.runs, r)
	}
	return m, nil
}

// moneyOn seeds d, wins its deals and runs the workers as mode says, then checks the outcome.
func (b *bench) moneyOn(ctx context.Context, d *benchDB, mode string) (moneyRun, error) {
	o := b.opts
	r := moneyRun{mode: mode}
	start := time.Now()
	for _, q := range seedMoneySQL {
		if _, err := d.db.Pool.Exec(ctx, q, d.org, o.moneyDeals); err != nil {
			return r, fmt.Errorf("seed: %s: %w", firstWords(q), err)
		}
	}
	if err := d.exec(ctx, "VACUUM (ANALYZE) leads", "VACUUM (ANALYZE) deals"); err != nil {
		return r, err
	}
	ids, err := selectAll[uuid.UUID](ctx, d, `SELECT id FROM deals WHERE org_id = $1 ORDER BY title`, d.org)
	if err != nil {
		return r, fmt.Errorf("read deal ids: %w", err)
	}
	if len(ids) != o.moneyDeals {
		return r, fmt.Errorf("seeded %d deals, want %d", len(ids), o.moneyDeals)
	}
	r.seed = time.Since(start)
	if err := d.checkpoint(ctx); err != nil {
		return r, err
	}

	// The winners: the deal service as the api builds it, on a pool of their own.
	wdb, err := db.Open(ctx, db.Options{URL: d.url, MaxConns: int32(o.moneyWinners), AppName: winnersAppName})
	if err != nil {
		return r, fmt.Errorf("open the winners' pool: %w", err)
	}
	defer wdb.Close()
	jobs.WakeAfterCommit(wdb) // as cli.OpenDB wires the api
	em := events.NewEmitter(d.queue, catalog.New().EventJobs)
	deals := deal.NewService(wdb, em, lead.NewService(wdb, em))
	win := func() error {
		logf("%s: winning %d deals from %d goroutines", d.name, len(ids), o.moneyWinners)
		t := time.Now()
		if err := winAll(ctx, deals, d.org, ids, o.moneyWinners); err != nil {
			return err
		}
		r.wins = time.Since(t)
		logf("%s: won in %s (%.0f/s)", d.name, r.wins.Round(time.Millisecond), perSec(len(ids), r.wins))
		var ok bool
		r.winnersCPU, ok, err = d.backendCPU(ctx, winnersAppName)
		r.winnersCPUOK = ok
		return err
	}
	if mode == modeBacklog {
		if err := win(); err != nil {
			return r, err
		}
		if err := d.exec(ctx, "ANALYZE jobs"); err != nil {
			return r, err
		}
	}

	procs := make([]*workerProc, 0, o.moneyWorkers)
	stopAll := func() (time.Duration, error) {
		var cpu time.Duration
		var errs []error
		for _, p := range procs {
			c, err := p.stop(30 * time.Second)
			cpu += c
			errs = append(errs, err)
		}
		procs = nil
		return cpu, errors.Join(errs...)
	}
	defer func() { _, _ = stopAll() }()
	startWorkers := func() error {
		logf("%s: starting %d worker(s)", d.name, o.moneyWorkers)
		for i := range o.moneyWorkers {
			p, err := startWorker(o.workerBin, d.url, o.moneySettings, o.logDir, d.name+"-w"+strconv.Itoa(i+1))
			if err != nil {
				return err
			}
			procs = append(procs, p)
		}
		return nil
	}
	if mode == modeLive {
		if err := startWorkers(); err != nil {
			return r, err
		}
		for _, p := range procs {
			if err := p.waitReady(ctx, 30*time.Second); err != nil {
				return r, err
			}
		}
	}

	sampleCtx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	sampled := make(chan [2]waitSample, 1)
	go func() {
		w, wins := sampleWaits(sampleCtx, d.url, 20*time.Millisecond)
		sampled <- [2]waitSample{w, wins}
	}()
	before := takeCPU(b.srv.postmaster)
	walBefore, err := d.walLSN(ctx)
	if err != nil {
		return r, err
	}
	t0, err := d.now(ctx)
	if err != nil {
		return r, err
	}
	var lastWin time.Time
	if mode == modeLive {
		if err := win(); err != nil {
			return r, err
		}
		if lastWin, err = d.now(ctx); err != nil {
			return r, err
		}
	} else if err := startWorkers(); err != nil {
		return r, err
	}
	timeout := max(2*time.Minute, time.Duration(len(ids))*20*time.Millisecond)
	if err := d.waitDone(ctx, timeout, 50*time.Millisecond, procs); err != nil {
		return r, err
	}
	stopSampling()
	ws := <-sampled
	r.waits, r.winnerWaits = ws[0], ws[1]
	after := takeCPU(b.srv.postmaster)
	walAfter, err := d.walLSN(ctx)
	if err != nil {
		return r, err
	}
	backendCPU, backendOK, err := d.workerBackendCPU(ctx)
	if err != nil {
		return r, err
	}
	workerCPU, err := stopAll()
	if err != nil {
		return r, err
	}
	r.cpu = cpuBetween(before, after, workerCPU)
	r.cpu.backends, r.cpu.backendsOK = backendCPU, backendOK
	r.walBytes = walAfter - walBefore
	for _, p := range procsLogs(o, d.name) {
		r.warnings += p.warnings()
	}
	if err := checkMoney(ctx, d, &r, o.moneyDeals, t0); err != nil {
		return r, err
	}
	if mode == modeLive {
		r.afterWins = t0.Add(r.total()).Sub(lastWin)
	}
	return r, nil
}

// winnersAppName is the application_name of the winners' connections.
const winnersAppName = "jobbench-win"

// procsLogs are handles on the logs of the money run's workers (for counting warnings after
// the processes have gone).
func procsLogs(o options, name string) []*workerProc {
	out := make([]*workerProc, o.moneyWorkers)
	for i := range out {
		out[i] = &workerProc{logPath: fmt.Sprintf("%s/%s-w%d.log", o.logDir, name, i+1)}
	}
	return out
}

// winAll wins every deal of ids through deals.ChangeStage, from winners goroutines taking the
// next deal as they finish one.
func winAll(ctx context.Context, deals *deal.Service, org uuid.UUID, ids []uuid.UUID, winners int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, winners)
	for w := range winners {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(ids)) || ctx.Err() != nil {
					return
				}
				if _, err := deals.ChangeStage(ctx, org, "user:jobbench", ids[i], deal.StageWon, ""); err != nil {
					errs[w] = fmt.Errorf("win deal %s: %w", ids[i], err)
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// sampleWaits polls pg_stat_activity for the worker backends of the database at url every
// interval until ctx ends, on a connection of its own.
func sampleWaits(ctx context.Context, url string, every time.Duration) (workers, winners waitSample) {
	w := waitSample{every: every, by: map[string]int{}}
	wins := waitSample{every: every, by: map[string]int{}}
	conn, err := pgx.Connect(context.WithoutCancel(ctx), url)
	if err != nil {
		logf("warning: wait sampling: %v", err)
		return w, wins
	}
	defer func() { _ = conn.Close(context.Background()) }()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return w, wins
		case <-t.C:
		}
		rows, err := conn.Query(context.WithoutCancel(ctx), `SELECT application_name, coalesce(state, ''),
	coalesce(wait_event_type, ''), coalesce(wait_event, ''), query FROM pg_stat_activity
WHERE datname = current_database() AND application_name IN ('crm-worker', $1) AND backend_type = 'client backend'`,
			winnersAppName)
		if err != nil {
			logf("warning: wait sampling: %v", err)
			return w, wins
		}
		w.samples++
		wins.samples++
		for rows.Next() {
			var app, state, wt, we, q string
			if err := rows.Scan(&app, &state, &wt, &we, &q); err != nil {
				break
			}
			to := &w
			if app == winnersAppName {
				to = &wins
			}
			if state == "idle" {
				to.idle++
				continue
			}
			to.busy++
			to.by[waitKey(state, wt, we, q)]++
		}
		rows.Close()
	}
}

// checkMoney checks the finished run against the database and fills in the run's times and
// batch sizes: one invoice and one contract per deal, each caused by the deal's deal.won, with
// its PDF stored (the contract's with its SHA-256); the invoice numbers 1..n of the year without
// a gap, the counter at n; every create_invoice and generate_contract job completed; nothing
// dead-lettered.
func checkMoney(ctx context.Context, d *benchDB, r *moneyRun, deals int, t0 time.Time) error {
	n := int64(deals)
	q := d.db.Pool
	var won, invoices, invDeals, invCaused, invPDF, contracts, conDeals, conCaused, conPDF int64
	err := q.QueryRow(ctx, `
SELECT (SELECT count(*) FROM deals WHERE org_id = $1 AND stage = 'won'),
       (SELECT count(*) FROM invoices WHERE org_id = $1),
       (SELECT count(DISTINCT deal_id) FROM invoices WHERE org_id = $1),
       (SELECT count(*) FROM invoices i JOIN events e ON e.id = i.causation_event_id
         WHERE i.org_id = $1 AND e.type = 'deal.won' AND e.entity_id = i.deal_id),
       (SELECT count(*) FROM invoices WHERE org_id = $1 AND substr(document, 1, 5) = '%PDF-'::bytea),
       (SELECT count(*) FROM contracts WHERE org_id = $1),
       (SELECT count(DISTINCT deal_id) FROM contracts WHERE org_id = $1),
       (SELECT count(*) FROM contracts c JOIN events e ON e.id = c.causation_event_id
         WHERE c.org_id = $1 AND e.type = 'deal.won' AND e.entity_id = c.deal_id),
       (SELECT count(*) FROM contracts WHERE org_id = $1 AND substr(document, 1, 5) = '%PDF-'::bytea
         AND document_sha256 = encode(sha256(document), 'hex'))`, d.org).
		Scan(&won, &invoices, &invDeals, &invCaused, &invPDF, &contracts, &conDeals, &conCaused, &conPDF)
	if err != nil {
		return fmt.Errorf("check documents: %w", err)
	}
	var errs []error
	for _, c := range []struct {
		what string
		got  int64
	}{{"won deals", won}, {"invoices", invoices}, {"invoiced deals", invDeals}, {"invoices caused by their deal.won", invCaused},
		{"invoices with a stored PDF", invPDF}, {"contracts", contracts}, {"deals with a contract", conDeals},
		{"contracts caused by their deal.won", conCaused}, {"contracts with a stored PDF and its SHA-256", conPDF}} {
		if c.got != n {
			errs = append(errs, fmt.Errorf("%d %s, want %d", c.got, c.what, n))
		}
	}

	year := time.Now().UTC().Year()
	numbers, err := selectAll[string](ctx, d, `SELECT number FROM invoices WHERE org_id = $1`, d.org)
	if err != nil {
		return fmt.Errorf("read invoice numbers: %w", err)
	}
	if gap := gaplessGap(numbers, invoice.DefaultPrefix, year, int(n)); gap != "" {
		errs = append(errs, errors.New(gap))
	}
	var last int64
	if err := q.QueryRow(ctx, `SELECT coalesce(max(last), 0) FROM invoice_counters WHERE org_id = $1`, d.org).Scan(&last); err != nil {
		return fmt.Errorf("read the counter: %w", err)
	}
	if last != n {
		errs = append(errs, fmt.Errorf("the invoice counter is at %d, want %d", last, n))
	}

	var jobsDone, jobsOther, dead int64
	err = q.QueryRow(ctx, `
SELECT count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status <> 'completed'),
       count(*) FILTER (WHERE attempts > 1), (SELECT count(*) FROM dead_letter_jobs)
FROM jobs WHERE job_type IN ('create_invoice', 'generate_contract')`).Scan(&jobsDone, &jobsOther, &r.retried, &dead)
	if err != nil {
		return fmt.Errorf("check jobs: %w", err)
	}
	if jobsDone != 2*n || jobsOther != 0 {
		errs = append(errs, fmt.Errorf("%d create_invoice and generate_contract jobs completed and %d not, want %d", jobsDone, jobsOther, 2*n))
	}
	if dead != 0 {
		errs = append(errs, fmt.Errorf("%d dead-lettered jobs", dead))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}

	var lastInv, lastCon time.Time
	if err := q.QueryRow(ctx, `SELECT (SELECT max(created_at) FROM invoices WHERE org_id = $1),
	(SELECT max(generated_at) FROM contracts WHERE org_id = $1)`, d.org).Scan(&lastInv, &lastCon); err != nil {
		return fmt.Errorf("read the last documents: %w", err)
	}
	r.lastInvoice, r.lastContract = lastInv.Sub(t0), lastCon.Sub(t0)
	for _, k := range []struct {
		sql string
		to  *batchStats
	}{{`SELECT count(*)::int FROM invoices WHERE org_id = $1 GROUP BY created_at`, &r.invoiceBatches},
		{`SELECT count(*)::int FROM contracts WHERE org_id = $1 GROUP BY generated_at`, &r.contractBatches}} {
		sizes, err := selectAll[int](ctx, d, k.sql, d.org)
		if err != nil {
			return fmt.Errorf("read batch sizes: %w", err)
		}
		*k.to = batchStatsOf(sizes)
	}
	r.checks = []string{
		fmt.Sprintf("%s deals won, each with one invoice and one contract caused by its `deal.won`, both with a stored PDF "+
			"(the contract's `document_sha256` that of its bytes)", num(float64(n))),
		fmt.Sprintf("invoice numbers %s to %s without a gap or a repeat, the counter row at %s",
			invoice.Number(invoice.DefaultPrefix, year, 1), invoice.Number(invoice.DefaultPrefix, year, n), num(float64(n))),
		fmt.Sprintf("every `create_invoice` and `generate_contract` job completed (%d after more than one attempt), none dead-lettered", r.retried),
	}
	return nil
}

// selectAll runs query on d's pool and reads its one-column rows.
func selectAll[T any](ctx context.Context, d *benchDB, query string, args ...any) ([]T, error) {
	rows, err := d.db.Pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", firstWords(query), err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[T])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", firstWords(query), err)
	}
	return out, nil
}

// gaplessGap returns "" when numbers are exactly the invoice numbers 1..n of prefix and year in
// some order, else what is wrong.
func gaplessGap(numbers []string, prefix string, year, n int) string {
	if len(numbers) != n {
		return fmt.Sprintf("%d invoice numbers, want %d", len(numbers), n)
	}
	seen := make(map[string]bool, n)
	for _, s := range numbers {
		if seen[s] {
			return "invoice number " + s + " repeated"
		}
		seen[s] = true
	}
	for i := 1; i <= n; i++ {
		if want := invoice.Number(prefix, year, int64(i)); !seen[want] {
			return "invoice number " + want + " missing"
		}
	}
	return ""
}

// moneyMarkdown renders the money scenario as the body of the "## Money" section.
func (r *report) moneyMarkdown() string {
	var s strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&s, format+"\n", args...) }
	m := r.money
	r.machineTable(p)
	p("")
	p("%s open deals (negotiation) of one org and their converted leads, seeded with `INSERT ... SELECT generate_series` "+
		"and vacuumed, a fresh database per run. %d goroutines win the deals through `deal.Service.ChangeStage` (one "+
		"tenant transaction each, as the api's `POST /deals/{id}/stage`: `deal.stage_changed`, `deal.won`, and its "+
		"`create_invoice` and `generate_contract` jobs), each taking the next deal as it finishes one; %d `bin/worker` "+
		"processes invoice them (PDF, gapless number from the org's counter row) and draw up their contracts (PDF). "+
		"Worker settings (everything else at its default): %s. *Live*: the workers run while the deals are won, timed "+
		"from the database clock before the first win to the creation of the last document. *Backlog*: every deal is "+
		"won first, then the workers start, timed from their start to the last document: the workers' own rate. "+
		"*CPU per deal* counts the worker processes and the server processes serving them over the timed span, and "+
		"(after the +) the server processes of the wins.", num(float64(m.deals)), m.winners, m.workers,
		"`"+strings.Join(m.settings, "` `")+"`")
	p("")
	p("| Run | Wins took | Last invoice | Last contract | Last document after the last win | Won deals/s (both documents) | CPU per deal: workers + their backends (+ the wins' backends) | Server CPU | Machine busy | WAL per deal | Target ≥ %d/s |", targetWonPerSec)
	p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, x := range m.runs {
		after := "–"
		if x.mode == modeLive {
			after = sec(x.afterWins)
		}
		wins := "n/a"
		if x.winnersCPUOK {
			wins = fmt.Sprintf("%.0f µs", float64(x.winnersCPU.Microseconds())/float64(max(m.deals, 1)))
		}
		target := "–"
		if x.mode == modeLive {
			target = verdict(x.rate(m.deals) >= targetWonPerSec)
		}
		p("| %s | %s | %s | %s | %s | **%s** | %s (+ %s) | %s | %.0f %% | %s | %s |", x.mode, sec(x.wins), sec(x.lastInvoice),
			sec(x.lastContract), after, num(x.rate(m.deals)), perJob(tpRun{jobs: m.deals, cpu: x.cpu}), wins, pgCPU(x.cpu),
			100*x.cpu.busy, bytesPer(x.walBytes, m.deals), target)
	}
	p("")
	for _, x := range m.runs {
		p("- Batches of the %s run (documents created in one transaction, i.e. with one creation time): invoices %s; contracts %s.",
			x.mode, batchText(x.invoiceBatches), batchText(x.contractBatches))
	}
	p("")
	rc := m.render
	live := m.live()
	p("Rendering in this process (mean of %d, one goroutine, CPU time with garbage collection at `GOGC=400`): an invoice %s (%s bytes), a contract %s (%s bytes); "+
		"both together %s per deal, %.0f %% of the workers' CPU per deal in the live run.", rc.n, usec(rc.invoice),
		num(float64(rc.invoiceB)), usec(rc.contract), num(float64(rc.contractB)), usec(rc.invoice+rc.contract),
		100*float64(rc.invoice+rc.contract)/float64(max(live.cpu.workers/time.Duration(max(m.deals, 1)), 1)))
	p("")
	for _, x := range m.runs {
		w := x.waits
		p("What the workers' PostgreSQL backends were doing in the %s run: `pg_stat_activity` polled every %s over the timed "+
			"span (%s polls), %s observations of a backend not idle (%s of idle pool connections left out). *idle in "+
			"transaction* is a batch transaction waiting for its worker process (rendering, building the next statement); "+
			"*Lock/transactionid* waits for another transaction's row lock.", x.mode, w.every, num(float64(w.samples)),
			num(float64(w.busy)), num(float64(w.idle)))
		p("")
		p("| State | Wait | Statement (current or last) | Share |")
		p("| --- | --- | --- | ---: |")
		for _, row := range w.top(10) {
			parts := strings.SplitN(row.key, " | ", 3)
			for len(parts) < 3 {
				parts = append(parts, "")
			}
			p("| %s | %s | %s | %.1f %% |", parts[0], parts[1], parts[2], 100*row.share)
		}
		p("")
		p("In all: waiting for a row lock %.1f %% (the counter row %.1f %%, the deals' rows %.1f %%), writing or flushing "+
			"WAL %.1f %%, on the CPU %.1f %%, idle in transaction (the worker's turn) %.1f %%.", 100*w.share("Lock/"),
			100*w.share("Lock/", "counter row"), 100*w.share("Lock/", "lock the won deals"),
			100*(w.share("IO/WAL")+w.share("LWLock/WAL")), 100*w.share("active | CPU"), 100*w.share("idle in transaction"))
		p("")
	}
	if w := live.winnerWaits; w.busy > 0 {
		p("What the wins' PostgreSQL backends were doing in the live run (the same polls, %s observations not idle, %s idle):",
			num(float64(w.busy)), num(float64(w.idle)))
		p("")
		p("| State | Wait | Statement (current or last) | Share |")
		p("| --- | --- | --- | ---: |")
		for _, row := range w.top(6) {
			parts := strings.SplitN(row.key, " | ", 3)
			for len(parts) < 3 {
				parts = append(parts, "")
			}
			p("| %s | %s | %s | %.1f %% |", parts[0], parts[1], parts[2], 100*row.share)
		}
		p("")
		p("In all: waiting for a row lock %.1f %%, writing or flushing WAL %.1f %%, on the CPU %.1f %%, idle in transaction "+
			"(the client's turn) %.1f %%.", 100*w.share("Lock/"), 100*(w.share("IO/WAL")+w.share("LWLock/WAL")),
			100*w.share("active | CPU"), 100*w.share("idle in transaction"))
		p("")
	}
	warn := 0
	for _, x := range m.runs {
		warn += x.warnings
	}
	p("Checked after each run: %s. Warnings or errors logged by the workers: %d.", strings.Join(live.checks, "; "), warn)
	return s.String()
}

func batchText(b batchStats) string {
	if b.batches == 0 {
		return "none"
	}
	return fmt.Sprintf("%s batches, %.1f documents each on average (median %d, largest %d)", num(float64(b.batches)), b.mean, b.p50, b.largest)
}

func usec(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d.Nanoseconds())/1000) }

// machineTable writes the machine table the sections of jobbench share.
func (r *report) machineTable(p func(string, ...any)) {
	m := r.machine
	p("Measured %s by `scripts/bench.sh` (`jobbench %s`), %s in all.",
		m.date.Format("2006-01-02 15:04 MST"), strings.Join(os.Args[1:], " "), r.took.Round(time.Second))
	p("")
	p("| Machine | |")
	p("| --- | --- |")
	p("| `nproc` | %d |", m.NProc)
	p("| CPU | %s |", m.CPU)
	p("| Memory | %s |", m.Memory)
	p("| PostgreSQL | %s, same machine; %s |", m.pgVersion, strings.Join(m.pgSettings, ", "))
	p("| Go | %s (worker built with %s) |", m.Go, orUnknown(m.workerGo))
	p("| Load average (1/5/15 min) | %s at start, %s at end |", r.startLoad, r.endLoad)
}

// Markers around the generated part of the "## Money" section.
const (
	moneyBeginMarker = "<!-- jobbench-money:begin: generated by scripts/bench.sh; edits between the markers are overwritten -->"
	moneyEndMarker   = "<!-- jobbench-money:end -->"
)

// writeMoneySection puts body between the money markers of path (benchreport.WriteSection).
func writeMoneySection(path, body string) error {
	return benchreport.WriteSection(path, "## Money", moneyBeginMarker, moneyEndMarker, body)
}
