package pipeline

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/enrichment"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/lead"
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

// Commit runs fn in a tenant transaction of the jobs' org and commits it together with the
// jobs' completion (jobs.Run.CompleteInTx, jobs.Batch.Exec, as a method value).
type Commit func(ctx context.Context, fn func(tx *gorm.DB) error) error

// Pipeline holds the use cases that call out of the database: Enrich (enrich_lead) and Qualify
// (qualify_lead). Each reads its leads, makes its external calls (enrichment API, model) outside
// any transaction, then writes its results and events in the transaction of commit, so that the
// writes and the jobs' completion commit together and a rerun changes nothing more.
type Pipeline struct {
	db       *db.DB
	emitter  *events.Emitter
	enricher Enricher
	scorer   Scorer
}

// Actor is the actor of the events that Enrich and Qualify emit.
const Actor = "system:worker"

// New returns the pipeline on d, emitting through emitter, enriching with enricher and scoring
// with scorer; all are required.
func New(d *db.DB, emitter *events.Emitter, enricher Enricher, scorer Scorer) *Pipeline {
	if d == nil || emitter == nil || enricher == nil || scorer == nil {
		panic("pipeline.New: nil dependency")
	}
	return &Pipeline{db: d, emitter: emitter, enricher: enricher, scorer: scorer}
}

// Offline reports whether the pipeline calls no external service: local enrichment
// (enrichment.LocalEnricher) and the built-in scorer (scoring.Builtin). Its use cases then take
// about a millisecond, make their calls inside the transaction of commit after one locked read,
// and may share a transaction.
func (p *Pipeline) Offline() bool {
	_, localEnricher := p.enricher.(enrichment.LocalEnricher)
	_, builtin := p.scorer.(scoring.Builtin)
	return localEnricher && builtin
}

// read returns the org's leads ids with their scored_by, in order, and when icp is not nil the
// org's ICP into it, in one round trip (db.DB.Read); a missing or deleted lead is not Found.
func (p *Pipeline) read(ctx context.Context, orgID uuid.UUID, ids []uuid.UUID, icp *org.ICP) ([]lead.Snapshot, error) {
	out := make([]lead.Snapshot, len(ids))
	err := p.db.Read(ctx, orgID, func(b *db.Batch) {
		for i, id := range ids {
			lead.QueueReadLive(b, orgID, id, &out[i])
		}
		if icp != nil {
			org.QueueGetICP(b, orgID, icp)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read %d leads: %w", len(ids), err)
	}
	return out, nil
}

// inTx runs a use case's writes in the transaction of commit: it locks and reads the live leads
// among ids (with the org's ICP when withICP) in the order of their ids, asks plan what each one
// gets (nil: nothing), stores every write in one statement (lead.StoreWrites) and emits every
// event in one. With no ids it only commits.
func (p *Pipeline) inTx(ctx context.Context, orgID uuid.UUID, ids []uuid.UUID, withICP bool, commit Commit,
	plan func(cur lead.Snapshot, icp org.ICP) (*lead.Write, []events.NewEvent, error)) error {
	if len(ids) == 0 {
		return commit(ctx, func(*gorm.DB) error { return nil })
	}
	return commit(ctx, func(tx *gorm.DB) error {
		var icp org.ICP
		icpOut := &icp
		if !withICP {
			icpOut = nil
		}
		leads, err := lead.LockLive(ctx, tx, orgID, ids, icpOut)
		if err != nil {
			return err
		}
		var writes []lead.Write
		var evs []events.NewEvent
		for _, cur := range leads {
			w, more, err := plan(cur, icp)
			if err != nil {
				return fmt.Errorf("lead %s: %w", cur.Lead.ID, err)
			}
			if w != nil {
				writes = append(writes, *w)
			}
			evs = append(evs, more...)
		}
		written, err := lead.StoreWrites(ctx, tx, orgID, writes)
		if err != nil {
			return err
		}
		if err := lead.AttachRows(evs, writes, written); err != nil {
			return err
		}
		_, err = p.emitter.EmitAll(ctx, tx, evs...)
		return err
	})
}

// event is an event of the pipeline about lead leadID.
func event(orgID uuid.UUID, typ string, leadID uuid.UUID, key string, payload any) events.NewEvent {
	return lead.NewEvent(orgID, Actor, typ, leadID, key, payload)
}

// enrichmentInput is the lead as enrichment sees it.
func enrichmentInput(l lead.Lead) enrichment.Input {
	return enrichment.Input{Email: str(l.Email), Website: str(l.Website), Domain: str(l.Domain)}
}

// scoringLead is the lead as the scorers see it.
func scoringLead(l lead.Lead) scoring.Lead {
	return scoring.Lead{
		Name: str(l.Name), Email: str(l.Email), Phone: str(l.Phone), Company: str(l.Company), Website: str(l.Website),
		Domain: str(l.Domain), Title: str(l.Title), ProfileLink: str(l.ProfileLink), Source: str(l.Source), Notes: str(l.Notes),
	}
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
