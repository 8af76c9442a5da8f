-- Drops the analytics projections of 000033 and its indexes; deal_pipeline_totals keeps open
-- stages only again (000025's trigger function).
LOCK TABLE leads IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE deals IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE deal_pipeline_totals IN ACCESS EXCLUSIVE MODE;

DROP TRIGGER deals_lead_funnel_won ON deals;
DROP TRIGGER deals_closed_days_insert ON deals;
DROP TRIGGER deals_closed_days_update ON deals;
DROP TRIGGER deals_closed_days_delete ON deals;
DROP TABLE deal_closed_days;
DROP FUNCTION deal_closed_days_insert(), deal_closed_days_update(), deal_closed_days_delete(),
    deal_closed_days_add(uuid, date, text, char(3), bigint, numeric, numeric, boolean);
DROP TRIGGER leads_analytics_insert ON leads;
DROP TRIGGER leads_analytics_update ON leads;
DROP TRIGGER leads_analytics_delete ON leads;
DROP TABLE lead_funnel_days, lead_funnel, lead_stage_totals;
DROP FUNCTION deals_lead_funnel_won(), leads_analytics_insert(), leads_analytics_update(), leads_analytics_delete(),
    lead_funnel_days_insert(), lead_funnel_days_update(), lead_funnel_days_delete(),
    lead_funnel_days_add(uuid, text, date, text, bigint), lead_stage_totals_add(uuid, text, bigint),
    lead_funnel_keys(timestamptz, text, smallint), lead_funnel_step(text);
DROP INDEX deals_org_id_won_at_idx, deals_org_id_lost_at_idx, deals_org_id_closed_stage_currency_idx,
    invoices_org_id_issued_at_idx, invoices_org_id_paid_at_idx, integrity_alerts_org_id_open_idx;

ALTER TABLE deal_pipeline_totals NO FORCE ROW LEVEL SECURITY;
DELETE FROM deal_pipeline_totals WHERE stage IN ('won', 'lost');
ALTER TABLE deal_pipeline_totals FORCE ROW LEVEL SECURITY;
ALTER TABLE deal_pipeline_totals DROP CONSTRAINT deal_pipeline_totals_stage_check;
ALTER TABLE deal_pipeline_totals ADD CONSTRAINT deal_pipeline_totals_stage_check
    CHECK (stage IN ('discovery', 'proposal', 'negotiation'));

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
