-- 000001: tenants and business tables.
--
-- Conventions (DESIGN.md "Data", RELIABILITY.md R20, R26):
--   * every table has org_id uuid NOT NULL -> orgs(id) ON DELETE CASCADE;
--   * business tables have PRIMARY KEY (org_id, id) and composite foreign keys
--     (org_id, x_id) -> x(org_id, id), so a row can never point into another tenant
--     and the schema can later be distributed by org_id (Citus);
--   * every primary key and unique index starts with org_id. The few non-unique lookup
--     indexes without org_id exist for routes that must find a row before they know its
--     org; each one says so;
--   * money is bigint minor units >= 0 plus an ISO 4217 currency code;
--   * status/stage/kind columns are text with a CHECK that lists the allowed values.
-- The queue tables (events, jobs, dead_letter_jobs, job_logs) come in 000002.
-- golang-migrate runs this file as one multi-statement exec, i.e. in one transaction:
-- no CREATE INDEX CONCURRENTLY here.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Shared trigger function: keeps updated_at current on every UPDATE.
CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION set_updated_at() IS
    'BEFORE UPDATE trigger function: sets NEW.updated_at = now() (transaction start time).';

------------------------------------------------------------------------------------------
-- 1. orgs
------------------------------------------------------------------------------------------
CREATE TABLE orgs (
    id         uuid        NOT NULL DEFAULT gen_random_uuid(),
    name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    icp        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id)
);
COMMENT ON TABLE orgs IS 'Tenants. Every other table belongs to exactly one org (org_id) and is deleted with it.';
COMMENT ON COLUMN orgs.id IS 'The org id: the tenant key used as org_id everywhere and sent by clients as X-Org-Id.';
COMMENT ON COLUMN orgs.icp IS 'Ideal customer profile of the org (JSON object), input to lead qualification/scoring.';
CREATE TRIGGER orgs_set_updated_at BEFORE UPDATE ON orgs
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

------------------------------------------------------------------------------------------
-- 2. api_keys
------------------------------------------------------------------------------------------
CREATE TABLE api_keys (
    org_id       uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    name         text        NOT NULL DEFAULT 'default',
    prefix       text        NOT NULL,
    key_hash     bytea       NOT NULL CHECK (octet_length(key_hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz,
    PRIMARY KEY (org_id, id),
    CONSTRAINT api_keys_org_id_key_hash_key UNIQUE (org_id, key_hash)
);
COMMENT ON TABLE api_keys IS 'API keys (RELIABILITY R15): one org each, stored only as SHA-256; the clear key is shown once.';
COMMENT ON COLUMN api_keys.prefix IS 'First characters of the clear key, shown to humans to tell keys apart; not a secret.';
COMMENT ON COLUMN api_keys.key_hash IS 'SHA-256 of the clear key (32 raw bytes). Looked up with (org_id from X-Org-Id, key_hash).';
COMMENT ON COLUMN api_keys.revoked_at IS 'Set when the key is revoked or rotated out; a revoked key never authenticates.';

------------------------------------------------------------------------------------------
-- 3. intake_sources
------------------------------------------------------------------------------------------
CREATE TABLE intake_sources (
    org_id                     uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id                         uuid        NOT NULL DEFAULT gen_random_uuid(),
    kind                       text        NOT NULL CHECK (kind IN ('webhook', 'form', 'csv')),
    name                       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    signing_secret             text,
    previous_signing_secret    text,
    previous_secret_expires_at timestamptz,
    public_token               text,
    redirect_url               text,
    allowed_origins            text[]      NOT NULL DEFAULT '{}',
    field_mapping              jsonb       NOT NULL DEFAULT '{}'::jsonb,
    rate_limit_per_minute      integer     NOT NULL DEFAULT 600 CHECK (rate_limit_per_minute > 0),
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    deleted_at                 timestamptz,
    PRIMARY KEY (org_id, id)
);
COMMENT ON TABLE intake_sources IS 'Configured lead sources of an org: signed webhooks, public forms, CSV imports.';
COMMENT ON COLUMN intake_sources.signing_secret IS 'Webhook HMAC-SHA256 secret (kind=webhook).';
COMMENT ON COLUMN intake_sources.previous_signing_secret IS 'Secret before the last rotation; still accepted until previous_secret_expires_at (R13: two active secrets).';
COMMENT ON COLUMN intake_sources.public_token IS 'Public random token in /intake/form/{formToken} (kind=form).';
COMMENT ON COLUMN intake_sources.redirect_url IS 'Where a form submission that asks for HTML is sent with 303 (kind=form).';
COMMENT ON COLUMN intake_sources.allowed_origins IS 'Browser origins allowed to post the form (CORS); empty = none.';
COMMENT ON COLUMN intake_sources.field_mapping IS 'Maps source field names to lead fields, e.g. {"e-mail": "email"}.';
COMMENT ON COLUMN intake_sources.rate_limit_per_minute IS 'Gateway rate limit for this source (R16).';
COMMENT ON COLUMN intake_sources.deleted_at IS 'Soft delete: a deleted source accepts nothing but stays referenced by old intake rows and leads.';
-- The public gateway routes /intake/webhook/{sourceId} and /intake/form/{formToken} only know
-- the source id or the form token, not the org, so these two lookup indexes cannot start with
-- org_id. They are not UNIQUE because a unique index must include org_id (R20, Citus); the id
-- is a random uuid and the token is random, so a collision is not a practical concern, and the
-- gateway treats anything but exactly one live row as not found.
CREATE INDEX intake_sources_id_idx ON intake_sources (id);
COMMENT ON INDEX intake_sources_id_idx IS 'Public webhook route: find a source by id without knowing its org. Not unique: unique indexes must start with org_id.';
CREATE INDEX intake_sources_public_token_idx ON intake_sources (public_token) WHERE public_token IS NOT NULL;
COMMENT ON INDEX intake_sources_public_token_idx IS 'Public form route: find a source by form token without knowing its org. Not unique: unique indexes must start with org_id.';
CREATE UNIQUE INDEX intake_sources_org_id_name_key ON intake_sources (org_id, name) WHERE deleted_at IS NULL;
CREATE TRIGGER intake_sources_set_updated_at BEFORE UPDATE ON intake_sources
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

------------------------------------------------------------------------------------------
-- 4. lead_intake_raw (its lead_id foreign key is added after leads exists)
------------------------------------------------------------------------------------------
CREATE TABLE lead_intake_raw (
    org_id        uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    source_id     uuid,
    batch_id      uuid,
    row_number    integer     CHECK (row_number >= 1),
    delivery_key  text        NOT NULL CHECK (length(delivery_key) BETWEEN 1 AND 512),
    content_type  text        NOT NULL,
    body          bytea       NOT NULL,
    headers       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    status        text        NOT NULL DEFAULT 'pending'
                              CHECK (status IN ('pending', 'processed', 'duplicate', 'rejected')),
    lead_id       uuid,
    fingerprint   text,
    reject_reason text,
    received_at   timestamptz NOT NULL DEFAULT now(),
    processed_at  timestamptz,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, source_id) REFERENCES intake_sources (org_id, id),
    -- a CSV row has both its batch and its line; other deliveries have neither
    CONSTRAINT lead_intake_raw_batch_row_check CHECK ((batch_id IS NULL) = (row_number IS NULL)),
    -- R2: one raw row per delivery; source_id is NULL for CSV uploads without a source,
    -- hence NULLS NOT DISTINCT (PostgreSQL 15+)
    CONSTRAINT lead_intake_raw_org_id_source_id_delivery_key_key
        UNIQUE NULLS NOT DISTINCT (org_id, source_id, delivery_key),
    -- R25: a CSV import is idempotent per (batch, line)
    CONSTRAINT lead_intake_raw_org_id_batch_id_row_number_key
        UNIQUE (org_id, batch_id, row_number)
);
COMMENT ON TABLE lead_intake_raw IS 'Every accepted intake delivery exactly as received (R2), written before anything else; process_intake turns it into a lead, a duplicate touchpoint or a rejection.';
COMMENT ON COLUMN lead_intake_raw.source_id IS 'Intake source; NULL for a CSV upload that names no source.';
COMMENT ON COLUMN lead_intake_raw.batch_id IS 'CSV upload this row came from (NULL for webhook/form).';
COMMENT ON COLUMN lead_intake_raw.row_number IS 'Line number of the row in its CSV upload (NULL for webhook/form).';
COMMENT ON COLUMN lead_intake_raw.delivery_key IS 'Idempotency key of the delivery: webhook = signature v1 value (replay cache, R13); form = random per request; csv = "<batch_id>:<row_number>".';
COMMENT ON COLUMN lead_intake_raw.body IS 'Raw request body (or CSV row), byte for byte.';
COMMENT ON COLUMN lead_intake_raw.headers IS 'Selected request headers kept for audit/debugging (no secrets).';
COMMENT ON COLUMN lead_intake_raw.status IS 'pending until process_intake runs; then processed (new lead), duplicate (touchpoint on an existing lead) or rejected (see reject_reason).';
COMMENT ON COLUMN lead_intake_raw.lead_id IS 'Lead created from this delivery, or the existing lead it duplicated.';
COMMENT ON COLUMN lead_intake_raw.fingerprint IS 'Lead fingerprint computed by process_intake (see leads.fingerprint).';
CREATE INDEX lead_intake_raw_org_id_status_received_at_idx ON lead_intake_raw (org_id, status, received_at);

------------------------------------------------------------------------------------------
-- 5. leads
------------------------------------------------------------------------------------------
CREATE TABLE leads (
    org_id           uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id               uuid        NOT NULL DEFAULT gen_random_uuid(),
    first_name       text,
    last_name        text,
    name             text,
    email            text,
    phone            text,
    company          text,
    website          text,
    domain           text,
    title            text,
    profile_link     text,
    source           text,
    notes            text,
    extra            jsonb       NOT NULL DEFAULT '{}'::jsonb,
    stage            text        NOT NULL DEFAULT 'new'
                                 CHECK (stage IN ('new', 'qualified', 'nurture', 'contacted', 'call_booked',
                                                  'converted', 'lost', 'disqualified')),
    stage_reason     text,
    score            integer     CHECK (score BETWEEN 0 AND 100),
    score_reasons    jsonb       NOT NULL DEFAULT '[]'::jsonb,
    icp_match        boolean,
    recommended_path text        CHECK (recommended_path IN ('book_call', 'nurture', 'disqualify')),
    priority         text        NOT NULL DEFAULT 'normal'
                                 CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    ghost_risk       integer     NOT NULL DEFAULT 0 CHECK (ghost_risk >= 0),
    revenue_band     text,
    enrichment       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    scored_by        text,
    fingerprint      text        NOT NULL,
    source_id        uuid,
    intake_id        uuid,
    version          integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
    last_activity_at timestamptz,
    stage_changed_at timestamptz NOT NULL DEFAULT now(),
    qualified_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at       timestamptz,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, source_id) REFERENCES intake_sources (org_id, id),
    -- raw intake rows may be pruned after retention: the lead keeps living, its intake_id
    -- becomes NULL (column list form of SET NULL, PostgreSQL 15+, leaves org_id alone)
    CONSTRAINT leads_intake_fkey FOREIGN KEY (org_id, intake_id)
        REFERENCES lead_intake_raw (org_id, id) ON DELETE SET NULL (intake_id),
    -- API.md: a lead needs at least one of email, phone or profileLink (blank does not count)
    CONSTRAINT leads_contact_check CHECK (
        num_nonnulls(nullif(btrim(email), ''), nullif(btrim(phone), ''), nullif(btrim(profile_link), '')) >= 1)
);
COMMENT ON TABLE leads IS 'Leads of an org: contact data, qualification (score, ICP fit, path), pipeline stage. Soft-deleted via deleted_at.';
COMMENT ON COLUMN leads.name IS 'Full name (given, or first_name + last_name).';
COMMENT ON COLUMN leads.domain IS 'Company domain, from website or e-mail (enrichment).';
COMMENT ON COLUMN leads.profile_link IS 'Social/professional profile URL (e.g. LinkedIn).';
COMMENT ON COLUMN leads.source IS 'Free-text origin label given by the submitter or user (not the intake source id).';
COMMENT ON COLUMN leads.extra IS 'Intake fields that are not lead columns, kept as submitted.';
COMMENT ON COLUMN leads.stage_reason IS 'Reason given with the last stage change.';
COMMENT ON COLUMN leads.score IS 'Qualification score 0..100; NULL until scored.';
COMMENT ON COLUMN leads.score_reasons IS 'JSON array of reasons behind score (every score carries its reasons).';
COMMENT ON COLUMN leads.icp_match IS 'Whether the lead fits the org ICP; NULL until qualified.';
COMMENT ON COLUMN leads.recommended_path IS 'Path recommended by qualification; NULL until qualified.';
COMMENT ON COLUMN leads.ghost_risk IS 'Ghosting risk counter/score maintained by the ghost-risk cron task (0 = none).';
COMMENT ON COLUMN leads.revenue_band IS 'Estimated company revenue band (enrichment/qualification), free text.';
COMMENT ON COLUMN leads.enrichment IS 'Enrichment result (domain, free-mail flag, enrichment API answer).';
COMMENT ON COLUMN leads.scored_by IS 'AI model that scored the lead, or ''builtin'' for the deterministic scorer.';
COMMENT ON COLUMN leads.fingerprint IS 'SHA-256 (hex) of normalised email + domain + profile link; unique per org among live leads (intake dedup).';
COMMENT ON COLUMN leads.source_id IS 'Intake source the lead came from; NULL for leads created by hand.';
COMMENT ON COLUMN leads.intake_id IS 'Raw intake row the lead was created from; NULL for manual leads or after the raw row is pruned.';
COMMENT ON COLUMN leads.version IS 'Optimistic concurrency: UPDATE ... WHERE version = $n, then version + 1.';
COMMENT ON COLUMN leads.last_activity_at IS 'Time of the latest activity; drives staleness and ghost risk.';
-- R3: the intake dedup is this index (INSERT ... ON CONFLICT (org_id, fingerprint)
-- WHERE deleted_at IS NULL), never check-then-insert.
CREATE UNIQUE INDEX leads_org_id_fingerprint_key ON leads (org_id, fingerprint) WHERE deleted_at IS NULL;
CREATE INDEX leads_org_id_created_at_id_idx ON leads (org_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX leads_org_id_stage_idx ON leads (org_id, stage) WHERE deleted_at IS NULL;
CREATE INDEX leads_org_id_score_idx ON leads (org_id, score) WHERE deleted_at IS NULL;
CREATE INDEX leads_org_id_last_activity_at_idx ON leads (org_id, last_activity_at) WHERE deleted_at IS NULL;
-- foreign-key support (deleting a source or pruning raw intake must not scan the org's leads)
CREATE INDEX leads_org_id_source_id_idx ON leads (org_id, source_id) WHERE source_id IS NOT NULL;
CREATE INDEX leads_org_id_intake_id_idx ON leads (org_id, intake_id) WHERE intake_id IS NOT NULL;
-- Search (?q=): trigram GIN indexes. A GIN trigram index cannot lead with org_id (uuid has no
-- GIN opclass without btree_gin); the query still filters org_id (and RLS applies). Queries
-- must use these exact expressions, e.g. lower(name) LIKE '%' || lower($q) || '%'.
CREATE INDEX leads_name_trgm_idx ON leads USING gin (lower(name) gin_trgm_ops);
CREATE INDEX leads_email_trgm_idx ON leads USING gin (lower(email) gin_trgm_ops);
CREATE INDEX leads_company_trgm_idx ON leads USING gin (lower(company) gin_trgm_ops);
COMMENT ON INDEX leads_name_trgm_idx IS 'Lead search on lower(name) LIKE/ILIKE/similarity. No org_id: GIN trigram; queries add org_id = $org.';
COMMENT ON INDEX leads_email_trgm_idx IS 'Lead search on lower(email). No org_id: GIN trigram; queries add org_id = $org.';
COMMENT ON INDEX leads_company_trgm_idx IS 'Lead search on lower(company). No org_id: GIN trigram; queries add org_id = $org.';
CREATE TRIGGER leads_set_updated_at BEFORE UPDATE ON leads
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- lead_intake_raw.lead_id -> leads (circular with leads.intake_id, so added now)
ALTER TABLE lead_intake_raw
    ADD CONSTRAINT lead_intake_raw_lead_fkey FOREIGN KEY (org_id, lead_id) REFERENCES leads (org_id, id);
CREATE INDEX lead_intake_raw_org_id_lead_id_idx ON lead_intake_raw (org_id, lead_id) WHERE lead_id IS NOT NULL;

------------------------------------------------------------------------------------------
-- 6. lead_activities
------------------------------------------------------------------------------------------
CREATE TABLE lead_activities (
    org_id      uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    lead_id     uuid        NOT NULL,
    kind        text        NOT NULL
                            CHECK (kind IN ('note', 'touchpoint', 'call', 'email', 'meeting', 'task',
                                            'escalation', 'nudge', 'system')),
    subject     text,
    body        text,
    payload     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    dedup_key   text,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    created_by  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, lead_id) REFERENCES leads (org_id, id),
    CONSTRAINT lead_activities_org_id_dedup_key_key UNIQUE (org_id, dedup_key)
);
COMMENT ON TABLE lead_activities IS 'Timeline of a lead: notes and logged calls/emails by people, touchpoints from duplicate intake, escalations and nudges from jobs.';
COMMENT ON COLUMN lead_activities.payload IS 'Kind-specific structured data (e.g. intake id of a touchpoint, job id of an escalation).';
COMMENT ON COLUMN lead_activities.dedup_key IS 'Set by effects that must happen once (e.g. job id, intake id): a second insert conflicts and is skipped. NULL for ordinary activities.';
COMMENT ON COLUMN lead_activities.occurred_at IS 'When it happened (may be earlier than created_at for logged activities).';
COMMENT ON COLUMN lead_activities.created_by IS 'Who recorded it: api key id/name, job type or ''system''.';
CREATE INDEX lead_activities_org_id_lead_id_occurred_at_id_idx
    ON lead_activities (org_id, lead_id, occurred_at DESC, id DESC);

------------------------------------------------------------------------------------------
-- 7. calls
------------------------------------------------------------------------------------------
CREATE TABLE calls (
    org_id              uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id                  uuid        NOT NULL DEFAULT gen_random_uuid(),
    lead_id             uuid        NOT NULL,
    status              text        NOT NULL DEFAULT 'booked'
                                    CHECK (status IN ('booked', 'completed', 'no_show', 'cancelled')),
    scheduled_at        timestamptz NOT NULL,
    duration_minutes    integer     NOT NULL DEFAULT 30 CHECK (duration_minutes BETWEEN 1 AND 1440),
    transcript          text,
    notes               text,
    summary             text,
    buying_signal_score integer     CHECK (buying_signal_score BETWEEN 0 AND 100),
    signal_phrases      jsonb       NOT NULL DEFAULT '[]'::jsonb,
    objections          jsonb       NOT NULL DEFAULT '[]'::jsonb,
    next_steps          jsonb       NOT NULL DEFAULT '[]'::jsonb,
    analysis_model      text,
    analyzed_at         timestamptz,
    completed_at        timestamptz,
    cancelled_at        timestamptz,
    no_show_at          timestamptz,
    version             integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, lead_id) REFERENCES leads (org_id, id)
);
COMMENT ON TABLE calls IS 'Sales calls booked with a lead; a completed call is analysed (analyze_call) for buying signals.';
COMMENT ON COLUMN calls.summary IS 'Summary written by call analysis.';
COMMENT ON COLUMN calls.buying_signal_score IS 'Buying signal 0..100 from call analysis; >= BUYING_SIGNAL_THRESHOLD escalates the lead.';
COMMENT ON COLUMN calls.signal_phrases IS 'JSON array of transcript phrases that indicate buying intent.';
COMMENT ON COLUMN calls.objections IS 'JSON array of objections raised in the call.';
COMMENT ON COLUMN calls.next_steps IS 'JSON array of agreed next steps.';
COMMENT ON COLUMN calls.analysis_model IS 'AI model that analysed the call, or ''builtin''.';
COMMENT ON COLUMN calls.version IS 'Optimistic concurrency counter.';
CREATE INDEX calls_org_id_lead_id_scheduled_at_idx ON calls (org_id, lead_id, scheduled_at);
CREATE INDEX calls_org_id_status_scheduled_at_idx ON calls (org_id, status, scheduled_at);
CREATE TRIGGER calls_set_updated_at BEFORE UPDATE ON calls
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

------------------------------------------------------------------------------------------
-- 8. deals
------------------------------------------------------------------------------------------
CREATE TABLE deals (
    org_id              uuid         NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id                  uuid         NOT NULL DEFAULT gen_random_uuid(),
    lead_id             uuid         NOT NULL,
    title               text         NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    deal_value          bigint       NOT NULL CHECK (deal_value >= 0),
    currency            char(3)      NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    stage               text         NOT NULL DEFAULT 'discovery'
                                     CHECK (stage IN ('discovery', 'proposal', 'negotiation', 'won', 'lost')),
    probability         numeric(5,4) NOT NULL DEFAULT 0.1 CHECK (probability BETWEEN 0 AND 1),
    expected_close_date date,
    lost_reason         text,
    stage_changed_at    timestamptz  NOT NULL DEFAULT now(),
    won_at              timestamptz,
    lost_at             timestamptz,
    version             integer      NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at          timestamptz  NOT NULL DEFAULT now(),
    updated_at          timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, lead_id) REFERENCES leads (org_id, id),
    CONSTRAINT deals_lost_at_check CHECK (stage <> 'lost' OR lost_at IS NOT NULL),
    CONSTRAINT deals_won_at_check CHECK (stage <> 'won' OR won_at IS NOT NULL)
);
COMMENT ON TABLE deals IS 'Sales opportunities of a lead. weighted_value is never stored: it is deal_value * probability, computed on read.';
COMMENT ON COLUMN deals.deal_value IS 'Value in minor units of currency (e.g. cents).';
COMMENT ON COLUMN deals.currency IS 'ISO 4217 code, upper case.';
COMMENT ON COLUMN deals.probability IS 'Win probability 0..1; defaults per stage (0.1/0.3/0.6/1/0), overridable while open.';
COMMENT ON COLUMN deals.lost_reason IS 'Reason given when the deal was lost.';
COMMENT ON COLUMN deals.stage_changed_at IS 'Time of the last stage change; drives deal decay.';
COMMENT ON COLUMN deals.version IS 'Optimistic concurrency counter.';
CREATE INDEX deals_org_id_stage_stage_changed_at_idx ON deals (org_id, stage, stage_changed_at);
CREATE INDEX deals_org_id_lead_id_idx ON deals (org_id, lead_id);
CREATE INDEX deals_org_id_created_at_id_idx ON deals (org_id, created_at DESC, id DESC);
CREATE TRIGGER deals_set_updated_at BEFORE UPDATE ON deals
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

------------------------------------------------------------------------------------------
-- 9. invoices
------------------------------------------------------------------------------------------
CREATE TABLE invoices (
    org_id            uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id                uuid        NOT NULL DEFAULT gen_random_uuid(),
    deal_id           uuid        NOT NULL,
    number            text        NOT NULL CHECK (length(number) BETWEEN 1 AND 100),
    amount            bigint      NOT NULL CHECK (amount >= 0),
    currency          char(3)     NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status            text        NOT NULL DEFAULT 'issued' CHECK (status IN ('issued', 'paid', 'void')),
    issued_at         timestamptz NOT NULL DEFAULT now(),
    due_at            timestamptz,
    paid_at           timestamptz,
    payment_reference text,
    voided_at         timestamptz,
    document          bytea,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, deal_id) REFERENCES deals (org_id, id),
    -- one invoice per won deal: create_invoice is idempotent through this constraint
    CONSTRAINT invoices_org_id_deal_id_key UNIQUE (org_id, deal_id),
    CONSTRAINT invoices_org_id_number_key UNIQUE (org_id, number),
    CONSTRAINT invoices_paid_at_check CHECK (status <> 'paid' OR paid_at IS NOT NULL)
);
COMMENT ON TABLE invoices IS 'One invoice per won deal (create_invoice). Paid only by a person''s confirmation or a payment record, never by AI.';
COMMENT ON COLUMN invoices.number IS 'Human invoice number, unique per org.';
COMMENT ON COLUMN invoices.amount IS 'Amount in minor units of currency.';
COMMENT ON COLUMN invoices.payment_reference IS 'Reference given when the payment was confirmed (bank/PSP reference).';
COMMENT ON COLUMN invoices.document IS 'Rendered PDF; NULL until rendered.';
CREATE TRIGGER invoices_set_updated_at BEFORE UPDATE ON invoices
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

------------------------------------------------------------------------------------------
-- 10. contracts
------------------------------------------------------------------------------------------
CREATE TABLE contracts (
    org_id          uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    deal_id         uuid        NOT NULL,
    status          text        NOT NULL DEFAULT 'generated'
                                CHECK (status IN ('generated', 'sent', 'signed', 'void')),
    document        bytea,
    document_sha256 text,
    generated_at    timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, deal_id) REFERENCES deals (org_id, id),
    -- generate_contract is idempotent through this constraint
    CONSTRAINT contracts_org_id_deal_id_key UNIQUE (org_id, deal_id)
);
COMMENT ON TABLE contracts IS 'Contract generated for a won deal (generate_contract), one per deal.';
COMMENT ON COLUMN contracts.document IS 'Rendered contract PDF.';
COMMENT ON COLUMN contracts.document_sha256 IS 'Hex SHA-256 of document, to prove which version was sent/signed.';
CREATE TRIGGER contracts_set_updated_at BEFORE UPDATE ON contracts
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

------------------------------------------------------------------------------------------
-- 11. clients
------------------------------------------------------------------------------------------
CREATE TABLE clients (
    org_id            uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id                uuid        NOT NULL DEFAULT gen_random_uuid(),
    lead_id           uuid        NOT NULL,
    deal_id           uuid        NOT NULL,
    invoice_id        uuid        NOT NULL,
    name              text,
    email             text,
    company           text,
    status            text        NOT NULL DEFAULT 'onboarding'
                                  CHECK (status IN ('onboarding', 'active', 'paused', 'churned')),
    renewal_date      date,
    status_changed_at timestamptz NOT NULL DEFAULT now(),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, lead_id) REFERENCES leads (org_id, id),
    FOREIGN KEY (org_id, deal_id) REFERENCES deals (org_id, id),
    FOREIGN KEY (org_id, invoice_id) REFERENCES invoices (org_id, id),
    -- create_client (on invoice.paid) is idempotent through this constraint
    CONSTRAINT clients_org_id_invoice_id_key UNIQUE (org_id, invoice_id)
);
COMMENT ON TABLE clients IS 'Customers, created from a paid invoice (create_client); name/email/company are copied from the lead at creation.';
COMMENT ON COLUMN clients.renewal_date IS 'Next contract renewal; drives the renewal reminder cron task.';
COMMENT ON COLUMN clients.status_changed_at IS 'Time of the last status change.';
CREATE INDEX clients_org_id_status_idx ON clients (org_id, status);
CREATE INDEX clients_org_id_renewal_date_idx ON clients (org_id, renewal_date);
-- foreign-key support
CREATE INDEX clients_org_id_lead_id_idx ON clients (org_id, lead_id);
CREATE INDEX clients_org_id_deal_id_idx ON clients (org_id, deal_id);
CREATE TRIGGER clients_set_updated_at BEFORE UPDATE ON clients
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

------------------------------------------------------------------------------------------
-- 12. onboarding_tasks
------------------------------------------------------------------------------------------
CREATE TABLE onboarding_tasks (
    org_id       uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    client_id    uuid        NOT NULL,
    position     integer     NOT NULL CHECK (position >= 0),
    title        text        NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    status       text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'skipped')),
    due_at       timestamptz,
    completed_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, client_id) REFERENCES clients (org_id, id) ON DELETE CASCADE,
    -- start_onboarding is idempotent through this constraint
    CONSTRAINT onboarding_tasks_org_id_client_id_position_key UNIQUE (org_id, client_id, position)
);
COMMENT ON TABLE onboarding_tasks IS 'Onboarding checklist of a client (start_onboarding), ordered by position.';
COMMENT ON COLUMN onboarding_tasks.position IS 'Order of the task in the checklist.';
CREATE TRIGGER onboarding_tasks_set_updated_at BEFORE UPDATE ON onboarding_tasks
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

------------------------------------------------------------------------------------------
-- 13. cron_tasks
------------------------------------------------------------------------------------------
CREATE TABLE cron_tasks (
    org_id       uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    job_type     text        NOT NULL,
    cron_expr    text        NOT NULL
                             CHECK (cardinality(regexp_split_to_array(btrim(cron_expr), '\s+')) = 5),
    timezone     text        NOT NULL DEFAULT 'UTC',
    payload      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    enabled      boolean     NOT NULL DEFAULT true,
    last_slot_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    CONSTRAINT cron_tasks_org_id_name_key UNIQUE (org_id, name)
);
COMMENT ON TABLE cron_tasks IS 'Recurring tasks per org (seeded, editable); the scheduler enqueues job_type once per cron slot (R10).';
COMMENT ON COLUMN cron_tasks.job_type IS 'Job type enqueued at each slot.';
COMMENT ON COLUMN cron_tasks.cron_expr IS 'Standard 5-field cron expression (minute hour day-of-month month day-of-week).';
COMMENT ON COLUMN cron_tasks.timezone IS 'IANA time zone in which cron_expr is evaluated.';
COMMENT ON COLUMN cron_tasks.payload IS 'Job payload enqueued with each fire.';
COMMENT ON COLUMN cron_tasks.last_slot_at IS 'Last cron slot enqueued (the slot time from the expression, not the fire time); catch-up starts after it.';
CREATE TRIGGER cron_tasks_set_updated_at BEFORE UPDATE ON cron_tasks
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

------------------------------------------------------------------------------------------
-- 14. scheduled_tasks
------------------------------------------------------------------------------------------
CREATE TABLE scheduled_tasks (
    org_id      uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    job_type    text        NOT NULL,
    payload     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    run_at      timestamptz NOT NULL,
    status      text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'enqueued', 'cancelled')),
    entity_type text,
    entity_id   uuid,
    dedup_key   text,
    enqueued_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    CONSTRAINT scheduled_tasks_org_id_dedup_key_key UNIQUE (org_id, dedup_key)
);
COMMENT ON TABLE scheduled_tasks IS 'One-off delayed jobs (e.g. a follow-up at a given time); the scheduler moves due pending rows into jobs.';
COMMENT ON COLUMN scheduled_tasks.entity_type IS 'Kind of entity the task is about (lead, deal, ...), with entity_id; informational, no foreign key.';
COMMENT ON COLUMN scheduled_tasks.dedup_key IS 'Optional key making "schedule once" idempotent per org; NULL = no dedup.';
COMMENT ON COLUMN scheduled_tasks.enqueued_at IS 'When the scheduler turned the task into a job.';
-- The scheduler scans due tasks of all orgs in one query (it runs as the cross-org system
-- role), so this index cannot start with org_id. Small: only pending rows are in it.
CREATE INDEX scheduled_tasks_due_idx ON scheduled_tasks (run_at) WHERE status = 'pending';
COMMENT ON INDEX scheduled_tasks_due_idx IS 'Scheduler scan of due pending tasks across all orgs; no org_id on purpose.';
CREATE TRIGGER scheduled_tasks_set_updated_at BEFORE UPDATE ON scheduled_tasks
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

------------------------------------------------------------------------------------------
-- 15. integrity_alerts
------------------------------------------------------------------------------------------
CREATE TABLE integrity_alerts (
    org_id      uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    check_name  text        NOT NULL,
    severity    text        NOT NULL DEFAULT 'warning' CHECK (severity IN ('info', 'warning', 'critical')),
    entity_type text,
    entity_id   uuid,
    detail      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    detected_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    PRIMARY KEY (org_id, id)
);
COMMENT ON TABLE integrity_alerts IS 'Violations of state invariants found by check_integrity; one open alert per (check, entity), closed by resolved_at.';
COMMENT ON COLUMN integrity_alerts.check_name IS 'Name of the invariant check that failed.';
COMMENT ON COLUMN integrity_alerts.entity_type IS 'Kind of entity concerned (NULL for org-wide checks), with entity_id; no foreign key.';
COMMENT ON COLUMN integrity_alerts.detail IS 'What was found (JSON object).';
-- At most one open alert per check and entity. NULLS NOT DISTINCT (PostgreSQL 15+) so that
-- org-wide alerts (entity NULL) are deduplicated too.
CREATE UNIQUE INDEX integrity_alerts_open_key
    ON integrity_alerts (org_id, check_name, entity_type, entity_id) NULLS NOT DISTINCT
    WHERE resolved_at IS NULL;
CREATE INDEX integrity_alerts_org_id_detected_at_idx ON integrity_alerts (org_id, detected_at DESC);

------------------------------------------------------------------------------------------
-- 16. reports
------------------------------------------------------------------------------------------
CREATE TABLE reports (
    org_id       uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    kind         text        NOT NULL,
    period_start timestamptz NOT NULL,
    period_end   timestamptz NOT NULL,
    body         jsonb       NOT NULL,
    model        text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    CONSTRAINT reports_period_check CHECK (period_end > period_start),
    -- the weekly report job is idempotent through this constraint
    CONSTRAINT reports_org_id_kind_period_start_key UNIQUE (org_id, kind, period_start)
);
COMMENT ON TABLE reports IS 'Generated executive reports (e.g. weekly), one per org, kind and period.';
COMMENT ON COLUMN reports.kind IS 'Report kind, e.g. weekly.';
COMMENT ON COLUMN reports.period_end IS 'Exclusive end of the reported period.';
COMMENT ON COLUMN reports.body IS 'Report content (figures and text) as JSON.';
COMMENT ON COLUMN reports.model IS 'AI model that wrote the report, or ''builtin''.';

------------------------------------------------------------------------------------------
-- 17. idempotency_records
------------------------------------------------------------------------------------------
CREATE TABLE idempotency_records (
    org_id           uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    key              text        NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    method           text        NOT NULL,
    path             text        NOT NULL,
    request_hash     bytea       NOT NULL,
    state            text        NOT NULL DEFAULT 'in_flight' CHECK (state IN ('in_flight', 'done')),
    response_status  integer,
    response_headers jsonb       NOT NULL DEFAULT '{}'::jsonb,
    response_body    bytea,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL DEFAULT now() + interval '24 hours',
    PRIMARY KEY (org_id, key)
);
COMMENT ON TABLE idempotency_records IS 'API Idempotency-Key records (R12): a repeat with the same key returns the stored response; in flight = 409, other request = 422; kept 24 h.';
COMMENT ON COLUMN idempotency_records.key IS 'Idempotency-Key header value, scoped to the org.';
COMMENT ON COLUMN idempotency_records.request_hash IS 'Hash of method, path and body of the first request; a repeat with another hash is 422.';
COMMENT ON COLUMN idempotency_records.state IS 'in_flight while the first request runs; done once its response is stored.';
COMMENT ON COLUMN idempotency_records.expires_at IS 'After this the record may be pruned and the key reused.';
-- Pruning of expired records runs across all orgs, hence no org_id.
CREATE INDEX idempotency_records_expires_at_idx ON idempotency_records (expires_at);
COMMENT ON INDEX idempotency_records_expires_at_idx IS 'Pruning of expired records across all orgs; no org_id on purpose.';
