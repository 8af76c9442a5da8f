package main

// The deal scenarios of apibench: GET /deals?limit=50 (each deal with its weightedValue) and
// GET /analytics/pipeline (per open stage and currency: count, sum of dealValue and of
// weightedValue) over -deals deals (100,000 by default) in one org, measured like the lead
// scenarios and reported beside the floor in their own section of BENCHMARKS.md ("## Deals API",
// between the apibench-deals markers). -deals-only runs just the floor and these two.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/deal"
	"example.com/crm/tools/benchreport"
)

// The deal scenarios.
const (
	scDeals    = "deals"
	scPipeline = "pipeline"
)

var dealScenarios = []string{scDeals, scPipeline}

func isDealScenario(sc string) bool { return slices.Contains(dealScenarios, sc) }

// dealScenarioTitles name the deal scenarios in the report.
var dealScenarioTitles = map[string]string{
	scDeals:    "`GET /deals?limit=50`",
	scPipeline: "`GET /analytics/pipeline`",
}

// dealSeed is the seeded deals: all in one org (the seed's first), whose key the load uses.
type dealSeed struct {
	org   int // index into seed.orgs
	deals int64
	open  int64
	took  time.Duration
	size  string // pg_total_relation_size(deals)
}

// seedDealsSQL inserts $2 deals into org $1, cycling over up to $2 of its leads. One in ten is
// won and one in ten lost; of the open ones, four in ten are in discovery, two in proposal and
// two in negotiation, each with its stage's default probability except every seventh, which has
// 0.3333. Values are spread from 1 to 500,000,000 minor units in three currencies (7 in 10 EUR,
// 2 USD, 1 GBP, independently of the stage), creation times over the $3 seconds before now (a
// year for the deal scenarios), each stage changed a day after its creation.
const seedDealsSQL = `
WITH l AS (SELECT array_agg(id) AS ids FROM (SELECT id FROM leads WHERE org_id = $1 AND deleted_at IS NULL LIMIT $2) x),
g AS (
	SELECT g, CASE WHEN g % 10 < 4 THEN 'discovery' WHEN g % 10 < 6 THEN 'proposal' WHEN g % 10 < 8 THEN 'negotiation'
		WHEN g % 10 = 8 THEN 'won' ELSE 'lost' END AS stage,
		now() - ((g::bigint * 7919) % $3) * interval '1 second' AS created
	FROM generate_series(1, $2) g
)
INSERT INTO deals (org_id, lead_id, title, deal_value, currency, stage, probability, stage_changed_at, won_at, lost_at,
	lost_reason, created_at, updated_at)
SELECT $1, l.ids[1 + (g - 1) % cardinality(l.ids)], 'Bench deal ' || g,
	((g::bigint * 104729) % 500000000) + 1,
	CASE WHEN g / 10 % 10 < 7 THEN 'EUR' WHEN g / 10 % 10 < 9 THEN 'USD' ELSE 'GBP' END,
	stage,
	CASE WHEN g % 7 = 0 AND stage IN ('discovery', 'proposal', 'negotiation') THEN 0.3333
		WHEN stage = 'discovery' THEN 0.1 WHEN stage = 'proposal' THEN 0.3 WHEN stage = 'negotiation' THEN 0.6
		WHEN stage = 'won' THEN 1 ELSE 0 END,
	created + interval '1 day', CASE WHEN stage = 'won' THEN created + interval '2 days' END,
	CASE WHEN stage = 'lost' THEN created + interval '2 days' END, CASE WHEN stage = 'lost' THEN 'bench' END,
	created, created + interval '1 day'
FROM g, l`

// seedDeals replaces the deals of the seed's first org with n new ones and vacuums the table.
func (b *bench) seedDeals(ctx context.Context, n int, span time.Duration) (*dealSeed, error) {
	start := time.Now()
	ds := &dealSeed{org: 0}
	d, err := db.Open(ctx, db.Options{URL: b.seed.superURL, MaxConns: 2, AppName: "apibench"})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", b.seed.name, err)
	}
	defer d.Close()
	orgID := b.seed.orgs[ds.org].id
	if _, err := d.Pool.Exec(ctx, `DELETE FROM deals WHERE org_id = $1`, orgID); err != nil {
		return nil, fmt.Errorf("clear deals: %w", err)
	}
	if _, err := d.Pool.Exec(ctx, seedDealsSQL, orgID, n, int64(span/time.Second)); err != nil {
		return nil, fmt.Errorf("seed deals: %w", err)
	}
	if _, err := d.Pool.Exec(ctx, "VACUUM (ANALYZE) deals"); err != nil {
		return nil, fmt.Errorf("vacuum deals: %w", err)
	}
	if err := d.Pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE stage NOT IN ('won', 'lost')),
	pg_size_pretty(pg_total_relation_size('deals')) FROM deals WHERE org_id = $1`, orgID).Scan(&ds.deals, &ds.open, &ds.size); err != nil {
		return nil, fmt.Errorf("count deals: %w", err)
	}
	ds.took = time.Since(start)
	return ds, nil
}

// dealRequests returns the request maker of deal scenario sc: always the seeded org, so every
// request reads the 100,000 deals.
func dealRequests(sc string, sd *seed, ds *dealSeed) requestFunc {
	t := sd.orgs[ds.org]
	orgID := t.id.String()
	switch sc {
	case scDeals:
		want := []byte(`"weightedValue":`)
		return func(_ *rand.Rand, buf []byte) request {
			return request{raw: appendGet(buf, "/deals?limit=50", orgID, t.key), want: want}
		}
	case scPipeline:
		want := []byte(`"stages":[{"stage":"discovery","count":`)
		return func(_ *rand.Rand, buf []byte) request {
			return request{raw: appendGet(buf, "/analytics/pipeline", orgID, t.key), want: want}
		}
	}
	panic("unknown deal scenario " + sc)
}

// requests returns the request maker of any scenario.
func (b *bench) requests(sc string) requestFunc {
	if isDealScenario(sc) {
		return dealRequests(sc, b.seed, b.deals)
	}
	if sc == scDocument {
		return documentRequests(b.seed, b.docs)
	}
	return scenarioRequests(sc, b.seed)
}

// checkDeals asks the api once per deal scenario and compares the answers with the database
// read as the superuser: the first page is the org's 50 newest deals, each with the weighted
// value math/big computes from its stored value and probability, and the pipeline's counts and
// sums are those math/big computes from every deal of the org.
func (b *bench) checkDeals(ctx context.Context, addr string) ([]string, error) {
	t := b.seed.orgs[b.deals.org]
	d, err := db.Open(ctx, db.Options{URL: b.seed.superURL, MaxConns: 2, AppName: "apibench"})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", b.seed.name, err)
	}
	defer d.Close()

	// The first page.
	status, body, err := get(ctx, addr, "/deals?limit=50", t.id, t.key)
	if err != nil {
		return nil, err
	}
	var pg struct {
		Data []struct {
			ID            uuid.UUID `json:"id"`
			WeightedValue int64     `json:"weightedValue"`
		} `json:"data"`
		NextCursor *string `json:"nextCursor"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &pg) != nil {
		return nil, fmt.Errorf("GET /deals?limit=50: %d %.500s", status, body)
	}
	rows, err := d.Pool.Query(ctx, `SELECT id, deal_value, probability::text FROM deals WHERE org_id = $1
ORDER BY created_at DESC, id DESC LIMIT 51`, t.id)
	if err != nil {
		return nil, fmt.Errorf("expected deals: %w", err)
	}
	type want struct {
		id       uuid.UUID
		weighted int64
	}
	var wants []want
	for rows.Next() {
		var w want
		var v int64
		var p string
		if err := rows.Scan(&w.id, &v, &p); err != nil {
			rows.Close()
			return nil, fmt.Errorf("expected deals: %w", err)
		}
		w.weighted = bigRound(v, p).Int64()
		wants = append(wants, w)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("expected deals: %w", err)
	}
	more := len(wants) > 50
	wants = wants[:min(len(wants), 50)]
	if len(pg.Data) != len(wants) || (pg.NextCursor != nil) != more || len(wants) == 0 {
		return nil, fmt.Errorf("GET /deals?limit=50: %d deals (next cursor %v), the database has %d (more: %v)", len(pg.Data),
			pg.NextCursor != nil, len(wants), more)
	}
	for i, w := range wants {
		if pg.Data[i].ID != w.id || pg.Data[i].WeightedValue != w.weighted {
			return nil, fmt.Errorf("GET /deals?limit=50: deal %d is %s with weightedValue %d, the database says %s and %d", i,
				pg.Data[i].ID, pg.Data[i].WeightedValue, w.id, w.weighted)
		}
	}
	out := []string{"`GET /deals?limit=50` returned the org's 50 newest deals, each with the weighted value math/big computes from the stored value and probability"}

	// The pipeline.
	status, body, err = get(ctx, addr, "/analytics/pipeline", t.id, t.key)
	if err != nil {
		return nil, err
	}
	var pl deal.Pipeline
	if status != http.StatusOK || json.Unmarshal(body, &pl) != nil {
		return nil, fmt.Errorf("GET /analytics/pipeline: %d %.500s", status, body)
	}
	type key struct{ stage, currency string }
	type sums struct {
		n             int64
		sum, weighted *big.Int
	}
	expected := map[key]*sums{}
	rows, err = d.Pool.Query(ctx, `SELECT stage, currency, deal_value, probability::text FROM deals
WHERE org_id = $1 AND stage IN ('discovery', 'proposal', 'negotiation')`, t.id)
	if err != nil {
		return nil, fmt.Errorf("expected pipeline: %w", err)
	}
	for rows.Next() {
		var k key
		var v int64
		var p string
		if err := rows.Scan(&k.stage, &k.currency, &v, &p); err != nil {
			rows.Close()
			return nil, fmt.Errorf("expected pipeline: %w", err)
		}
		s := expected[k]
		if s == nil {
			s = &sums{sum: new(big.Int), weighted: new(big.Int)}
			expected[k] = s
		}
		s.n++
		s.sum.Add(s.sum, big.NewInt(v))
		s.weighted.Add(s.weighted, bigRound(v, p))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("expected pipeline: %w", err)
	}
	seen := 0
	for _, st := range pl.Stages {
		for _, c := range st.Currencies {
			s := expected[key{string(st.Stage), c.Currency}]
			if s == nil || s.n != c.Count || s.sum.String() != c.DealValue.String() || s.weighted.String() != c.WeightedValue.String() {
				return nil, fmt.Errorf("GET /analytics/pipeline: %s %s: %d deals, %s, %s; math/big over the rows: %+v", st.Stage,
					c.Currency, c.Count, c.DealValue, c.WeightedValue, s)
			}
			seen++
		}
	}
	if seen != len(expected) {
		return nil, fmt.Errorf("GET /analytics/pipeline: %d stage and currency sums, the database has %d", seen, len(expected))
	}
	out = append(out, fmt.Sprintf("`GET /analytics/pipeline` returned the count, value sum and weighted sum of each of the %d open stage and currency groups exactly as math/big computes them from the rows", seen))
	return out, nil
}

// bigRound is value × probability (its numeric text, e.g. "0.3333") rounded half away from
// zero, in arbitrary precision: the check's own arithmetic, independent of pkg/deal's.
func bigRound(value int64, probability string) *big.Int {
	r, ok := new(big.Rat).SetString(probability)
	if !ok {
		return big.NewInt(-1)
	}
	r.Mul(r, new(big.Rat).SetInt64(value))
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if new(big.Int).Mul(m, big.NewInt(2)).Cmp(r.Denom()) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	return q
}

// dealsMarkdown renders the deal scenarios as the body of the "## Deals API" section.
func (r *report) dealsMarkdown() string {
	var s strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&s, format+"\n", args...) }
	m := r.machine
	p("Measured %s by `scripts/bench.sh` (`apibench %s`), on the machine of the API section (%d cores, %s; PostgreSQL %s).",
		m.date.Format("2006-01-02 15:04 MST"), strings.Join(os.Args[1:], " "), m.NProc, m.CPU, m.pgVersion)
	p("Load average (1/5/15 min): %s at start, %s at end.", r.startLoad, r.endLoad)
	p("")
	if ds := r.deals; ds != nil {
		p("**Data**: %s deals in one org (%s open; `deals` with its indexes: %s), beside %s leads in %d orgs, seeded with one "+
			"`INSERT ... SELECT generate_series` and vacuumed in %s. Every request reads that org: the newest 50 deals "+
			"(with their weighted values), or the sums over its %s open deals.", num(float64(ds.deals)), num(float64(ds.open)), ds.size,
			num(float64(r.seed.leads)), len(r.seed.orgs), ds.took.Round(time.Millisecond), num(float64(ds.open)))
		p("")
	}
	p("**Settings**: as in the API section: `bin/api serve` bound by row-level security, `DB_MAX_CONNS=%d`, %d keep-alive "+
		"connections in a closed loop, %s warm-up, %s measured per scenario (%s).", r.opts.maxConns, r.opts.conns,
		r.opts.warmup, r.opts.duration, bestOf(r.opts.runs))
	p("")
	p("| Scenario | `LOG_LEVEL` | Requests/s | × floor | p50 | p90 | p99 | max | Errors | CPU per request: server + its backends | Machine busy |")
	p("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	floor, okF := r.find(scFloor, "")
	for _, x := range r.runs {
		if x.scenario != scFloor && !isDealScenario(x.scenario) {
			continue
		}
		lvl, title := x.level, dealScenarioTitles[x.scenario]
		if lvl == "" {
			lvl, title = "–", scenarioTitles[scFloor]
		}
		share := "–"
		if okF && floor.res.rate() > 0 {
			share = fmt.Sprintf("%.2f", x.res.rate()/floor.res.rate())
		}
		res := x.res
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %d | %s | %.0f %% |", title, lvl, num(res.rate()), share,
			ms(pct(res.lat, 50)), ms(pct(res.lat, 90)), ms(pct(res.lat, 99)), ms(pct(res.lat, 100)), res.errors, cpuPer(res),
			100*res.cpu.busy)
	}
	p("")
	head := r.opts.logLevels[0]
	var p99s []string
	for _, sc := range dealScenarios {
		if x, ok := r.find(sc, head); ok {
			v := pct(x.res.lat, 99)
			p99s = append(p99s, fmt.Sprintf("%s %s: %s", dealScenarioTitles[sc], ms(v), verdict(v <= targetP99)))
		}
	}
	if len(p99s) > 0 {
		p("- p99 ≤ %s (the API section's target) at `LOG_LEVEL=%s`: %s.", ms(targetP99), head, strings.Join(p99s, "; "))
	}
	if len(r.dealChecks) > 0 {
		p("")
		p("Checked before the load, against the database read as the superuser: %s.", strings.Join(r.dealChecks, "; "))
	}
	return s.String()
}

// hasDeals reports whether the report measured a deal scenario.
func (r *report) hasDeals() bool {
	return slices.ContainsFunc(r.runs, func(x run) bool { return isDealScenario(x.scenario) })
}

// Markers around the generated part of the "## Deals API" section.
const (
	dealsBeginMarker = "<!-- apibench-deals:begin: generated by scripts/bench.sh; edits between the markers are overwritten -->"
	dealsEndMarker   = "<!-- apibench-deals:end -->"
)

// writeDealsSection puts body between the deal markers of path (benchreport.WriteSection).
func writeDealsSection(path, body string) error {
	return benchreport.WriteSection(path, "## Deals API", dealsBeginMarker, dealsEndMarker, body)
}
