package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// machineInfo describes where the figures were taken.
type machineInfo struct {
	nproc     int
	cpu       string
	memory    string
	pg        string
	goVersion string
	loadStart string
	loadEnd   string
}

func machine(ctx context.Context, admin *pgx.Conn) machineInfo {
	m := machineInfo{nproc: runtime.NumCPU(), cpu: hostInfo("/proc/cpuinfo", "model name"), goVersion: runtime.Version(), loadStart: loadAvg()}
	if out, err := exec.Command("nproc").Output(); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil {
			m.nproc = n
		}
	}
	m.memory = hostInfo("/proc/meminfo", "MemTotal")
	if f := strings.Fields(m.memory); len(f) == 2 {
		if kb, err := strconv.ParseFloat(f[0], 64); err == nil {
			m.memory = fmt.Sprintf("%.1f GiB", kb/(1<<20))
		}
	}
	m.pg = pgSettings(ctx, admin)
	return m
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

// pct is the p-th percentile (nearest rank) of sorted durations.
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func num(f float64) string {
	s := strconv.FormatFloat(f, 'f', 0, 64)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
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
	p("| `nproc` | %d |", m.nproc)
	p("| CPU | %s |", m.cpu)
	p("| Memory | %s |", m.memory)
	p("| PostgreSQL | %s |", m.pg)
	p("| Go | %s |", m.goVersion)
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
				num(float64(m.nproc)*float64(time.Second)/float64(per)), m.nproc)
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

// writeSection puts body between the markers begin and end of path, adding them under a new
// "## Intake gateway" section at the end when they are missing. Everything outside the markers
// is kept as it is.
func writeSection(path, beginMarker, endMarker, body string) error {
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
		text = "# Benchmarks\n\n" + sectionHeading + "\n\n" + gen + "\n"
	default:
		text = strings.TrimRight(text, "\n") + "\n\n" + sectionHeading + "\n\n" + gen + "\n"
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
