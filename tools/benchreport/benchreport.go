// Package benchreport holds what the benchmark commands (apibench, gatewaybench, jobbench) share
// to describe where their figures were taken and to write them into BENCHMARKS.md: the machine,
// the PostgreSQL server's settings, percentiles and number formats, and the replacement of a
// generated section between its markers.
package benchreport

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Machine describes the host a benchmark ran on.
type Machine struct {
	// NProc is what nproc prints (the CPUs this process may use).
	NProc int
	// CPU is the model name of /proc/cpuinfo; Memory is MemTotal of /proc/meminfo in GiB.
	CPU, Memory string
	// Go is what `go version` prints, or this binary's Go version without a go command.
	Go string
}

// DescribeMachine reads the host's description; a field it cannot read is "unknown".
func DescribeMachine() Machine {
	m := Machine{NProc: runtime.NumCPU(), CPU: procField("/proc/cpuinfo", "model name"), Memory: "unknown", Go: runtime.Version()}
	if out, err := exec.Command("nproc").Output(); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil {
			m.NProc = n
		}
	}
	if f := strings.Fields(procField("/proc/meminfo", "MemTotal")); len(f) == 2 {
		if kb, err := strconv.ParseFloat(f[0], 64); err == nil {
			m.Memory = fmt.Sprintf("%.1f GiB", kb/(1<<20))
		}
	}
	if out, err := exec.Command("go", "version").Output(); err == nil {
		m.Go = strings.TrimSpace(string(out))
	}
	return m
}

// BinaryGo is the Go version the binary at path was built with ("" when unknown).
func BinaryGo(path string) string {
	out, err := exec.Command("go", "version", path).Output()
	if err != nil {
		return ""
	}
	_, v, _ := strings.Cut(strings.TrimSpace(string(out)), ": ")
	return v
}

// procField reads the value of key in a "key : value" file of /proc ("unknown" when absent).
func procField(file, key string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// LoadAvg is the 1, 5 and 15 minute load average ("unknown" when unreadable).
func LoadAvg() string {
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

// Querier is what ServerSettings needs of a pgx connection or pool.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// ServerSettings returns the server's version and the settings names, as "name=value" in name
// order with the value as SHOW prints it.
func ServerSettings(ctx context.Context, q Querier, names ...string) (version string, list []string, err error) {
	if err := q.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		return "", nil, fmt.Errorf("server version: %w", err)
	}
	rows, err := q.Query(ctx, `SELECT name, setting, coalesce(unit, '') FROM pg_settings WHERE name = ANY($1) ORDER BY name`, names)
	if err != nil {
		return "", nil, fmt.Errorf("server settings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, setting, unit string
		if err := rows.Scan(&name, &setting, &unit); err != nil {
			return "", nil, fmt.Errorf("server settings: %w", err)
		}
		list = append(list, name+"="+HumanSetting(setting, unit))
	}
	return version, list, rows.Err()
}

// HumanSetting turns pg_settings' (setting, unit) into what SHOW prints, for the common units.
func HumanSetting(setting, unit string) string {
	n, err := strconv.ParseInt(setting, 10, 64)
	if err != nil || unit == "" {
		return setting + unit
	}
	switch unit {
	case "8kB":
		n *= 8 << 10
	case "kB":
		n <<= 10
	case "MB":
		n <<= 20
	default:
		return setting + unit
	}
	switch {
	case n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GB"
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MB"
	default:
		return strconv.FormatInt(n>>10, 10) + "kB"
	}
}

// PGLiteral quotes s as an SQL string literal.
func PGLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Redact is the URL raw with its password hidden, for logs.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}

// Percentile is the p-th percentile (nearest rank) of sorted durations; 0 for none.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Millis formats d as milliseconds with two decimals.
func Millis(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// Num formats f rounded to an integer with thousands separators.
func Num(f float64) string {
	s := strconv.FormatFloat(f, 'f', 0, 64)
	start := 0
	if strings.HasPrefix(s, "-") {
		start = 1
	}
	for i := len(s) - 3; i > start; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// WriteSection puts body between the markers begin and end of the Markdown file path, and keeps
// everything outside them. Without the markers they go right under heading (a line such as
// "## API") when the file has it, else under a new heading at the end; without the file it is
// created.
func WriteSection(path, heading, begin, end, body string) error {
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
	case strings.HasPrefix(text, heading+"\n") || strings.Contains(text, "\n"+heading+"\n"):
		i := strings.Index(text, heading+"\n") + len(heading) + 1
		text = text[:i] + "\n" + gen + "\n" + text[i:]
	default:
		text = strings.TrimRight(text, "\n") + "\n\n" + heading + "\n\n" + gen + "\n"
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
