DROP INDEX IF EXISTS leads_org_id_id_awaiting_idx;
ALTER TABLE leads DROP COLUMN IF EXISTS ghost_risk_counted_at;
