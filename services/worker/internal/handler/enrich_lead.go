package handler

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"example.com/crm/pkg/ai"
	"example.com/crm/pkg/config"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/enrichment"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/pipeline"
	"example.com/crm/pkg/scoring"
)

// LeadPipeline is the lead pipeline of enrich_lead and qualify_lead, and how its jobs may run.
type LeadPipeline struct {
	*pipeline.Pipeline
	// Sharing is jobs.Shared when the pipeline calls no external service (no enrichment API, the
	// built-in scorer): a lead then takes about a millisecond, and a batch of leads goes through
	// the pipeline's set-based forms in one transaction. With an API or a model, each job runs
	// alone and makes its call before its transaction opens.
	Sharing jobs.Sharing
}

// NewLeadPipeline builds the lead pipeline of enrich_lead and qualify_lead from the
// configuration: the enrichment API client when ENRICHMENT_API_URL is set (else local
// enrichment only), and the AI scorer when OPENAI_API_KEY is set (else scoring.Builtin). Its
// jobs share transactions when neither is set.
func NewLeadPipeline(d *db.DB, emitter *events.Emitter, aiCfg config.AI, enrCfg config.Enrichment) (*LeadPipeline, error) {
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
	sharing := jobs.Sharing(enrCfg.URL == "" && aiCfg.APIKey == "")
	return &LeadPipeline{Pipeline: pipeline.New(d, emitter, enricher, scorer), Sharing: sharing}, nil
}

// EnrichLead is the enrich_lead kind: for the lead.created event of each job
// (pipeline.EnrichLeadArgs) it enriches the lead through pipeline.Pipeline.Enrich, which calls
// the enrichment API (if any) before it opens the jobs' transaction.
func EnrichLead(p *LeadPipeline) jobs.Kind {
	if p == nil || p.Pipeline == nil {
		panic("handler.EnrichLead: nil pipeline")
	}
	return jobs.NewKind(p.Sharing, func(ctx context.Context, tx *jobs.Batch, js []jobs.Attempt[pipeline.EnrichLeadArgs]) error {
		return p.Enrich(ctx, tx.Org(), leadIDs(js, func(a pipeline.EnrichLeadArgs) events.JobPayload { return a.JobPayload }), tx.Exec)
	})
}

// QualifyLead is the qualify_lead kind: for the lead.created event of each job
// (pipeline.QualifyLeadArgs) it scores the lead (enriching it first when enrich_lead has not
// yet), moves its stage and emits lead.qualified (which enqueues route_outreach), through
// pipeline.Pipeline.Qualify, which calls the model (if any) before it opens the jobs'
// transaction.
func QualifyLead(p *LeadPipeline) jobs.Kind {
	if p == nil || p.Pipeline == nil {
		panic("handler.QualifyLead: nil pipeline")
	}
	return jobs.NewKind(p.Sharing, func(ctx context.Context, tx *jobs.Batch, js []jobs.Attempt[pipeline.QualifyLeadArgs]) error {
		return p.Qualify(ctx, tx.Org(), leadIDs(js, func(a pipeline.QualifyLeadArgs) events.JobPayload { return a.JobPayload }), tx.Exec)
	})
}

// leadIDs are the leads of the events of js.
func leadIDs[A jobs.Args](js []jobs.Attempt[A], event func(A) events.JobPayload) []uuid.UUID {
	ids := make([]uuid.UUID, len(js))
	for i, j := range js {
		ids[i] = *event(j.Args).EntityID
	}
	return ids
}
