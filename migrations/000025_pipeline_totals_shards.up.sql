-- 000025: deal_pipeline_totals spread over 16 shard rows per group, so that the deals of one org
-- no longer serialise on one summary row.
--
-- Why shards. 000011 keeps one row per (org, open stage, currency) and every transaction that
-- writes deals adds its deltas to it; the row stays locked until that transaction ends, so every
-- deal created or moved in an org waits for the one before it to commit. Measured with the money
-- benchmark (2,000 to 10,000 deals of one org won from 8 connections): 78-81 % of the wins'
-- backend time was spent waiting for that row (Lock/transactionid and Lock/tuple on the stage
-- update). A group is now kept in up to 16 rows, told apart by shard (0-15) in the primary key
-- (org_id, stage, currency, shard); the group's figures are the sums over its shards, exact
-- although a single shard's may not mean anything alone (a deal counted in one shard is
-- subtracted in another when it leaves: a shard's count and sums may be negative). Readers
-- (pkg/deal pipelineTotalsSQL) sum the shards of each group and skip groups whose count sums to
-- 0; that reads at most 48 rows per currency the org has used, still a few index pages.
--
-- Why one shard per transaction. Each writing transaction adds all its deltas to the shard of
-- its own transaction id (deal_pipeline_totals_shard: pg_current_xact_id() modulo 16; the top
-- transaction's id even in a subtransaction, so the same shard for every statement of the
-- transaction). Two transactions in different shards touch disjoint rows and never wait for
-- each other here; consecutive transaction ids fall in consecutive shards, so concurrent
-- writers mostly do. Two in the same shard write the same rows exactly as under 000011: the
-- mapping from group to row is the same for both, each statement writes its groups in key order,
-- and so what 000011 reasoned about deadlocks holds unchanged (a transaction only ever waits for
-- a row of its own shard, i.e. for another transaction of that shard). A shard picked per
-- statement or per call, by contrast, would let one transaction hold a group's shard a and wait
-- for its shard b while another holds b and waits for a: a deadlock 000011 rules out.
--
-- Decrements upsert too. A group with only old rows (deleted deals, deals that left it) is an
-- UPDATE of the transaction's shard row; when that shard has no row of the group yet, one is
-- inserted with the negative deltas. Except while the org is being deleted: the cascade may
-- have removed the org's rows already, or will, and a row inserted then would point to the
-- vanishing org (its foreign key check fails and with it the deletion). The org's row in orgs,
-- which the writer sees (its tenant transaction's policy of 000003 shows it its org), is gone
-- from the transaction's view once the deletion has run: then nothing is inserted, as under
-- 000011 nothing was subtracted from a removed row.
--
-- Existing rows become shard 0. Rows whose count falls to 0 stay, as under 000011 (now up to 16
-- per group). Rebuilding the table (it is derived data): empty it, then run 000011's backfill
-- with shard 0, under the same lock and row-level security care as there:
--
--   INSERT INTO deal_pipeline_totals (org_id, stage, currency, shard, deal_count, value_sum, weighted_sum)
--   SELECT org_id, stage, currency, 0, count(*), sum(deal_value),
--       sum((deal_value / 10000) * probability_bp + ((deal_value % 10000) * probability_bp + 5000) / 10000)
--   FROM deals WHERE stage IN ('discovery', 'proposal', 'negotiation') GROUP BY org_id, stage, currency;
--
-- The locks below keep every deal writer out until this migration commits: SHARE ROW EXCLUSIVE
-- on deals first (a writer's statement waits before it runs, so none is half-way in the old
-- trigger functions when the key changes), then the table itself, in the order writers take them.

LOCK TABLE deals IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE deal_pipeline_totals IN ACCESS EXCLUSIVE MODE;

ALTER TABLE deal_pipeline_totals
    ADD COLUMN shard smallint NOT NULL DEFAULT 0 CHECK (shard BETWEEN 0 AND 15),
    DROP CONSTRAINT deal_pipeline_totals_pkey,
    ADD PRIMARY KEY (org_id, stage, currency, shard);
ALTER TABLE deal_pipeline_totals ALTER COLUMN shard DROP DEFAULT;
COMMENT ON TABLE deal_pipeline_totals IS
    'Open pipeline per org, open stage and currency, kept in up to 16 shards: count, sum of deal_value and of each deal''s rounded weighted value. '
    'A group''s figures are the sums over its shards (a shard''s may be negative). '
    'Maintained by the deals_pipeline_totals_* triggers (never written by code); read by GET /analytics/pipeline without from/to. '
    'Rows whose count fell to 0 stay.';
COMMENT ON COLUMN deal_pipeline_totals.shard IS
    'The shard (0-15) of the transactions that wrote this row: their transaction id modulo 16 (deal_pipeline_totals_shard).';
COMMENT ON COLUMN deal_pipeline_totals.deal_count IS
    'Open deals of the org in this stage and currency added in this shard minus those subtracted in it; the sum over the shards is exact.';

-- deal_pipeline_totals_shard is the shard of the current transaction.
CREATE FUNCTION deal_pipeline_totals_shard() RETURNS smallint
    LANGUAGE sql VOLATILE AS
$$ SELECT (pg_current_xact_id()::text::bigint % 16)::smallint $$;
COMMENT ON FUNCTION deal_pipeline_totals_shard() IS
    'The deal_pipeline_totals shard of the current transaction: its (top-level) transaction id modulo 16.';

-- deal_pipeline_totals_add adds one group's deltas to its row of the shard: an upsert when the
-- group has new rows (may_insert, the org exists), else an update, or an insert when the shard
-- has no row of the group yet and the org is not being deleted.
CREATE FUNCTION deal_pipeline_totals_add(p_org uuid, p_stage text, p_currency char(3), p_shard smallint,
    p_count bigint, p_value numeric, p_weighted numeric, may_insert boolean) RETURNS void
    LANGUAGE plpgsql AS
$$
BEGIN
    IF NOT may_insert THEN
        UPDATE deal_pipeline_totals
        SET deal_count = deal_count + p_count, value_sum = value_sum + p_value, weighted_sum = weighted_sum + p_weighted
        WHERE org_id = p_org AND stage = p_stage AND currency = p_currency AND shard = p_shard;
        IF FOUND OR NOT EXISTS (SELECT FROM orgs WHERE id = p_org) THEN
            RETURN;
        END IF;
    END IF;
    INSERT INTO deal_pipeline_totals AS t (org_id, stage, currency, shard, deal_count, value_sum, weighted_sum)
    VALUES (p_org, p_stage, p_currency, p_shard, p_count, p_value, p_weighted)
    ON CONFLICT (org_id, stage, currency, shard) DO UPDATE
    SET deal_count = t.deal_count + EXCLUDED.deal_count, value_sum = t.value_sum + EXCLUDED.value_sum,
        weighted_sum = t.weighted_sum + EXCLUDED.weighted_sum;
END;
$$;
COMMENT ON FUNCTION deal_pipeline_totals_add(uuid, text, char(3), smallint, bigint, numeric, numeric, boolean) IS
    'Adds one (org, stage, currency) group''s deltas to its deal_pipeline_totals row of a shard (for deal_pipeline_totals_apply).';

-- deal_pipeline_totals_apply as in 000011, every group written to the transaction's shard.
CREATE OR REPLACE FUNCTION deal_pipeline_totals_apply() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    g record;
    my_shard smallint := deal_pipeline_totals_shard();
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
            PERFORM deal_pipeline_totals_add(g.org_id, g.stage, g.currency, my_shard, g.n, g.v, g.w, true);
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
            PERFORM deal_pipeline_totals_add(g.org_id, g.stage, g.currency, my_shard, -g.n, -g.v, -g.w, false);
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
                PERFORM deal_pipeline_totals_add(g.org_id, g.stage, g.currency, my_shard, g.n, g.v, g.w, g.has_new);
            END IF;
        END LOOP;
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION deal_pipeline_totals_apply() IS
    'Trigger function of the deals_pipeline_totals_* statement triggers: moves the statement''s deals'' contributions in deal_pipeline_totals, in the transaction''s shard.';

DROP FUNCTION deal_pipeline_totals_add(uuid, text, char(3), bigint, numeric, numeric, boolean);
