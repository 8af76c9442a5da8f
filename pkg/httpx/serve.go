package httpx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"example.com/crm/pkg/apperr"
)

// NewServer returns an http.Server with timeouts suited to an API behind a load balancer.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// Draining marks a server whose shutdown has begun. From Begin on, the ReadyFunc that Ready
// returns fails, so that a load balancer polling /readyz takes the instance out of rotation
// while it still answers the requests sent to it. The zero value is ready to use and safe for
// concurrent use.
type Draining struct{ on atomic.Bool }

// Begin starts the drain: readiness fails from now on.
func (d *Draining) Begin() { d.on.Store(true) }

// Ready wraps next: it fails with "shutting down" once the drain has begun and asks next
// otherwise.
func (d *Draining) Ready(next ReadyFunc) ReadyFunc {
	return func(ctx context.Context) error {
		if d.on.Load() {
			return apperr.Errorf(apperr.Unavailable, "shutting down")
		}
		return next(ctx)
	}
}

// Shutdown says how Serve stops once its context ends.
type Shutdown struct {
	// Drain is how long the server goes on serving, with readiness failing, before it stops
	// accepting requests (SHUTDOWN_DRAIN_MS): long enough for a load balancer's readiness probe
	// to see the failure and send new requests elsewhere. Zero stops at once.
	Drain time.Duration
	// Grace is how long the requests in flight when the drain ends may take to finish.
	Grace time.Duration
	// Draining is begun when the context ends; nil when the server reports no readiness.
	Draining *Draining
}

// Serve listens on srv.Addr and serves until ctx is cancelled. Then it begins stop.Draining,
// goes on serving for stop.Drain, and shuts down gracefully, giving in-flight requests up to
// stop.Grace to finish. It logs the bound address (useful with port 0).
//
// During the drain every answer closes its connection (Connection: close), so that clients
// open their next connection elsewhere, but idle keep-alive connections stay open until the
// shutdown at the drain's end: closing them when the drain begins (as SetKeepAlivesEnabled(false)
// does) fails the request a client has just sent on one, and clients retry such a failure only
// for idempotent requests, never for a webhook's POST. By the drain's end the load balancer
// has stopped sending requests here.
func Serve(ctx context.Context, srv *http.Server, stop Shutdown, log *zap.Logger) error {
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", srv.Addr, err)
	}
	var draining atomic.Bool
	srv.Handler = closeWhile(&draining, srv.Handler)
	log.Info("http server listening", zap.String("addr", ln.Addr().String()))
	errCh := make(chan error, 1)
	go func() { errCh <- srv.Serve(ln) }()
	select {
	case err := <-errCh:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	if stop.Draining != nil {
		stop.Draining.Begin()
	}
	if stop.Drain > 0 {
		draining.Store(true)
		log.Info("draining: not ready, still serving", zap.Duration("drain", stop.Drain))
		t := time.NewTimer(stop.Drain)
		select {
		case err := <-errCh:
			t.Stop()
			return fmt.Errorf("serve http: %w", err)
		case <-t.C:
		}
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), stop.Grace)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shut down http server: %w", err)
	}
	if err := <-errCh; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", err)
	}
	return nil
}

// closeWhile wraps h (http.DefaultServeMux when nil) so that its answers close their
// connections while on is set.
func closeWhile(on *atomic.Bool, h http.Handler) http.Handler {
	if h == nil {
		h = http.DefaultServeMux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if on.Load() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}
