DROP INDEX IF EXISTS leads_org_id_qualified_at_idx;
