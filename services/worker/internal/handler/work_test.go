package handler_test

import (
	"context"
	"fmt"

	"example.com/crm/pkg/jobs"
)

// kindOf is the kind named name among kinds.
func kindOf(kinds []jobs.Kind, name string) (jobs.Kind, error) {
	for _, k := range kinds {
		if k.Name() == name {
			return k, nil
		}
	}
	return jobs.Kind{}, fmt.Errorf("no kind %q", name)
}

// workOne works job through its kind among kinds as the runtime does a job alone: its payload
// decoded (an error is permanent), its work in a batch of one, committed with the job's
// completion when the work wrote anything. The run is Completed when it committed.
func workOne(ctx context.Context, q *jobs.Queue, kinds []jobs.Kind, job *jobs.Job) (*jobs.Run, error) {
	k, err := kindOf(kinds, job.Type)
	if err != nil {
		return nil, err
	}
	b, err := q.NewBatch([]*jobs.Job{job})
	if err != nil {
		return nil, err
	}
	defer b.Rollback(ctx)
	run := b.Runs()[0]
	arg, err := k.Decode(job)
	if err != nil {
		return run, err
	}
	if err := k.Work(ctx, b, []*jobs.Job{job}, []any{arg}); err != nil {
		return run, err
	}
	if !b.Opened() {
		return run, nil
	}
	return run, b.Commit(ctx)
}

// workBatch works claimed jobs of one kind and org together, as the runtime does a batch: every
// payload decoded first (the first that does not decode is returned, and nothing runs), then one
// call of the kind's work in one transaction, committed with the jobs' completions.
func workBatch(ctx context.Context, q *jobs.Queue, kinds []jobs.Kind, claimed []*jobs.Job) error {
	k, err := kindOf(kinds, claimed[0].Type)
	if err != nil {
		return err
	}
	args := make([]any, len(claimed))
	for i, j := range claimed {
		if args[i], err = k.Decode(j); err != nil {
			return err
		}
	}
	b, err := q.NewBatch(claimed)
	if err != nil {
		return err
	}
	defer b.Rollback(ctx)
	if err := k.Work(ctx, b, claimed, args); err != nil {
		return err
	}
	return b.Commit(ctx)
}
