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
// either of the last two. It returns each changed lead's id, version and times.
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
RETURNING l.id, l.version, l.stage_changed_at, l.updated_at`

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

// touchActivitySQL moves last_activity_at forward to $3, never backward.
const touchActivitySQL = `UPDATE leads SET last_activity_at = greatest(last_activity_at, $3::timestamptz)
WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL`

const insertActivitySQL = `INSERT INTO lead_activities (org_id, lead_id, kind, subject, body, occurred_at, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ` + activityColumns

const raiseGhostRiskSQL = `UPDATE leads SET ghost_risk = ghost_risk + $3 WHERE org_id = $1 AND id = $2 RETURNING ghost_risk`

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
// primary-key order, (after, upper]: staleBoundSQL finds upper, the id chunk-size rows on, by an
// index-only walk of leads_pkey, and staleLeadsSQL reads the range through the same index, so
// every chunk reads at most chunk-size leads whatever their stages.
const (
	// sweepNowSQL is the database's clock: a sweep run without a slot measures at it.
	sweepNowSQL = `SELECT now()`

	// staleBoundSQL is the id $3 + 1 leads after $2 in id order (none: the range is the last).
	staleBoundSQL = `SELECT id FROM leads WHERE org_id = $1 AND id > $2 ORDER BY id OFFSET $3 LIMIT 1`

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
