package dbtest

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Cuttable returns dbURL rewritten to reach its server through a TCP forwarder on 127.0.0.1,
// and cut, which makes the server unreachable through it as an outage does: the forwarder
// stops listening (new connections are refused) and every forwarded connection is closed.
// The server itself is untouched, so tests can go on using it directly.
func Cuttable(t testing.TB, dbURL string) (proxied string, cut func()) {
	t.Helper()
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &forwarder{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go f.serve()
	t.Cleanup(f.cut)
	u.Host = ln.Addr().String()
	return u.String(), f.cut
}

// forwarder copies bytes between accepted connections and the target until it is cut.
type forwarder struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	cutDone bool
	conns   map[net.Conn]struct{}
}

func (f *forwarder) serve() {
	for {
		in, err := f.ln.Accept()
		if err != nil {
			return // the listener is closed: cut
		}
		out, err := net.Dial("tcp", f.target)
		if err != nil || !f.track(in, out) {
			_ = in.Close()
			if out != nil {
				_ = out.Close()
			}
			continue
		}
		go f.pipe(in, out)
		go f.pipe(out, in)
	}
}

// track remembers a forwarded pair; it refuses it once the forwarder is cut.
func (f *forwarder) track(conns ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cutDone {
		return false
	}
	for _, c := range conns {
		f.conns[c] = struct{}{}
	}
	return true
}

// pipe copies src to dst; an error (a reset, or the other side closed by cut) ends the pair
// as a close does.
func (f *forwarder) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
}

func (f *forwarder) cut() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cutDone {
		return
	}
	f.cutDone = true
	_ = f.ln.Close()
	for c := range f.conns {
		_ = c.Close()
	}
}
