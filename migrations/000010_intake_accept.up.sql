-- 000010: a transaction may defer the wake-up of the workers to after its commit.
--
-- The jobs insert trigger (000002) queues NOTIFY jobs_inserted in the inserting transaction.
-- PostgreSQL serialises the commits of all transactions that notify: each takes a database-wide
-- lock before its commit record and holds it until the commit has been flushed (async.c,
-- PreCommit_Notify), so at most one notifying commit per WAL flush gets through. The intake
-- gateway commits one small transaction per delivery, so at a thousand deliveries a second its
-- commits queued behind each other on that lock.
--
-- A transaction that sets app.jobs_notify to 'deferred' (set_config(..., true), transaction-
-- local like app.org_id) inserts its jobs without the NOTIFY; it then owes the workers one
-- after its commit, sent outside any writing transaction (intake.Acceptor does: a NOTIFY-only
-- transaction writes no WAL, so it holds the lock for microseconds). Should that NOTIFY be lost,
-- the workers' poll (WORKER_POLL_INTERVAL_MS, at most 1-2 s, R11) still finds the jobs. Every
-- other insert notifies as before.
CREATE OR REPLACE FUNCTION jobs_notify_inserted() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF coalesce(current_setting('app.jobs_notify', true), '') <> 'deferred' THEN
        PERFORM pg_notify('jobs_inserted', '');
    END IF;
    RETURN NULL;
END;
$$;
