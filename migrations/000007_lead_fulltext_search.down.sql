CREATE INDEX leads_name_trgm_idx ON leads USING gin (lower(name) gin_trgm_ops);
CREATE INDEX leads_email_trgm_idx ON leads USING gin (lower(email) gin_trgm_ops);
CREATE INDEX leads_company_trgm_idx ON leads USING gin (lower(company) gin_trgm_ops);
DROP INDEX leads_org_id_search_idx;
DROP FUNCTION lead_search_query(text);
DROP FUNCTION lead_search_document(text, text, text);
DROP EXTENSION IF EXISTS btree_gin;
