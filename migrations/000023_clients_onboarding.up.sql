-- 000023: clients and their onboarding as issue #15 builds them: causation on both, and the org's
-- onboarding checklist template.
--
-- create_client (on invoice.paid) inserts one client per paid invoice (unique since 000001 on
-- (org_id, invoice_id)); start_onboarding (on client.created) inserts the org's checklist as
-- the client's tasks (unique on (org_id, client_id, position)). Both record the event whose job
-- created the row, so the chain deal -> invoice -> client -> tasks can be walked back.
ALTER TABLE clients
    ADD COLUMN causation_event_id bigint,
    ADD COLUMN onboarded_at timestamptz;
COMMENT ON COLUMN clients.causation_event_id IS 'The invoice.paid event whose create_client job created the client.';
COMMENT ON COLUMN clients.onboarded_at IS 'When every onboarding task was done or skipped (client.onboarded, emitted once).';

ALTER TABLE onboarding_tasks ADD COLUMN causation_event_id bigint;
COMMENT ON COLUMN onboarding_tasks.causation_event_id IS 'The client.created event whose start_onboarding job created the task.';

-- onboarding_settings is the org's GET/PUT /settings/onboarding: {tasks: [{title, dueInDays}]}.
-- An org without a row has the default checklist (pkg/client).
CREATE TABLE onboarding_settings (
    org_id     uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    settings   jsonb       NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id)
);
COMMENT ON TABLE onboarding_settings IS 'Onboarding checklist template of an org (PUT /settings/onboarding); no row means the default.';

-- Row-level security exactly as on the other tenant tables (000003, 000021).
ALTER TABLE onboarding_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE onboarding_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON onboarding_settings
    USING (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid)
    WITH CHECK (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON onboarding_settings TO crm_app;
