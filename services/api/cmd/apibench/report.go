package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"example.com/crm/tools/benchreport"
)

// Targets of the API (the API issue).
const (
	targetFloorShare = 0.7
	targetP99        = 25 * time.Millisecond
)

// scenarioTitles name the scenarios in the report.
var scenarioTitles = map[string]string{
	scFloor:  "floor: `GET /leads/{id}`",
	scGet:    "`GET /leads/{id}`",
	scList:   "`GET /leads?limit=50`",
	scSearch: "`GET /leads?q=<company prefix>&limit=50`",
}

// machineInfo describes where the figures were taken.
type machineInfo struct {
	benchreport.Machine
	pgVersion  string
	pgSettings []string
	apiGo      string
	date       time.Time
}

// apiSettings are the server settings the report names: those that matter for the reads.
var apiSettings = []string{"shared_buffers", "synchronous_commit", "fsync", "max_connections", "work_mem",
	"effective_cache_size", "random_page_cost", "jit", "plan_cache_mode", "wal_compression", "autovacuum"}

func (b *bench) machine(ctx context.Context) (machineInfo, error) {
	m := machineInfo{Machine: benchreport.DescribeMachine(), apiGo: benchreport.BinaryGo(b.opts.apiBin), date: time.Now().UTC()}
	var err error
	m.pgVersion, m.pgSettings, err = benchreport.ServerSettings(ctx, b.srv.admin, apiSettings...)
	return m, err
}

// Shorthands of the report's formats.
var (
	loadAvg = benchreport.LoadAvg
	pct     = benchreport.Percentile
	ms      = benchreport.Millis
	num     = benchreport.Num
)

func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d.Nanoseconds())/1000) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// find returns the run of scenario sc at level ("" for the floor).
func (r *report) find(sc, level string) (run, bool) {
	for _, x := range r.runs {
		if x.scenario == sc && x.level == level {
			return x, true
		}
	}
	return run{}, false
}

// markdown renders the report as the body of the "## API" section.
func (r *report) markdown() string {
	var s strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&s, format+"\n", args...) }
	m := r.machine
	p("Measured %s by `scripts/bench.sh` (`apibench %s`), %s in all.",
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
	sd := r.seed
	if sd != nil {
		p("**Data**: %s leads in %d orgs (`leads` with its indexes: %s), seeded and vacuumed in %s. The search asks "+
			"for the first word of a company name (\"Korbalix\" of \"Korbalix Labs\", one of %s such words), which "+
			"finds %s leads of an org (%.2f %% of them) through name, email and company.", num(float64(sd.leads)),
			len(sd.orgs), sd.size, sd.took.Round(time.Second), num(float64(len(sd.words))), num(r.matches), 100*r.matches/float64(max(sd.leads/int64(max(len(sd.orgs), 1)), 1)))
		p("")
	}
	extra := ""
	if len(r.opts.apiEnv) > 0 {
		extra = ", `" + strings.Join(r.opts.apiEnv, "`, `") + "`"
	}
	defaults := "(`LOG_LEVEL=info`, `LOG_FORMAT=json`: one access-log line per request, to a file; " +
		"`API_KEY_CACHE_TTL_MS=5000`: a key is checked against the database once per 5 s)"
	if len(r.opts.apiEnv) > 0 {
		defaults = "(README, \"Configuration\")"
	}
	p("**Settings**: `bin/api serve` as a member of `crm_app` (row-level security in force), `DB_MAX_CONNS=%d`%s, "+
		"every other setting at its default %s; the rows at `LOG_LEVEL=warn` show what the access log costs. "+
		"The floor has a pgx pool of the same size. Load: %d keep-alive connections, closed loop, %s warm-up, then "+
		"%s measured per scenario (%s), random leads, orgs and words of the seed.",
		r.opts.maxConns, extra, defaults, r.opts.conns, r.opts.warmup, r.opts.duration, bestOf(r.opts.runs))
	p("")
	p("| Scenario | `LOG_LEVEL` | Requests/s | p50 | p90 | p99 | max | Errors | CPU per request: server + its backends | Load generator CPU per request | Machine busy |")
	p("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, x := range r.runs {
		if isDealScenario(x.scenario) || x.scenario == scDocument {
			continue // reported in their own sections (dealsMarkdown, documentsMarkdown)
		}
		lvl := x.level
		if lvl == "" {
			lvl = "–"
		}
		res := x.res
		p("| %s | %s | %s | %s | %s | %s | %s | %d | %s | %s | %.0f %% |", scenarioTitles[x.scenario], lvl, num(res.rate()),
			ms(pct(res.lat, 50)), ms(pct(res.lat, 90)), ms(pct(res.lat, 99)), ms(pct(res.lat, 100)), res.errors,
			cpuPer(res), us(res.perRequest(res.cpu.generator)), 100*res.cpu.busy)
	}
	p("")
	head := r.opts.logLevels[0]
	floor, okF := r.find(scFloor, "")
	if g, ok := r.find(scGet, head); ok && okF && floor.res.rate() > 0 {
		share := g.res.rate() / floor.res.rate()
		p("- `GET /leads/{id}`: **%s requests/s = %.2f × the floor's %s** (target ≥ %.1f ×): %s.", num(g.res.rate()), share,
			num(floor.res.rate()), targetFloorShare, verdict(share >= targetFloorShare))
	}
	var p99s []string
	for _, sc := range []string{scGet, scList, scSearch} {
		if x, ok := r.find(sc, head); ok {
			v := pct(x.res.lat, 99)
			p99s = append(p99s, fmt.Sprintf("%s %s: %s", scenarioTitles[sc], ms(v), verdict(v <= targetP99)))
		}
	}
	if len(p99s) > 0 {
		p("- p99 ≤ %s at `LOG_LEVEL=%s`: %s.", ms(targetP99), head, strings.Join(p99s, "; "))
	}
	for _, a := range r.apiRuns {
		p("- The api at `LOG_LEVEL=%s` wrote %s log lines; warnings or errors among them: %d.", a.level, num(float64(a.logLines)), a.warnings)
	}
	p("")
	if len(r.checks) > 0 {
		p("Checked before the load, against the database read as the superuser: %s; the api's connections "+
			"logged in as `%s` only.", strings.Join(r.checks, "; "), appRole)
	}
	return s.String()
}

func bestOf(runs int) string {
	if runs == 1 {
		return "one run each"
	}
	return fmt.Sprintf("the best of %d runs", runs)
}

// cpuPer is the CPU the server and its PostgreSQL backends spent per request.
func cpuPer(r loadResult) string {
	srv := us(r.perRequest(r.cpu.server))
	if !r.cpu.backendsOK {
		return srv + " + n/a"
	}
	return srv + " + " + us(r.perRequest(r.cpu.backends))
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// Markers around the generated part of the section; text outside them is kept.
const (
	beginMarker = "<!-- apibench:begin: generated by scripts/bench.sh; edits between the markers are overwritten -->"
	endMarker   = "<!-- apibench:end -->"
)

// writeSection puts body between the markers of the "## API" section of path, creating the file
// or the section (at the end) when missing. Everything outside the markers, the other sections
// included, is kept as it is.
func writeSection(path, body string) error {
	return benchreport.WriteSection(path, "## API", beginMarker, endMarker, body)
}
