package lead

// The batch forms of Enrich and Qualify: the same use cases for many leads of one org at once,
// with one statement per step for all of them (a batch of their kind). They write exactly what
// Enrich and Qualify write lead by lead (TestPipelineManyAgrees), and only for an Offline pipeline: with
// an enrichment API or a model, each lead's call must happen outside the transaction, and the
// lead-by-lead use cases do that.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/enrichment"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/org"
	"example.com/crm/pkg/scoring"
)

// errNotOffline refuses a batch form on a pipeline that calls out.
var errNotOffline = errors.New("the batch forms of the pipeline need an offline pipeline (no enrichment API, the built-in scorer)")

// EnrichMany is Enrich for the leads ids of orgID, in the one transaction of commit: one
// statement locks and reads them, one stores the enrichments of those not yet enriched, and one
// emits their lead.enriched events. A missing, deleted or enriched lead gets nothing.
func (p *Pipeline) EnrichMany(ctx context.Context, orgID uuid.UUID, ids []uuid.UUID, commit Commit) error {
	err := p.many(ctx, orgID, ids, false, commit, func(cur snapshot, _ org.ICP) (*leadWrite, []events.NewEvent, error) {
		if cur.lead.enriched() {
			return nil, nil, nil
		}
		res, err := p.enrich(ctx, cur.lead)
		if err != nil {
			return nil, nil, err
		}
		return &leadWrite{id: cur.lead.ID, enrichment: &res}, []events.NewEvent{enrichedEvent(orgID, cur.lead.ID, res, KindEnrichLead)}, nil
	})
	if err != nil {
		return fmt.Errorf("enrich %d leads: %w", len(ids), err)
	}
	return nil
}

// QualifyMany is Qualify for the leads ids of orgID, in the one transaction of commit: one
// statement locks and reads them with the org's ICP, one stores every score (with the
// enrichment a lead did not have yet, and the stage move of a lead still new), and one emits
// their lead.enriched, lead.stage_changed and lead.qualified events. A missing, deleted or
// scored lead gets nothing.
func (p *Pipeline) QualifyMany(ctx context.Context, orgID uuid.UUID, ids []uuid.UUID, commit Commit) error {
	err := p.many(ctx, orgID, ids, true, commit, func(cur snapshot, icp org.ICP) (*leadWrite, []events.NewEvent, error) {
		if cur.scoredBy != nil {
			return nil, nil, nil
		}
		enr, store, err := p.enrichmentFor(ctx, cur.lead)
		if err != nil {
			return nil, nil, err
		}
		res, err := p.score(ctx, cur.lead, enr, icp)
		if err != nil {
			return nil, nil, err
		}
		w, evs := qualification(orgID, cur, res, toStore(cur, store, enr))
		return &w, evs, nil
	})
	if err != nil {
		return fmt.Errorf("qualify %d leads: %w", len(ids), err)
	}
	return nil
}

// many is the frame of the batch forms, for an Offline pipeline: in the transaction of commit
// it locks and reads the live leads among ids (with the org's ICP when withICP), asks plan what
// each one gets (nil: nothing), stores every write in one statement and emits every event in
// one.
func (p *Pipeline) many(ctx context.Context, orgID uuid.UUID, ids []uuid.UUID, withICP bool, commit Commit,
	plan func(cur snapshot, icp org.ICP) (*leadWrite, []events.NewEvent, error)) error {
	if !p.Offline() {
		return errNotOffline
	}
	return commit(ctx, func(tx *gorm.DB) error {
		var icp org.ICP
		icpOut := &icp
		if !withICP {
			icpOut = nil
		}
		leads, err := lockPipelineLeads(ctx, tx, orgID, ids, icpOut)
		if err != nil {
			return err
		}
		var rows []leadWrite
		var evs []events.NewEvent
		for _, cur := range leads {
			w, more, err := plan(cur, icp)
			if err != nil {
				return fmt.Errorf("lead %s: %w", cur.lead.ID, err)
			}
			if w != nil {
				rows = append(rows, *w)
			}
			evs = append(evs, more...)
		}
		if err := storeLeadWrites(ctx, tx, orgID, rows); err != nil {
			return err
		}
		_, err = p.emitter.EmitAll(ctx, tx, evs...)
		return err
	})
}

// lockPipelineLeadsSQL locks and reads leads of an org ($1) by id ($2) with their scored_by and
// deletion, and with the org's ICP when $3, in the order of $2.
//
// Each id is looked up on its own (a LATERAL subquery, kept apart by OFFSET 0, per element of
// $2), so the plan is a primary-key probe per lead whatever the statistics say. Written as
// "org_id = $1 AND id = ANY($2)", the planner of a young table (no statistics yet, as in a new
// install's first minute) guessed two rows for the org and read every lead of the org per batch
// through a bitmap of org_id, filtering the ids out of it: hundreds of buffers per batch, more
// the more leads the org has.
//
// The ids come through a scalar subquery, and the ICP is read once for the statement, so that
// a custom plan sees no more than the generic plan does (an unnest of an array of unknown
// length, one read of the org): the plan cache then keeps the generic plan instead of planning
// the statement afresh on every call (a quarter of a millisecond each).
const lockPipelineLeadsSQL = `SELECT l.*, CASE WHEN $3 THEN (SELECT icp FROM orgs WHERE id = $1) END AS icp
FROM unnest((SELECT $2::uuid[])) AS k(id)
CROSS JOIN LATERAL (
    SELECT ` + leadColumns + `, scored_by, deleted_at IS NOT NULL AS deleted
    FROM leads WHERE org_id = $1 AND id = k.id
    OFFSET 0
    FOR UPDATE OF leads
) l`

// lockPipelineLeads is lockPipelineLead for many leads in one statement: the live ones among
// ids, locked in the order of the primary key (so two batches over the same leads cannot
// deadlock), each once; and the org's ICP into icp unless it is nil.
func lockPipelineLeads(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, ids []uuid.UUID, icp *org.ICP) ([]snapshot, error) {
	type lockedRow struct {
		Lead
		ScoredBy *string `gorm:"column:scored_by"`
		Deleted  bool    `gorm:"column:deleted"`
		ICP      []byte  `gorm:"column:icp"`
	}
	got, err := queryAll[lockedRow](ctx, tx, "lock leads", lockPipelineLeadsSQL, orgID.String(), keyOrder(ids), icp != nil)
	if err != nil {
		return nil, err
	}
	out := make([]snapshot, 0, len(got))
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
		out = append(out, snapshot{lead: row.Lead, scoredBy: row.ScoredBy, found: true})
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

// leadWrite is what the pipeline writes to one locked lead: an enrichment, a score, a stage
// move, a priority, each when not nil. A stage move or a priority moves the version on by one.
type leadWrite struct {
	id         uuid.UUID
	enrichment *enrichment.Result
	score      *scoring.Result
	stage      *Stage  // the stage it moves the lead to
	reason     *string // with stage
	priority   *Priority
}

// storeLeadWritesSQL applies leadWrites (parallel arrays from $2, one element per lead) to the
// org's ($1) leads: an enrichment (doc, band, domain) where has_enrichment, a score where
// has_score, a stage move where to_stage is not NULL, a priority where priority is not NULL, the
// version moved on by one for either of the last two. It returns how many rows it changed.
//
// As in lockPipelineLeadsSQL, each lead is found by its own primary-key probe (the LATERAL
// subquery of k), and the UPDATE then reaches it by its tuple id (a TID scan per lead), so no
// plan reads the org's other leads, whatever the statistics say; and the ids come through a
// scalar subquery, so that the plan cache keeps the generic plan.
const storeLeadWritesSQL = `
WITH w AS (
    SELECT * FROM unnest((SELECT $2::uuid[]), $3::boolean[], $4::text[], $5::text[], $6::text[],
        $7::boolean[], $8::int[], $9::text[], $10::boolean[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])
    AS w(id, has_enrichment, doc, band, domain, has_score, score, reasons, icp_match, path, scored_by, to_stage, reason, priority)
), k AS (
    SELECT w.*, t.ct FROM w CROSS JOIN LATERAL (
        SELECT ctid AS ct FROM leads WHERE org_id = $1 AND id = w.id OFFSET 0
    ) t
), u AS (
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
    RETURNING 1
)
SELECT count(*) FROM u`

// storeLeadWrites applies rows, each to a lead the transaction has locked and seen live, in one
// statement.
func storeLeadWrites(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, rows []leadWrite) error {
	if len(rows) == 0 {
		return nil
	}
	args, err := storeLeadWritesArgs(orgID, rows)
	if err != nil {
		return err
	}
	var changed int
	if err := db.Conn(tx).QueryRowContext(ctx, storeLeadWritesSQL, args...).Scan(&changed); err != nil {
		return fmt.Errorf("store %d leads: %w", len(rows), err)
	}
	if changed != len(rows) {
		return fmt.Errorf("store %d leads: %d rows changed", len(rows), changed)
	}
	return nil
}

// storeLeadWritesArgs returns the parameters of storeLeadWritesSQL for rows of orgID.
func storeLeadWritesArgs(orgID uuid.UUID, rows []leadWrite) ([]any, error) {
	n := len(rows)
	ids, docs, bands, domains, reasons, paths, scoredBy := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	hasEnr, hasScore, icpMatch := make([]bool, n), make([]bool, n), make([]bool, n)
	scores := make([]int32, n)
	toStage, stageReason, priority := make([]*string, n), make([]*string, n), make([]*string, n)
	for i, w := range rows {
		ids[i] = w.id.String()
		if w.enrichment != nil {
			doc, err := json.Marshal(w.enrichment)
			if err != nil {
				return nil, fmt.Errorf("encode enrichment: %w", err)
			}
			hasEnr[i], docs[i], bands[i], domains[i] = true, string(doc), w.enrichment.RevenueBand, w.enrichment.Domain
		}
		if r := w.score; r != nil {
			rs, err := json.Marshal(r.Reasons)
			if err != nil {
				return nil, fmt.Errorf("encode score reasons: %w", err)
			}
			hasScore[i], scores[i], reasons[i], icpMatch[i], paths[i], scoredBy[i] = true, int32(r.Score), string(rs), r.ICPMatch, string(r.RecommendedPath), r.Model
		}
		if w.stage != nil {
			s := string(*w.stage)
			toStage[i], stageReason[i] = &s, w.reason
		}
		if w.priority != nil {
			p := string(*w.priority)
			priority[i] = &p
		}
	}
	return []any{orgID.String(), ids, hasEnr, docs, bands, domains,
		hasScore, scores, reasons, icpMatch, paths, scoredBy, toStage, stageReason, priority}, nil
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
