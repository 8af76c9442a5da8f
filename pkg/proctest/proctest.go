// Package proctest runs the real binaries as processes in tests (STYLE.md 4.6): Build compiles
// one once per test binary (from TestMain), Start runs it against a test's database and stops it
// with SIGTERM at the end of the test, logging its output when the test failed. It is for tests
// only.
package proctest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Build compiles the main package pkg (an import path such as example.com/crm/services/worker)
// into a temporary directory and returns the binary's path and a function that removes it. Call
// it from TestMain.
func Build(pkg string) (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "crm-e2e-")
	if err != nil {
		return "", nil, fmt.Errorf("temp dir: %w", err)
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	bin = filepath.Join(dir, filepath.Base(pkg))
	build := exec.Command("go", "build", "-o", bin, pkg)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("build %s: %w", pkg, err)
	}
	return bin, cleanup, nil
}

// Builds compiles main packages on first use, each once per test binary, for the binaries that
// only some tests of a package need; TestMain defers Cleanup. The zero value is ready to use.
type Builds struct {
	mu    sync.Mutex
	built map[string]*build
}

// build is one main package's compilation, done once.
type build struct {
	once    sync.Once
	bin     string
	cleanup func()
	err     error
}

// Bin returns the path of the binary of the main package pkg, building it the first time.
func (b *Builds) Bin(t *testing.T, pkg string) string {
	t.Helper()
	b.mu.Lock()
	if b.built == nil {
		b.built = map[string]*build{}
	}
	one := b.built[pkg]
	if one == nil {
		one = &build{}
		b.built[pkg] = one
	}
	b.mu.Unlock()
	one.once.Do(func() { one.bin, one.cleanup, one.err = Build(pkg) })
	require.NoError(t, one.err)
	return one.bin
}

// Cleanup removes every binary built so far.
func (b *Builds) Cleanup() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, one := range b.built {
		if one.cleanup != nil {
			one.cleanup()
		}
	}
}

// Env is the environment of a process under test: nothing from the test's own environment but
// PATH, so that no stray DATABASE_URL or CONFIG_FILE leaks in, and no shutdown drain, so that
// stopping a process takes no longer than its work does; extra entries come last and win.
func Env(dbURL string, extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"DATABASE_URL=" + dbURL,
		"HTTP_ADDR=127.0.0.1:0",
		"LOG_FORMAT=json",
		"LOG_LEVEL=info",
		"SHUTDOWN_DRAIN_MS=0",
	}
	return append(env, extra...)
}

// Proc is one running process.
type Proc struct {
	Name   string
	Cmd    *exec.Cmd
	out    *syncBuffer
	cancel context.CancelFunc
	exited chan struct{} // closed when the process has been waited for
}

// Start runs bin with args and env. At the end of the test it is stopped with SIGTERM (and
// killed if it does not exit within 20 s), and its output is logged when the test failed.
func Start(t *testing.T, bin, name string, env []string, args ...string) *Proc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	require.NoError(t, cmd.Start())
	p := &Proc{Name: name, Cmd: cmd, out: out, cancel: cancel, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cancel()
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			t.Errorf("process %s did not exit", p.Name)
		}
		if t.Failed() {
			t.Logf("output of %s (pid %d):\n%s", p.Name, p.Cmd.Process.Pid, p.out.String())
		}
	})
	return p
}

// Output returns what the process has printed so far.
func (p *Proc) Output() string { return p.out.String() }

// LogLine waits for the first JSON log line whose msg is msg and returns it.
func (p *Proc) LogLine(t *testing.T, msg string, within time.Duration) map[string]any {
	t.Helper()
	var found map[string]any
	Eventually(t, within, fmt.Sprintf("%s to log %q", p.Name, msg), func() bool {
		sc := bufio.NewScanner(strings.NewReader(p.out.String()))
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == msg {
				found = line
				return true
			}
		}
		select {
		case <-p.exited:
			require.FailNow(t, p.Name+" exited early")
		default:
		}
		return false
	})
	return found
}

// BaseURL returns http://<bound address> from the "http server listening" log line.
func (p *Proc) BaseURL(t *testing.T) string {
	t.Helper()
	addr, ok := p.LogLine(t, "http server listening", 10*time.Second)["addr"].(string)
	require.True(t, ok, "the listening line names its addr")
	return "http://" + addr
}

// WaitExit waits for the process to end and returns its wait status.
func (p *Proc) WaitExit(t *testing.T, within time.Duration) syscall.WaitStatus {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(within):
		require.FailNow(t, fmt.Sprintf("%s did not exit within %s", p.Name, within))
	}
	ws, ok := p.Cmd.ProcessState.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	return ws
}

// Signal sends sig to the process.
func (p *Proc) Signal(t *testing.T, sig os.Signal) {
	t.Helper()
	require.NoError(t, p.Cmd.Process.Signal(sig))
}

// Run runs a one-shot command of bin (e.g. migrate version) and returns its stdout; the test
// fails when it exits non-zero.
func Run(t *testing.T, bin string, env []string, args ...string) []byte {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s %v: %s", filepath.Base(bin), args, stderr.String())
	return out
}

// Eventually polls cond on the test goroutine (so cond may use require) every 50 ms until it
// holds, failing the test after within.
func Eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			require.FailNow(t, "timed out after "+within.String()+" waiting for "+what)
		}
		<-tick.C
	}
}

// syncBuffer collects a process's output; the process writes while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
