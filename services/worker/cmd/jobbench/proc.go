package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// workerProc is one worker binary started as a real process.
type workerProc struct {
	cmd     *exec.Cmd
	addr    string
	logPath string
	logFile *os.File
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

// workerEnv is the complete environment of a worker process: PATH, the database, the HTTP
// address, and the given settings. Nothing else of the caller's environment leaks in, so
// "default configuration" means the defaults of pkg/config.
func workerEnv(dbURL, addr string, settings []string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "DATABASE_URL=" + dbURL, "HTTP_ADDR=" + addr}
	return append(env, settings...)
}

// startWorker starts the worker binary with the given settings; its output goes to a file in
// logDir.
func startWorker(bin, dbURL string, settings []string, logDir, name string) (*workerProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create worker log: %w", err)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = workerEnv(dbURL, addr, settings)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	w := &workerProc{cmd: cmd, addr: addr, logPath: logPath, logFile: f, exited: make(chan struct{})}
	go func() {
		w.waitErr = cmd.Wait()
		_ = f.Close()
		close(w.exited)
	}()
	return w, nil
}

// waitReady polls /readyz until the worker answers 200.
func (w *workerProc) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	last := "no answer"
	for time.Now().Before(deadline) {
		select {
		case <-w.exited:
			return fmt.Errorf("worker exited before it was ready: %v (log: %s)", w.waitErr, w.logTail())
		default:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+w.addr+"/readyz", nil)
		if err != nil {
			return fmt.Errorf("readyz request: %w", err)
		}
		if resp, err := client.Do(req); err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%s %s", resp.Status, strings.TrimSpace(string(body)))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("worker not ready after %s: /readyz: %s (a worker binary older than the migrations? rebuild it) (log: %s)", timeout, last, w.logTail())
}

// alive reports an error if the process has exited.
func (w *workerProc) alive() error {
	select {
	case <-w.exited:
		return fmt.Errorf("worker %d exited: %v (log: %s)", w.cmd.Process.Pid, w.waitErr, w.logTail())
	default:
		return nil
	}
}

// stop sends SIGTERM, waits for the exit (SIGKILL after timeout) and returns the process's CPU
// time (user + system).
func (w *workerProc) stop(timeout time.Duration) (time.Duration, error) {
	select {
	case <-w.exited:
	default:
		_ = w.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-w.exited:
		case <-time.After(timeout):
			_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
			<-w.exited
			return w.cpu(), fmt.Errorf("worker %d did not stop within %s; killed", w.cmd.Process.Pid, timeout)
		}
	}
	var exitErr *exec.ExitError
	if w.waitErr != nil && !errors.As(w.waitErr, &exitErr) {
		return w.cpu(), fmt.Errorf("wait for worker: %w", w.waitErr)
	}
	if w.waitErr != nil {
		return w.cpu(), fmt.Errorf("worker exited with %v (log: %s)", w.waitErr, w.logTail())
	}
	return w.cpu(), nil
}

func (w *workerProc) cpu() time.Duration {
	if w.cmd.ProcessState == nil {
		return 0
	}
	return w.cmd.ProcessState.UserTime() + w.cmd.ProcessState.SystemTime()
}

// logTail returns the last lines of the worker's log, for error messages.
func (w *workerProc) logTail() string {
	b, err := os.ReadFile(w.logPath)
	if err != nil {
		return "(no log)"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, "\n")
}

// warnings counts the lines at level warn or above in the worker's log (JSON lines).
func (w *workerProc) warnings() int {
	f, err := os.Open(w.logPath)
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.Contains(l, `"level":"warn"`) || strings.Contains(l, `"level":"error"`) || strings.Contains(l, `"level":"fatal"`) {
			n++
		}
	}
	return n
}

// ---------------------------------------------------------------------------- CPU accounting --

// clkTck is USER_HZ, the unit of /proc/*/stat CPU times (100 on every Linux we run on).
const clkTck = 100

// cpuSnap is a snapshot of CPU counters, so that a run can say where the machine's time went.
type cpuSnap struct {
	machBusy, machTotal uint64 // jiffies of all CPUs, /proc/stat
	pg                  uint64 // jiffies of the PostgreSQL server: postmaster, children, reaped children
	pgOK                bool
}

// takeCPU samples the counters; postmaster is the server's pid, 0 when unknown (remote server).
func takeCPU(postmaster int) cpuSnap {
	var s cpuSnap
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		if len(f) > 8 && f[0] == "cpu" {
			for i, v := range f[1:] {
				n, _ := strconv.ParseUint(v, 10, 64)
				if i >= 8 { // guest time is already counted in user
					break
				}
				s.machTotal += n
				if i != 3 && i != 4 { // idle, iowait
					s.machBusy += n
				}
			}
		}
	}
	if postmaster > 0 {
		s.pg, s.pgOK = treeJiffies(postmaster)
	}
	return s
}

// procStat returns ppid, utime+stime and cutime+cstime of pid from /proc/pid/stat.
func procStat(pid int) (ppid int, own, children uint64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime is field 14 -> f[11].
	if len(f) < 15 {
		return 0, 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	num := func(k int) uint64 { n, _ := strconv.ParseUint(f[k], 10, 64); return n }
	return ppid, num(11) + num(12), num(13) + num(14), true
}

// treeJiffies is the CPU time of pid, of its live children and of the children it has reaped:
// for the postmaster, everything the server has spent.
func treeJiffies(pid int) (uint64, bool) {
	_, own, reaped, ok := procStat(pid)
	if !ok {
		return 0, false
	}
	total := own + reaped
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return total, true
	}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, own, _, ok := procStat(child); ok && ppid == pid {
			total += own
		}
	}
	return total, true
}

// cpuUse is what a run cost.
type cpuUse struct {
	workers  time.Duration
	postgres time.Duration // the whole server: every database, background processes
	pgOK     bool
	// backends is the CPU of the server processes serving the workers' connections.
	backends   time.Duration
	backendsOK bool
	busy       float64 // share of all CPUs busy, 0..1
}

func cpuBetween(a, b cpuSnap, workers time.Duration) cpuUse {
	u := cpuUse{workers: workers, pgOK: a.pgOK && b.pgOK}
	if u.pgOK {
		u.postgres = time.Duration(b.pg-a.pg) * time.Second / clkTck
	}
	if dt := b.machTotal - a.machTotal; dt > 0 {
		u.busy = float64(b.machBusy-a.machBusy) / float64(dt)
	}
	return u
}
