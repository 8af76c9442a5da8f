-- The workflow engine's tables: events (append-only history), jobs (the queue), dead letters and
-- per-attempt logs. Every state change writes an event, and the jobs that event triggers, in the
-- transaction of the change itself (transactional enqueue).

-- events ----------------------------------------------------------------------------------------
CREATE TABLE events (
    -- No ON DELETE CASCADE: history is append-only, so an org with events cannot be deleted by
    -- accident; offboarding a tenant is an explicit, privileged procedure.
    org_id          uuid        NOT NULL REFERENCES orgs (id),
    id              bigint      GENERATED ALWAYS AS IDENTITY,
    type            text        NOT NULL CHECK (type ~ '^[a-z_]+(\.[a-z_]+)+$'),
    entity_type     text        NOT NULL CHECK (length(entity_type) BETWEEN 1 AND 64),
    entity_id       uuid,
    payload         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    idempotency_key text        NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 512),
    actor           text        NOT NULL DEFAULT 'system',
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    -- Emitting the same event twice returns the first (R3: enforced by the index).
    CONSTRAINT events_idempotency_key UNIQUE (org_id, idempotency_key)
);
COMMENT ON TABLE events IS 'Append-only history of every state change; the database refuses UPDATE, DELETE and TRUNCATE.';
COMMENT ON COLUMN events.idempotency_key IS 'Caller-chosen key; a second emit with the same key returns the first event.';
COMMENT ON COLUMN events.actor IS 'Who caused the change: system, a job (job:<type>), an API key (apikey:<id>).';

CREATE INDEX events_entity_idx ON events (org_id, entity_type, entity_id, id);
CREATE INDEX events_type_idx ON events (org_id, type, id);

CREATE FUNCTION events_append_only() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    RAISE EXCEPTION 'events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER events_no_update_delete
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();

-- jobs ------------------------------------------------------------------------------------------
CREATE TABLE jobs (
    org_id          uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id              bigint      GENERATED ALWAYS AS IDENTITY,
    job_type        text        NOT NULL CHECK (job_type ~ '^[a-z][a-z0-9_]*$'),
    payload         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    idempotency_key text        NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 512),
    status          text        NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts    integer     NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 100),
    run_at          timestamptz NOT NULL DEFAULT now(),
    locked_at       timestamptz,
    locked_by       text,
    attempted_at    timestamptz,
    completed_at    timestamptz,
    failed_at       timestamptz,
    last_error      text,
    event_id        bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    -- Duplicate enqueue is discarded (R3). Scoped to the org so one tenant's keys can never
    -- suppress another tenant's jobs.
    CONSTRAINT jobs_idempotency_key UNIQUE (org_id, job_type, idempotency_key),
    CONSTRAINT jobs_event_fk FOREIGN KEY (org_id, event_id) REFERENCES events (org_id, id),
    CONSTRAINT jobs_running_is_locked CHECK (status <> 'running' OR (locked_at IS NOT NULL AND locked_by IS NOT NULL)),
    CONSTRAINT jobs_completed_at CHECK (status <> 'completed' OR completed_at IS NOT NULL),
    CONSTRAINT jobs_failed_at CHECK (status <> 'failed' OR failed_at IS NOT NULL)
) WITH (fillfactor = 80);
COMMENT ON TABLE jobs IS 'The work queue. pending -> running -> completed, or back to pending with backoff, or failed (dead-lettered).';
COMMENT ON COLUMN jobs.locked_by IS 'Unique per claim (worker id + claim nonce): completions and failures are fenced on it and on attempts.';
COMMENT ON COLUMN jobs.locked_at IS 'Lease start, refreshed by the holder''s heartbeat; the reaper frees leases older than the lock timeout.';
COMMENT ON COLUMN jobs.attempted_at IS 'Database time of the latest claim (enqueue-to-start latency is attempted_at - created_at).';
COMMENT ON COLUMN jobs.event_id IS 'The event whose EVENT_JOB_MAP entry enqueued this job, if any.';

-- The claim index holds only runnable rows, so finished jobs never slow a claim down however many
-- of them pile up.
CREATE INDEX jobs_claim_idx ON jobs (run_at, id) WHERE status = 'pending';
-- The reaper's and the heartbeat's view of leases.
CREATE INDEX jobs_running_idx ON jobs (locked_at) WHERE status = 'running';
-- Observability lists (status and type filters, newest first) and the pruner.
CREATE INDEX jobs_org_status_idx ON jobs (org_id, status, id DESC);
CREATE INDEX jobs_completed_idx ON jobs (completed_at) WHERE status = 'completed';

-- Wake idle workers as soon as jobs are committed (LISTEN jobs_inserted). One notification per
-- statement, not per row; PostgreSQL folds identical notifications of one transaction into one
-- and delivers them at commit, so a rolled-back enqueue wakes nobody.
CREATE FUNCTION jobs_notify_inserted() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM pg_notify('jobs_inserted', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER jobs_notify_insert
    AFTER INSERT ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify_inserted();

-- dead letters ----------------------------------------------------------------------------------
CREATE TABLE dead_letter_jobs (
    org_id       uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id           bigint      GENERATED ALWAYS AS IDENTITY,
    job_id       bigint      NOT NULL,
    job_type     text        NOT NULL,
    payload      jsonb       NOT NULL,
    attempts     integer     NOT NULL,
    last_error   text,
    reason       text        NOT NULL CHECK (reason IN ('max_attempts', 'permanent', 'reaped')),
    failed_at    timestamptz NOT NULL DEFAULT now(),
    retried_at   timestamptz,
    retried_by   text,
    PRIMARY KEY (org_id, id),
    CONSTRAINT dead_letter_jobs_job_fk FOREIGN KEY (org_id, job_id) REFERENCES jobs (org_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE dead_letter_jobs IS 'Jobs that exhausted their attempts or failed permanently; an operator may retry each once.';

-- At most one open (not yet retried) dead letter per job.
CREATE UNIQUE INDEX dead_letter_jobs_open_idx ON dead_letter_jobs (org_id, job_id) WHERE retried_at IS NULL;
CREATE INDEX dead_letter_jobs_list_idx ON dead_letter_jobs (org_id, failed_at DESC, id DESC);

-- job logs --------------------------------------------------------------------------------------
CREATE TABLE job_logs (
    org_id      uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id          bigint      GENERATED ALWAYS AS IDENTITY,
    job_id      bigint      NOT NULL,
    job_type    text        NOT NULL,
    attempt     integer     NOT NULL,
    worker      text        NOT NULL,
    outcome     text        NOT NULL CHECK (outcome IN ('completed', 'failed', 'dead', 'reaped', 'released')),
    error       text,
    duration_ms integer     NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
    finished_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id)
);
COMMENT ON TABLE job_logs IS 'One row per finished attempt. No foreign key to jobs: logs outlive pruned jobs and are pruned on their own.';
COMMENT ON COLUMN job_logs.worker IS 'The claim that ran the attempt (jobs.locked_by at the time).';

CREATE INDEX job_logs_job_idx ON job_logs (org_id, job_id, id);
CREATE INDEX job_logs_list_idx ON job_logs (org_id, id DESC);
