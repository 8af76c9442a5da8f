// Command probe is the health check of the container images: the distroless images hold no
// shell, curl or wget, so docker compose's healthcheck runs this instead. It asks the binary in
// the same container for a path (default /readyz) on HTTP_ADDR and exits 0 when the answer is
// 200, 1 otherwise. It uses the standard library only, so the image build needs no module of
// the deploy module's tests.
//
// Usage:
//
//	probe [path]
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// timeout bounds one probe: compose's own timeout kills a probe that hangs, but a probe that
// gives up first says why.
const timeout = 3 * time.Second

func main() {
	path := "/readyz"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	if err := probe(context.Background(), os.Getenv("HTTP_ADDR"), path); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}

// probe asks http://<host of addr, loopback when it has none>/<path> and fails unless the
// answer is 200.
func probe(ctx context.Context, addr, path string) error {
	u, err := target(addr, path)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("get %s: %w", u, err)
	}
	defer func() { _ = res.Body.Close() }()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("get %s: status %d", u, res.StatusCode)
	}
	return nil
}

// target is the URL of path on the server listening at addr (HTTP_ADDR: ":8080",
// "0.0.0.0:8080" or "host:port"): an unspecified host is the loopback address.
func target(addr, path string) (string, error) {
	if addr == "" {
		return "", fmt.Errorf("HTTP_ADDR is not set")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("HTTP_ADDR %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	return "http://" + net.JoinHostPort(host, port) + path, nil
}
