-- 000003: row-level security on every tenant table (R17, R18, R19), as defence in depth under the
-- org filters the code already applies.
--
-- Roles. The owner (the role that runs these migrations) owns the tables. crm_app is a NOLOGIN
-- group role for the binaries that serve tenants (api, intake-gateway); they log in as a member of
-- it, never as the owner, and it has neither SUPERUSER nor BYPASSRLS. A cluster administrator may
-- create crm_app in advance (production); otherwise this migration creates it, which needs
-- CREATEROLE. Roles are cluster-wide, so the down migration leaves it in place.
--
-- Policies compare org_id with the transaction-local setting app.org_id, which pkg/db sets with
-- set_config('app.org_id', $1, true) at the start of every tenant transaction. Outside such a
-- transaction the setting is empty, NULLIF makes it NULL, and no row matches: a forgotten org
-- filter finds nothing rather than everything.
--
-- FORCE applies the policies to the owner too, on every table whose rows are only ever touched
-- inside a tenant transaction. The queue tables (jobs, dead_letter_jobs, job_logs, cron_tasks,
-- scheduled_tasks, idempotency_records) are not forced: the worker and the scheduler connect as
-- the owner to claim, reap, prune and schedule across all orgs, which is system work (R19: a
-- separate role, not a bypass setting in the policies). crm_app is bound by their policies all
-- the same.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'crm_app') THEN
        CREATE ROLE crm_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
EXCEPTION
    -- Another database of the cluster created it at the same moment.
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

GRANT USAGE ON SCHEMA public TO crm_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO crm_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO crm_app;
-- Tables and sequences that later migrations create (as this same owner) get the same rights;
-- their policies each migration must add itself (pkg/db's RLS test fails on a table without one).
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO crm_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO crm_app;
-- History is append-only for everyone; tenants are created by operators, not by the api.
REVOKE UPDATE, DELETE ON events FROM crm_app;
REVOKE INSERT, DELETE ON orgs FROM crm_app;
-- golang-migrate's bookkeeping: the app may read it (readiness), never write it.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM crm_app;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'api_keys', 'intake_sources', 'lead_intake_raw', 'leads', 'lead_activities', 'calls', 'deals',
        'invoices', 'contracts', 'clients', 'onboarding_tasks', 'integrity_alerts', 'reports', 'events',
        'jobs', 'dead_letter_jobs', 'job_logs', 'cron_tasks', 'scheduled_tasks', 'idempotency_records'
    ] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
            USING (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid)
            WITH CHECK (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid)$p$, t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY[
        'api_keys', 'intake_sources', 'lead_intake_raw', 'leads', 'lead_activities', 'calls', 'deals',
        'invoices', 'contracts', 'clients', 'onboarding_tasks', 'integrity_alerts', 'reports', 'events'
    ] LOOP
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    END LOOP;
END
$$;

-- orgs is keyed by id rather than org_id.
ALTER TABLE orgs ENABLE ROW LEVEL SECURITY;
ALTER TABLE orgs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON orgs
    USING (id = NULLIF(current_setting('app.org_id', true), '')::uuid)
    WITH CHECK (id = NULLIF(current_setting('app.org_id', true), '')::uuid);
