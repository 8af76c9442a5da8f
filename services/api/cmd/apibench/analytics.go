package main

// The analytics benchmark of apibench (-analytics-only): one org with -leads leads (1,000,000,
// created over two years) and -deals deals (100,000), beside -analytics-other-orgs more orgs with
// -analytics-other-leads leads between them, and through the real bin/api the figures of
// /analytics/funnel, /velocity, /dashboard and /pipeline of the large org, GET /leads/{id}/timeline
// and GET /leads/{id}?asOf= of a lead of that org with 1,000 events, and GET /leads/{id} beside
// them, each measured like the lead scenarios. A route that does not answer 200 yet (404 or 400
// before it is built) is reported "not served" instead of measured. Reported in its own section
// of BENCHMARKS.md ("## Analytics API", between the apibench-analytics markers).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/org"
	"example.com/crm/tools/benchreport"
)

// The analytics seed: the large org's leads are created over two years, so that the default
// window (the last 90 days) holds about an eighth of them and the two-year funnel all of them.
const (
	analyticsLeadSpan  = 730 * 24 * time.Hour
	analyticsDealSpan  = 365 * 24 * time.Hour
	analyticsEvents    = 1_000 // events of the lead whose timeline and asOf are measured
	targetAnalyticsP95 = 100 * time.Millisecond
)

// analyticsScenario is one measured route.
type analyticsScenario struct {
	name, title string
	path        string // with the query
	want        []byte // bytes a 200 body must contain
	status      int    // the status of the probe before the load
	// history marks the routes of the lead's history, built in parallel: a 200 without want (the
	// lead as it is now, asOf ignored) is reported not served too.
	history   bool
	notServed string // why the route was not measured
	res       loadResult
}

// analyticsReport is what -analytics-only measured.
type analyticsReport struct {
	otherOrgs, otherLeads int
	deals                 *dealSeed
	rebuilt               time.Duration // the projections' rebuild after the bulk load
	historyTook           time.Duration // the 1,000 events of the history lead through the api
	checks                []string
	scenarios             []*analyticsScenario
}

// rebuildProjectionsSQL rebuilds the lead projections of migrations 000033 and 000037 with their backfill: the
// bulk load of the leads runs with triggers off (insertLeads), so lead_funnel and
// lead_stage_totals are filled afterwards from the leads, their stage events and their won deals;
// lead_funnel's insert trigger fills lead_funnel_days.
const rebuildProjectionsSQL = `
TRUNCATE lead_funnel, lead_funnel_days, lead_stage_totals;
INSERT INTO lead_funnel (org_id, lead_id, created_at, source, step, alive, qualified_at)
SELECT l.org_id, l.id, l.created_at, coalesce(l.source, ''),
    greatest(lead_funnel_step(l.stage),
        coalesce((SELECT max(lead_funnel_step(e.payload ->> 'to')) FROM events e
                  WHERE e.org_id = l.org_id AND e.entity_type = 'lead' AND e.entity_id = l.id
                    AND e.type = 'lead.stage_changed'), 0),
        CASE WHEN EXISTS (SELECT FROM deals d WHERE d.org_id = l.org_id AND d.lead_id = l.id AND d.stage = 'won')
            THEN 5 ELSE 0 END),
    l.deleted_at IS NULL, l.qualified_at
FROM leads l;
INSERT INTO lead_stage_totals (org_id, stage, shard, lead_count)
SELECT org_id, stage, 0, count(*) FROM leads WHERE deleted_at IS NULL GROUP BY 1, 2;
`

// analyticsRuns seeds the other orgs and the deals, rebuilds the projections, starts bin/api,
// writes the history lead's events through it and measures every route.
func (b *bench) analyticsRuns(ctx context.Context, rep *report) error {
	ar := &analyticsReport{otherOrgs: b.opts.analyticsOtherOrgs, otherLeads: b.opts.analyticsOtherLeads}
	rep.analytics = ar
	d, err := db.Open(ctx, db.Options{URL: b.seed.superURL, MaxConns: 2, AppName: "apibench"})
	if err != nil {
		return fmt.Errorf("open %s: %w", b.seed.name, err)
	}
	defer d.Close()
	if !b.opts.reuse && ar.otherOrgs > 0 {
		others := make([]uuid.UUID, ar.otherOrgs)
		for i := range others {
			c, err := org.Create(ctx, d, fmt.Sprintf("Bench Other Org %02d", i+1))
			if err != nil {
				return fmt.Errorf("create other org %d: %w", i+1, err)
			}
			others[i] = c.OrgID
		}
		if err := insertLeads(ctx, d, others, ar.otherLeads, analyticsLeadSpan); err != nil {
			return err
		}
	}
	if ar.deals, err = b.seedDeals(ctx, b.opts.deals, analyticsDealSpan); err != nil {
		return err
	}
	b.deals, rep.deals = ar.deals, ar.deals
	logf("seed: %s deals in the org, %s, ready in %s", num(float64(ar.deals.deals)), ar.deals.size, ar.deals.took.Round(time.Millisecond))
	t := time.Now()
	if _, err := d.Pool.Exec(ctx, rebuildProjectionsSQL); err != nil {
		return fmt.Errorf("rebuild the lead projections: %w", err)
	}
	if _, err := d.Pool.Exec(ctx, "VACUUM (ANALYZE) lead_funnel, lead_funnel_days, lead_stage_totals, deals, leads"); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	ar.rebuilt = time.Since(t)
	logf("seed: lead projections rebuilt in %s", ar.rebuilt.Round(time.Millisecond))

	addr, err := freeAddr()
	if err != nil {
		return err
	}
	level := b.opts.logLevels[0]
	p, err := startProc("api-"+level, b.opts.apiBin, []string{"serve"}, b.apiEnv(addr, level), addr, apiAppName, b.opts.logDir)
	if err != nil {
		return err
	}
	defer func() { _ = p.stop(15 * time.Second) }()
	if err := p.waitReady(ctx, "/readyz", 30*time.Second); err != nil {
		return err
	}
	big := b.seed.orgs[0]
	t = time.Now()
	historyLead, asOf, err := b.historyLead(ctx, p.addr, big)
	if err != nil {
		return err
	}
	ar.historyTook = time.Since(t)
	logf("history lead %s: %d events in %s", historyLead, analyticsEvents, ar.historyTook.Round(time.Millisecond))
	if ar.checks, err = b.checkAnalytics(ctx, p.addr, big); err != nil {
		return fmt.Errorf("analytics correctness check: %w", err)
	}
	var sampled []string
	for _, l := range b.seed.sample {
		if l.org == 0 {
			sampled = append(sampled, l.id.String())
		}
	}
	twoYears := url.Values{"from": {time.Now().Add(-analyticsLeadSpan - 24*time.Hour).UTC().Format(time.RFC3339)}}.Encode()
	ar.scenarios = []*analyticsScenario{
		{name: "get", title: "`GET /leads/{id}` (random leads of the org)", want: []byte(`"id":"`)},
		{name: "funnel", title: "`GET /analytics/funnel` (last 90 days)", path: "/analytics/funnel", want: []byte(`"steps":[{"step":"created"`)},
		{name: "funnel-2y", title: "`GET /analytics/funnel?from=<2 years ago>` (every lead)", path: "/analytics/funnel?" + twoYears, want: []byte(`"steps":[{"step":"created"`)},
		{name: "velocity", title: "`GET /analytics/velocity?currency=EUR` (last 90 days)", path: "/analytics/velocity?currency=EUR", want: []byte(`"currency":"EUR"`)},
		{name: "dashboard", title: "`GET /analytics/dashboard` (last 90 days)", path: "/analytics/dashboard", want: []byte(`"leads":{"created":`)},
		{name: "pipeline", title: "`GET /analytics/pipeline`", path: "/analytics/pipeline", want: []byte(`"won":{"stage":"won"`)},
		{name: "timeline", title: "`GET /leads/{id}/timeline` (a lead with 1,000 events)", path: "/leads/" + historyLead + "/timeline",
			want: []byte(`"data":[`), history: true},
		{name: "asof", title: "`GET /leads/{id}?asOf=<mid-history>` (a lead with 1,000 events)",
			path: "/leads/" + historyLead + "?" + url.Values{"asOf": {asOf.UTC().Format(time.RFC3339Nano)}}.Encode(),
			want: []byte(fmt.Sprintf(`"notes":"apibench history note %d"`, analyticsEvents/2)), history: true},
	}
	for _, sc := range ar.scenarios {
		next := analyticsRequests(sc, big, sampled)
		probe := next(rand.New(rand.NewPCG(1, 2)), nil)
		status, body, err := rawGet(ctx, p.addr, probe.raw)
		if err != nil {
			return fmt.Errorf("probe %s: %w", sc.name, err)
		}
		sc.status = status
		switch {
		case status != http.StatusOK:
			sc.notServed = fmt.Sprintf("not served (%d)", status)
		case !bytes.Contains(body, sc.want) && sc.history:
			sc.notServed = "not served (200 with the lead as it is now)"
		case !bytes.Contains(body, sc.want):
			return fmt.Errorf("probe %s: body without %s: %s", sc.name, sc.want, firstLine(body))
		}
		if sc.notServed != "" {
			logf("%s: %s: %s", sc.name, sc.notServed, firstLine(body))
			continue
		}
		res, err := runLoad(ctx, loadConfig{
			addr: p.addr, conns: b.opts.conns, warmup: b.opts.warmup, duration: b.opts.duration, next: next,
			sample: func() cpuSnap { return takeCPU(ctx, b.srv.admin, p, apiAppName, b.seed.name) },
		})
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		if err := p.alive(); err != nil {
			return err
		}
		sc.res = res
		logf("%s: %s req/s, p50 %s, p95 %s, p99 %s, %d errors%s", sc.name, num(res.rate()), ms(pct(res.lat, 50)),
			ms(pct(res.lat, 95)), ms(pct(res.lat, 99)), res.errors, firstErr(res))
	}
	return p.stop(15 * time.Second)
}

// analyticsRequests returns the request maker of sc: a random sampled lead of the org for "get",
// else sc's path.
func analyticsRequests(sc *analyticsScenario, t tenant, sampled []string) requestFunc {
	orgID := t.id.String()
	if sc.name == "get" {
		return func(rng *rand.Rand, buf []byte) request {
			id := sampled[rng.IntN(len(sampled))]
			return request{raw: appendGet(buf, "/leads/"+id, orgID, t.key), want: []byte(`"id":"` + id + `"`)}
		}
	}
	return func(_ *rand.Rand, buf []byte) request {
		return request{raw: appendGet(buf, sc.path, orgID, t.key), want: sc.want}
	}
}

// rawGet sends one raw request on its own connection and returns the status and body.
func rawGet(_ context.Context, addr string, raw []byte) (int, []byte, error) {
	c, err := dial(addr)
	if err != nil {
		return 0, nil, err
	}
	defer c.close()
	status, body, _, err := c.roundTrip(raw)
	return status, body, err
}

func firstLine(b []byte) string {
	s := string(b)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// historyLead creates a lead of t through the api and gives it analyticsEvents events in all
// (lead.created and then PATCHes of its notes, each a lead.updated), and returns its id and the
// instant after its first half of events.
func (b *bench) historyLead(ctx context.Context, addr string, t tenant) (string, time.Time, error) {
	send := func(method, path string, body any) ([]byte, error) {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+t.key)
		req.Header.Set("X-Org-Id", t.id.String())
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer func() { _ = res.Body.Close() }()
		out, err := io.ReadAll(res.Body)
		if err != nil {
			return nil, err
		}
		if res.StatusCode >= 300 {
			return nil, fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, firstLine(out))
		}
		return out, nil
	}
	out, err := send(http.MethodPost, "/leads", map[string]any{"email": fmt.Sprintf("history.%d@apibench.example", time.Now().UnixNano()),
		"name": "History Lead", "company": "Apibench History", "source": "web form"})
	if err != nil {
		return "", time.Time{}, err
	}
	var l struct{ ID string }
	if err := json.Unmarshal(out, &l); err != nil {
		return "", time.Time{}, fmt.Errorf("created lead: %w", err)
	}
	var mid time.Time
	for i := 1; i < analyticsEvents; i++ {
		if _, err := send(http.MethodPatch, "/leads/"+l.ID, map[string]any{"notes": fmt.Sprintf("apibench history note %d", i)}); err != nil {
			return "", time.Time{}, err
		}
		if i == analyticsEvents/2 {
			mid = time.Now()
		}
	}
	return l.ID, mid, nil
}

// checkAnalytics asks the api once for the large org's default funnel and dashboard and compares
// their lead counts with the leads table read as the superuser over the window the api reports.
func (b *bench) checkAnalytics(ctx context.Context, addr string, t tenant) ([]string, error) {
	status, body, err := get(ctx, addr, "/analytics/funnel", t.id, t.key)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("funnel: %d %s", status, firstLine(body))
	}
	var f struct {
		From, To time.Time
		Steps    []struct{ Count int64 }
	}
	if err := json.Unmarshal(body, &f); err != nil {
		return nil, fmt.Errorf("funnel: %w", err)
	}
	var want, converted int64
	d, err := db.Open(ctx, db.Options{URL: b.seed.superURL, MaxConns: 1, AppName: "apibench"})
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if err := d.Pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE stage = 'converted' OR EXISTS (
    SELECT FROM deals x WHERE x.org_id = l.org_id AND x.lead_id = l.id AND x.stage = 'won'))
FROM leads l WHERE org_id = $1 AND deleted_at IS NULL AND created_at >= $2 AND created_at < $3`, t.id, f.From, f.To).
		Scan(&want, &converted); err != nil {
		return nil, fmt.Errorf("count leads: %w", err)
	}
	if len(f.Steps) != 6 || f.Steps[0].Count != want || f.Steps[4].Count != converted {
		return nil, fmt.Errorf("funnel of [%s, %s): created %d, converted or won %d; the leads table: %d, %d",
			f.From, f.To, f.Steps[0].Count, f.Steps[4].Count, want, converted)
	}
	return []string{fmt.Sprintf("the funnel of the last 90 days counts the %s leads the leads table has in its window, and %s of them converted or won",
		num(float64(want)), num(float64(converted)))}, nil
}

// analyticsMarkdown renders the "## Analytics API" section's generated part.
func (r *report) analyticsMarkdown() string {
	ar := r.analytics
	var s strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&s, format+"\n", args...) }
	m := r.machine
	p("Measured %s by `scripts/bench.sh` (`apibench %s`), %s in all, on a machine busy with other work "+
		"(builds and test suites of other sessions) at the same time: the figures are upper bounds.",
		m.date.Format("2006-01-02 15:04 MST"), strings.Join(os.Args[1:], " "), r.took.Round(time.Second))
	p("")
	p("| Machine | |")
	p("| --- | --- |")
	p("| `nproc` | %d |", m.NProc)
	p("| CPU | %s |", m.CPU)
	p("| Memory | %s |", m.Memory)
	p("| PostgreSQL | %s, same machine; %s |", m.pgVersion, strings.Join(m.pgSettings, ", "))
	p("| Go | %s (api built with %s) |", m.Go, orUnknown(m.apiGo))
	p("| Load average (1/5/15 min) | %s at start, %s at end |", r.startLoad, r.endLoad)
	p("")
	if sd := r.seed; sd != nil && ar != nil {
		p("**Data**: one org with %s leads created over the last %d days and %s deals (%s open, created over the last %d days; "+
			"`deals`: %s), beside %d other orgs with %s leads between them (`leads` with its indexes, all orgs: %s); leads "+
			"bulk-loaded with triggers off, so the lead projections of migration 000033 were rebuilt afterwards with its "+
			"backfill (%s). The history lead was created through the api and patched %s times (%s events, written in %s).",
			num(float64(sd.leads)), int(analyticsLeadSpan.Hours()/24), num(float64(ar.deals.deals)), num(float64(ar.deals.open)),
			int(analyticsDealSpan.Hours()/24), ar.deals.size, ar.otherOrgs, num(float64(ar.otherLeads)), sd.size,
			ar.rebuilt.Round(time.Second), num(analyticsEvents-1), num(analyticsEvents), ar.historyTook.Round(time.Second))
		p("")
	}
	p("**Settings**: `bin/api serve` as a member of `crm_app` (row-level security in force), `LOG_LEVEL=%s`, `DB_MAX_CONNS=%d`. "+
		"Load: %d keep-alive connections, closed loop, %s warm-up, then %s measured per route; every answer must be 200 "+
		"with the route's expected bytes. A route that answered anything but 200 to a probe before its load is reported "+
		"*not served* (not built yet on this branch).", r.opts.logLevels[0], r.opts.maxConns, r.opts.conns, r.opts.warmup, r.opts.duration)
	p("")
	if ar == nil {
		return s.String()
	}
	for _, c := range ar.checks {
		p("Checked: %s.", c)
	}
	p("")
	p("| Route | Requests/s | p50 | p95 | p99 | max | Errors | CPU per request: server + its backends | p95 ≤ %s |", ms(targetAnalyticsP95))
	p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, sc := range ar.scenarios {
		if sc.notServed != "" {
			p("| %s | %s | | | | | | | |", sc.title, sc.notServed)
			continue
		}
		res := sc.res
		p("| %s | %s | %s | %s | %s | %s | %d | %s | %s |", sc.title, num(res.rate()), ms(pct(res.lat, 50)), ms(pct(res.lat, 95)),
			ms(pct(res.lat, 99)), ms(pct(res.lat, 100)), res.errors, cpuPer(res), verdict(pct(res.lat, 95) <= targetAnalyticsP95))
	}
	return s.String()
}

// hasAnalytics reports whether the report measured the analytics routes.
func (r *report) hasAnalytics() bool { return r.analytics != nil }

// Markers around the generated part of the "## Analytics API" section.
const (
	analyticsBeginMarker = "<!-- apibench-analytics:begin: generated by scripts/bench.sh; edits between the markers are overwritten -->"
	analyticsEndMarker   = "<!-- apibench-analytics:end -->"
)

// writeAnalyticsSection puts body between the analytics markers of path (benchreport.WriteSection).
func writeAnalyticsSection(path, body string) error {
	return benchreport.WriteSection(path, "## Analytics API", analyticsBeginMarker, analyticsEndMarker, body)
}
