package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"example.com/crm/pkg/ai"
	"example.com/crm/pkg/config"
	"example.com/crm/pkg/enrichment"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/pipeline"
	"example.com/crm/pkg/scoring"
)

// EnrichDeps are what enrich_lead needs: the lead pipeline (NewLeadPipeline).
type EnrichDeps struct {
	Pipeline *pipeline.Pipeline
}

// EnrichLead returns the enrich_lead handler: for the lead.created event of its payload
// (events.JobPayload) it runs pipeline.Pipeline.Enrich, which calls the enrichment API (if any)
// before completing the job in one transaction with its writes and lead.enriched.
func EnrichLead(d EnrichDeps) jobs.Handler {
	if d.Pipeline == nil {
		panic("handler.EnrichLead: nil pipeline")
	}
	return func(ctx context.Context, run *jobs.Run) error {
		id, err := pipelineLeadID(run)
		if err != nil {
			return err
		}
		return d.Pipeline.Enrich(ctx, run.Job.OrgID, []uuid.UUID{id}, run.CompleteInTx)
	}
}

// NewLeadPipeline builds the lead pipeline of enrich_lead and qualify_lead from the
// configuration: the enrichment API client when ENRICHMENT_API_URL is set (else local
// enrichment only), and the AI scorer when OPENAI_API_KEY is set (else scoring.Builtin).
func NewLeadPipeline(g *gorm.DB, emitter *events.Emitter, aiCfg config.AI, enrCfg config.Enrichment) (*pipeline.Pipeline, error) {
	enricher, err := enrichment.NewEnricher(enrichment.Config{URL: enrCfg.URL, APIKey: enrCfg.APIKey})
	if err != nil {
		return nil, fmt.Errorf("lead pipeline: %w", err)
	}
	var scorer pipeline.Scorer = scoring.Builtin{}
	if aiCfg.APIKey != "" {
		client, err := ai.New(ai.Config{APIKey: aiCfg.APIKey, Model: aiCfg.Model, BaseURL: aiCfg.BaseURL})
		if err != nil {
			return nil, fmt.Errorf("lead pipeline: %w", err)
		}
		scorer = scoring.NewAI(client)
	}
	return pipeline.New(g, emitter, enricher, scorer), nil
}

// BatchRegistry returns the batch handlers (jobs.BatchHandler) of the job types that have one,
// each one statement per step for a whole batch of leads: process_intake (intake.Processor.
// Process), route_outreach (pipeline.Router.Route), and enrich_lead and qualify_lead of an
// offline pipeline (pipeline.Pipeline.Enrich and Qualify); and follow_up_lead
// (pipeline.Router.FollowUp), which locks the batch's leads in the order of their ids before it
// follows each one up, as the others lock theirs. Batched job types without one run their
// Handler once per job of a batch.
func BatchRegistry(d Deps) map[string]jobs.BatchHandler {
	if d.Gorm == nil || d.Emitter == nil {
		panic("handler.BatchRegistry: nil dependency")
	}
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	router := pipeline.NewRouter(d.Emitter)
	reg := map[string]jobs.BatchHandler{
		jobs.TypeProcessIntake: ProcessIntakeBatch(intake.NewProcessor(d.leads()), d.Log),
		jobs.TypeRouteOutreach: RouteOutreachBatch(router, d.Log, d.FollowUpAfter),
		jobs.TypeFollowUpLead:  FollowUpLeadBatch(router, d.Log),
	}
	if d.Pipeline != nil && d.Pipeline.Offline() {
		reg[jobs.TypeEnrichLead] = pipelineBatch(d.Pipeline.Enrich)
		reg[jobs.TypeQualifyLead] = pipelineBatch(d.Pipeline.Qualify)
	}
	return reg
}

// pipelineBatch is the batch handler that reads the lead id of every job of the batch and runs
// many over them in the batch's transaction. A payload it cannot read fails the batch, and the
// job then fails alone, permanently, through its Handler.
func pipelineBatch(many func(ctx context.Context, orgID uuid.UUID, ids []uuid.UUID, commit pipeline.Commit) error) jobs.BatchHandler {
	return func(ctx context.Context, b *jobs.Batch) error {
		ids := make([]uuid.UUID, 0, len(b.Runs()))
		for _, run := range b.Runs() {
			id, err := pipelineLeadID(run)
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return many(ctx, b.Org(), ids, b.Exec)
	}
}

// pipelineLeadID reads the lead id of an enrich_lead or qualify_lead job: the entity of the
// lead.created event in its payload. A payload that is not that is permanent.
func pipelineLeadID(run *jobs.Run) (uuid.UUID, error) {
	var p events.JobPayload
	if err := json.NewDecoder(bytes.NewReader(run.Job.Payload)).Decode(&p); err != nil {
		return uuid.Nil, jobs.Permanentf("%s payload: %w", run.Job.Type, err)
	}
	if p.EntityID == nil || p.EntityType != lead.EntityType {
		return uuid.Nil, jobs.Permanentf("%s: event %d is not about a lead", run.Job.Type, p.EventID)
	}
	return *p.EntityID, nil
}
