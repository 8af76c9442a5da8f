-- 000035: the weekly report counts the leads qualified in its week (qualified_at in the week's
-- range). Without an index on qualified_at that count read every lead of the org: at 1,000,000
-- leads a 2 s scan of the whole leads heap in the middle of the working day, which doubled the
-- api's write latency while it ran. The index holds only the qualified live leads, so a week is
-- one short range of it; a lead's qualification writes one entry (the same update already writes
-- the score's), and a later update of a qualified lead that cannot stay on its page one more.
--
-- golang-migrate runs the file in one transaction, so the index is built with writes to leads
-- held for the build; on a large leads table, build it beforehand with CREATE INDEX CONCURRENTLY
-- under the same name (IF NOT EXISTS then skips it here).
CREATE INDEX IF NOT EXISTS leads_org_id_qualified_at_idx ON leads (org_id, qualified_at)
    WHERE qualified_at IS NOT NULL AND deleted_at IS NULL;
COMMENT ON INDEX leads_org_id_qualified_at_idx IS 'The live qualified leads by qualification time: the weekly report''s qualified count.';
