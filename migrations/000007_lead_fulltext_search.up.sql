-- 000007: lead search by word prefix, org-scoped, with statistics the planner can use.
--
-- GET /leads?q= used to find leads whose name, email or company contained the text anywhere,
-- through three trigram indexes without org_id. At a million leads each search cost about 12 ms
-- of PostgreSQL CPU: the posting lists of common trigrams are long and cover every org, and the
-- matches of all orgs were fetched and thrown away. A CRM's search box matches words by their
-- beginning ("acm" finds "Acme Corp", "jane acme" finds Jane at Acme), and that is what a
-- full-text index answers from one short posting list per word.
--
-- lead_search_document is the searchable text of a lead: name, company and email, with the
-- email's separators (@ . + _ -) turned into spaces so that its local part and domain are words
-- of their own. lead_search_query turns what a user typed into the query "every word is the
-- beginning of a word of the document", built from the same parser so that both sides agree,
-- and NULL (matching nothing) when the text has no word at all. Both use the 'simple'
-- configuration: no stemming and no stop words, since names are not prose.
--
-- The index is GIN on (org_id, document) (btree_gin), so a search intersects the word's
-- postings with the org's. It has no WHERE clause on purpose: PostgreSQL uses the statistics of
-- an index expression only for a non-partial index, and with them (target 1000, to see words
-- that are 0.1 % of the leads) it estimates how common a prefix is. A rare word is read from the
-- index and sorted; a common one ("a", "jo") walks the sort order's index and stops at the page.
CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE FUNCTION lead_search_document(name text, email text, company text) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN to_tsvector('simple'::regconfig,
        coalesce(name, '') || ' ' || coalesce(company, '') || ' ' || translate(coalesce(email, ''), '@.+_-', '     '));
COMMENT ON FUNCTION lead_search_document(text, text, text) IS 'The searchable words of a lead (name, company, email split at its separators); see migration 000007.';

CREATE FUNCTION lead_search_query(q text) RETURNS tsquery
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    BEGIN ATOMIC
        SELECT string_agg('''' || replace(replace(lexeme, '\', '\\'), '''', '''''') || ''':*', ' & ')::tsquery
        FROM unnest(to_tsvector('simple'::regconfig, translate(q, '@.+_-', '     ')));
    END;
COMMENT ON FUNCTION lead_search_query(text) IS 'What a user typed as a prefix query: every word must begin a word of lead_search_document; NULL without words.';

CREATE INDEX leads_org_id_search_idx ON leads USING gin (org_id, lead_search_document(name, email, company));
ALTER INDEX leads_org_id_search_idx ALTER COLUMN 2 SET STATISTICS 1000;
COMMENT ON INDEX leads_org_id_search_idx IS 'GET /leads?q= (lead_search_query) within one org; not partial, so that its statistics are used.';

DROP INDEX leads_name_trgm_idx;
DROP INDEX leads_email_trgm_idx;
DROP INDEX leads_company_trgm_idx;
