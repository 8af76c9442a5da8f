-- 000022: contracts as issue #15 builds them: causation, and the org's contract template.
--
-- contracts (000001) already holds one contract per deal (contracts_org_id_deal_id_key, which
-- makes generate_contract idempotent), the status machine's statuses, the stored document and
-- its SHA-256. It gains the deal.won event whose generate_contract job created it.
ALTER TABLE contracts ADD COLUMN causation_event_id bigint;
COMMENT ON COLUMN contracts.causation_event_id IS 'The deal.won event whose generate_contract job created the contract.';

-- contract_settings is the org's GET/PUT /settings/contract-template: {title, body}. An org
-- without a row has document.DefaultContractTemplate. A stored template passed
-- document.CheckTemplate when it was saved, so it always renders.
CREATE TABLE contract_settings (
    org_id     uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    settings   jsonb       NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id)
);
COMMENT ON TABLE contract_settings IS 'Contract template of an org (PUT /settings/contract-template); no row means the default.';

-- Row-level security exactly as on the other tenant tables (000003, 000021).
ALTER TABLE contract_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE contract_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON contract_settings
    USING (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid)
    WITH CHECK (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON contract_settings TO crm_app;
