-- 000032: the lead sweeps' writes (pkg/lead: recalc_ghost_risk, recalc_auto_priority) become HOT
-- updates, which write no index entry, instead of a new entry in each of the dozen indexes of
-- leads per changed lead (the bulk of their time at 1,000,000 leads: BENCHMARKS.md, "Scheduled
-- sweeps").
--
-- An update is HOT only when it changes no indexed column and the new row version fits on the
-- old one's page. Two things stood in the way:
--
-- 1. The trigger set updated_at (indexed: leads_org_id_updated_at_id_idx) on every UPDATE. It now
--    fires only for a statement that sets a column of the lead's own data: every column but
--    ghost_risk and ghost_risk_counted_at (derived data, counted by the ghost-risk sweep and a
--    no-show), priority and version (which the auto-priority sweep sets alone: a person's or a
--    job's priority change also sets the lead's other columns, or updated_at itself, and still
--    moves it) and updated_at itself. So updated_at is when a person or a process last changed
--    the lead, not when a sweep recomputed a derived field. A column added to leads later must be
--    added to this list (pkg/lead's TestUpdatedAtTriggerColumns fails until it is).
-- 2. fillfactor 100: bulk-loaded and long-lived pages were full. At 90 every page keeps about
--    800 bytes free, room for one new version of a lead (about 530 bytes), which later updates
--    reuse once the old version is pruned. Pages gain that room only as they are written: new
--    rows and rows moved by a non-HOT update; an existing table keeps its full pages until it is
--    rewritten (VACUUM FULL or pg_repack, at a quiet hour), which this migration does not do.
ALTER TABLE leads SET (fillfactor = 90);

-- A third thing made some write transactions long, the sweeps' included: the GIN search index
-- (000007) takes a non-HOT write's new entries into its pending list, and the write that finds
-- the list over its limit merges it into the index before it commits, holding its row locks
-- meanwhile: at 1,000,000 leads a list of 3.5 MB (under the default limit of 4 MB) took
-- 870 ms to merge on the loaded test machine, the likely cause of the 1.6-2.4 s chunk
-- transactions of the sweeps (and of some PATCH's). At 512 kB a merge is about an eighth of that,
-- at the price of merging eight times as often.
ALTER INDEX leads_org_id_search_idx SET (gin_pending_list_limit = 512);

DROP TRIGGER leads_set_updated_at ON leads;
CREATE TRIGGER leads_set_updated_at
    BEFORE UPDATE OF org_id, id, first_name, last_name, name, email, phone, company, website, domain, title,
        profile_link, source, notes, extra, stage, stage_reason, score, score_reasons, icp_match,
        recommended_path, revenue_band, enrichment, scored_by, fingerprint, source_id, intake_id,
        last_activity_at, stage_changed_at, qualified_at, created_at, deleted_at
    ON leads FOR EACH ROW EXECUTE FUNCTION set_updated_at();
COMMENT ON TRIGGER leads_set_updated_at ON leads IS
    'Sets updated_at on a write of the lead''s own data; a write of only ghost_risk, ghost_risk_counted_at, priority and version (the sweeps'' derived writes) leaves it, so that it stays a HOT update.';
