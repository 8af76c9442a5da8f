package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"

	"github.com/google/uuid"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/cli"
	"example.com/crm/pkg/jobs"
)

// enqueueCmd is `worker enqueue`: it puts count jobs of one type on the queue and prints their
// ids. Keys default to a fresh random one per job, so a repeat of the command enqueues again;
// pass --key to make it idempotent (with --count N the keys are KEY-1..KEY-N).
func enqueueCmd(ctx context.Context, env cli.Env) error {
	const usage = "enqueue --org ID [--type noop] [--payload JSON] [--count N] [--key K]"
	fs := flag.NewFlagSet("enqueue", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	orgFlag := fs.String("org", "", "org id")
	jobType := fs.String("type", jobs.KindNoop, "job type")
	payload := fs.String("payload", "{}", "job payload (a JSON object)")
	count := fs.Int("count", 1, "number of jobs (1..100000)")
	key := fs.String("key", "", "idempotency key")
	if err := fs.Parse(env.Args); err != nil || fs.NArg() > 0 {
		return cli.Usagef(usage)
	}
	orgID, err := uuid.Parse(*orgFlag)
	if err != nil {
		return cli.Usagef("--org must be an org id (uuid)")
	}
	if kinds := catalog.New().KindNames(); !slices.Contains(kinds, *jobType) {
		return cli.Usagef("--type %q is not a job type (one of %v)", *jobType, kinds)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(*payload), &obj); err != nil {
		return cli.Usagef("--payload must be a JSON object: %v", err)
	}
	if *count < 1 || *count > 100_000 {
		return cli.Usagef("--count must be 1..100000")
	}
	batch := make([]jobs.NewJob, *count)
	for i := range batch {
		k := "cli:" + uuid.NewString()
		switch {
		case *key != "" && *count == 1:
			k = *key
		case *key != "":
			k = fmt.Sprintf("%s-%d", *key, i+1)
		}
		batch[i] = jobs.NewJob{OrgID: orgID, Type: *jobType, Payload: json.RawMessage(*payload), IdempotencyKey: k}
	}
	d, err := cli.OpenDB(ctx, env, "crm-worker-cli")
	if err != nil {
		return err
	}
	defer d.Close()
	q := jobs.New(d, jobs.Config{BaseDelay: env.Config.Jobs.BaseDelay, MaxAttempts: env.Config.Jobs.MaxAttempts})
	ids, err := q.Enqueue(ctx, d.Gorm, batch...)
	if err != nil {
		return err
	}
	return json.NewEncoder(env.Stdout).Encode(map[string]any{"enqueued": len(ids), "jobIds": ids})
}
