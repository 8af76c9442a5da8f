package lead

import (
	"context"
	"time"

	"github.com/google/uuid"

	"example.com/crm/pkg/events"
)

// history is how a lead's events rebuild it: lead.created carries the lead as created, every
// change after it a row record (Row), and lead.deleted ends it. Its created_at is read whether
// deleted or not.
var history = events.History{
	Entity: EntityType, Name: "lead", Table: "leads",
	Created: EventCreated, Base: "lead", Deleted: EventDeleted,
	Changing: []string{EventUpdated, EventStageChanged, EventDeleted, EventGhostRiskRaised, EventPriorityChanged},
}

// AsOf returns the org's lead id as it was at the instant at, rebuilt from its events alone:
// lead.created and the row records of the changes after it, in id order, up to at (one range
// of events_entity_idx), in the shape Get returns. A lead that did not exist yet at that instant,
// was deleted by then, or is not the org's is apperr.NotFound; an instant after now, or a lead
// whose history starts before its events carried row records, is apperr.Invalid.
func (s *Service) AsOf(ctx context.Context, orgID, id uuid.UUID, at time.Time) (Lead, error) {
	var out Lead
	if err := events.AsOf(ctx, s.db, orgID, history, id, at, s.now(), &out); err != nil {
		return Lead{}, err
	}
	out.utc()
	return out, nil
}
