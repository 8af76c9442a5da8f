-- 000036: a trigger adding to a counter row never waits for another transaction.
--
-- The projections deal_pipeline_totals (000011, 000025), lead_stage_totals, lead_funnel_days and
-- deal_closed_days (000033) keep each group's figures in several rows, summed on read. Under
-- 000025 a writing transaction added all its deltas to the rows of one shard, its transaction id
-- modulo 16, and two transactions of the same shard queued on the same rows. That was only safe
-- while a transaction took no other lock after its first counter row, and writers do: intake
-- inserts its new leads (counting them in lead_stage_totals and lead_funnel_days) and then locks
-- the live leads its repeated submissions touch; a batch of the lead pipeline holds such a lead
-- and, moving its stage, needs the same counter row. One transaction in sixteen was in the same
-- shard, and the two deadlocked (seen by the duplicate-storm test as "deadlock detected" in
-- "lock repeated leads").
--
-- A counter add now takes whichever row of its group no other transaction holds, preferring the
-- one it already wrote (SELECT ... FOR NO KEY UPDATE SKIP LOCKED), and when every row of the group
-- is held, or the group has none, inserts a row of its own, whose shard is its own transaction
-- id (counter_shard: pg_current_xact_id(), which is never reused, so no other transaction can
-- hold that key). A counter add therefore never waits, and a counter row can be in no cycle of
-- waits, whatever a transaction locks before or after it. A group has as many rows as the most
-- transactions that ever wrote it at one moment (each new row is made while all others are
-- held): one or two for most groups, a few dozen under heavy concurrent intake; readers sum them
-- as before. Concurrent writers of one group still never queue on each other.
--
-- The decrement rule of 000025 stays: a group with only old rows inserts a row only while the org
-- exists (an org being deleted has its rows cascaded away).
--
-- shard widens to bigint. The existing rows of each group are summed into one row of shard 0,
-- which is no transaction id (0 is InvalidTransactionId), so no later insert can collide with it.

LOCK TABLE leads IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE deals IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE deal_pipeline_totals, deal_closed_days, lead_funnel_days, lead_stage_totals IN ACCESS EXCLUSIVE MODE;

-- The owner reads and rewrites every org's rows below: past the FORCEd policies for the moment of
-- this transaction.
ALTER TABLE deal_pipeline_totals NO FORCE ROW LEVEL SECURITY;
ALTER TABLE deal_closed_days NO FORCE ROW LEVEL SECURITY;

CREATE TEMPORARY TABLE compacted_pipeline ON COMMIT DROP AS
SELECT org_id, stage, currency, sum(deal_count)::bigint AS deal_count, sum(value_sum) AS value_sum,
    sum(weighted_sum) AS weighted_sum
FROM deal_pipeline_totals GROUP BY 1, 2, 3;
DELETE FROM deal_pipeline_totals;
ALTER TABLE deal_pipeline_totals DROP CONSTRAINT deal_pipeline_totals_shard_check,
    ALTER COLUMN shard TYPE bigint;
INSERT INTO deal_pipeline_totals (org_id, stage, currency, shard, deal_count, value_sum, weighted_sum)
SELECT org_id, stage, currency, 0, deal_count, value_sum, weighted_sum FROM compacted_pipeline;

CREATE TEMPORARY TABLE compacted_closed ON COMMIT DROP AS
SELECT org_id, day, stage, currency, sum(deal_count)::bigint AS deal_count, sum(value_sum) AS value_sum,
    sum(cycle_sum) AS cycle_sum
FROM deal_closed_days GROUP BY 1, 2, 3, 4;
DELETE FROM deal_closed_days;
ALTER TABLE deal_closed_days DROP CONSTRAINT deal_closed_days_shard_check,
    ALTER COLUMN shard TYPE bigint;
INSERT INTO deal_closed_days (org_id, day, stage, currency, shard, deal_count, value_sum, cycle_sum)
SELECT org_id, day, stage, currency, 0, deal_count, value_sum, cycle_sum FROM compacted_closed;

CREATE TEMPORARY TABLE compacted_funnel ON COMMIT DROP AS
SELECT org_id, dim, day, key, sum(lead_count)::bigint AS lead_count FROM lead_funnel_days GROUP BY 1, 2, 3, 4;
DELETE FROM lead_funnel_days;
ALTER TABLE lead_funnel_days DROP CONSTRAINT lead_funnel_days_shard_check,
    ALTER COLUMN shard TYPE bigint;
INSERT INTO lead_funnel_days (org_id, dim, day, key, shard, lead_count)
SELECT org_id, dim, day, key, 0, lead_count FROM compacted_funnel;

CREATE TEMPORARY TABLE compacted_stages ON COMMIT DROP AS
SELECT org_id, stage, sum(lead_count)::bigint AS lead_count FROM lead_stage_totals GROUP BY 1, 2;
DELETE FROM lead_stage_totals;
ALTER TABLE lead_stage_totals DROP CONSTRAINT lead_stage_totals_shard_check,
    ALTER COLUMN shard TYPE bigint;
INSERT INTO lead_stage_totals (org_id, stage, shard, lead_count)
SELECT org_id, stage, 0, lead_count FROM compacted_stages;

ALTER TABLE deal_pipeline_totals FORCE ROW LEVEL SECURITY;
ALTER TABLE deal_closed_days FORCE ROW LEVEL SECURITY;

-- counter_shard is the shard of a counter row the current transaction inserts: its own
-- (top-level) transaction id.
CREATE FUNCTION counter_shard() RETURNS bigint
    LANGUAGE sql VOLATILE AS
$$ SELECT pg_current_xact_id()::text::bigint $$;
COMMENT ON FUNCTION counter_shard() IS
    'The shard of a counter row the current transaction inserts: its own transaction id, which no other transaction holds.';

-- Each *_add function below: add to a row of the group that no other transaction holds (the one
-- this transaction wrote first: its xmin is this transaction), else insert this transaction's
-- own row, unless the group gets only old rows' deltas and the org is gone.

CREATE OR REPLACE FUNCTION lead_stage_totals_add(p_org uuid, p_stage text, p_n bigint) RETURNS void
    LANGUAGE plpgsql AS
$$
BEGIN
    UPDATE lead_stage_totals SET lead_count = lead_count + p_n
    WHERE org_id = p_org AND stage = p_stage AND shard = (
        SELECT shard FROM lead_stage_totals WHERE org_id = p_org AND stage = p_stage
        ORDER BY xmin = pg_current_xact_id()::xid DESC LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED);
    IF FOUND OR (p_n < 0 AND NOT EXISTS (SELECT FROM orgs WHERE id = p_org)) THEN
        RETURN;
    END IF;
    INSERT INTO lead_stage_totals (org_id, stage, shard, lead_count) VALUES (p_org, p_stage, counter_shard(), p_n);
END;
$$;

CREATE OR REPLACE FUNCTION lead_funnel_days_add(p_org uuid, p_dim text, p_day date, p_key text, p_n bigint) RETURNS void
    LANGUAGE plpgsql AS
$$
BEGIN
    UPDATE lead_funnel_days SET lead_count = lead_count + p_n
    WHERE org_id = p_org AND dim = p_dim AND day = p_day AND key = p_key AND shard = (
        SELECT shard FROM lead_funnel_days WHERE org_id = p_org AND dim = p_dim AND day = p_day AND key = p_key
        ORDER BY xmin = pg_current_xact_id()::xid DESC LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED);
    IF FOUND OR (p_n < 0 AND NOT EXISTS (SELECT FROM orgs WHERE id = p_org)) THEN
        RETURN;
    END IF;
    INSERT INTO lead_funnel_days (org_id, dim, day, key, shard, lead_count)
    VALUES (p_org, p_dim, p_day, p_key, counter_shard(), p_n);
END;
$$;

CREATE OR REPLACE FUNCTION deal_closed_days_add(p_org uuid, p_day date, p_stage text, p_currency char(3), p_n bigint,
    p_value numeric, p_cycle numeric, may_insert boolean) RETURNS void
    LANGUAGE plpgsql AS
$$
BEGIN
    UPDATE deal_closed_days SET deal_count = deal_count + p_n, value_sum = value_sum + p_value, cycle_sum = cycle_sum + p_cycle
    WHERE org_id = p_org AND day = p_day AND stage = p_stage AND currency = p_currency AND shard = (
        SELECT shard FROM deal_closed_days WHERE org_id = p_org AND day = p_day AND stage = p_stage AND currency = p_currency
        ORDER BY xmin = pg_current_xact_id()::xid DESC LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED);
    IF FOUND OR (NOT may_insert AND NOT EXISTS (SELECT FROM orgs WHERE id = p_org)) THEN
        RETURN;
    END IF;
    INSERT INTO deal_closed_days (org_id, day, stage, currency, shard, deal_count, value_sum, cycle_sum)
    VALUES (p_org, p_day, p_stage, p_currency, counter_shard(), p_n, p_value, p_cycle);
END;
$$;

DROP FUNCTION deal_pipeline_totals_add(uuid, text, char(3), smallint, bigint, numeric, numeric, boolean);
CREATE FUNCTION deal_pipeline_totals_add(p_org uuid, p_stage text, p_currency char(3),
    p_count bigint, p_value numeric, p_weighted numeric, may_insert boolean) RETURNS void
    LANGUAGE plpgsql AS
$$
BEGIN
    UPDATE deal_pipeline_totals
    SET deal_count = deal_count + p_count, value_sum = value_sum + p_value, weighted_sum = weighted_sum + p_weighted
    WHERE org_id = p_org AND stage = p_stage AND currency = p_currency AND shard = (
        SELECT shard FROM deal_pipeline_totals WHERE org_id = p_org AND stage = p_stage AND currency = p_currency
        ORDER BY xmin = pg_current_xact_id()::xid DESC LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED);
    IF FOUND OR (NOT may_insert AND NOT EXISTS (SELECT FROM orgs WHERE id = p_org)) THEN
        RETURN;
    END IF;
    INSERT INTO deal_pipeline_totals (org_id, stage, currency, shard, deal_count, value_sum, weighted_sum)
    VALUES (p_org, p_stage, p_currency, counter_shard(), p_count, p_value, p_weighted);
END;
$$;
COMMENT ON FUNCTION deal_pipeline_totals_add(uuid, text, char(3), bigint, numeric, numeric, boolean) IS
    'Adds one (org, stage, currency) group''s deltas to a deal_pipeline_totals row no other transaction holds (for deal_pipeline_totals_apply).';

CREATE OR REPLACE FUNCTION deal_pipeline_totals_apply() RETURNS trigger
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
            GROUP BY org_id, stage, currency
        LOOP
            PERFORM deal_pipeline_totals_add(g.org_id, g.stage, g.currency, g.n, g.v, g.w, true);
        END LOOP;
    ELSIF TG_OP = 'DELETE' THEN
        FOR g IN
            SELECT org_id, stage, currency, count(*) AS n, sum(deal_value) AS v,
                sum((deal_value / 10000) * probability_bp + ((deal_value % 10000) * probability_bp + 5000) / 10000) AS w
            FROM old_rows
            GROUP BY org_id, stage, currency
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
            GROUP BY org_id, stage, currency
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
    'Trigger function of the deals_pipeline_totals_* statement triggers: moves the statement''s deals'' contributions in deal_pipeline_totals (deal_pipeline_totals_add).';

DROP FUNCTION deal_pipeline_totals_shard();

COMMENT ON COLUMN deal_pipeline_totals.shard IS
    'The row''s place in its group: the id of the transaction that inserted it (0 for rows from before 000036). Any row of a group takes any writer''s deltas.';
COMMENT ON COLUMN lead_funnel_days.shard IS
    'The row''s place in its group: the id of the transaction that inserted it (0 for rows from before 000036). Any row of a group takes any writer''s deltas.';
COMMENT ON COLUMN lead_stage_totals.shard IS
    'The row''s place in its group: the id of the transaction that inserted it (0 for rows from before 000036). Any row of a group takes any writer''s deltas.';
COMMENT ON COLUMN deal_closed_days.shard IS
    'The row''s place in its group: the id of the transaction that inserted it (0 for rows from before 000036). Any row of a group takes any writer''s deltas.';
COMMENT ON TABLE deal_pipeline_totals IS
    'Deals per org, stage (open, won and lost) and currency, kept in a few rows per group: count, sum of deal_value and of each deal''s rounded weighted value. '
    'A group''s figures are the sums over its rows (a row''s may be negative). '
    'Maintained by the deals_pipeline_totals_* triggers (never written by code); read by GET /analytics/pipeline without from/to and /analytics/velocity. '
    'Rows whose count fell to 0 stay.';
COMMENT ON TABLE lead_funnel_days IS
    'The alive rows of lead_funnel counted per UTC day of created_at and step (dim step, key the step) and per day and source (dim source, key the source), '
    'in a few rows per group (the sum over them is exact; a row may be negative). Maintained by the lead_funnel_days_* triggers.';
COMMENT ON TABLE lead_stage_totals IS
    'The alive (not deleted) leads per org and current stage, in a few rows per stage (the sum over them is exact). Maintained by the leads_analytics_* triggers.';
COMMENT ON TABLE deal_closed_days IS
    'The won and lost deals per UTC day of won_at or lost_at, stage and currency: count, sum of deal_value, sum of (won_at or lost_at) - created_at in seconds; '
    'in a few rows per group (the sum over them is exact; a row may be negative). Maintained by the deals_closed_days_* triggers.';
