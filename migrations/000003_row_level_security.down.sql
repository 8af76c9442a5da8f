DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'orgs', 'api_keys', 'intake_sources', 'lead_intake_raw', 'leads', 'lead_activities', 'calls',
        'deals', 'invoices', 'contracts', 'clients', 'onboarding_tasks', 'integrity_alerts', 'reports',
        'events', 'jobs', 'dead_letter_jobs', 'job_logs', 'cron_tasks', 'scheduled_tasks',
        'idempotency_records'
    ] LOOP
        EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %I', t);
        EXECUTE format('ALTER TABLE %I NO FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', t);
    END LOOP;
END
$$;

ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM crm_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM crm_app;

-- crm_app is cluster-wide and may serve other databases: only this database's grants go.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM crm_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM crm_app;
REVOKE USAGE ON SCHEMA public FROM crm_app;
