-- 000017: a worker's claim of one job type reads that type's runnable jobs only.
--
-- jobs.Queue.ClaimForBatches takes, when the oldest runnable job is of a type the worker runs in
-- batches, only jobs of that type, so that batches fill. Through jobs_claim_idx (run_at, id) it
-- would step over every runnable job of the other types first: nothing while the types come
-- interleaved, but the whole backlog when the type is rare in a long queue of others. This index
-- holds the pending jobs by type, so such a claim reads its own type's jobs in run_at order. Like
-- jobs_claim_idx it is partial, so a job leaves it when it is claimed and finished jobs never
-- fill it.
CREATE INDEX jobs_claim_type_idx ON jobs (job_type, run_at, id) WHERE status = 'pending';
