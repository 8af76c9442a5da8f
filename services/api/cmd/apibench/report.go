package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"
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
	nproc      int
	cpuModel   string
	memory     string
	pgVersion  string
	pgSettings []string
	goVersion  string
	apiGo      string
	date       time.Time
}

func (b *bench) machine(ctx context.Context) (machineInfo, error) {
	m := machineInfo{nproc: goruntime.NumCPU(), cpuModel: "unknown", memory: "unknown", goVersion: goruntime.Version(), date: time.Now().UTC()}
	if out, err := exec.Command("nproc").Output(); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil {
			m.nproc = n
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpuModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
					m.memory = fmt.Sprintf("%.1f GiB", kb/(1<<20))
				}
			}
		}
	}
	if out, err := exec.Command("go", "version").Output(); err == nil {
		m.goVersion = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("go", "version", b.opts.apiBin).Output(); err == nil {
		if _, v, ok := strings.Cut(strings.TrimSpace(string(out)), ": "); ok {
			m.apiGo = v
		}
	}
	var err error
	m.pgVersion, m.pgSettings, err = b.srv.settings(ctx)
	return m, err
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// pct is the p-th percentile (nearest rank) of sorted durations.
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.999999) - 1
	i = min(max(i, 0), len(sorted)-1)
	return sorted[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d.Nanoseconds())/1000) }

func num(f float64) string {
	s := strconv.FormatInt(int64(f+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

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
	p("| `nproc` | %d |", m.nproc)
	p("| CPU | %s |", m.cpuModel)
	p("| Memory | %s |", m.memory)
	p("| PostgreSQL | %s, same machine; %s |", m.pgVersion, strings.Join(m.pgSettings, ", "))
	p("| Go | %s (api built with %s) |", m.goVersion, orUnknown(m.apiGo))
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
		if isDealScenario(x.scenario) {
			continue // reported in their own section (dealsMarkdown)
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
	return writeMarked(path, "## API", beginMarker, endMarker, body)
}

// writeMarked puts body between the markers begin and end of path, creating the file or the
// section (headed heading, at the end) when missing; everything outside the markers is kept.
func writeMarked(path, heading, begin, end, body string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	text := string(old)
	gen := begin + "\n\n" + body + "\n" + end
	switch {
	case strings.Contains(text, begin) && strings.Contains(text, end):
		i := strings.Index(text, begin)
		j := strings.Index(text, end) + len(end)
		text = text[:i] + gen + text[j:]
	case text == "":
		text = "# Benchmarks\n\n" + heading + "\n\n" + gen + "\n"
	default:
		text = strings.TrimRight(text, "\n") + "\n\n" + heading + "\n\n" + gen + "\n"
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
