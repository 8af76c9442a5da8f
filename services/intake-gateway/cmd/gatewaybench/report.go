package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/crm/tools/benchreport"
)

// machineInfo describes where the figures were taken.
type machineInfo struct {
	benchreport.Machine
	pg        string
	loadStart string
	loadEnd   string
}

// gatewaySettings are the server settings the report names: those that matter for the writes.
var gatewaySettings = []string{"shared_buffers", "synchronous_commit", "fsync", "wal_sync_method", "max_connections"}

func machine(ctx context.Context, admin *pgx.Conn) machineInfo {
	m := machineInfo{Machine: benchreport.DescribeMachine(), loadStart: loadAvg()}
	version, settings, err := benchreport.ServerSettings(ctx, admin, gatewaySettings...)
	if err != nil {
		m.pg = "unknown"
		return m
	}
	m.pg = version + ", same machine; " + strings.Join(settings, ", ")
	return m
}

// Shorthands of the report's formats.
var (
	loadAvg = benchreport.LoadAvg
	pct     = benchreport.Percentile
	ms      = benchreport.Millis
	num     = benchreport.Num
)

// report is what the run found.
type report struct {
	opts     options
	machine  machineInfo
	began    time.Time
	took     time.Duration
	webhook  *webhookResult
	csv      *csvResult
	pipeline *pipelineResult
}

func verdict(ok bool, missed string) string {
	if ok {
		return "met"
	}
	return "**missed** " + missed
}

// machineTable writes the measurement line and the machine table.
func (r *report) machineTable(p func(format string, args ...any)) {
	m := r.machine
	p("Measured %s by `scripts/bench.sh` (`gatewaybench -gateway %s -scenarios %s`), %s in all.", r.began.UTC().Format("2006-01-02 15:04 UTC"),
		r.opts.gateway, strings.Join(r.opts.scenarios, ","), r.took.Round(time.Second))
	p("")
	p("| Machine | |")
	p("| --- | --- |")
	p("| `nproc` | %d |", m.NProc)
	p("| CPU | %s |", m.CPU)
	p("| Memory | %s |", m.Memory)
	p("| PostgreSQL | %s |", m.pg)
	p("| Go | %s |", m.Go)
	p("| Load average (1/5/15 min) | %s at start, %s at end |", m.loadStart, m.loadEnd)
	p("")
}

// markdown is the report of the webhook and csv scenarios ("" when neither ran).
func (r *report) markdown() string {
	if r.webhook == nil && r.csv == nil {
		return ""
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	m := r.machine
	r.machineTable(p)
	if w := r.webhook; w != nil {
		p50, p90, p99, worst := pct(w.lat, 50), pct(w.lat, 90), pct(w.lat, 99), pct(w.lat, 100)
		p("### Signed webhooks at a fixed rate")
		p("")
		p("%s requests/s for %s after a %s warm-up, open loop (each request sent at its scheduled time on its own goroutine, latency from that time to the end of the answer), each a distinct signed lead, against `bin/intake-gateway` running as a `crm_app` member with the production defaults (`LOG_LEVEL=info`; accepted deliveries are logged at debug).",
			num(float64(r.opts.rate)), r.opts.duration, r.opts.warmup)
		p("")
		p("| Sent | 202 | Errors | Accepted/s | p50 | p90 | p99 | max | Rows stored (whole run) | p99 target ≤ 20 ms |")
		p("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
		p("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s |", num(float64(w.sent)), num(float64(w.accepted)), w.errors,
			num(float64(w.accepted)/w.window.Seconds()), ms(p50), ms(p90), ms(p99), ms(worst), num(float64(w.rows)),
			verdict(p99 <= 20*time.Millisecond && w.errors == 0, fmt.Sprintf("by %s", ms(p99-20*time.Millisecond))))
		if w.cpuServer >= 0 && w.sent > 0 {
			per := (w.cpuGateway + w.cpuServer) / time.Duration(w.sent)
			p("")
			p("CPU per request (load-independent): gateway %s + its PostgreSQL backends %s = %s, i.e. at most about %s requests/s if the gateway and its backends had all %d cores to themselves (the load generator, WAL writer and checkpointer not counted).",
				us(w.cpuGateway/time.Duration(w.sent)), us(w.cpuServer/time.Duration(w.sent)), us(per),
				num(float64(m.NProc)*float64(time.Second)/float64(per)), m.NProc)
		}
		if w.firstError != "" {
			p("")
			p("First error: `%s`.", w.firstError)
		}
		p("")
	}
	if c := r.csv; c != nil {
		p("### CSV upload of %s rows", num(float64(c.rows)))
		p("")
		p("One `text/csv` upload (%.1f MB, 8 columns, CRLF, a quoted comma in every row) to a fresh gateway process, streamed and stored %s rows per transaction (each row a `lead_intake_raw` row plus its `process_intake` job). Rows/s runs from the start of the request to the 202; peak RSS is `VmHWM` of the gateway process after the upload (%s before it).",
			float64(c.fileBytes)/1e6, "1,000", mib(c.idleRSS))
		p("")
		p("| Status | Accepted | Rows stored | Time | Rows/s | Peak RSS | RSS target ≤ 100 MB |")
		p("| --- | --- | --- | --- | --- | --- | --- |")
		p("| %d | %s | %s | %s | %s | %s | %s |", c.status, num(float64(c.accepted)), num(float64(c.stored)), c.took.Round(100*time.Millisecond),
			num(float64(c.accepted)/c.took.Seconds()), mib(c.peakRSS), verdict(c.peakRSS <= 100<<20, "by "+mib(c.peakRSS-100<<20)))
		if c.status != 202 {
			p("")
			p("Answer: `%s`", c.answer)
		}
		p("")
	}
	return b.String()
}

func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d.Nanoseconds())/1000) }

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

const (
	sectionHeading      = "## Intake gateway"
	beginMarker         = "<!-- gatewaybench:begin: generated by scripts/bench.sh; edits between the markers are overwritten -->"
	endMarker           = "<!-- gatewaybench:end -->"
	pipelineBeginMarker = "<!-- gatewaybench-pipeline:begin: generated by scripts/bench.sh; edits between the markers are overwritten -->"
	pipelineEndMarker   = "<!-- gatewaybench-pipeline:end -->"
)

// writeSection puts body between the markers begin and end of path, under "## Intake gateway".
func writeSection(path, beginMarker, endMarker, body string) error {
	return benchreport.WriteSection(path, sectionHeading, beginMarker, endMarker, body)
}
