-- 000021: invoices as issue #15 builds them: gapless numbers, causation, void reasons, and the
-- org's invoicing settings.
--
-- invoice_counters holds one row per (org, series, year): the last number handed out. The
-- create_invoice use case takes n numbers at once with INSERT ... ON CONFLICT DO UPDATE SET last
-- = last + n RETURNING last, in the transaction that inserts the invoices and completes their
-- jobs. The row stays locked until that transaction ends, so concurrent batches of one org
-- serialise on it, and a rolled-back batch gives its numbers back: the numbers are gapless and
-- unique, which a sequence (gaps on rollback) or max()+1 (races) would not be.
CREATE TABLE invoice_counters (
    org_id uuid    NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    series text    NOT NULL CHECK (length(series) BETWEEN 1 AND 50),
    year   integer NOT NULL CHECK (year BETWEEN 1 AND 9999),
    last   bigint  NOT NULL CHECK (last >= 0),
    PRIMARY KEY (org_id, series, year)
);
COMMENT ON TABLE invoice_counters IS 'Last number handed out per org, series and calendar year (gapless invoice numbers).';

-- invoice_settings is the org's GET/PUT /settings/invoicing: {prefix, paymentTermsDays, seller}.
-- An org without a row has the defaults (prefix INV-, 14 days, an empty seller).
CREATE TABLE invoice_settings (
    org_id     uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    settings   jsonb       NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id)
);
COMMENT ON TABLE invoice_settings IS 'Invoicing settings of an org (PUT /settings/invoicing); no row means the defaults.';

ALTER TABLE invoices
    ADD COLUMN causation_event_id bigint,
    ADD COLUMN void_reason text CHECK (length(void_reason) BETWEEN 1 AND 1000);
COMMENT ON COLUMN invoices.causation_event_id IS 'The deal.won event whose create_invoice job created the invoice.';
COMMENT ON COLUMN invoices.void_reason IS 'Why the invoice was voided (POST /invoices/{id}/void).';

-- Row-level security exactly as on the other tenant tables (000003, 000011).
ALTER TABLE invoice_counters ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice_counters FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invoice_counters
    USING (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid)
    WITH CHECK (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON invoice_counters TO crm_app;

ALTER TABLE invoice_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invoice_settings
    USING (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid)
    WITH CHECK (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON invoice_settings TO crm_app;
