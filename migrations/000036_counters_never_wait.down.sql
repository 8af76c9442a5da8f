-- 000036 down: back to 000025's shards of the transaction id modulo 16. Each group's rows are
-- summed into one row of shard 0, and the add functions of 000025 and 000033 come back.

LOCK TABLE leads IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE deals IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE deal_pipeline_totals, deal_closed_days, lead_funnel_days, lead_stage_totals IN ACCESS EXCLUSIVE MODE;

ALTER TABLE deal_pipeline_totals NO FORCE ROW LEVEL SECURITY;
ALTER TABLE deal_closed_days NO FORCE ROW LEVEL SECURITY;

CREATE TEMPORARY TABLE compacted_deal_pipeline_totals ON COMMIT DROP AS
SELECT org_id, stage, currency, sum(deal_count)::bigint AS deal_count, sum(value_sum) AS value_sum, sum(weighted_sum) AS weighted_sum FROM deal_pipeline_totals GROUP BY org_id, stage, currency;
DELETE FROM deal_pipeline_totals;
ALTER TABLE deal_pipeline_totals ALTER COLUMN shard TYPE smallint,
    ADD CONSTRAINT deal_pipeline_totals_shard_check CHECK (shard BETWEEN 0 AND 15);
INSERT INTO deal_pipeline_totals (org_id, stage, currency, shard, deal_count, value_sum, weighted_sum) SELECT org_id, stage, currency, 0, deal_count, value_sum, weighted_sum FROM compacted_deal_pipeline_totals;

CREATE TEMPORARY TABLE compacted_deal_closed_days ON COMMIT DROP AS
SELECT org_id, day, stage, currency, sum(deal_count)::bigint AS deal_count, sum(value_sum) AS value_sum, sum(cycle_sum) AS cycle_sum FROM deal_closed_days GROUP BY org_id, day, stage, currency;
DELETE FROM deal_closed_days;
ALTER TABLE deal_closed_days ALTER COLUMN shard TYPE smallint,
    ADD CONSTRAINT deal_closed_days_shard_check CHECK (shard BETWEEN 0 AND 15);
INSERT INTO deal_closed_days (org_id, day, stage, currency, shard, deal_count, value_sum, cycle_sum) SELECT org_id, day, stage, currency, 0, deal_count, value_sum, cycle_sum FROM compacted_deal_closed_days;

CREATE TEMPORARY TABLE compacted_lead_funnel_days ON COMMIT DROP AS
SELECT org_id, dim, day, key, sum(lead_count)::bigint AS lead_count FROM lead_funnel_days GROUP BY org_id, dim, day, key;
DELETE FROM lead_funnel_days;
ALTER TABLE lead_funnel_days ALTER COLUMN shard TYPE smallint,
    ADD CONSTRAINT lead_funnel_days_shard_check CHECK (shard BETWEEN 0 AND 15);
INSERT INTO lead_funnel_days (org_id, dim, day, key, shard, lead_count) SELECT org_id, dim, day, key, 0, lead_count FROM compacted_lead_funnel_days;

CREATE TEMPORARY TABLE compacted_lead_stage_totals ON COMMIT DROP AS
SELECT org_id, stage, sum(lead_count)::bigint AS lead_count FROM lead_stage_totals GROUP BY org_id, stage;
DELETE FROM lead_stage_totals;
ALTER TABLE lead_stage_totals ALTER COLUMN shard TYPE smallint,
    ADD CONSTRAINT lead_stage_totals_shard_check CHECK (shard BETWEEN 0 AND 15);
INSERT INTO lead_stage_totals (org_id, stage, shard, lead_count) SELECT org_id, stage, 0, lead_count FROM compacted_lead_stage_totals;

ALTER TABLE deal_pipeline_totals FORCE ROW LEVEL SECURITY;
ALTER TABLE deal_closed_days FORCE ROW LEVEL SECURITY;

CREATE FUNCTION deal_pipeline_totals_shard() RETURNS smallint
    LANGUAGE sql VOLATILE AS
$$ SELECT (pg_current_xact_id()::text::bigint % 16)::smallint $$;

DROP FUNCTION deal_pipeline_totals_add(uuid, text, char(3), bigint, numeric, numeric, boolean);
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

CREATE OR REPLACE FUNCTION deal_closed_days_add(p_org uuid, p_day date, p_stage text, p_currency char(3), p_n bigint, p_value numeric,
    p_cycle numeric, may_insert boolean) RETURNS void
    LANGUAGE plpgsql AS
$$
DECLARE
    my_shard smallint := deal_pipeline_totals_shard();
BEGIN
    IF NOT may_insert THEN
        UPDATE deal_closed_days SET deal_count = deal_count + p_n, value_sum = value_sum + p_value, cycle_sum = cycle_sum + p_cycle
        WHERE org_id = p_org AND day = p_day AND stage = p_stage AND currency = p_currency AND shard = my_shard;
        IF FOUND OR NOT EXISTS (SELECT FROM orgs WHERE id = p_org) THEN
            RETURN;
        END IF;
    END IF;
    INSERT INTO deal_closed_days AS t (org_id, day, stage, currency, shard, deal_count, value_sum, cycle_sum)
    VALUES (p_org, p_day, p_stage, p_currency, my_shard, p_n, p_value, p_cycle)
    ON CONFLICT (org_id, day, stage, currency, shard) DO UPDATE
    SET deal_count = t.deal_count + EXCLUDED.deal_count, value_sum = t.value_sum + EXCLUDED.value_sum,
        cycle_sum = t.cycle_sum + EXCLUDED.cycle_sum;
END;
$$;

CREATE OR REPLACE FUNCTION lead_funnel_days_add(p_org uuid, p_dim text, p_day date, p_key text, p_n bigint) RETURNS void
    LANGUAGE plpgsql AS
$$
DECLARE
    my_shard smallint := deal_pipeline_totals_shard();
BEGIN
    IF p_n < 0 THEN
        UPDATE lead_funnel_days SET lead_count = lead_count + p_n
        WHERE org_id = p_org AND dim = p_dim AND day = p_day AND key = p_key AND shard = my_shard;
        IF FOUND OR NOT EXISTS (SELECT FROM orgs WHERE id = p_org) THEN
            RETURN;
        END IF;
    END IF;
    INSERT INTO lead_funnel_days AS t (org_id, dim, day, key, shard, lead_count)
    VALUES (p_org, p_dim, p_day, p_key, my_shard, p_n)
    ON CONFLICT (org_id, dim, day, key, shard) DO UPDATE SET lead_count = t.lead_count + EXCLUDED.lead_count;
END;
$$;

CREATE OR REPLACE FUNCTION lead_stage_totals_add(p_org uuid, p_stage text, p_n bigint) RETURNS void
    LANGUAGE plpgsql AS
$$
DECLARE
    my_shard smallint := deal_pipeline_totals_shard();
BEGIN
    IF p_n < 0 THEN
        UPDATE lead_stage_totals SET lead_count = lead_count + p_n
        WHERE org_id = p_org AND stage = p_stage AND shard = my_shard;
        IF FOUND OR NOT EXISTS (SELECT FROM orgs WHERE id = p_org) THEN
            RETURN;
        END IF;
    END IF;
    INSERT INTO lead_stage_totals AS t (org_id, stage, shard, lead_count)
    VALUES (p_org, p_stage, my_shard, p_n)
    ON CONFLICT (org_id, stage, shard) DO UPDATE SET lead_count = t.lead_count + EXCLUDED.lead_count;
END;
$$;

DROP FUNCTION counter_shard();

COMMENT ON COLUMN deal_pipeline_totals.shard IS
    'The shard (0-15) of the transactions that wrote this row: their transaction id modulo 16 (deal_pipeline_totals_shard).';
COMMENT ON COLUMN lead_funnel_days.shard IS NULL;
COMMENT ON COLUMN lead_stage_totals.shard IS NULL;
COMMENT ON COLUMN deal_closed_days.shard IS NULL;
COMMENT ON TABLE lead_funnel_days IS
    'The alive rows of lead_funnel counted per UTC day of created_at and step (dim step, key the step) and per day and source (dim source, key the source), '
    'in up to 16 shards (sum over shards is exact; a shard may be negative). Maintained by the lead_funnel_days_* triggers.';
COMMENT ON TABLE lead_stage_totals IS
    'The alive (not deleted) leads per org and current stage, in up to 16 shards (sum over shards is exact). Maintained by the leads_analytics_* triggers.';
COMMENT ON TABLE deal_closed_days IS
    'The won and lost deals per UTC day of won_at or lost_at, stage and currency: count, sum of deal_value, sum of (won_at or lost_at) - created_at in seconds; '
    'in up to 16 shards (sum over shards is exact; a shard may be negative). Maintained by the deals_closed_days_* triggers.';
COMMENT ON TABLE deal_pipeline_totals IS
    'Deals per org, stage (open, won and lost) and currency, kept in up to 16 shards: count, sum of deal_value and of each deal''s rounded weighted value. '
    'A group''s figures are the sums over its shards (a shard''s may be negative). '
    'Maintained by the deals_pipeline_totals_* triggers (never written by code); read by GET /analytics/pipeline without from/to and /analytics/velocity. '
    'Rows whose count fell to 0 stay.';
