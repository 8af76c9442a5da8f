// Package runtime is the worker pool: it claims jobs in batches, works them through their kinds
// (jobs.Kind) on WORKER_CONCURRENCY goroutines, completes them in batches, renews leases, reaps expired leases
// of dead workers, prunes finished jobs, and drains gracefully on shutdown.
//
// # Wake-up
//
// An idle runtime sleeps until a NOTIFY on jobs_inserted (sent by the jobs insert trigger at
// commit, or by a jobs.Waker right after the commit of a job's transaction, a request's or an
// intake delivery that inserted jobs, see jobs.InsertedSQL) or the fallback poll (WORKER_POLL_INTERVAL_MS),
// whichever comes first, so a fresh job starts within milliseconds and a lost notification costs
// at most one poll interval.
//
// # Leases
//
// Claims commit at once (status running, locked_at, locked_by = worker/nonce). An attempt's lease
// is proven up to the moment the statement that last set its locked_at was sent, its claim or a
// renewal that renewed it: locked_at is the database clock at a later moment, and the reaper frees
// a lease only a full WORKER_LOCK_TIMEOUT_MINUTES after locked_at. Every quarter of the lock
// timeout the runtime renews the leases it holds, on a database connection of its own
// (jobs.Renewer), so that renewals never queue for the pool behind the work they protect, and with
// a statement that skips rows locked by others (jobs.Renewer.Heartbeat), so that they never wait
// behind, or deadlock with, the completions of the same jobs. A failed renewal is retried after an
// eighth of the renewal interval. A job whose lease is found gone (reaped or released) has its
// context cancelled at once; an attempt whose lease has not been proven for three quarters of the
// lock timeout (renewals failing, the database unreachable, its row locked away) is cancelled then,
// before the reaper can hand the job to a second worker, and each renewal is bounded by the moment
// the next attempt must stop. So no attempt runs while its lease may have expired, provided its
// handler returns within a quarter of the lock timeout of its cancellation, and no attempt is
// stopped while its lease is still renewable.
//
// # Batches
//
// The runtime alone groups jobs. Jobs of a jobs.Shared kind run in batches: the claimed jobs of
// one kind and org, up to Config.BatchSize, go to one call of the kind's work, under one context
// that a lost lease of any of them cancels, in one transaction (jobs.Batch) and one slot, and
// commit together with their completions. Jobs of a jobs.Alone kind run one per slot. While the
// queue's head holds shared kinds (the last claim had one) a claim asks for BatchSize jobs per
// free slot, and takes only jobs of the oldest job's kind when that kind is shared
// (jobs.Queue.ClaimForBatches), so that batches fill; the jobs of other kinds it cannot start at
// once are handed back unclaimed (jobs.Queue.Unclaim, which logs each hand-back as released), not
// hoarded.
//
// Before the work, each job's payload is decoded into its kind's arguments; a job whose payload
// does not decode is dead-lettered alone. A batch that fails in any way (an error or panic of the
// work, a lost lease, the commit) is rolled back and its jobs run again one at a time, each a
// batch of one, so a failure, a retry or a dead letter is always one job's own. Work that wrote
// nothing (it never opened its transaction) is completed by the background completer.
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
