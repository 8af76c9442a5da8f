package runtime_test

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"example.com/crm/pkg/dbtest"
	"example.com/crm/services/worker/internal/runtime"
)

// TestListenBackOffGrowsWithJitter proves the reconnection delays of the worker's LISTEN: each
// lies within ±50 % of 500 ms doubled per attempt (capped at 30 s), so they grow, and two
// workers that lost the database together draw different ones.
func TestListenBackOffGrowsWithJitter(t *testing.T) {
	t.Parallel()
	a, b := runtime.ListenBackOff(), runtime.ListenBackOff()
	a.Reset()
	b.Reset()
	same := true
	base := 500 * time.Millisecond
	for range 10 {
		da, db := a.NextBackOff(), b.NextBackOff()
		for _, d := range []time.Duration{da, db} {
			require.GreaterOrEqual(t, d, base/2)
			require.LessOrEqual(t, d, base*3/2+time.Nanosecond)
		}
		same = same && da == db
		base = min(2*base, 30*time.Second)
	}
	require.False(t, same, "two workers' delays differ (jitter)")
}

// pgProxy forwards TCP connections to PostgreSQL while up, and refuses them (closing each at
// once) while down; going down also cuts the connections it carries. It plays a database that
// goes away and comes back.
type pgProxy struct {
	ln     net.Listener
	target string
	up     atomic.Bool

	mu    sync.Mutex
	conns []net.Conn
}

func newPGProxy(t *testing.T, target string) *pgProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &pgProxy{ln: ln, target: target}
	t.Cleanup(func() {
		_ = ln.Close()
		p.down()
	})
	go p.serve()
	return p
}

func (p *pgProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.up.Load() {
			_ = c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(s, c); _ = s.Close() }()
		go func() { _, _ = io.Copy(c, s); _ = c.Close() }()
	}
}

// down refuses new connections and cuts the open ones.
func (p *pgProxy) down() {
	p.up.Store(false)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// TestListenReconnectsWithBackOff proves the LISTEN loop against a database that is down, comes
// back and goes again: while it is down the attempts are spaced by growing, jittered delays; once
// it answers the loop listens (and notifications arrive); and a connection lost after listening
// starts the delays again from the first.
func TestListenReconnectsWithBackOff(t *testing.T) {
	t.Parallel()
	cfg, err := pgx.ParseConfig(dbtest.ServerURL(t))
	require.NoError(t, err)
	proxy := newPGProxy(t, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
	addr, ok := proxy.ln.Addr().(*net.TCPAddr)
	require.True(t, ok)
	listenCfg := cfg.Copy()
	listenCfg.Host, listenCfg.Port = "127.0.0.1", uint16(addr.Port)
	listenCfg.Fallbacks = nil

	const first = 20 * time.Millisecond
	bo := &backoff.ExponentialBackOff{InitialInterval: first, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: time.Second}
	core, logs := observer.New(zapcore.WarnLevel)
	woken := make(chan struct{}, 100)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.KeepListening(ctx, listenCfg, bo, func() { woken <- struct{}{} }, zap.New(core))
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	delays := func() []time.Duration {
		var out []time.Duration
		for _, e := range logs.FilterMessage("job notifications lost; reconnecting").All() {
			d, ok := e.ContextMap()["retry_in"].(time.Duration)
			require.True(t, ok)
			out = append(out, d)
		}
		return out
	}
	eventually(t, 10*time.Second, "four failed attempts", func() bool { return len(delays()) >= 4 })
	got := delays()[:4]
	jittered := false
	for i, d := range got {
		base := first << i
		require.GreaterOrEqual(t, d, base/2, "delay %d grows: %v", i, got)
		require.LessOrEqual(t, d, base*3/2+time.Nanosecond, "delay %d: %v", i, got)
		jittered = jittered || d != base
	}
	require.True(t, jittered, "the delays are jittered: %v", got)

	proxy.up.Store(true)
	select {
	case <-woken: // listening: the producer is woken to claim what was missed
	case <-time.After(10 * time.Second):
		require.FailNow(t, "the listener did not reconnect when the database came back")
	}
	sender, err := pgx.Connect(t.Context(), dbtest.ServerURL(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = sender.Close(context.Background()) })
	_, err = sender.Exec(t.Context(), "NOTIFY jobs_inserted")
	require.NoError(t, err)
	select {
	case <-woken:
	case <-time.After(10 * time.Second):
		require.FailNow(t, "no notification arrived on the new connection")
	}

	before := len(delays())
	proxy.down()
	eventually(t, 10*time.Second, "the lost connection to be noticed", func() bool { return len(delays()) > before })
	require.LessOrEqual(t, delays()[before], first*3/2+time.Nanosecond, "the delays start again after a connection has listened")
}
