// Package runtime is the worker pool: it claims jobs in batches, runs their handlers on
// WORKER_CONCURRENCY goroutines, completes them in batches, renews leases, reaps expired leases
// of dead workers, prunes finished jobs, and drains gracefully on shutdown.
//
// # Wake-up
//
// An idle runtime sleeps until a NOTIFY on jobs_inserted (sent by the jobs insert trigger at
// commit, or by a jobs.Waker right after the commit of a handler's transaction or an intake
// delivery, see migration 000010) or the fallback poll (WORKER_POLL_INTERVAL_MS), whichever comes first, so a fresh job
// starts within milliseconds and a lost notification costs at most one poll interval (R11).
//
// # Leases (R5)
//
// Claims commit at once (status running, locked_at, locked_by = worker/nonce). Every quarter of
// WORKER_LOCK_TIMEOUT_MINUTES the runtime renews the leases it holds; a job whose lease is gone
// (reaped or released) has its context cancelled at once. When renewals keep failing (database
// unreachable) for half the lock timeout, every running job is cancelled, so no attempt runs
// past about three quarters of the lock timeout without a lease, and the reaper (horizon: the
// full lock timeout) never hands a job to a second worker while the first still runs it —
// provided handlers honour their context.
//
// # Batches
//
// Jobs of the types in Config.BatchTypes run in batches: the claimed jobs of one type and org,
// up to Config.BatchSize, share one transaction (jobs.Batch) and one slot, one handler after the
// other, and commit together with their completions. While the queue's head holds batched types
// (the last claim had one) a claim asks for BatchSize jobs per free slot, and takes only jobs
// of the oldest job's type when that type is batched (jobs.Queue.ClaimForBatches), so that
// batches fill; the jobs of other types it cannot start at once are handed back unclaimed
// (jobs.Queue.Unclaim), not hoarded. A batch that fails in any way (a handler error, a lost
// lease, the commit) is rolled back and its jobs run again one at a time, so a failure, a retry
// or a dead letter is always one job's own. A type with a batch handler (Config.BatchHandlers,
// jobs.BatchHandler) has it do the whole batch at once, under one context that a lost lease of
// any of the batch's attempts cancels; the others run their Handler once per job.
//
// # Shutdown
//
// On SIGTERM the runtime stops claiming, releases claimed jobs that have not started, lets
// running jobs finish for WORKER_SHUTDOWN_GRACE_MS, then cancels the rest, flushes pending
// completions and releases every job it still holds (pending again at once, the interrupted
// attempt not counted), so nothing waits for the reaper. A claim in flight at the signal is not
// cancelled (that could commit it on the server and lose its rows here): it runs to its end,
// within ten seconds, and the jobs it took are handed back unclaimed at once. Only a claim whose
// answer is lost with its connection leaves its jobs running until the reaper frees them.
package runtime
