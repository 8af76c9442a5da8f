package lead

// The set-based queries of the lead store: the statements that lock, read and change many leads
// of one org at once, for the use cases that take the caller's transaction and a slice of leads
// (this package's, pkg/intake's processing and pkg/pipeline's). A change of one lead is the same
// statement with one element. Like store.go they filter org_id themselves under row-level
// security.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/org"
)

// Snapshot is a lead as a use case that changes it reads it: the lead, and scored_by (who scored
// it, nil while unscored), which the API does not show. Found is false for a lead that is
// missing or deleted.
type Snapshot struct {
	Lead     Lead
	ScoredBy *string
	Found    bool
}

// liveLeadSQL reads a lead with its scored_by and whether it is deleted. It looks the row up by
// the primary key alone, and reports deletion instead of filtering it: with "deleted_at IS NULL"
// in the WHERE clause, every partial index of leads on org_id (WHERE deleted_at IS NULL) is a
// candidate too, and while the table has no statistics yet (a new database: autovacuum analyzes
// it a minute or more later) the planner rates them as cheap as the primary key and may keep a
// generic plan that walks the org's whole index for one lead.
const liveLeadSQL = `SELECT ` + leadColumns + `, scored_by, deleted_at IS NOT NULL FROM leads WHERE org_id = $1 AND id = $2`

// QueueReadLive queues the read of the org's lead id with its scored_by into out, on a tenant
// read (db.DB.Read, db.GormReadTx): the read of a use case before it calls out of the database. A
// missing or deleted lead leaves out.Found false.
func QueueReadLive(b *db.Batch, orgID, id uuid.UUID, out *Snapshot) {
	b.Row(func(row db.Row) error {
		var scoredBy db.Text
		var deleted bool
		l, err := newLeadScan().scan(row, &scoredBy, &deleted)
		if err != nil {
			return fmt.Errorf("read lead: %w", err)
		}
		if deleted {
			return nil
		}
		*out = Snapshot{Lead: l, Found: true}
		if scoredBy.Valid {
			out.ScoredBy = &scoredBy.String
		}
		return nil
	}, liveLeadSQL, db.UUID(orgID), db.UUID(id))
}

// lockLiveSQL locks and reads leads of an org ($1) by id ($2) with their scored_by and
// deletion, and with the org's ICP when $3, in the order of $2.
//
// Each id is looked up on its own (a LATERAL subquery, kept apart by OFFSET 0, per element of
// $2), so the plan is a primary-key probe per lead whatever the statistics say. Written as
// "org_id = $1 AND id = ANY($2)", the planner of a young table (no statistics yet, as in a new
// install's first minute) guessed two rows for the org and read every lead of the org per batch
// through a bitmap of org_id, filtering the ids out of it.
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

// LockLive locks and reads the org's live leads among ids in the caller's transaction, in the
// order of the primary key (so that two transactions over the same leads cannot deadlock), each
// once; missing and deleted ones are left out. When icp is not nil it also reads the org's ICP
// into it, in the same statement (the org's row is not locked), so that qualification takes one
// round trip for its leads and the ICP it scores them against.
func LockLive(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, ids []uuid.UUID, icp *org.ICP) ([]Snapshot, error) {
	type lockedRow struct {
		Lead
		ScoredBy *string `gorm:"column:scored_by"`
		Deleted  bool    `gorm:"column:deleted"`
		ICP      []byte  `gorm:"column:icp"`
	}
	got, err := queryAll[lockedRow](ctx, tx, "lock leads", lockLiveSQL, orgID.String(), keyOrder(ids), icp != nil)
	if err != nil {
		return nil, err
	}
	out := make([]Snapshot, 0, len(got))
	for i, row := range got {
		if icp != nil && i == 0 {
			if *icp, err = org.DecodeICP(orgID, row.ICP); err != nil {
				return nil, fmt.Errorf("lock leads: %w", err)
			}
		}
		if row.Deleted {
			continue
		}
		row.utc()
		out = append(out, Snapshot{Lead: row.Lead, ScoredBy: row.ScoredBy, Found: true})
	}
	return out, nil
}

// lockLive locks the org's live leads among ids (LockLive) and returns them by id.
func lockLive(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]Lead, error) {
	locked, err := LockLive(ctx, tx, orgID, ids, nil)
	if err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]Lead, len(locked))
	for _, s := range locked {
		out[s.Lead.ID] = s.Lead
	}
	return out, nil
}

// keyOrder returns ids as text, each once, in PostgreSQL's order of uuids (their bytes, which is
// the order of their lower-case text form).
func keyOrder(ids []uuid.UUID) []string {
	text := make([]string, len(ids))
	for i, id := range ids {
		text[i] = id.String()
	}
	slices.Sort(text)
	return slices.Compact(text)
}

// Enrichment is what a Write stores of an enrichment: the document, the revenue band ("" when
// unknown) and the domain it found, which is stored only where the lead has none (the stored
// domain is part of the dedup fingerprint, so a domain the lead came with is never rewritten).
type Enrichment struct {
	Doc         Doc
	RevenueBand string
	Domain      string
}

// Score is what a Write stores of a qualification.
type Score struct {
	Score           int
	Reasons         []string
	ICPMatch        bool
	RecommendedPath string
	// ScoredBy is "builtin" or the model that scored.
	ScoredBy string
}

// Write is one change of a lead that the transaction has locked and seen live: an enrichment, a
// score, a stage move (with its reason) and a priority, each when not nil. A stage move or a
// priority moves the version on by one; an enrichment or a score does not (derived data, not an
// edit a client could conflict with).
type Write struct {
	ID         uuid.UUID
	Enrichment *Enrichment
	Score      *Score
	Stage      *Stage
	Reason     *string // with Stage
	Priority   *Priority
}

// Written is what a Write left on its lead.
type Written struct {
	ID             uuid.UUID
	Version        int
	StageChangedAt time.Time
	UpdatedAt      time.Time
}

// apply returns l with w applied as the database applied it (written's version and times).
func (w Write) apply(l Lead, written Written) Lead {
	if w.Stage != nil {
		l.Stage, l.StageReason = *w.Stage, w.Reason
	}
	if w.Priority != nil {
		l.Priority = *w.Priority
	}
	l.Version, l.StageChangedAt, l.UpdatedAt = written.Version, written.StageChangedAt.UTC(), written.UpdatedAt.UTC()
	return l
}

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

// StoreWrites applies writes in one statement, each to a lead the caller's transaction has locked
// and seen live (LockLive), and returns what each left, in no particular order. It is the one
// path by which a lead's stage, priority, enrichment and score change.
func StoreWrites(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, writes []Write) ([]Written, error) {
	if len(writes) == 0 {
		return nil, nil
	}
	args, err := storeWritesArgs(orgID, writes)
	if err != nil {
		return nil, err
	}
	rows, err := db.Conn(tx).QueryContext(ctx, storeWritesSQL, args...)
	if err != nil {
		return nil, fmt.Errorf("store %d leads: %w", len(writes), err)
	}
	defer func() { _ = rows.Close() }()
	out := make([]Written, 0, len(writes))
	for rows.Next() {
		var w Written
		if err := rows.Scan(&w.ID, &w.Version, &w.StageChangedAt, &w.UpdatedAt); err != nil {
			return nil, fmt.Errorf("store %d leads: %w", len(writes), err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store %d leads: %w", len(writes), err)
	}
	if len(out) != len(writes) {
		return nil, fmt.Errorf("store %d leads: %d rows changed", len(writes), len(out))
	}
	return out, nil
}

// storeOne applies w to the locked live lead cur (StoreWrites of one) and returns the lead as it
// now is.
func storeOne(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, cur Lead, w Write) (Lead, error) {
	w.ID = cur.ID
	written, err := StoreWrites(ctx, tx, orgID, []Write{w})
	if err != nil {
		return Lead{}, err
	}
	return w.apply(cur, written[0]), nil
}

// storeWritesArgs returns the parameters of storeWritesSQL for writes of orgID.
func storeWritesArgs(orgID uuid.UUID, writes []Write) ([]any, error) {
	n := len(writes)
	ids, docs, bands, domains, reasons, paths, scoredBy := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	hasEnr, hasScore, icpMatch := make([]bool, n), make([]bool, n), make([]bool, n)
	scores := make([]int32, n)
	toStage, stageReason, priority := make([]*string, n), make([]*string, n), make([]*string, n)
	for i, w := range writes {
		ids[i] = w.ID.String()
		if e := w.Enrichment; e != nil {
			hasEnr[i], docs[i], bands[i], domains[i] = true, string(e.Doc), e.RevenueBand, e.Domain
		}
		if r := w.Score; r != nil {
			rs, err := json.Marshal(r.Reasons)
			if err != nil {
				return nil, fmt.Errorf("encode score reasons: %w", err)
			}
			hasScore[i], scores[i], reasons[i], icpMatch[i], paths[i], scoredBy[i] = true, int32(r.Score), string(rs), r.ICPMatch, r.RecommendedPath, r.ScoredBy
		}
		if w.Stage != nil {
			s := string(*w.Stage)
			toStage[i], stageReason[i] = &s, w.Reason
		}
		if w.Priority != nil {
			p := string(*w.Priority)
			priority[i] = &p
		}
	}
	return []any{orgID.String(), ids, hasEnr, docs, bands, domains,
		hasScore, scores, reasons, icpMatch, paths, scoredBy, toStage, stageReason, priority}, nil
}

// SystemActivity is an activity the system adds to a lead once: DedupKey names it within the
// org, and a second add with the same key adds nothing.
type SystemActivity struct {
	LeadID     uuid.UUID
	Kind       ActivityKind
	Subject    string
	Body       string
	Payload    Doc // a JSON object; empty is {}
	OccurredAt time.Time
	CreatedBy  string
	DedupKey   string
}

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

// AddActivities adds system activities to the org's leads in one statement, each once per dedup
// key, and returns the added ones in the order of as (nil where the key existed: a rerun; of two
// with one key, the first is added).
func AddActivities(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, as []SystemActivity) ([]*Activity, error) {
	out := make([]*Activity, len(as))
	if len(as) == 0 {
		return out, nil
	}
	n := len(as)
	leads, kinds, keys, payloads := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	subjects, bodies, createdBy := make([]*string, n), make([]*string, n), make([]*string, n)
	at := make([]time.Time, n)
	index := make(map[string]int, n)
	for i, a := range as {
		if _, dup := index[a.DedupKey]; !dup {
			index[a.DedupKey] = i
		}
		payload := a.Payload
		if len(payload) == 0 {
			payload = Doc("{}")
		}
		leads[i], kinds[i], keys[i], payloads[i] = a.LeadID.String(), string(a.Kind), a.DedupKey, string(payload)
		subjects[i], bodies[i], createdBy[i], at[i] = ptr(a.Subject), ptr(a.Body), ptr(a.CreatedBy), a.OccurredAt
	}
	type addedRow struct {
		DedupKey string `gorm:"column:dedup_key"`
		Activity
	}
	added, err := queryAll[addedRow](ctx, tx, "add lead activities", addActivitiesSQL, orgID.String(),
		leads, kinds, subjects, bodies, payloads, keys, at, createdBy)
	if err != nil {
		return nil, err
	}
	for i := range added {
		a := added[i].Activity
		a.utc()
		out[index[added[i].DedupKey]] = &a
	}
	return out, nil
}

// queryAll runs query with args on tx's connection and returns every row, each scanned into a
// new T by column name (gorm's ScanRows); what names the reading in its errors.
func queryAll[T any](ctx context.Context, tx *gorm.DB, what, query string, args ...any) ([]T, error) {
	rows, err := db.Conn(tx).QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer func() { _ = rows.Close() }()
	var out []T
	for rows.Next() {
		var row T
		if err := tx.ScanRows(rows, &row); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
