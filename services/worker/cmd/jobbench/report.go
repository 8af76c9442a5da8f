package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Targets of the queue (the benchmark issue).
const (
	targetJobsPerSec = 10_000
	targetP50        = 5 * time.Millisecond
	targetP99        = 20 * time.Millisecond
	targetGrowthLoss = 0.10
)

// machineInfo describes where the figures were taken.
type machineInfo struct {
	nproc      int
	cpuModel   string
	memory     string
	pgVersion  string
	pgSettings []string
	goVersion  string
	workerGo   string
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
	if out, err := exec.Command("go", "version", b.opts.workerBin).Output(); err == nil {
		if _, v, ok := strings.Cut(strings.TrimSpace(string(out)), ": "); ok {
			m.workerGo = v
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

func ms(d time.Duration) string  { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
func sec(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
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

// markdown renders the report as the body of the "## Job queue" section.
func (r *report) markdown() string {
	var s strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&s, format+"\n", args...) }
	m := r.machine
	p("Measured %s by `scripts/bench.sh` (`jobbench %s`), %s in all.",
		m.date.Format("2006-01-02 15:04 MST"), strings.Join(os.Args[1:], " "), r.took.Round(time.Second))
	p("")
	p("| Machine | |")
	p("| --- | --- |")
	p("| `nproc` | %d |", m.nproc)
	p("| CPU | %s |", m.cpuModel)
	p("| Memory | %s |", m.memory)
	p("| PostgreSQL | %s, same machine; %s |", m.pgVersion, strings.Join(m.pgSettings, ", "))
	p("| Go | %s (worker built with %s) |", m.goVersion, orUnknown(m.workerGo))
	p("| Load average (1/5/15 min) | %s at start, %s at end |", r.startLoad, r.endLoad)
	p("")
	settings := "`" + strings.Join(r.opts.settings, "` `") + "`"

	if len(r.throughput) > 0 {
		p("### Throughput")
		p("")
		p("%s noop jobs enqueued before the workers start (`jobs.Queue.Enqueue`, %s per call; a checkpoint before the "+
			"fill, `ANALYZE jobs` after it), then the workers are started as separate processes, a fresh database per run. "+
			"*Wall* runs from the start of the processes to the last `completed_at`, *steady* from the first "+
			"`attempted_at` to the last `completed_at` (database clock). Worker settings (everything else at its "+
			"default): %s. *CPU per job* is the CPU time of the worker processes and of the server processes serving "+
			"their connections, divided by the jobs: it depends little on what else the machine does, unlike jobs/s. "+
			"*Server CPU* counts every PostgreSQL process (other databases and background work included), *machine busy* "+
			"the share of all %d cores in use, *WAL* what the server wrote per job. Claims and completions count the "+
			"statements (distinct `locked_by` and `finished_at` in `job_logs`).",
			num(float64(r.opts.jobs)), num(float64(r.opts.enqueueBatch)), settings, m.nproc)
		p("")
		p("| Workers | Run | Jobs/s (wall) | Jobs/s (steady) | Wall | CPU per job: worker + its backends | Server CPU | Machine busy | WAL per job | Claims (jobs each) | Completions (jobs each) | Enqueue |")
		p("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
		for i, t := range r.throughput {
			p("| %d | %d | %s | %s | %s | %s | %s | %.0f %% | %s | %s | %s | %s |", t.workers, 1+i%r.opts.runs, num(t.rate()),
				num(t.steadyRate()), sec(t.wall), perJob(t), pgCPU(t.cpu), 100*t.cpu.busy, bytesPer(t.walBytes, t.jobs),
				perStmt(t.claims, t.jobs), perStmt(t.completions, t.jobs), sec(t.enqueue))
		}
		p("")
		for _, w := range r.opts.workerCounts {
			var runs []tpRun
			for _, t := range r.throughput {
				if t.workers == w {
					runs = append(runs, t)
				}
			}
			best := bestRun(runs)
			p("- %d worker process(es): **%s jobs/s** (best of %d); target ≥ %s jobs/s: %s.", w, num(best.rate()), len(runs),
				num(targetJobsPerSec), verdict(best.rate() >= targetJobsPerSec))
		}
		p("")
	}
	if l := r.latency; l != nil {
		p("### Pickup latency")
		p("")
		p("One worker with the default configuration %s; %s noop jobs enqueued one at a time, each its own "+
			"autocommit `Enqueue`, at %d/s into the idle queue (sent in %s). Latency is `attempted_at - created_at` "+
			"(database clock): from the start of the enqueuing transaction to the start of the claiming one, so "+
			"it includes the enqueue's commit.", l.settings[0], num(float64(l.sent)), r.opts.latRate, sec(l.sendSpan))
		p("")
		p("| | p50 | p95 | p99 | max | Target |")
		p("| --- | ---: | ---: | ---: | ---: | --- |")
		p("| Enqueue to start | %s | %s | %s | %s | p50 ≤ %s: %s; p99 ≤ %s: %s |", ms(pct(l.pickup, 50)), ms(pct(l.pickup, 95)),
			ms(pct(l.pickup, 99)), ms(pct(l.pickup, 100)), ms(targetP50), verdict(pct(l.pickup, 50) <= targetP50),
			ms(targetP99), verdict(pct(l.pickup, 99) <= targetP99))
		p("| `Enqueue` call (client) | %s | %s | %s | %s | |", ms(pct(l.enqueueCall, 50)), ms(pct(l.enqueueCall, 95)),
			ms(pct(l.enqueueCall, 99)), ms(pct(l.enqueueCall, 100)))
		p("")
	}
	if g := r.growth; g != nil {
		p("### Growth")
		p("")
		p("An empty queue against one already holding %s completed jobs and as many `job_logs` rows (spread over "+
			"the last 6 days, inside the retention, vacuumed and analyzed), one database each, the passes alternating "+
			"between the two. *Claim loop*: %s jobs "+
			"enqueued, then claimed by one client on one connection with `jobs.Queue.Claim`, %d per call, without "+
			"completing them (fastest of %d passes; CPU is that of the server process serving the loop). *Worker run*: "+
			"the throughput run with 1 worker and the settings above (fastest of %d). Every pass deletes its jobs "+
			"and vacuums afterwards, so each pass finds the queue as the first did.",
			num(float64(g.full.history)), num(float64(r.opts.jobs)), g.claimBatch, r.opts.growthRounds, r.opts.runs)
		p("")
		p("| Queue | Claim loop, jobs/s | Claim loop, server CPU per job | Claim loop, WAL per job | Worker run, jobs/s (wall) | Worker run, CPU per job: worker + its backends | Worker run, WAL per job |")
		p("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
		ec, fc := bestClaim(g.empty.claims), bestClaim(g.full.claims)
		er, fr := bestRun(g.empty.runs), bestRun(g.full.runs)
		for _, row := range []struct {
			name string
			c    claimRun
			r    tpRun
			all  []claimRun
		}{{"Empty", ec, er, g.empty.claims}, {num(float64(g.full.history)) + " completed", fc, fr, g.full.claims}} {
			p("| %s | %s (%s) | %s | %s | %s | %s | %s |", row.name, num(row.c.rate()), claimRates(row.all), claimCPU(row.c),
				bytesPer(row.c.walBytes, row.c.jobs), num(row.r.rate()), perJob(row.r), bytesPer(row.r.walBytes, row.r.jobs))
		}
		p("| **Change** | **%s** | %s | %s | %s | %s | %s |", change(ec.rate(), fc.rate()), changeCPU(ec, fc),
			change(float64(ec.walBytes), float64(fc.walBytes)), change(er.rate(), fr.rate()), changeRunCPU(er, fr),
			change(float64(er.walBytes), float64(fr.walBytes)))
		p("")
		p("Target: claim throughput with the history within %.0f %% of the empty queue's: %s (claim loop); the worker "+
			"run changed by %s.", 100*targetGrowthLoss, verdict(fc.rate() >= (1-targetGrowthLoss)*ec.rate()), change(er.rate(), fr.rate()))
		p("")
	}
	warn := 0
	for _, t := range r.throughput {
		warn += t.warnings
	}
	if r.latency != nil {
		warn += r.latency.warnings
	}
	if r.growth != nil {
		for _, t := range append(slices.Clone(r.growth.empty.runs), r.growth.full.runs...) {
			warn += t.warnings
		}
	}
	p("Every run was checked: each job completed on its first attempt with exactly one `job_logs` row. "+
		"Warnings or errors logged by the workers: %d.", warn)
	return s.String()
}

// perJob is the CPU the workers and PostgreSQL spent per job: unlike jobs/s it hardly depends
// on what else the machine is doing.
func perJob(t tpRun) string {
	w := float64(t.cpu.workers.Microseconds()) / float64(max(t.jobs, 1))
	if !t.cpu.backendsOK {
		return fmt.Sprintf("%.0f µs + n/a", w)
	}
	return fmt.Sprintf("%.0f µs + %.0f µs", w, float64(t.cpu.backends.Microseconds())/float64(max(t.jobs, 1)))
}

func backendCPU(u cpuUse) string {
	if !u.backendsOK {
		return "n/a"
	}
	return sec(u.backends)
}

func perStmt(stmts int64, jobs int) string {
	if stmts == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%s (%.0f)", num(float64(stmts)), float64(jobs)/float64(stmts))
}

func bytesPer(b int64, jobs int) string {
	if jobs == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f kB", float64(b)/float64(jobs)/1000)
}

func claimRates(cs []claimRun) string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = num(c.rate())
	}
	return strings.Join(out, ", ")
}

func claimCPU(c claimRun) string {
	if !c.cpuOK {
		return "n/a"
	}
	return fmt.Sprintf("%.0f µs", float64(c.cpu.Microseconds())/float64(max(c.jobs, 1)))
}

func changeCPU(a, b claimRun) string {
	if !a.cpuOK || !b.cpuOK {
		return "n/a"
	}
	return change(float64(a.cpu), float64(b.cpu))
}

func changeRunCPU(a, b tpRun) string {
	if !a.cpu.backendsOK || !b.cpu.backendsOK {
		return "n/a"
	}
	return change(float64(a.cpu.workers+a.cpu.backends), float64(b.cpu.workers+b.cpu.backends))
}

func pgCPU(u cpuUse) string {
	if !u.pgOK {
		return "n/a"
	}
	return sec(u.postgres)
}

func change(from, to float64) string {
	if from == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%+.1f %%", 100*(to-from)/from)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// Markers around the generated part of the section; text outside them is kept.
const (
	beginMarker = "<!-- jobbench:begin: generated by scripts/bench.sh; edits between the markers are overwritten -->"
	endMarker   = "<!-- jobbench:end -->"
)

// writeSection puts body between the markers of the "## Job queue" section of path, creating
// the file or the section when missing.
func writeSection(path, body string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	text := string(old)
	gen := beginMarker + "\n\n" + body + "\n" + endMarker
	switch {
	case strings.Contains(text, beginMarker) && strings.Contains(text, endMarker):
		i := strings.Index(text, beginMarker)
		j := strings.Index(text, endMarker) + len(endMarker)
		text = text[:i] + gen + text[j:]
	case text == "":
		text = "# Benchmarks\n\n## Job queue\n\n" + gen + "\n"
	case strings.HasPrefix(text, "## Job queue\n") || strings.Contains(text, "\n## Job queue\n"):
		i := strings.Index(text, "## Job queue\n") + len("## Job queue\n")
		text = text[:i] + "\n" + gen + "\n" + text[i:]
	default:
		text = strings.TrimRight(text, "\n") + "\n\n## Job queue\n\n" + gen + "\n"
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
