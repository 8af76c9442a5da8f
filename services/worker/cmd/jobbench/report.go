package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"example.com/crm/tools/benchreport"
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
	benchreport.Machine
	pgVersion  string
	pgSettings []string
	workerGo   string
	date       time.Time
}

// queueSettings are the server settings the report names: those that matter for the queue.
var queueSettings = []string{"shared_buffers", "synchronous_commit", "fsync", "wal_sync_method", "max_wal_size",
	"checkpoint_timeout", "max_connections", "work_mem", "commit_delay", "wal_level", "full_page_writes",
	"wal_compression", "autovacuum"}

func (b *bench) machine(ctx context.Context) (machineInfo, error) {
	m := machineInfo{Machine: benchreport.DescribeMachine(), workerGo: benchreport.BinaryGo(b.opts.workerBin), date: time.Now().UTC()}
	var err error
	m.pgVersion, m.pgSettings, err = benchreport.ServerSettings(ctx, b.srv.admin, queueSettings...)
	return m, err
}

// Shorthands of the report's formats.
var (
	loadAvg = benchreport.LoadAvg
	pct     = benchreport.Percentile
	ms      = benchreport.Millis
	num     = benchreport.Num
)

func sec(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

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
	r.machineTable(p)
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
			num(float64(r.opts.jobs)), num(float64(r.opts.enqueueBatch)), settings, m.NProc)
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

// writeSection puts body between the markers of the "## Job queue" section of path.
func writeSection(path, body string) error {
	return benchreport.WriteSection(path, "## Job queue", beginMarker, endMarker, body)
}
