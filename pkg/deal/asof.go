package deal

import (
	"context"
	"time"

	"github.com/google/uuid"

	"example.com/crm/pkg/events"
)

// stageFields are the API fields a stage change sets (setStageSQL) to values, with the version;
// stageAt are those it sets to its transaction's time (with wonAt or lostAt when it closes).
var stageFields = []string{"stage", "probability", "lostReason", "version"}

// stageRow is the row record of a move to stage to that left d.
func stageRow(d Deal, to Stage) (events.Row, error) {
	r, err := events.RowOf(d, stageFields...)
	r.At = []string{"stageChangedAt"}
	switch to {
	case StageWon:
		r.At = append(r.At, "wonAt")
	case StageLost:
		r.At = append(r.At, "lostAt")
	}
	return r, err
}

// history is how a deal's events rebuild it: deal.created carries the deal as created, every
// change after it a row record (events.Row); deals are never deleted.
var history = events.History{
	Entity: EntityType, Name: "deal", Table: "deals",
	Created: EventCreated, Base: "deal",
	Changing: []string{EventUpdated, EventStageChanged},
}

// AsOf returns the org's deal id as it was at the instant at, rebuilt from its events alone:
// deal.created and the row records of the changes after it, in id order, up to at (one range
// of events_entity_idx), in the shape Get returns (the weighted value computed from the rebuilt
// value and probability). A deal that did not exist yet at that instant, or is not the org's, is
// apperr.NotFound; an instant after now, or a deal whose history starts before its events
// carried row records, is apperr.Invalid.
func (s *Service) AsOf(ctx context.Context, orgID, id uuid.UUID, at time.Time) (Deal, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	var out Deal
	if err := events.AsOf(ctx, s.d, orgID, history, id, at, now(), &out); err != nil {
		return Deal{}, err
	}
	out.WeightedValue = WeightedValue(out.DealValue, out.Probability)
	return out, nil
}
