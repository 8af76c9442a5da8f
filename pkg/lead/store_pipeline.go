package lead

// The queries of the enrichment and qualification use cases (pipeline.go, enrich.go,
// qualify.go). Like store.go they filter org_id themselves under row-level security.

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/enrichment"
	"example.com/crm/pkg/org"
	"example.com/crm/pkg/scoring"
)

// pipelineLeadSQL reads a lead with its scored_by and whether it is deleted. It looks the row
// up by the primary key alone, and reports deletion instead of filtering it: with
// "deleted_at IS NULL" in the WHERE clause, every partial index of leads on org_id (WHERE
// deleted_at IS NULL) is a candidate too, and while the table has no statistics yet (a new
// database: autovacuum analyzes it a minute or more later) the planner rates them as cheap as
// the primary key and may keep a generic plan that walks the org's whole index for one lead.
const pipelineLeadSQL = `SELECT ` + leadColumns + `, scored_by, deleted_at IS NOT NULL FROM leads WHERE org_id = $1 AND id = $2`

// queuePipelineLead queues the read of the org's lead id with its scored_by into out, on a tenant
// read (db.ReadTx). A missing or deleted lead leaves out.found false.
func queuePipelineLead(b *pgx.Batch, orgID, id uuid.UUID, out *snapshot) {
	b.Queue(pipelineLeadSQL, db.UUID(orgID), db.UUID(id)).QueryRow(func(row pgx.Row) error {
		var scoredBy pgtype.Text
		var deleted bool
		l, err := newLeadScan().scan(row, &scoredBy, &deleted)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read lead: %w", err)
		}
		if deleted {
			return nil
		}
		*out = snapshot{lead: l, found: true}
		if scoredBy.Valid {
			out.scoredBy = &scoredBy.String
		}
		return nil
	})
}

// lockPipelineLead reads the org's live lead id with its scored_by in the caller's transaction
// and locks its row (by the primary key alone, see pipelineLeadSQL). A missing or deleted lead
// is found == false, not an error: the job has nothing to do. When icp is not nil it also reads
// the org's ICP into it, in the same statement (the org's row is not locked).
func lockPipelineLead(tx *gorm.DB, orgID, id uuid.UUID, icp *org.ICP) (snapshot, error) {
	var row struct {
		Lead
		ScoredBy *string `gorm:"column:scored_by"`
		Deleted  bool    `gorm:"column:deleted"`
		ICP      []byte  `gorm:"column:icp"`
	}
	icpColumn := "NULL::jsonb"
	if icp != nil {
		icpColumn = "(SELECT icp FROM orgs WHERE id = leads.org_id)"
	}
	res := tx.Raw(`SELECT `+leadColumns+`, scored_by, deleted_at IS NOT NULL AS deleted, `+icpColumn+` AS icp
FROM leads WHERE org_id = ? AND id = ? FOR UPDATE OF leads`, orgID, id).Scan(&row)
	if res.Error != nil {
		return snapshot{}, fmt.Errorf("lock lead: %w", res.Error)
	}
	if res.RowsAffected == 0 || row.Deleted {
		return snapshot{}, nil
	}
	if icp != nil {
		p, err := org.DecodeICP(orgID, row.ICP)
		if err != nil {
			return snapshot{}, fmt.Errorf("lock lead: %w", err)
		}
		*icp = p
	}
	row.Lead.utc()
	return snapshot{lead: row.Lead, scoredBy: row.ScoredBy, found: true}, nil
}

// The writes below run after lockPipelineLead in the same transaction, which holds the lead's
// row lock and has seen it live, so they find the row by the primary key alone (see
// pipelineLeadSQL for why no other condition is in their WHERE clause).

// storeEnrichment writes the enrichment document and the revenue band, and the domain where
// the lead has none (the stored domain is part of the dedup fingerprint, so a domain intake
// derived is never rewritten). It does not move the version: enrichment is derived data, not
// an edit a client could conflict with.
func storeEnrichment(tx *gorm.DB, orgID, id uuid.UUID, r enrichment.Result) error {
	set, args, err := enrichmentSet(&r)
	if err != nil {
		return err
	}
	res := tx.Exec(`UPDATE leads SET `+set+`updated_at = now() WHERE org_id = ? AND id = ?`, append(args, orgID, id)...)
	if res.Error != nil {
		return fmt.Errorf("store enrichment: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return notFound(id)
	}
	return nil
}

// enrichmentSet is the start of a SET list that stores r as storeEnrichment does, with its
// arguments; for nil it is empty.
func enrichmentSet(r *enrichment.Result) (string, []any, error) {
	if r == nil {
		return "", nil, nil
	}
	doc, err := json.Marshal(r)
	if err != nil {
		return "", nil, fmt.Errorf("encode enrichment: %w", err)
	}
	return `enrichment = ?::jsonb, revenue_band = nullif(?, ''), domain = coalesce(domain, nullif(?, '')), `,
		[]any{string(doc), r.RevenueBand, r.Domain}, nil
}

// storeScoreAndStage writes a qualification (with the enrichment enr, unless nil) and moves the
// lead to stage to with reason, in one UPDATE (one new version of the row instead of two or
// three), and returns the lead's new version: what storeScore and setStage do together.
func storeScoreAndStage(tx *gorm.DB, orgID, id uuid.UUID, r scoring.Result, enr *enrichment.Result, to Stage, reason *string) (int, error) {
	set, args, err := enrichmentSet(enr)
	if err != nil {
		return 0, err
	}
	reasons, err := json.Marshal(r.Reasons)
	if err != nil {
		return 0, fmt.Errorf("encode score reasons: %w", err)
	}
	var version []int
	res := tx.Raw(`UPDATE leads SET `+set+`score = ?, score_reasons = ?::jsonb, icp_match = ?, recommended_path = ?, scored_by = ?,
	stage = ?, stage_reason = ?, stage_changed_at = now(), version = version + 1,
	qualified_at = CASE WHEN ? = 'qualified' THEN coalesce(qualified_at, now()) ELSE qualified_at END
WHERE org_id = ? AND id = ?
RETURNING version`, append(args, r.Score, string(reasons), r.ICPMatch, string(r.RecommendedPath), r.Model,
		string(to), reason, string(to), orgID, id)...).Scan(&version)
	if res.Error != nil {
		return 0, fmt.Errorf("store score and stage: %w", res.Error)
	}
	if len(version) == 0 {
		return 0, notFound(id)
	}
	return version[0], nil
}

// storeScore writes a qualification (with the enrichment enr, unless nil). Like
// storeEnrichment it does not move the version; a stage change that goes with it does
// (storeScoreAndStage).
func storeScore(tx *gorm.DB, orgID, id uuid.UUID, r scoring.Result, enr *enrichment.Result) error {
	set, args, err := enrichmentSet(enr)
	if err != nil {
		return err
	}
	reasons, err := json.Marshal(r.Reasons)
	if err != nil {
		return fmt.Errorf("encode score reasons: %w", err)
	}
	res := tx.Exec(`UPDATE leads SET `+set+`score = ?, score_reasons = ?::jsonb, icp_match = ?, recommended_path = ?,
	scored_by = ?, updated_at = now()
WHERE org_id = ? AND id = ?`, append(args, r.Score, string(reasons), r.ICPMatch, string(r.RecommendedPath), r.Model, orgID, id)...)
	if res.Error != nil {
		return fmt.Errorf("store score: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return notFound(id)
	}
	return nil
}

func isNotFound(err error) bool { return apperr.Is(err, apperr.NotFound) }
