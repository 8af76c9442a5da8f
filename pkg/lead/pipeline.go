package lead

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/enrichment"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/org"
	"example.com/crm/pkg/scoring"
)

// Enricher is what the pipeline needs of pkg/enrichment (enrichment.Client or
// enrichment.LocalEnricher). Errors are retryable unless enrichment.IsPermanent.
type Enricher interface {
	Enrich(ctx context.Context, in enrichment.Input) (enrichment.Result, error)
}

// Scorer is what the pipeline needs of pkg/scoring (scoring.Builtin or *scoring.AI). Errors are
// retryable unless scoring.IsPermanent.
type Scorer interface {
	Score(ctx context.Context, in scoring.Input) (scoring.Result, error)
}

// Commit runs fn in a tenant transaction of the job's org and commits it together with the
// job's completion: jobs.Run.CompleteInTx, as a method value.
type Commit func(ctx context.Context, fn func(tx *gorm.DB) error) error

// Pipeline holds the worker's lead use cases: Enrich (enrich_lead) and Qualify (qualify_lead).
// Each reads the lead, makes its external calls (enrichment API, model) outside any
// transaction, then writes its results and events in the transaction of commit, so that the
// writes and the job's completion commit together (R7) and a rerun changes nothing more.
type Pipeline struct {
	db       *gorm.DB
	emitter  *events.Emitter
	enricher Enricher
	scorer   Scorer
}

// PipelineActor is the actor of the events the pipeline emits.
const PipelineActor = "system:worker"

// NewPipeline returns the pipeline on g, emitting through emitter, enriching with enricher and
// scoring with scorer; all are required.
func NewPipeline(g *gorm.DB, emitter *events.Emitter, enricher Enricher, scorer Scorer) *Pipeline {
	if g == nil || emitter == nil || enricher == nil || scorer == nil {
		panic("lead.NewPipeline: nil dependency")
	}
	return &Pipeline{db: g, emitter: emitter, enricher: enricher, scorer: scorer}
}

// Offline reports whether the pipeline calls no external service: local enrichment
// (enrichment.LocalEnricher) and the built-in scorer (scoring.Builtin). Its use cases then take
// about a millisecond and may share a transaction (jobs.Batch).
func (p *Pipeline) Offline() bool {
	_, localEnricher := p.enricher.(enrichment.LocalEnricher)
	_, builtin := p.scorer.(scoring.Builtin)
	return localEnricher && builtin
}

// snapshot is the lead as the pipeline reads it before its external calls.
type snapshot struct {
	lead     Lead
	scoredBy *string
	found    bool
}

// read returns the org's live lead id with its scored_by, and when icp is not nil the org's
// ICP into it, in one round trip (db.GormReadTx); found is false for a missing or deleted lead.
func (p *Pipeline) read(ctx context.Context, orgID, id uuid.UUID, icp *org.ICP) (snapshot, error) {
	var s snapshot
	err := db.GormReadTx(ctx, p.db, orgID, func(b *db.Batch) {
		queuePipelineLead(b, orgID, id, &s)
		if icp != nil {
			org.QueueGetICP(b, orgID, icp)
		}
	})
	if err != nil {
		return snapshot{}, fmt.Errorf("read lead %s: %w", id, err)
	}
	return s, nil
}

// event is an event of the pipeline about lead leadID.
func event(orgID uuid.UUID, typ string, leadID uuid.UUID, key string, payload any) events.NewEvent {
	return leadEvent(orgID, PipelineActor, typ, leadID, key, payload)
}

// enriched reports whether the lead has a stored enrichment (anything but the default {}).
func (l Lead) enriched() bool {
	return len(l.Enrichment) > 0 && !sameJSON(l.Enrichment, []byte("{}"))
}

// enrichmentInput is the lead as enrichment sees it.
func (l Lead) enrichmentInput() enrichment.Input {
	return enrichment.Input{Email: str(l.Email), Website: str(l.Website), Domain: str(l.Domain)}
}

// scoringLead is the lead as the scorers see it.
func (l Lead) scoringLead() scoring.Lead {
	return scoring.Lead{
		Name: str(l.Name), Email: str(l.Email), Phone: str(l.Phone), Company: str(l.Company), Website: str(l.Website),
		Domain: str(l.Domain), Title: str(l.Title), ProfileLink: str(l.ProfileLink), Source: str(l.Source), Notes: str(l.Notes),
	}
}
