-- 000011: the open pipeline of every org, maintained as the deals change (GET /analytics/pipeline).
--
-- The pipeline sums (pkg/deal Pipeline) read every open deal of the org on each request: with
-- 100,000 deals in one org that cost about 44 ms of PostgreSQL CPU per request, however well
-- indexed (000009). deal_pipeline_totals keeps, per org, open stage and currency, the count of
-- the open deals, the sum of their deal_value and the sum of their weighted values, each deal's
-- rounded exactly as the pipeline's scan rounds it ((v / 10000) * bp + ((v % 10000) * bp +
-- 5000) / 10000 on the generated probability_bp of 000009, i.e. deal.WeightedValue). The
-- pipeline without a from/to window reads these few rows instead of the deals; with a window it
-- still scans (its rows depend on created_at, which no summary keys).
--
-- AFTER triggers on deals keep the table exact in the writing transaction itself: they subtract
-- the old rows' contribution and add the new rows', for open stages only. They are statement
-- triggers with transition tables, not row triggers: each statement's changes are summed per
-- (org, stage, currency) first and each summary row is then written once, so a statement that
-- writes 100,000 deals (an import, the bench seed, an org's deletion cascading) writes a few
-- rows, not 100,000 versions of them. Row triggers, measured: one INSERT of 100,000 deals took
-- 66 s instead of 1 s, since every upsert of the same summary row in one transaction adds a
-- version (and an index entry) that the next has to step over. For the one-deal writes of the
-- service the work is the same: one small aggregate over the statement's one or two rows. A
-- group whose deltas are all zero (an update of a title, a version, a date; a count that
-- nets out) writes nothing.
--
-- Adding is INSERT ... ON CONFLICT DO UPDATE of (org_id, stage, currency); the row stays locked
-- until the transaction ends, so concurrent changes of one org's stage and currency serialise on
-- it (each adds its delta to what the one before committed). The groups are written in key
-- order, so two statements that touch the same rows (two stage moves in opposite directions)
-- cannot deadlock each other. A group with only old rows (deleted deals, deals that left it) is
-- a plain UPDATE: the row exists whenever the old rows counted, except while an org is deleted,
-- when the cascade may already have removed it (then there is nothing to subtract from, and
-- nothing is inserted that would point to the vanishing org).
--
-- Rows whose count falls to 0 stay (with sums 0): there are at most three per currency an org
-- has used, and keeping them spares the delete-and-reinsert churn of a stage that empties and
-- fills. The pipeline skips them.
--
-- The table is derived data: to rebuild it, run the backfill below again after emptying it.
-- A dump carries it along with the deals, whose triggers would count them once more on
-- restore: restore with --disable-triggers, or dump with
-- --exclude-table-data=deal_pipeline_totals and let the triggers rebuild it.
--
-- The trigger functions run as the writing role (not SECURITY DEFINER), so the table is under
-- the same row-level security as the deals: ENABLEd and FORCEd with the tenant_isolation policy
-- of 000003, and crm_app (which the api connects as) has SELECT, INSERT, UPDATE and DELETE on it
-- through the default privileges of 000003 (granted again here explicitly). A write of org A's
-- deal runs in A's tenant transaction, so the triggers' write of A's totals passes the policy.

CREATE TABLE deal_pipeline_totals (
    org_id       uuid    NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    stage        text    NOT NULL CHECK (stage IN ('discovery', 'proposal', 'negotiation')),
    currency     char(3) NOT NULL,
    deal_count   bigint  NOT NULL DEFAULT 0,
    value_sum    numeric NOT NULL DEFAULT 0,
    weighted_sum numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, stage, currency)
);
COMMENT ON TABLE deal_pipeline_totals IS
    'Open pipeline per org, open stage and currency: count, sum of deal_value and of each deal''s rounded weighted value. '
    'Maintained by the deals_pipeline_totals_* triggers (never written by code); read by GET /analytics/pipeline without from/to. '
    'Rows whose count fell to 0 stay.';
COMMENT ON COLUMN deal_pipeline_totals.deal_count IS 'Open deals of the org in this stage and currency.';
COMMENT ON COLUMN deal_pipeline_totals.value_sum IS 'Sum of their deal_value, minor units (exact numeric).';
COMMENT ON COLUMN deal_pipeline_totals.weighted_sum IS
    'Sum of their weighted values, each (v / 10000) * bp + ((v % 10000) * bp + 5000) / 10000 (deal.WeightedValue), minor units.';

-- deal_pipeline_totals_add adds one group's deltas to its row: an upsert when the group has new
-- rows (may_insert), else an update of the row that must be there already.
CREATE FUNCTION deal_pipeline_totals_add(p_org uuid, p_stage text, p_currency char(3), p_count bigint,
    p_value numeric, p_weighted numeric, may_insert boolean) RETURNS void
    LANGUAGE plpgsql AS
$$
BEGIN
    IF may_insert THEN
        INSERT INTO deal_pipeline_totals AS t (org_id, stage, currency, deal_count, value_sum, weighted_sum)
        VALUES (p_org, p_stage, p_currency, p_count, p_value, p_weighted)
        ON CONFLICT (org_id, stage, currency) DO UPDATE
        SET deal_count = t.deal_count + EXCLUDED.deal_count, value_sum = t.value_sum + EXCLUDED.value_sum,
            weighted_sum = t.weighted_sum + EXCLUDED.weighted_sum;
    ELSE
        UPDATE deal_pipeline_totals
        SET deal_count = deal_count + p_count, value_sum = value_sum + p_value, weighted_sum = weighted_sum + p_weighted
        WHERE org_id = p_org AND stage = p_stage AND currency = p_currency;
    END IF;
END;
$$;
COMMENT ON FUNCTION deal_pipeline_totals_add(uuid, text, char(3), bigint, numeric, numeric, boolean) IS
    'Adds one (org, stage, currency) group''s deltas to deal_pipeline_totals (for deal_pipeline_totals_apply).';

-- deal_pipeline_totals_apply is the function of the three statement triggers below: it sums the
-- statement's old rows (negative) and new rows (positive) of open stages per group, and writes
-- the groups whose deltas are not all zero in key order. Each deal's weighted value is rounded
-- as pipelineSQL and deal.WeightedValue round it.
CREATE FUNCTION deal_pipeline_totals_apply() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    g record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        FOR g IN
            SELECT org_id, stage, currency, count(*) AS n, sum(deal_value) AS v,
                sum((deal_value / 10000) * probability_bp + ((deal_value % 10000) * probability_bp + 5000) / 10000) AS w
            FROM new_rows
            WHERE stage IN ('discovery', 'proposal', 'negotiation')
            GROUP BY org_id, stage, currency
            ORDER BY org_id, stage, currency
        LOOP
            PERFORM deal_pipeline_totals_add(g.org_id, g.stage, g.currency, g.n, g.v, g.w, true);
        END LOOP;
    ELSIF TG_OP = 'DELETE' THEN
        FOR g IN
            SELECT org_id, stage, currency, count(*) AS n, sum(deal_value) AS v,
                sum((deal_value / 10000) * probability_bp + ((deal_value % 10000) * probability_bp + 5000) / 10000) AS w
            FROM old_rows
            WHERE stage IN ('discovery', 'proposal', 'negotiation')
            GROUP BY org_id, stage, currency
            ORDER BY org_id, stage, currency
        LOOP
            PERFORM deal_pipeline_totals_add(g.org_id, g.stage, g.currency, -g.n, -g.v, -g.w, false);
        END LOOP;
    ELSE
        FOR g IN
            SELECT org_id, stage, currency, sum(s) AS n, sum(s * deal_value) AS v,
                sum(s * ((deal_value / 10000) * probability_bp + ((deal_value % 10000) * probability_bp + 5000) / 10000)) AS w,
                bool_or(s > 0) AS has_new
            FROM (SELECT -1 AS s, org_id, stage, currency, deal_value, probability_bp FROM old_rows
                  UNION ALL
                  SELECT 1, org_id, stage, currency, deal_value, probability_bp FROM new_rows) x
            WHERE stage IN ('discovery', 'proposal', 'negotiation')
            GROUP BY org_id, stage, currency
            ORDER BY org_id, stage, currency
        LOOP
            IF g.n <> 0 OR g.v <> 0 OR g.w <> 0 THEN
                PERFORM deal_pipeline_totals_add(g.org_id, g.stage, g.currency, g.n, g.v, g.w, g.has_new);
            END IF;
        END LOOP;
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION deal_pipeline_totals_apply() IS
    'Trigger function of the deals_pipeline_totals_* statement triggers: moves the statement''s deals'' contributions in deal_pipeline_totals.';

-- Statement triggers with transition tables (which allow one event each, and no column list).
CREATE TRIGGER deals_pipeline_totals_insert AFTER INSERT ON deals
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION deal_pipeline_totals_apply();
CREATE TRIGGER deals_pipeline_totals_update AFTER UPDATE ON deals
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION deal_pipeline_totals_apply();
CREATE TRIGGER deals_pipeline_totals_delete AFTER DELETE ON deals
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION deal_pipeline_totals_apply();
COMMENT ON TRIGGER deals_pipeline_totals_insert ON deals IS
    'Adds the inserted open deals to deal_pipeline_totals (000011), in the writing transaction.';
COMMENT ON TRIGGER deals_pipeline_totals_update ON deals IS
    'Moves the updated deals'' contributions in deal_pipeline_totals (000011), in the writing transaction.';
COMMENT ON TRIGGER deals_pipeline_totals_delete ON deals IS
    'Subtracts the deleted open deals from deal_pipeline_totals (000011), in the writing transaction.';

-- Backfill. The triggers exist already and their lock (SHARE ROW EXCLUSIVE on deals, held to the
-- end of this migration's transaction) keeps every writer out until the backfill commits with
-- it: no change is counted twice or missed. deals FORCEs row-level security, which would hide
-- every row from the owner outside a tenant transaction; the backfill reads past it for the
-- moment of this transaction (NO FORCE ... FORCE, under the ACCESS EXCLUSIVE lock that takes).
ALTER TABLE deals NO FORCE ROW LEVEL SECURITY;
INSERT INTO deal_pipeline_totals (org_id, stage, currency, deal_count, value_sum, weighted_sum)
SELECT org_id, stage, currency, count(*), sum(deal_value),
    sum((deal_value / 10000) * probability_bp + ((deal_value % 10000) * probability_bp + 5000) / 10000)
FROM deals
WHERE stage IN ('discovery', 'proposal', 'negotiation')
GROUP BY org_id, stage, currency;
ALTER TABLE deals FORCE ROW LEVEL SECURITY;

-- Row-level security exactly as on the other tenant tables (000003).
ALTER TABLE deal_pipeline_totals ENABLE ROW LEVEL SECURITY;
ALTER TABLE deal_pipeline_totals FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON deal_pipeline_totals
    USING (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid)
    WITH CHECK (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON deal_pipeline_totals TO crm_app;
