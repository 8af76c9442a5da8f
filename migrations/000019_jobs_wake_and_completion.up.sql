-- 000019: one completion function for every path, and a deferred wake-up that no writer can forget.
--
-- Wake-up: a transaction that deferred the workers' NOTIFY (app.jobs_notify = 'deferred', 000010)
-- owes them one after its commit. The insert trigger now records that debt itself: when its
-- statement inserted at least one job (the transition table is not empty) it sets the
-- transaction-local app.jobs_inserted to 'on'. Whoever commits such a transaction (the jobs
-- package's completion, the intake acceptor's pipeline) reads the setting back in the same round
-- trip as its last statement and wakes the workers after the commit; no caller marks anything.
-- A rolled-back savepoint takes its setting with it, as it takes its rows.
CREATE OR REPLACE FUNCTION jobs_notify_inserted() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF coalesce(current_setting('app.jobs_notify', true), '') <> 'deferred' THEN
        PERFORM pg_notify('jobs_inserted', '');
    ELSIF EXISTS (SELECT 1 FROM inserted_jobs) THEN
        PERFORM set_config('app.jobs_inserted', 'on', true);
    END IF;
    RETURN NULL;
END;
$$;

DROP TRIGGER jobs_notify_insert ON jobs;
CREATE TRIGGER jobs_notify_insert
    AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS inserted_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify_inserted();

-- Completion: one statement for every path (jobs.completeSQL, a single attempt being a batch of
-- one), planned per call or prepared by the caller. complete_job and complete_jobs go; what a
-- statement cannot do itself is to fail, which the all-or-none completion of a transaction needs
-- (the COMMIT sent behind it in the same pipeline must then keep nothing): it calls
-- jobs_lease_lost, which raises SQLSTATE CJ001 (jobs.ErrLeaseLost).
CREATE FUNCTION jobs_lease_lost(p_lost bigint, p_total int) RETURNS boolean
    LANGUAGE plpgsql AS
$$
BEGIN
    RAISE EXCEPTION '% of % jobs are no longer held by their attempts', p_lost, p_total
        USING ERRCODE = 'CJ001';
END;
$$;

COMMENT ON FUNCTION jobs_lease_lost(bigint, int) IS
    'Raises CJ001: a completion found p_lost of its p_total attempts no longer holding their jobs.';

DROP FUNCTION complete_jobs(uuid[], bigint[], text[], int[], int[]);
DROP FUNCTION complete_job(uuid, bigint, text, int, int);
