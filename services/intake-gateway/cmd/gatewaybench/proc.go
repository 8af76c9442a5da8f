package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// gatewayProc is one running gateway.
type gatewayProc struct {
	*child
	base string
}

// child is a process the benchmark started, with the file its output goes to.
type child struct {
	cmd *exec.Cmd
	log *os.File
	// name says whose log is kept ("gateway", "worker"); grace is how long stop waits after
	// SIGTERM before it kills.
	name     string
	grace    time.Duration
	stopOnce sync.Once
}

// startGateway runs the gateway binary as the app role with the production defaults plus extra
// settings, and waits until /readyz answers 200.
func startGateway(ctx context.Context, o options, e *benchEnv, extra ...string) (*gatewayProc, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	_ = l.Close()
	logFile, err := os.CreateTemp("", "gatewaybench-*.log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.gateway, "serve")
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"), "DATABASE_URL=" + e.appURL, "HTTP_ADDR=" + addr, "LOG_LEVEL=info", "LOG_FORMAT=json", "SHUTDOWN_DRAIN_MS=0",
	}, extra...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", o.gateway, err)
	}
	p := &gatewayProc{child: &child{cmd: cmd, log: logFile, name: "gateway", grace: 20 * time.Second}, base: "http://" + addr}
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/readyz", nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("the gateway did not become ready; its log is %s", logFile.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// peakRSS returns VmHWM of the process, in bytes.
func (p *gatewayProc) peakRSS() (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			f := strings.Fields(rest)
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", p.cmd.Process.Pid)
}

// stop sends SIGTERM, waits (killing the process after its grace) and removes its log unless
// GATEWAYBENCH_KEEP_LOGS is set; calls after the first do nothing.
func (c *child) stop() {
	c.stopOnce.Do(func() {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = c.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(c.grace):
			_ = c.cmd.Process.Kill()
			<-done
		}
		_ = c.log.Close()
		if os.Getenv("GATEWAYBENCH_KEEP_LOGS") == "" {
			_ = os.Remove(c.log.Name())
		} else {
			fmt.Fprintln(os.Stderr, c.name+" log kept:", c.log.Name())
		}
	})
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times (100 on Linux).
const clockTicks = 100

// procCPU returns the user+system CPU time of pid, false when it cannot be read.
func procCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(u+st) * time.Second / clockTicks, true
}

// cpuSnap is the CPU time of a process (or several) and of the server backends serving it.
type cpuSnap struct {
	proc     time.Duration
	backends map[int]time.Duration
}

func (p *gatewayProc) cpu(ctx context.Context, e *benchEnv) cpuSnap {
	s := cpuSnap{backends: backendCPU(ctx, e, "crm-intake-gateway")}
	s.proc, _ = procCPU(p.cmd.Process.Pid)
	return s
}

// backendCPU returns the CPU time of each server backend of the bench database whose
// application_name is app (empty when the server is not on this machine).
func backendCPU(ctx context.Context, e *benchEnv, app string) map[int]time.Duration {
	out := map[int]time.Duration{}
	rows, err := e.admin.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = $2`, app, e.dbName)
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) == nil {
			if c, ok := procCPU(pid); ok {
				out[pid] = c
			}
		}
	}
	return out
}

// cpuBetween returns the process's and its backends' CPU time from a to b (-1 for the backends
// when the server is not on this machine).
func cpuBetween(a, b cpuSnap) (proc, backends time.Duration) {
	if len(b.backends) == 0 {
		return b.proc - a.proc, -1
	}
	for pid, c := range b.backends {
		backends += c - a.backends[pid]
	}
	return b.proc - a.proc, backends
}
