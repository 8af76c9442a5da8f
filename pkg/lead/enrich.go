package lead

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/enrichment"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
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

// Enrich is the use case of enrich_lead. It reads the lead; a missing or deleted lead, or one
// already enriched (by an earlier attempt or by qualify_lead, see Qualify), completes with
// nothing written. Otherwise it calls the enricher (outside any transaction) and, in the
// transaction of commit, stores the enrichment, the revenue band and (where the lead has none)
// the domain, and emits lead.enriched. The first stored enrichment wins: the row is locked and
// checked again before writing.
//
// An enricher error that retrying cannot fix (enrichment.IsPermanent: a 4xx, a garbage answer)
// is returned as jobs.Permanent; any other (5xx, timeout) is returned for the queue to retry.
//
// An Offline pipeline has no call to make outside the transaction: it is EnrichMany of one
// lead, which reads the lead only once, locked, in the transaction of commit, and enriches it
// there.
func (p *Pipeline) Enrich(ctx context.Context, orgID, leadID uuid.UUID, commit Commit) error {
	if p.Offline() {
		return p.EnrichMany(ctx, orgID, []uuid.UUID{leadID}, commit)
	}
	s, err := p.read(ctx, orgID, leadID, nil)
	if err != nil {
		return fmt.Errorf("enrich lead: %w", err)
	}
	if !s.found || s.lead.enriched() {
		return commit(ctx, func(*gorm.DB) error { return nil })
	}
	res, err := p.enrich(ctx, s.lead)
	if err != nil {
		return fmt.Errorf("enrich lead %s: %w", leadID, err)
	}
	err = commit(ctx, func(tx *gorm.DB) error {
		_, err := p.storeEnrichmentTx(ctx, tx, orgID, leadID, res, KindEnrichLead)
		return err
	})
	if err != nil {
		return fmt.Errorf("enrich lead %s: %w", leadID, err)
	}
	return nil
}

// enrich runs the enricher on l; an error retrying cannot fix is jobs.Permanent.
func (p *Pipeline) enrich(ctx context.Context, l Lead) (enrichment.Result, error) {
	res, err := p.enricher.Enrich(ctx, l.enrichmentInput())
	if err != nil && enrichment.IsPermanent(err) {
		return enrichment.Result{}, jobs.Permanent(err)
	}
	return res, err
}

// storeEnrichmentTx locks the lead and, unless it is gone or already enriched, stores r and
// emits lead.enriched. It reports whether it stored.
func (p *Pipeline) storeEnrichmentTx(ctx context.Context, tx *gorm.DB, orgID, leadID uuid.UUID, r enrichment.Result, by string) (bool, error) {
	cur, err := lockPipelineLead(ctx, tx, orgID, leadID, nil)
	if err != nil || !cur.found || cur.lead.enriched() {
		return false, err
	}
	return true, p.writeEnrichment(ctx, tx, orgID, leadID, r, by)
}

// writeEnrichment stores r on the lead, which the transaction has locked and seen live and not
// yet enriched, and emits lead.enriched.
func (p *Pipeline) writeEnrichment(ctx context.Context, tx *gorm.DB, orgID, leadID uuid.UUID, r enrichment.Result, by string) error {
	if err := storeLeadWrites(ctx, tx, orgID, []leadWrite{{id: leadID, enrichment: &r}}); err != nil {
		return err
	}
	_, _, err := p.emitter.Emit(ctx, tx, enrichedEvent(orgID, leadID, r, by))
	return err
}

// enrichedEvent is the lead.enriched of r, stored by the job type by.
func enrichedEvent(orgID, leadID uuid.UUID, r enrichment.Result, by string) events.NewEvent {
	return event(orgID, EventEnriched, leadID, "lead.enriched:"+leadID.String(),
		EnrichedPayload{Enrichment: r, RevenueBand: r.RevenueBand, By: by})
}
