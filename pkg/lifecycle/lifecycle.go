// Package lifecycle runs a binary's long-lived components until SIGINT or SIGTERM, then stops
// them: each component gets the cancelled context and returns when it has finished cleanly.
package lifecycle

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// Component is one long-lived part of a binary (an HTTP server, the worker pool, the
// scheduler). Run returns when ctx is cancelled and its work is wound down, or on a fatal error.
type Component struct {
	Name string
	Run  func(ctx context.Context) error
}

// Run starts every component and waits. The first signal cancels the context of all of them;
// when any component fails, the others are stopped too. It returns the first error.
func Run(ctx context.Context, log *zap.Logger, components ...Component) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range components {
		g.Go(func() error {
			err := c.Run(gctx)
			if err != nil {
				return fmt.Errorf("%s: %w", c.Name, err)
			}
			log.Info("component stopped", zap.String("component", c.Name))
			return nil
		})
	}
	go func() {
		<-ctx.Done()
		log.Info("shutting down")
		// A second signal is not caught any more: it ends the process at once.
		stop()
	}()
	return g.Wait()
}
