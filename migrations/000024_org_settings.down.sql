-- The three settings tables of 000021..000023 again, with their rows; other names are dropped.
CREATE TABLE invoice_settings (
    org_id     uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    settings   jsonb       NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id)
);
COMMENT ON TABLE invoice_settings IS 'Invoicing settings of an org (PUT /settings/invoicing); no row means the defaults.';
CREATE TABLE contract_settings (
    org_id     uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    settings   jsonb       NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id)
);
COMMENT ON TABLE contract_settings IS 'Contract template of an org (PUT /settings/contract-template); no row means the default.';
CREATE TABLE onboarding_settings (
    org_id     uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    settings   jsonb       NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id)
);
COMMENT ON TABLE onboarding_settings IS 'Onboarding checklist template of an org (PUT /settings/onboarding); no row means the default.';

-- The copy runs as the owner, whom FORCE ROW LEVEL SECURITY binds: org_settings stops forcing it
-- (it is dropped below), and the three tables are secured after the copy.
ALTER TABLE org_settings NO FORCE ROW LEVEL SECURITY;
INSERT INTO invoice_settings (org_id, settings, updated_at)
SELECT org_id, value, updated_at FROM org_settings WHERE name = 'invoicing';
INSERT INTO contract_settings (org_id, settings, updated_at)
SELECT org_id, value, updated_at FROM org_settings WHERE name = 'contract-template';
INSERT INTO onboarding_settings (org_id, settings, updated_at)
SELECT org_id, value, updated_at FROM org_settings WHERE name = 'onboarding';

ALTER TABLE invoice_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invoice_settings
    USING (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid)
    WITH CHECK (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON invoice_settings TO crm_app;
ALTER TABLE contract_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE contract_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON contract_settings
    USING (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid)
    WITH CHECK (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON contract_settings TO crm_app;
ALTER TABLE onboarding_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE onboarding_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON onboarding_settings
    USING (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid)
    WITH CHECK (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON onboarding_settings TO crm_app;

DROP TABLE org_settings;
