package lead

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
)

// history is how a lead's events rebuild it: lead.created carries the lead as created, every
// change after it a row record (Row), and lead.deleted ends it.
var history = events.History{
	Entity: EntityType, Name: "lead",
	Created: EventCreated, Base: "lead", Deleted: EventDeleted,
	Changing: []string{EventUpdated, EventStageChanged, EventDeleted, EventGhostRiskRaised, EventPriorityChanged},
}

// createdAtSQL reads when the org's lead was created, deleted or not: AsOf tells a lead that did
// not exist yet from one whose creation left no event.
const createdAtSQL = `SELECT created_at FROM leads WHERE org_id = $1 AND id = $2`

// AsOf returns the org's lead id as it was at the instant at, rebuilt from its events alone:
// lead.created and the row records of the changes after it, in id order, up to at (one range
// of events_entity_idx), in the shape Get returns. A lead that did not exist yet at that instant,
// was deleted by then, or is not the org's is apperr.NotFound; an instant after now, or a lead
// whose history starts before its events carried row records, is apperr.Invalid.
func (s *Service) AsOf(ctx context.Context, orgID, id uuid.UUID, at time.Time) (Lead, error) {
	if at.After(s.now()) {
		return Lead{}, apperr.Errorf(apperr.Invalid, "asOf %s is in the future", at.UTC().Format(time.RFC3339Nano)).
			WithFields(apperr.FieldError{Field: "asOf", Message: "must not be in the future"})
	}
	var r events.Replay
	var created db.Timestamptz
	err := s.db.Read(ctx, orgID, func(b *db.Batch) {
		events.QueueReplay(b, orgID, history, id, at, &r)
		b.Row(func(row db.Row) error { return row.Scan(&created) }, createdAtSQL, db.UUID(orgID), db.UUID(id))
	})
	if err != nil {
		return Lead{}, fmt.Errorf("lead as of: %w", err)
	}
	var createdAt *time.Time
	if created.Valid {
		createdAt = &created.Time
	}
	var out Lead
	if err := r.Result(createdAt, &out); err != nil {
		return Lead{}, fmt.Errorf("lead as of: %w", err)
	}
	out.utc()
	return out, nil
}
