CREATE INDEX leads_org_id_score_idx ON leads (org_id, score) WHERE deleted_at IS NULL;
DROP INDEX leads_org_id_updated_at_id_idx;
DROP INDEX leads_org_id_score_id_idx;
DROP VIEW lead_list;
ALTER TABLE leads FORCE ROW LEVEL SECURITY;
