// Package handler holds the worker's job handlers, one per job type, and the registry that maps
// job types to them. Handlers are thin: they decode their payload and call a pkg domain package.
// A job type whose domain is not built yet answers with a permanent "not implemented" error, so
// nothing silently succeeds.
package handler

import (
	"context"
	"fmt"

	"example.com/crm/pkg/jobs"
)

// Registry returns the handler of every job type of the system.
func Registry() map[string]jobs.Handler {
	reg := make(map[string]jobs.Handler, len(jobs.AllTypes))
	for _, t := range jobs.AllTypes {
		reg[t] = notImplemented(t)
	}
	reg[jobs.TypeNoop] = Noop
	return reg
}

func notImplemented(jobType string) jobs.Handler {
	return func(context.Context, *jobs.Run) error {
		return jobs.Permanent(fmt.Errorf("%s: %w", jobType, jobs.ErrNotImplemented))
	}
}
