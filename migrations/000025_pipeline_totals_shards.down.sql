-- Folds the shards of every (org, stage, currency) group back into one row (000011's layout):
-- shard 0 takes the group's sums, the other shards go, then the column. The locks keep the deal
-- writers out as in the up migration; the owner reads and writes past the table's FORCEd
-- row-level security for the moment of this transaction (NO FORCE ... FORCE). Then 000011's
-- trigger functions again.
LOCK TABLE deals IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE deal_pipeline_totals IN ACCESS EXCLUSIVE MODE;
ALTER TABLE deal_pipeline_totals NO FORCE ROW LEVEL SECURITY;
INSERT INTO deal_pipeline_totals AS t (org_id, stage, currency, shard, deal_count, value_sum, weighted_sum)
SELECT org_id, stage, currency, 0, sum(deal_count), sum(value_sum), sum(weighted_sum)
FROM deal_pipeline_totals
GROUP BY org_id, stage, currency
ON CONFLICT (org_id, stage, currency, shard) DO UPDATE
SET deal_count = EXCLUDED.deal_count, value_sum = EXCLUDED.value_sum, weighted_sum = EXCLUDED.weighted_sum;
DELETE FROM deal_pipeline_totals WHERE shard <> 0;
ALTER TABLE deal_pipeline_totals FORCE ROW LEVEL SECURITY;
ALTER TABLE deal_pipeline_totals DROP COLUMN shard;
ALTER TABLE deal_pipeline_totals ADD PRIMARY KEY (org_id, stage, currency);
COMMENT ON TABLE deal_pipeline_totals IS
    'Open pipeline per org, open stage and currency: count, sum of deal_value and of each deal''s rounded weighted value. '
    'Maintained by the deals_pipeline_totals_* triggers (never written by code); read by GET /analytics/pipeline without from/to. '
    'Rows whose count fell to 0 stay.';
COMMENT ON COLUMN deal_pipeline_totals.deal_count IS 'Open deals of the org in this stage and currency.';

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

DROP FUNCTION IF EXISTS deal_pipeline_totals_add(uuid, text, char(3), smallint, bigint, numeric, numeric, boolean);
DROP FUNCTION IF EXISTS deal_pipeline_totals_shard();
