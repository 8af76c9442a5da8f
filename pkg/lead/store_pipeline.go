package lead

// The queries of the enrichment and qualification use cases (pipeline.go, enrich.go,
// qualify.go). Like store.go they filter org_id themselves under row-level security.

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/org"
)

// pipelineLeadSQL reads a lead with its scored_by and whether it is deleted. It looks the row
// up by the primary key alone, and reports deletion instead of filtering it: with
// "deleted_at IS NULL" in the WHERE clause, every partial index of leads on org_id (WHERE
// deleted_at IS NULL) is a candidate too, and while the table has no statistics yet (a new
// database: autovacuum analyzes it a minute or more later) the planner rates them as cheap as
// the primary key and may keep a generic plan that walks the org's whole index for one lead.
const pipelineLeadSQL = `SELECT ` + leadColumns + `, scored_by, deleted_at IS NOT NULL FROM leads WHERE org_id = $1 AND id = $2`

// queuePipelineLead queues the read of the org's lead id with its scored_by into out, on a tenant
// read (db.DB.Read). A missing or deleted lead leaves out.found false.
func queuePipelineLead(b *db.Batch, orgID, id uuid.UUID, out *snapshot) {
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
		*out = snapshot{lead: l, found: true}
		if scoredBy.Valid {
			out.scoredBy = &scoredBy.String
		}
		return nil
	}, pipelineLeadSQL, db.UUID(orgID), db.UUID(id))
}

// lockPipelineLead reads the org's live lead id with its scored_by in the caller's transaction
// and locks its row: lockPipelineLeads of one lead. A missing or deleted lead is found == false,
// not an error: the job has nothing to do. When icp is not nil it also reads the org's ICP into
// it, in the same statement (the org's row is not locked).
func lockPipelineLead(ctx context.Context, tx *gorm.DB, orgID, id uuid.UUID, icp *org.ICP) (snapshot, error) {
	leads, err := lockPipelineLeads(ctx, tx, orgID, []uuid.UUID{id}, icp)
	if err != nil || len(leads) == 0 {
		return snapshot{}, err
	}
	return leads[0], nil
}

// The writes that follow lockPipelineLead in the same transaction (storeLeadWrites,
// pipeline_many.go) find the row by a primary-key probe alone and update it by its tuple id,
// since the transaction holds the lead's row lock and has seen it live (see pipelineLeadSQL for
// why no other condition is in their WHERE clause). An enrichment does not move the version: it is derived data, not an edit a client
// could conflict with; neither does a score, unless it comes with a stage move. The stored domain
// is part of the dedup fingerprint, so a domain that intake derived is never rewritten.

func isNotFound(err error) bool { return apperr.Is(err, apperr.NotFound) }
