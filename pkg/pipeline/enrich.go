package pipeline

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"example.com/crm/pkg/enrichment"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/org"
)

// EnrichedPayload is the payload of lead.enriched (idempotency key "lead.enriched:<lead id>":
// a lead is enriched once).
type EnrichedPayload struct {
	// Enrichment is the stored enrichment document.
	Enrichment enrichment.Result `json:"enrichment"`
	// RevenueBand is the derived band ("" when unknown).
	RevenueBand string `json:"revenueBand"`
	// By is the job type that stored it: enrich_lead, or qualify_lead when it ran first.
	By string `json:"by"`
}

// Enrich is the use case of enrich_lead for the leads ids of orgID. A missing or deleted lead,
// or one already enriched (by an earlier attempt or by qualify_lead, see Qualify), gets nothing.
// For the others it calls the enricher and, in the transaction of commit, stores each
// enrichment, its revenue band and (where the lead has none) its domain, and emits lead.enriched,
// one statement per step for all the leads. The first stored enrichment wins: the rows are
// locked and checked again before writing.
//
// The enricher runs outside any transaction, between a read of the leads and commit; an Offline
// pipeline has no call to make out of the database, so it reads the leads only once, locked, in
// the transaction of commit, and enriches them there. An enricher error that retrying cannot fix
// (enrichment.IsPermanent: a 4xx, a garbage answer) is returned as jobs.Permanent; any other
// (5xx, timeout) is returned for the queue to retry. Either writes nothing.
func (p *Pipeline) Enrich(ctx context.Context, orgID uuid.UUID, ids []uuid.UUID, commit Commit) error {
	if p.Offline() {
		err := p.inTx(ctx, orgID, ids, false, commit, func(cur lead.Snapshot, _ org.ICP) (*lead.Write, []events.NewEvent, error) {
			if cur.Lead.Enriched() {
				return nil, nil, nil
			}
			res, err := p.enrich(ctx, cur.Lead)
			if err != nil {
				return nil, nil, err
			}
			return enrichmentWrite(orgID, cur.Lead.ID, res, KindEnrichLead)
		})
		if err != nil {
			return fmt.Errorf("enrich %d leads: %w", len(ids), err)
		}
		return nil
	}
	snaps, err := p.read(ctx, orgID, ids, nil)
	if err != nil {
		return fmt.Errorf("enrich leads: %w", err)
	}
	results := make(map[uuid.UUID]enrichment.Result, len(snaps))
	var todo []uuid.UUID
	for _, s := range snaps {
		if !s.Found || s.Lead.Enriched() {
			continue
		}
		if _, done := results[s.Lead.ID]; done {
			continue
		}
		res, err := p.enrich(ctx, s.Lead)
		if err != nil {
			return fmt.Errorf("enrich lead %s: %w", s.Lead.ID, err)
		}
		results[s.Lead.ID], todo = res, append(todo, s.Lead.ID)
	}
	err = p.inTx(ctx, orgID, todo, false, commit, func(cur lead.Snapshot, _ org.ICP) (*lead.Write, []events.NewEvent, error) {
		if cur.Lead.Enriched() {
			return nil, nil, nil
		}
		return enrichmentWrite(orgID, cur.Lead.ID, results[cur.Lead.ID], KindEnrichLead)
	})
	if err != nil {
		return fmt.Errorf("enrich %d leads: %w", len(todo), err)
	}
	return nil
}

// enrich runs the enricher on l; an error retrying cannot fix is jobs.Permanent.
func (p *Pipeline) enrich(ctx context.Context, l lead.Lead) (enrichment.Result, error) {
	res, err := p.enricher.Enrich(ctx, enrichmentInput(l))
	if err != nil && enrichment.IsPermanent(err) {
		return enrichment.Result{}, jobs.Permanent(err)
	}
	return res, err
}

// enrichmentWrite is the write and the lead.enriched event of storing r on the lead leadID, by
// the job type by.
func enrichmentWrite(orgID, leadID uuid.UUID, r enrichment.Result, by string) (*lead.Write, []events.NewEvent, error) {
	e, err := leadEnrichment(r)
	if err != nil {
		return nil, nil, err
	}
	return &lead.Write{ID: leadID, Enrichment: e}, []events.NewEvent{enrichedEvent(orgID, leadID, r, by)}, nil
}

// leadEnrichment is r as the lead store keeps it.
func leadEnrichment(r enrichment.Result) (*lead.Enrichment, error) {
	doc, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode enrichment: %w", err)
	}
	return &lead.Enrichment{Doc: doc, RevenueBand: r.RevenueBand, Domain: r.Domain}, nil
}

// enrichedEvent is the lead.enriched of r, stored by the job type by.
func enrichedEvent(orgID, leadID uuid.UUID, r enrichment.Result, by string) events.NewEvent {
	return event(orgID, lead.EventEnriched, leadID, "lead.enriched:"+leadID.String(),
		EnrichedPayload{Enrichment: r, RevenueBand: r.RevenueBand, By: by})
}
