DROP INDEX IF EXISTS deals_org_id_updated_at_id_idx;
DROP INDEX IF EXISTS deals_org_id_deal_value_id_idx;
DROP INDEX IF EXISTS deals_org_id_open_stage_currency_idx;
ALTER TABLE deals DROP COLUMN IF EXISTS probability_bp;
