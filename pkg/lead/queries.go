package lead

// The statements of the lead package, in PostgreSQL's placeholders (pkg/db). Each filters
// org_id itself; row-level security is the second guard. The set-based ones lock, read and
// change many leads of one org at once, for the use cases that take the caller's transaction
// and a slice of leads (this package's, pkg/intake's processing and pkg/pipeline's); a change of
// one lead is the same statement with one element.

const leadColumns = `id, first_name, last_name, name, email, phone, company, website, domain, title,
	profile_link, source, notes, extra, stage, stage_reason, score, score_reasons, icp_match,
	recommended_path, priority, ghost_risk, revenue_band, enrichment, version, last_activity_at,
	stage_changed_at, created_at, updated_at, fingerprint`

// qualifiedLeadColumns are leadColumns of the alias l, for statements whose other tables share
// column names with leads.
const qualifiedLeadColumns = `l.id, l.first_name, l.last_name, l.name, l.email, l.phone, l.company, l.website, l.domain,
	l.title, l.profile_link, l.source, l.notes, l.extra, l.stage, l.stage_reason, l.score, l.score_reasons, l.icp_match,
	l.recommended_path, l.priority, l.ghost_risk, l.revenue_band, l.enrichment, l.version, l.last_activity_at,
	l.stage_changed_at, l.created_at, l.updated_at, l.fingerprint`

const activityColumns = `id, lead_id, kind, subject, body, payload, occurred_at, created_by, created_at`

// getLeadSQL reads the org's live lead by its primary key: the read of GET /leads/{id}.
const getLeadSQL = `SELECT ` + leadColumns + ` FROM leads WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL`

// customPlanSQL makes the searches of the transaction plan for their own words. A search's best
// plan depends on how common its words are (a rare word is read from the full-text index, a
// common one walks the sort order), and a generic plan of the prepared statement (which
// PostgreSQL may switch to after five runs) cannot know that.
const customPlanSQL = `SELECT set_config('plan_cache_mode', 'force_custom_plan', true)`

// searchCondition, followed by the parenthesised search text, is true for the leads that text
// finds: every word of it begins a word of the lead's name, company or email (migration 000007).
// The expression is the index's, so that the org-scoped full-text index answers it.
const searchCondition = `lead_search_document(name, email, company) @@ lead_search_query`

// liveLeadSQL reads a lead with its scored_by and whether it is deleted. It looks the row up by
// the primary key alone, and reports deletion instead of filtering it: with "deleted_at IS NULL"
// in the WHERE clause, every partial index of leads on org_id (WHERE deleted_at IS NULL) is a
// candidate too, and while the table has no statistics yet (a new database: autovacuum analyzes
// it a minute or more later) the planner rates them as cheap as the primary key and may keep a
// generic plan that walks the org's whole index for one lead.
const liveLeadSQL = `SELECT ` + leadColumns + `, scored_by, deleted_at IS NOT NULL FROM leads WHERE org_id = $1 AND id = $2`

// lockLiveSQL locks and reads leads of an org ($1) by id ($2) with their scored_by and
// deletion, and with the org's ICP when $3, in the order of $2.
//
// Each id is looked up on its own (a LATERAL subquery, kept apart by OFFSET 0, per element of
// $2), so the plan is a primary-key probe per lead whatever the statistics say, because a young
// table's statistics (none yet, before autovacuum first analyzes it) can make the planner answer
// "org_id = $1 AND id = ANY($2)" by reading every lead of the org through a bitmap of org_id and
// filtering the ids out of it.
//
// The ids come through a scalar subquery, and the ICP is read once for the statement, so that
// a custom plan sees no more than the generic plan does (an unnest of an array of unknown
// length, one read of the org): the plan cache then keeps the generic plan instead of planning
// the statement afresh on every call.
const lockLiveSQL = `SELECT l.*, CASE WHEN $3 THEN (SELECT icp FROM orgs WHERE id = $1) END AS icp
FROM unnest((SELECT $2::uuid[])) AS k(id)
CROSS JOIN LATERAL (
    SELECT ` + leadColumns + `, scored_by, deleted_at IS NOT NULL AS deleted
    FROM leads WHERE org_id = $1 AND id = k.id
    OFFSET 0
    FOR UPDATE OF leads
) l`

// storeWritesSQL applies Writes (parallel arrays from $2, one element per lead) to the org's ($1)
// leads: an enrichment (doc, band, domain) where has_enrichment, a score where has_score, a stage
// move where to_stage is not NULL (stamping stage_changed_at, and qualified_at the first time the
// lead is qualified), a priority where priority is not NULL, the version moved on by one for
// either of the last two. It returns each changed lead as it now is (leadColumns).
//
// As in lockLiveSQL, each lead is found by its own primary-key probe (the LATERAL subquery of k),
// and the UPDATE then reaches it by its tuple id (a TID scan per lead), so no plan reads the org's
// other leads, whatever the statistics say; and the ids come through a scalar subquery, so that
// the plan cache keeps the generic plan.
const storeWritesSQL = `
WITH w AS (
    SELECT * FROM unnest((SELECT $2::uuid[]), $3::boolean[], $4::text[], $5::text[], $6::text[],
        $7::boolean[], $8::int[], $9::text[], $10::boolean[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])
    AS w(id, has_enrichment, doc, band, domain, has_score, score, reasons, icp_match, path, scored_by, to_stage, reason, priority)
), k AS (
    SELECT w.*, t.ct FROM w CROSS JOIN LATERAL (
        SELECT ctid AS ct FROM leads WHERE org_id = $1 AND id = w.id OFFSET 0
    ) t
)
UPDATE leads l SET
    enrichment = CASE WHEN w.has_enrichment THEN w.doc::jsonb ELSE l.enrichment END,
    revenue_band = CASE WHEN w.has_enrichment THEN nullif(w.band, '') ELSE l.revenue_band END,
    domain = CASE WHEN w.has_enrichment THEN coalesce(l.domain, nullif(w.domain, '')) ELSE l.domain END,
    score = CASE WHEN w.has_score THEN w.score ELSE l.score END,
    score_reasons = CASE WHEN w.has_score THEN w.reasons::jsonb ELSE l.score_reasons END,
    icp_match = CASE WHEN w.has_score THEN w.icp_match ELSE l.icp_match END,
    recommended_path = CASE WHEN w.has_score THEN w.path ELSE l.recommended_path END,
    scored_by = CASE WHEN w.has_score THEN w.scored_by ELSE l.scored_by END,
    stage = coalesce(w.to_stage, l.stage),
    stage_reason = CASE WHEN w.to_stage IS NULL THEN l.stage_reason ELSE w.reason END,
    stage_changed_at = CASE WHEN w.to_stage IS NULL THEN l.stage_changed_at ELSE now() END,
    priority = coalesce(w.priority, l.priority),
    version = l.version + CASE WHEN w.to_stage IS NULL AND w.priority IS NULL THEN 0 ELSE 1 END,
    qualified_at = CASE WHEN w.to_stage = 'qualified' THEN coalesce(l.qualified_at, now()) ELSE l.qualified_at END,
    updated_at = now()
FROM k w WHERE l.ctid = w.ct
RETURNING ` + qualifiedLeadColumns

// addActivitiesSQL adds activities ($2.. parallel arrays) to the org's ($1) leads, each once per
// dedup key (the unique (org_id, dedup_key) of lead_activities decides), in the order given, and
// returns the ones it added with their dedup keys.
const addActivitiesSQL = `
INSERT INTO lead_activities (org_id, lead_id, kind, subject, body, payload, dedup_key, occurred_at, created_by)
SELECT $1, a.lead_id, a.kind, a.subject, a.body, a.payload::jsonb, a.dedup_key, a.occurred_at, a.created_by
FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::text[])
    WITH ORDINALITY AS a(lead_id, kind, subject, body, payload, dedup_key, occurred_at, created_by, ord)
ORDER BY a.ord
ON CONFLICT (org_id, dedup_key) DO NOTHING
RETURNING dedup_key, ` + activityColumns

// lockLiveLeadsSQL locks the org's ($1) live leads with the fingerprints $2 in the order of
// their ids (LockRows above the Sort, so the rows are locked in that order), each found by a
// probe of leads_org_id_fingerprint_key.
const lockLiveLeadsSQL = `SELECT count(*) FROM (
    SELECT id FROM leads
    WHERE org_id = $1 AND fingerprint = ANY($2::text[]) AND deleted_at IS NULL
    ORDER BY id
    FOR UPDATE
) l`

// insertIntakeLeadsSQL inserts leads of an org ($1) from parallel arrays ($2..$18, one element
// per lead), each unless a live lead of the org has its fingerprint (ON CONFLICT on
// leads_org_id_fingerprint_key), and returns the inserted leads with their raw row's id. The rows
// go in in fingerprint order, so two transactions that insert overlapping people wait on each
// other in one order and cannot deadlock; of two rows of one fingerprint, the first in $2 goes
// in.
const insertIntakeLeadsSQL = `WITH input AS (
    SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
        $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
        $17::uuid[], $18::uuid[]) WITH ORDINALITY
    AS i(first_name, last_name, name, email, phone, company, website, domain, title, profile_link, source, notes,
        extra, priority, fingerprint, source_id, intake_id, ord)
)
INSERT INTO leads (org_id, first_name, last_name, name, email, phone, company, website,
    domain, title, profile_link, source, notes, extra, priority, fingerprint, source_id, intake_id)
SELECT $1, first_name, last_name, name, email, phone, company, website,
    domain, title, profile_link, source, notes, extra::jsonb, priority, fingerprint, source_id, intake_id
FROM input ORDER BY fingerprint, ord
ON CONFLICT (org_id, fingerprint) WHERE deleted_at IS NULL DO NOTHING
RETURNING ` + leadColumns + `, intake_id`

// insertLeadSQL inserts a lead unless a live lead of the org has its fingerprint: the unique
// index leads_org_id_fingerprint_key decides, and a concurrent insert of the same fingerprint
// waits for this one. It returns the inserted lead, or no row.
const insertLeadSQL = `INSERT INTO leads (org_id, first_name, last_name, name, email, phone, company, website,
	domain, title, profile_link, source, notes, extra, priority, fingerprint)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb, $15, $16)
ON CONFLICT (org_id, fingerprint) WHERE deleted_at IS NULL DO NOTHING
RETURNING ` + leadColumns

const liveLeadByFingerprintSQL = `SELECT id FROM leads WHERE org_id = $1 AND fingerprint = $2 AND deleted_at IS NULL`

// getLeadAnySQL and getLeadForUpdateSQL find the row by the primary key alone and report deletion
// instead of filtering it, for the reason liveLeadSQL gives.
const (
	getLeadAnySQL       = `SELECT ` + leadColumns + `, deleted_at IS NOT NULL AS deleted FROM leads WHERE org_id = $1 AND id = $2`
	getLeadForUpdateSQL = getLeadAnySQL + ` FOR UPDATE`
)

// leadExistsSQL is true for a lead of the org, live or soft-deleted.
const leadExistsSQL = `SELECT EXISTS (SELECT 1 FROM leads WHERE org_id = $1 AND id = $2)`

const updateContactSQL = `UPDATE leads SET first_name = $3, last_name = $4, name = $5, email = $6, phone = $7, company = $8,
	website = $9, domain = $10, title = $11, profile_link = $12, source = $13, notes = $14, extra = $15::jsonb, priority = $16,
	fingerprint = $17, version = version + 1
WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL
RETURNING ` + leadColumns

const softDeleteSQL = `UPDATE leads SET deleted_at = now() WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL
RETURNING ` + leadColumns

// touchActivitySQL moves last_activity_at forward to $3, never backward, and returns it.
const touchActivitySQL = `UPDATE leads SET last_activity_at = greatest(last_activity_at, $3::timestamptz)
WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL
RETURNING last_activity_at`

const insertActivitySQL = `INSERT INTO lead_activities (org_id, lead_id, kind, subject, body, occurred_at, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ` + activityColumns

// raiseGhostRiskSQL raises a lead's ghost risk and returns it with the lead's updated_at, which
// a write of derived data alone may leave as it was (the row record carries it).
const raiseGhostRiskSQL = `UPDATE leads SET ghost_risk = ghost_risk + $3 WHERE org_id = $1 AND id = $2 RETURNING ghost_risk, updated_at`

// The heads of the lists; each is followed by its filters and its keyset's tail (page.Keyset).
const (
	// listLeadsHead reads the lead_list view (migration 000005), through which the search
	// reaches the full-text index (000007) despite row-level security; the explicit org filter
	// stays all the same. $1 is the org.
	listLeadsHead = `SELECT ` + leadColumns + ` FROM lead_list WHERE org_id = $1`
	// listActivitiesHead: $1 the org, $2 the lead.
	listActivitiesHead = `SELECT ` + activityColumns + ` FROM lead_activities WHERE org_id = $1 AND lead_id = $2`
	// listEventsHead reads through events_entity_idx: $1 the org, $2 the entity type, $3 the lead.
	listEventsHead = `SELECT id, type, entity_type, entity_id, payload, actor, occurred_at FROM events
WHERE org_id = $1 AND entity_type = $2 AND entity_id = $3`
)

// The savepoint of a statement whose failure the use case handles (inSavepoint).
const (
	savepointSQL           = `SAVEPOINT lead_statement`
	rollbackToSavepointSQL = `ROLLBACK TO SAVEPOINT lead_statement`
)

// The statements of check_lead_stale (StaleSweep). A chunk is a range of the org's leads in
// primary-key order, (after, upper] (db.DB.KeyRanges finds upper by an index-only walk of
// leads_pkey), and staleLeadsSQL reads the range through the same index, so every chunk reads at
// most chunk-size leads whatever their stages.
const (
	// staleLeadsSQL reads the live leads of (after $2, upper $3] in an open stage ($4) whose last
	// activity, or creation when they have none, is at or before the cutoff $5. The range is
	// read first, on its own (MATERIALIZED), so that it is always the primary-key range scan of
	// one chunk: planned together with the stage condition, leads_org_id_stage_idx could be
	// chosen and walked over every open lead of the org in every chunk. Nothing is locked.
	staleLeadsSQL = `WITH page AS MATERIALIZED (
    SELECT id, stage, last_activity_at, created_at, deleted_at FROM leads
    WHERE org_id = $1 AND id > $2 AND id <= $3
)
SELECT id, stage, last_activity_at, coalesce(last_activity_at, created_at) AS since
FROM page
WHERE deleted_at IS NULL AND stage = ANY($4::text[]) AND coalesce(last_activity_at, created_at) <= $5
ORDER BY id`
)

// The statements of the lead sweeps (sweep.go), one chunk of one org each. A chunk is a range of
// the org's leads in id order after the last id of the chunk before ($2), so every chunk is an
// index range scan of its own rows, never a walk of the org from the start.

// ghostRiskDue is true for a lead of ghostRiskChunkSQL (alias l) that is due as of the slot $4
// with $5 silence days: the latest of its last touchpoint (last_activity_at), its last stage
// change and the last period counted on it (ghost_risk_counted_at) is at least $5 days before
// the slot.
const ghostRiskDue = `l.deleted_at IS NULL AND l.stage IN ('contacted', 'call_booked')
      AND greatest(l.last_activity_at, l.stage_changed_at, l.ghost_risk_counted_at)
          <= $4::timestamptz - make_interval(days => $5::int)`

// ghostRiskChunkSQL counts a silence period on the due leads (ghostRiskDue) of one chunk: the
// next $3 live contacted or call_booked leads of the org ($1) after $2
// (leads_org_id_id_awaiting_idx). A due lead gets ghost_risk + 1 and ghost_risk_counted_at = $4,
// after which it is not due again for $5 days; neither its version nor its updated_at moves
// (ghost risk is derived data, as the no-show's raise). Since it sets no indexed column (the
// updated_at trigger does not fire for these two, migration 000032) the write is a HOT update
// wherever the lead's page has room: no index entry is written.
//
// As in storeWritesSQL, each lead of the chunk is found by its own primary-key probe (the LATERAL
// subquery, kept apart by OFFSET 0, filtering by the key alone and computing the due test as a
// column: with the test in its WHERE, the partial indexes of leads on org_id become candidates,
// as liveLeadSQL explains) and the UPDATE reaches it by its tuple id, so that no plan reads the
// org's other leads whatever the statistics say (a young table has none). The due test
// is repeated in the UPDATE's own WHERE: when a concurrent touchpoint changed the lead after this
// statement began, PostgreSQL checks it again on the newest version, and the lead is left alone
// (or, should the tuple id no longer match, left for the next sweep), never counted twice. There
// it is wrapped in coalesce, so that the planner cannot take it for an index or join condition
// (nor prove a partial index's predicate from it) and reaches the row by its tuple id alone.
//
// It returns the chunk's last id and size ("last", "n": the sweep is done when n < $3) and one
// row per raised lead, or one row of NULLs besides those when none was.
const ghostRiskChunkSQL = `
WITH chunk AS MATERIALIZED (
    SELECT id FROM leads
    WHERE org_id = $1 AND id > $2 AND deleted_at IS NULL AND stage IN ('contacted', 'call_booked')
    ORDER BY id LIMIT $3
), due AS (
    SELECT t.ct FROM chunk c CROSS JOIN LATERAL (
        SELECT l.ctid AS ct, ` + ghostRiskDue + ` AS due FROM leads l WHERE l.org_id = $1 AND l.id = c.id
        OFFSET 0
    ) t
    WHERE t.due
), raised AS (
    UPDATE leads l SET ghost_risk = l.ghost_risk + 1, ghost_risk_counted_at = $4::timestamptz
    FROM due WHERE l.ctid = due.ct AND coalesce(` + ghostRiskDue + `, false)
    RETURNING l.id, l.ghost_risk, l.stage, greatest(l.last_activity_at, l.stage_changed_at) AS silent_since, l.updated_at
)
SELECT k.last, k.n, r.id, r.ghost_risk, r.stage, r.silent_since, r.updated_at
FROM (SELECT (SELECT id FROM chunk ORDER BY id DESC LIMIT 1) AS last, (SELECT count(*) FROM chunk) AS n) k
LEFT JOIN raised r ON true`

// autoPriorityRuleSQL is the auto-priority table (PriorityRules.AutoPriority) as SQL: the name
// of the first row that matches a lead of autoPriorityChunkSQL (alias l: stage, score,
// ghost_risk; alias d: open_deal_value), with the thresholds as parameters: $4 HotScore, $5
// WarmScore, $6 ColdGhostRisk, $7 LargeDealValue. An unscored lead (score NULL) fails every
// comparison of its score, as -1 does in Go. TestAutoPrioritySQLAgreesWithGo checks it against
// AutoPriority on every boundary of the table.
const autoPriorityRuleSQL = `CASE
        WHEN d.open_deal_value >= $7::bigint THEN 'large_deal'
        WHEN d.open_deal_value IS NOT NULL THEN 'open_deal'
        WHEN l.stage IN ('converted', 'lost', 'disqualified') THEN 'closed'
        WHEN l.ghost_risk >= $6::int THEN 'gone_cold'
        WHEN l.score >= $4::int THEN 'hot'
        WHEN l.ghost_risk >= 1 AND l.score >= $5::int THEN 'at_risk'
        WHEN l.score < $5::int THEN 'cold'
        ELSE 'default' END`

// autoPriorityOfRuleSQL is the priority of the table's row named x.rule (PriorityRules).
const autoPriorityOfRuleSQL = `CASE x.rule
        WHEN 'large_deal' THEN 'urgent' WHEN 'open_deal' THEN 'high' WHEN 'closed' THEN 'low'
        WHEN 'gone_cold' THEN 'low' WHEN 'hot' THEN 'high' WHEN 'at_risk' THEN 'high'
        WHEN 'cold' THEN 'low' ELSE 'normal' END`

// autoPriorityChunkSQL is one chunk of the auto-priority sweep in one statement: it reads the
// next $3 leads of the org ($1) after $2, gives each the priority of the table
// (autoPriorityRuleSQL, thresholds $4 to $7) and writes it on the live leads whose priority
// differs and is not held, each moving its version on by one as StoreWrites does. A lead's
// priority is held when a lead.updated that changed it, or a lead.created by hand with a
// priority other than normal, occurred after $8 (PriorityRules.Hold; a probe of
// events_entity_idx per lead that differs, not per lead read).
//
// Only the leads that differ leave PostgreSQL, one round trip per chunk: the table is computed
// beside the read instead of returning every lead's inputs to compare them in Go and sending
// the changes back (most leads already have the table's priority: a day's changes move a few
// per cent of them).
//
// The chunk's leads are read in one range scan of the primary key, in its order, with the columns
// the table needs; deletion is a column, not a filter (with "deleted_at IS NULL" in the WHERE, the
// partial indexes of leads on org_id become candidates, as liveLeadSQL explains). An index-only
// scan of the ids followed by a primary-key probe per lead read each lead's heap page twice (the
// index-only scan visits the heap for every page the sweeps' and the api's writes left not
// all-visible, which after a day is most of them) and descended the index once more per lead:
// 5,000 leads of an org of 1,000,000 touched 27,000 buffers, the one scan 4,700. Once the table
// has statistics the scan is the plan, custom or generic (a generic plan is costed for a tenth of
// the org, still an index scan at 1,000,000 leads); without them the planner may read the org's
// leads and sort them, which is cheap while the table is young. The deals of the chunk are one
// range of deals_org_id_lead_id_idx, the lead ids from $2 to the chunk's last, grouped by lead (a
// tenth of the leads has a deal, so this reads a few hundred entries where a probe per lead made
// thousands of index descents), the open ones picked by the aggregate's FILTER rather than by a
// stage condition that makes the partial index of the open deals a candidate.
//
// The write sets priority and version alone, neither of them indexed, and updated_at stays (the
// table's priority is derived data; the updated_at trigger does not fire for these two,
// migration 000032): it is a HOT update wherever the lead's page has room. It reaches each lead
// by the tuple id read above (a TID scan of their list, so that no plan joins the chunk's rows
// to a scan of the org's leads, as a generic plan costed for a tenth of the org did with a hash
// join), so a lead changed after the statement took its snapshot is left for the next sweep: its
// newest version has another tuple id, which PostgreSQL's recheck does not find in the list. The
// version, deletion and priority are checked in the UPDATE's WHERE all the same, wrapped in
// coalesce as in ghostRiskChunkSQL so that the planner cannot take them for an index or join
// condition.
//
// It returns the chunk's last id and size ("last", "n": the sweep is done when n < $3) and one
// row per changed lead (its new version and updated_at, the priority before and after, the
// table's row and its inputs), or one row of NULLs besides those when none changed.
const autoPriorityChunkSQL = `
WITH chunk AS MATERIALIZED (
    SELECT ctid AS ct, id, version, priority, stage, score, ghost_risk, deleted_at IS NULL AS live
    FROM leads WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3
), deal AS MATERIALIZED (
    SELECT lead_id, max(deal_value) FILTER (WHERE stage IN ('discovery', 'proposal', 'negotiation')) AS open_deal_value
    FROM deals
    WHERE org_id = $1 AND lead_id > $2 AND lead_id <= (SELECT id FROM chunk ORDER BY id DESC LIMIT 1)
    GROUP BY lead_id
)` + autoPriorityWriteSQL + `
SELECT k.last, k.n, w.*
FROM (SELECT (SELECT id FROM chunk ORDER BY id DESC LIMIT 1) AS last, (SELECT count(*) FROM chunk) AS n) k
LEFT JOIN changed w ON true`

// autoPriorityWriteSQL is the part of the auto-priority chunk statements (autoPriorityChunkSQL,
// autoPriorityPagesSQL) after their read: from the chunk's leads (CTE chunk) and the open deal
// value of those that have deals (CTE deal), the live leads whose priority differs from the
// table's (differs), whether each is held (due), and the write of those not held (changed), as
// autoPriorityChunkSQL describes. The hold is a column computed by a subquery per lead (a probe
// of events_entity_idx), never a filter: as "WHERE NOT EXISTS" it is an anti-join the planner
// may answer with a hash of every event of the table, which it did for a chunk whose differing
// leads it overestimated (4.3 s for a sequential scan of 1,200,000 events). The subquery ends in
// OFFSET 0 for the same reason: without it PostgreSQL may turn the EXISTS into a hashed subplan,
// one scan of every lead.updated and lead.created event of the org (or of the whole table)
// whatever their leads, hashed by lead, which it chose for large chunks: in a backfill, while
// the table held 68,000-104,000 events, a sequential scan of them took 17-25 ms of each chunk's
// 30-44 ms. That scan grows with the org's history, and the api's edits add to it all the time;
// the probes grow with the chunk alone.
const autoPriorityWriteSQL = `, differs AS MATERIALIZED (
    SELECT l.ct, l.id, l.version, l.priority, l.stage, l.score, l.ghost_risk, d.open_deal_value, r.rule, r.to_priority
    FROM chunk l
    LEFT JOIN deal d ON d.lead_id = l.id
    CROSS JOIN LATERAL (
        SELECT x.rule, ` + autoPriorityOfRuleSQL + ` AS to_priority FROM (SELECT ` + autoPriorityRuleSQL + ` AS rule) x
    ) r
    WHERE l.live AND l.priority <> r.to_priority
), due AS MATERIALIZED (
    SELECT w.*, EXISTS (
        SELECT 1 FROM events e
        WHERE e.org_id = $1 AND e.entity_type = 'lead' AND e.entity_id = w.id AND e.occurred_at > $8::timestamptz
          AND ((e.type = 'lead.updated' AND e.payload->'changes'->'priority' IS NOT NULL)
            OR (e.type = 'lead.created' AND e.payload->>'via' = 'api' AND e.payload->'lead'->>'priority' <> 'normal'))
        OFFSET 0
    ) AS held
    FROM differs w
), changed AS (
    UPDATE leads l SET priority = w.to_priority, version = l.version + 1
    FROM due w
    WHERE l.ctid = ANY (ARRAY(SELECT ct FROM due WHERE NOT held)) AND l.ctid = w.ct
      AND coalesce(l.version = w.version AND l.deleted_at IS NULL AND l.priority <> w.to_priority AND NOT w.held, false)
    RETURNING l.id, l.version, l.updated_at, w.priority AS from_priority, w.to_priority, w.rule,
        w.stage, w.score, w.ghost_risk, w.open_deal_value
)`

// autoPriorityPlanSQL reads what RecalcAutoPriority chooses its walk by: the org's ($1) live
// leads (the exact count lead_stage_totals keeps), the pages of the leads table and its rows
// as the last ANALYZE counted them (negative or zero when none has run).
const autoPriorityPlanSQL = `SELECT
    (SELECT coalesce(sum(lead_count), 0) FROM lead_stage_totals WHERE org_id = $1)::bigint AS leads,
    pg_relation_size('leads') / current_setting('block_size')::bigint AS pages,
    (SELECT reltuples FROM pg_class WHERE oid = 'leads'::regclass)::float8 AS tuples`

// autoPriorityPagesSQL is autoPriorityChunkSQL over a range of the heap of leads instead of a
// range of the org's ids: the org's ($1) leads on the pages from $2 up to $3 (tuple ids as text,
// "(page,0)"), read by one TID range scan, in the order they are stored. It is the walk of an org
// that holds most of the table: its leads are in id order scattered over every page (the ids are
// random), so a walk in id order reads a random page of the heap per lead, most of them not in
// shared buffers when the table is larger than they are (5,000 leads of an org of 1,000,000: 120
// to 320 ms on the loaded test machine, some 4,000 pages read), where the pages in order are read
// once each, the next ones already in the operating system's read-ahead (400 pages with 5,200 of
// the org's leads: 11 ms). The leads of a page range are no range of lead ids, so their deals are
// one scan of deals_org_id_lead_id_idx for the array of the chunk's ids, a descent per lead: the
// larger part of such a chunk's read (5,500 leads: 25-45 ms on the loaded machine, where a
// subquery per lead took 55-80 ms).
//
// A lead written after the sweep read its page may move to a page the sweep has passed (when
// its page has no room for the new version) and is then left for the next sweep, as a lead
// changed while its chunk ran is; a lead that moves ahead is read twice, and the second time
// already has the table's priority or a new version. It returns the table's pages now
// ("pages": the sweep is done when its next page is at or past them), the org's leads it read
// ("n") and one row per changed lead as autoPriorityChunkSQL does.
const autoPriorityPagesSQL = `
WITH chunk AS MATERIALIZED (
    SELECT ctid AS ct, id, version, priority, stage, score, ghost_risk, deleted_at IS NULL AS live
    FROM leads WHERE org_id = $1 AND ctid >= $2::text::tid AND ctid < $3::text::tid
), deal AS MATERIALIZED (
    SELECT lead_id, max(deal_value) FILTER (WHERE stage IN ('discovery', 'proposal', 'negotiation')) AS open_deal_value
    FROM deals
    WHERE org_id = $1 AND lead_id = ANY (ARRAY(SELECT id FROM chunk))
    GROUP BY lead_id
)` + autoPriorityWriteSQL + `
SELECT k.pages, k.n, w.*
FROM (SELECT pg_relation_size('leads') / current_setting('block_size')::bigint AS pages, (SELECT count(*) FROM chunk) AS n) k
LEFT JOIN changed w ON true`
