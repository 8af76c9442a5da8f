package handler

import (
	"context"

	"github.com/google/uuid"

	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/pipeline"
)

// QualifyDeps are what qualify_lead needs: the lead pipeline (NewLeadPipeline).
type QualifyDeps struct {
	Pipeline *pipeline.Pipeline
}

// QualifyLead returns the qualify_lead handler: for the lead.created event of its payload
// (events.JobPayload) it runs pipeline.Pipeline.Qualify (which enriches first when enrich_lead has
// not yet, see its doc), completing the job in one transaction with the score, the stage move
// and lead.qualified (which enqueues route_outreach).
func QualifyLead(d QualifyDeps) jobs.Handler {
	if d.Pipeline == nil {
		panic("handler.QualifyLead: nil pipeline")
	}
	return func(ctx context.Context, run *jobs.Run) error {
		id, err := pipelineLeadID(run)
		if err != nil {
			return err
		}
		return d.Pipeline.Qualify(ctx, run.Job.OrgID, []uuid.UUID{id}, run.CompleteInTx)
	}
}
