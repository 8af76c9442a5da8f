package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// serverProc is a server under test (bin/api or the floor) started as a real process.
type serverProc struct {
	name    string
	cmd     *exec.Cmd
	addr    string
	appName string // its connections' application_name
	logPath string
	exited  chan struct{}
	waitErr error
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String(), nil
}

// startProc starts bin with args and exactly env (plus PATH): nothing else of the caller's
// environment leaks in, so unset settings are pkg/config's defaults. Output goes to a file in
// logDir.
func startProc(name, bin string, args, env []string, addr, appName, logDir string) (*serverProc, error) {
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create %s log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "SHUTDOWN_DRAIN_MS=0"}, env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &serverProc{name: name, cmd: cmd, addr: addr, appName: appName, logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		_ = f.Close()
		close(p.exited)
	}()
	return p, nil
}

// waitReady polls path until the process answers 200.
func (p *serverProc) waitReady(ctx context.Context, path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready: %v (log: %s)", p.name, p.waitErr, p.logTail())
		default:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+path, nil)
		if err != nil {
			return fmt.Errorf("readiness request: %w", err)
		}
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after %s (log: %s)", p.name, timeout, p.logTail())
}

// alive reports an error if the process has exited.
func (p *serverProc) alive() error {
	select {
	case <-p.exited:
		return fmt.Errorf("%s exited: %v (log: %s)", p.name, p.waitErr, p.logTail())
	default:
		return nil
	}
}

// stop sends SIGTERM and waits for the exit (SIGKILL after timeout).
func (p *serverProc) stop(timeout time.Duration) error {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(timeout):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.exited
			return fmt.Errorf("%s did not stop within %s; killed", p.name, timeout)
		}
	}
	var exitErr *exec.ExitError
	if p.waitErr != nil && !errors.As(p.waitErr, &exitErr) {
		return fmt.Errorf("wait for %s: %w", p.name, p.waitErr)
	}
	if p.waitErr != nil {
		return fmt.Errorf("%s exited with %v (log: %s)", p.name, p.waitErr, p.logTail())
	}
	return nil
}

// logTail returns the last lines of the process's log, for error messages.
func (p *serverProc) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log)"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, "\n")
}

// logLines counts the lines of the log, and those at level warn or above (JSON lines).
func (p *serverProc) logLines() (all, warnings int, firstWarning string) {
	f, err := os.Open(p.logPath)
	if err != nil {
		return 0, 0, ""
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		all++
		l := sc.Text()
		if strings.Contains(l, `"level":"warn"`) || strings.Contains(l, `"level":"error"`) || strings.Contains(l, `"level":"fatal"`) {
			if warnings == 0 {
				firstWarning = l
			}
			warnings++
		}
	}
	return all, warnings, firstWarning
}

// ---------------------------------------------------------------------------- CPU accounting --

// clkTck is USER_HZ, the unit of /proc/*/stat CPU times (100 on every Linux we run on).
const clkTck = 100

// procStat returns ppid and utime+stime (jiffies) of pid from /proc/pid/stat.
func procStat(pid int) (ppid int, own uint64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime is field 14 -> f[11].
	if len(f) < 13 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return ppid, ut + st, true
}

// machineJiffies returns busy and total jiffies of all CPUs (/proc/stat).
func machineJiffies() (busy, total uint64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0
	}
	for i, v := range f[1:] {
		if i >= 8 { // guest time is already counted in user
			break
		}
		n, _ := strconv.ParseUint(v, 10, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// selfCPU is the CPU time of this process (the load generator, during a run).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuSnap is a snapshot of the CPU counters a run is costed with.
type cpuSnap struct {
	server   uint64           // jiffies of the server process (0 when in process)
	backends map[int32]uint64 // jiffies of each server process serving its connections
	ok       bool             // backends readable (PostgreSQL on this machine)
	self     time.Duration    // this process
	busy     uint64           // machine
	total    uint64           // machine
}

// takeCPU samples the counters of server p (nil: in process) and its backends in database
// dbName, found by application_name.
func takeCPU(ctx context.Context, admin *pgx.Conn, p *serverProc, appName, dbName string) cpuSnap {
	s := cpuSnap{backends: map[int32]uint64{}, ok: true, self: selfCPU()}
	if p != nil {
		_, s.server, _ = procStat(p.cmd.Process.Pid)
	}
	rows, err := admin.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2`, dbName, appName)
	if err == nil {
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			s.ok = false
		}
		for _, pid := range pids {
			_, j, ok := procStat(int(pid))
			if !ok {
				s.ok = false
				continue
			}
			s.backends[pid] = j
		}
	} else {
		s.ok = false
	}
	s.busy, s.total = machineJiffies()
	return s
}

// cpuUse is what a measured window cost.
type cpuUse struct {
	server     time.Duration // the server process
	backends   time.Duration // its PostgreSQL backends
	backendsOK bool
	nBackends  int
	generator  time.Duration // the load generator (this process)
	busy       float64       // share of all CPUs busy, 0..1
}

func cpuBetween(a, b cpuSnap) cpuUse {
	u := cpuUse{backendsOK: a.ok && b.ok, generator: b.self - a.self, nBackends: len(b.backends)}
	u.server = time.Duration(b.server-a.server) * time.Second / clkTck
	var j uint64
	for pid, end := range b.backends {
		// A backend that appeared during the window counts from zero.
		j += end - a.backends[pid]
	}
	u.backends = time.Duration(j) * time.Second / clkTck
	if dt := b.total - a.total; dt > 0 {
		u.busy = float64(b.busy-a.busy) / float64(dt)
	}
	return u
}
