package timeline

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/page"
)

// Entry is one event of a lead's timeline.
type Entry struct {
	// EventID is the event's id.
	EventID int64 `json:"eventId"`
	// Type is the event's type (lead.stage_changed, invoice.paid, ...).
	Type string `json:"type"`
	// OccurredAt is when it happened: the time of the transaction that recorded it.
	OccurredAt time.Time `json:"occurredAt"`
	// Summary says what happened in one line.
	Summary string `json:"summary"`
	// Entity is the record the event is about.
	Entity Entity `json:"entity"`
	// CausationEventID is the event whose job caused this one, nil when none is recorded.
	CausationEventID *int64 `json:"causationEventId"`
	// Actor is who caused it: system, a job (job:<kind>), an API key (apikey:<id>).
	Actor string `json:"actor"`
}

// Entity names a record: its entity type (lead, call, deal, invoice, contract, client,
// onboarding_task) and id.
type Entity struct {
	Type string    `json:"type"`
	ID   uuid.UUID `json:"id"`
}

// Order is the direction of a timeline.
type Order string

// The orders: oldest first (the default) or newest first.
const (
	OrderAsc  Order = "asc"
	OrderDesc Order = "desc"
)

// Orders lists the accepted orders.
var Orders = []Order{OrderAsc, OrderDesc}

// MaxTypes is the most event types one Query may filter on.
const MaxTypes = 50

// Query is a request for a page of a timeline.
type Query struct {
	Page page.Request
	// Order is OrderAsc ("" too) or OrderDesc.
	Order Order
	// Types keeps only the events of these types; none keeps every event.
	Types []string
}

// keysets are the timeline's orders: (occurred_at, id) ascending or descending, each naming
// itself in its cursors, so that a cursor of one order is refused by the other.
var keysets = page.Sorts(map[Order]page.Keyset[Entry]{
	OrderAsc:  page.Asc(timeKey, idKey),
	OrderDesc: page.Desc(timeKey, idKey),
})

var (
	timeKey = page.Time("occurred_at", "t", func(e Entry) time.Time { return e.OccurredAt })
	idKey   = page.Serial("id", "id", func(e Entry) int64 { return e.EventID })
)

// Service reads timelines.
type Service struct{ d *db.DB }

// NewService returns the timeline reads on d, which is required.
func NewService(d *db.DB) *Service {
	if d == nil {
		panic("timeline.NewService: nil db")
	}
	return &Service{d: d}
}

// Lead returns a page of the timeline of the org's lead leadID: the events about the lead and
// about the records that grew from it, in q's order. A soft-deleted lead keeps its timeline, as
// its audit trail; a lead the org does not have is apperr.NotFound. A limit outside
// 1..page.MaxLimit, an unknown order, a malformed event type or more than MaxTypes of them, and
// a cursor that this order did not make are apperr.BadRequest. The lead's existence and the page
// are read in one round trip.
func (s *Service) Lead(ctx context.Context, orgID, leadID uuid.UUID, q Query) (page.Page[Entry], error) {
	k, err := q.check()
	if err != nil {
		return page.Page[Entry]{}, err
	}
	query, args, err := pageSQL(orgID, leadID, q, k)
	if err != nil {
		return page.Page[Entry]{}, err
	}
	var (
		exists, found bool
		rows          []row
	)
	err = s.d.Read(ctx, orgID, func(b *db.Batch) {
		db.QueueOne(b, &exists, &found, leadExistsSQL, db.UUID(orgID), db.UUID(leadID))
		db.QueueAll(b, &rows, query, args...)
	})
	if err != nil {
		return page.Page[Entry]{}, fmt.Errorf("lead timeline: %w", err)
	}
	if !exists {
		return page.Page[Entry]{}, apperr.Errorf(apperr.NotFound, "lead %s not found", leadID)
	}
	out := make([]Entry, len(rows))
	for i, r := range rows {
		out[i] = r.entry()
	}
	return k.Page(out, q.Page.Limit), nil
}

// check validates q and returns the keyset of its order.
func (q Query) check() (page.Keyset[Entry], error) {
	if err := q.Page.Check(); err != nil {
		return page.Keyset[Entry]{}, err
	}
	order := q.Order
	if order == "" {
		order = OrderAsc
	}
	k, ok := keysets[order]
	if !ok {
		return page.Keyset[Entry]{}, badRequest("order", "must be one of: asc, desc")
	}
	if len(q.Types) > MaxTypes {
		return page.Keyset[Entry]{}, badRequest("types", fmt.Sprintf("must list at most %d event types", MaxTypes))
	}
	for _, t := range q.Types {
		if !events.ValidType(t) {
			return page.Keyset[Entry]{}, badRequest("types", fmt.Sprintf("%q is not an event type (such as lead.stage_changed)", t))
		}
	}
	return k, nil
}

// ParseTypes reads the types filter of a query string: event types separated by commas, blanks
// around them ignored ("" is none).
func ParseTypes(s string) []string {
	var out []string
	for t := range strings.SplitSeq(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func badRequest(field, msg string) error {
	return apperr.Errorf(apperr.BadRequest, "%s %s", field, msg).WithFields(apperr.FieldError{Field: field, Message: msg})
}

// row is an event as pageSQL reads it.
type row struct {
	ID               int64           `gorm:"column:id"`
	Type             string          `gorm:"column:type"`
	EntityType       string          `gorm:"column:entity_type"`
	EntityID         uuid.UUID       `gorm:"column:entity_id"`
	Payload          json.RawMessage `gorm:"column:payload"`
	Actor            string          `gorm:"column:actor"`
	OccurredAt       time.Time       `gorm:"column:occurred_at"`
	CausationEventID *int64          `gorm:"column:causation_event_id"`
}

func (r row) entry() Entry {
	return Entry{
		EventID: r.ID, Type: r.Type, OccurredAt: r.OccurredAt.UTC(), Summary: Summary(r.Type, r.Payload),
		Entity: Entity{Type: r.EntityType, ID: r.EntityID}, CausationEventID: r.CausationEventID, Actor: r.Actor,
	}
}
