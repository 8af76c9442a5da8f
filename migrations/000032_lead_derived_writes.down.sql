DROP TRIGGER IF EXISTS leads_set_updated_at ON leads;
CREATE TRIGGER leads_set_updated_at BEFORE UPDATE ON leads
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
ALTER TABLE leads RESET (fillfactor);
ALTER INDEX leads_org_id_search_idx RESET (gin_pending_list_limit);
