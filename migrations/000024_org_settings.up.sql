-- 000024: one table for an org's named settings documents. invoice_settings (000021),
-- contract_settings (000022) and onboarding_settings (000023) were three tables of one shape; each
-- becomes a named row of org_settings, read and written by org.Setting: "invoicing"
-- (/settings/invoicing), "contract-template" (/settings/contract-template) and "onboarding"
-- (/settings/onboarding). An org without a row of a name has that setting's default.
CREATE TABLE org_settings (
    org_id     uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name       text        NOT NULL CHECK (name ~ '^[a-z][a-z0-9-]{0,49}$'),
    value      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, name)
);
COMMENT ON TABLE org_settings IS 'Named settings documents of an org (PUT /settings/<name>); no row means the setting''s default.';

-- The copy runs as the tables' owner, whom FORCE ROW LEVEL SECURITY binds too: the old tables
-- stop forcing it (they are dropped below), and org_settings is secured after the copy.
ALTER TABLE invoice_settings NO FORCE ROW LEVEL SECURITY;
ALTER TABLE contract_settings NO FORCE ROW LEVEL SECURITY;
ALTER TABLE onboarding_settings NO FORCE ROW LEVEL SECURITY;
INSERT INTO org_settings (org_id, name, value, updated_at)
SELECT org_id, 'invoicing', settings, updated_at FROM invoice_settings
UNION ALL
SELECT org_id, 'contract-template', settings, updated_at FROM contract_settings
UNION ALL
SELECT org_id, 'onboarding', settings, updated_at FROM onboarding_settings;

-- Row-level security exactly as on the other tenant tables (000003, 000021).
ALTER TABLE org_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON org_settings
    USING (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid)
    WITH CHECK (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON org_settings TO crm_app;

DROP TABLE invoice_settings;
DROP TABLE contract_settings;
DROP TABLE onboarding_settings;
