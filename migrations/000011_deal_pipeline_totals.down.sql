DROP TRIGGER IF EXISTS deals_pipeline_totals_delete ON deals;
DROP TRIGGER IF EXISTS deals_pipeline_totals_update ON deals;
DROP TRIGGER IF EXISTS deals_pipeline_totals_insert ON deals;
DROP FUNCTION IF EXISTS deal_pipeline_totals_apply();
DROP FUNCTION IF EXISTS deal_pipeline_totals_add(uuid, text, char(3), bigint, numeric, numeric, boolean);
DROP TABLE IF EXISTS deal_pipeline_totals;
