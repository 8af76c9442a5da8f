package lead

// The queries of the enrichment and qualification use cases (pipeline.go, enrich.go,
// qualify.go). Like store.go they filter org_id themselves under row-level security.

import (
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/enrichment"
	"example.com/crm/pkg/scoring"
)

// pipelineLead reads the org's live lead id and its scored_by in one statement; forUpdate locks
// the row. A missing or deleted lead is found == false, not an error: the job has nothing to do.
func pipelineLead(tx *gorm.DB, orgID, id uuid.UUID, forUpdate bool) (snapshot, error) {
	q := `SELECT ` + leadColumns + `, scored_by FROM leads WHERE org_id = ? AND id = ? AND deleted_at IS NULL`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var row struct {
		Lead
		ScoredBy *string `gorm:"column:scored_by"`
	}
	res := tx.Raw(q, orgID, id).Scan(&row)
	if res.Error != nil {
		return snapshot{}, fmt.Errorf("read lead: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return snapshot{}, nil
	}
	row.Lead.utc()
	return snapshot{lead: row.Lead, scoredBy: row.ScoredBy, found: true}, nil
}

// storeEnrichment writes the enrichment document and the revenue band, and the domain where
// the lead has none (the stored domain is part of the dedup fingerprint, so a domain intake
// derived is never rewritten). It does not move the version: enrichment is derived data, not
// an edit a client could conflict with.
func storeEnrichment(tx *gorm.DB, orgID, id uuid.UUID, r enrichment.Result) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode enrichment: %w", err)
	}
	res := tx.Exec(`UPDATE leads SET enrichment = ?::jsonb, revenue_band = nullif(?, ''),
	domain = coalesce(domain, nullif(?, '')), updated_at = now()
WHERE org_id = ? AND id = ? AND deleted_at IS NULL`, string(doc), r.RevenueBand, r.Domain, orgID, id)
	if res.Error != nil {
		return fmt.Errorf("store enrichment: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return notFound(id)
	}
	return nil
}

// storeScoreAndStage writes a qualification and moves the lead to stage to with reason, in one
// UPDATE (one new version of the row instead of two): what storeScore and setStage do together.
func storeScoreAndStage(tx *gorm.DB, orgID, id uuid.UUID, r scoring.Result, to Stage, reason *string) (Lead, error) {
	reasons, err := json.Marshal(r.Reasons)
	if err != nil {
		return Lead{}, fmt.Errorf("encode score reasons: %w", err)
	}
	var out Lead
	res := tx.Raw(`UPDATE leads SET score = ?, score_reasons = ?::jsonb, icp_match = ?, recommended_path = ?, scored_by = ?,
	stage = ?, stage_reason = ?, stage_changed_at = now(), version = version + 1,
	qualified_at = CASE WHEN ? = 'qualified' THEN coalesce(qualified_at, now()) ELSE qualified_at END
WHERE org_id = ? AND id = ? AND deleted_at IS NULL
RETURNING `+leadColumns, r.Score, string(reasons), r.ICPMatch, string(r.RecommendedPath), r.Model,
		string(to), reason, string(to), orgID, id).Scan(&out)
	if res.Error != nil {
		return Lead{}, fmt.Errorf("store score and stage: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return Lead{}, notFound(id)
	}
	out.utc()
	return out, nil
}

// storeScore writes a qualification. Like storeEnrichment it does not move the version; a stage
// change that goes with it does (storeScoreAndStage).
func storeScore(tx *gorm.DB, orgID, id uuid.UUID, r scoring.Result) error {
	reasons, err := json.Marshal(r.Reasons)
	if err != nil {
		return fmt.Errorf("encode score reasons: %w", err)
	}
	res := tx.Exec(`UPDATE leads SET score = ?, score_reasons = ?::jsonb, icp_match = ?, recommended_path = ?,
	scored_by = ?, updated_at = now()
WHERE org_id = ? AND id = ? AND deleted_at IS NULL`, r.Score, string(reasons), r.ICPMatch, string(r.RecommendedPath), r.Model, orgID, id)
	if res.Error != nil {
		return fmt.Errorf("store score: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return notFound(id)
	}
	return nil
}

func isNotFound(err error) bool { return apperr.Is(err, apperr.NotFound) }
