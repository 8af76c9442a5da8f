package events

import (
	"context"
	"fmt"
	"regexp"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/page"
)

var typeRE = regexp.MustCompile(`^[a-z_]+(\.[a-z_]+)+$`)

// ValidType reports whether s has the form of an event type (the events.type check:
// ^[a-z_]+(\.[a-z_]+)+$), at most 100 characters.
func ValidType(s string) bool { return len(s) <= 100 && typeRE.MatchString(s) }

// MaxEntityTypeLen is the longest entity type the events table accepts.
const MaxEntityTypeLen = 64

// Filter narrows List; zero fields do not filter.
type Filter struct {
	Type       string
	EntityType string
	EntityID   *uuid.UUID
}

const eventColumns = `org_id, id, type, entity_type, entity_id, payload, idempotency_key, actor, occurred_at`

// List returns the org's events, newest first (id descending), narrowed by f, from the caller's
// transaction tx. It filters org_id itself besides the row-level security of a tenant
// transaction. The type filter is served by events_type_idx, the entity filter by
// events_entity_idx. A cursor that is not one of this list's is apperr.BadRequest.
//
// The order is insertion order, not commit order (see the package doc): good for reading
// history, not for consuming it.
func List(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, f Filter, p page.Request) (page.Page[Event], error) {
	limit := p.Clamped()
	pos, err := keyset.Position(p.Cursor)
	if err != nil {
		return page.Page[Event]{}, err
	}

	q := tx.WithContext(ctx).Table("events").Select(eventColumns).Where("org_id = ?", orgID)
	if f.Type != "" {
		q = q.Where("type = ?", f.Type)
	}
	if f.EntityType != "" {
		q = q.Where("entity_type = ?", f.EntityType)
	}
	if f.EntityID != nil {
		q = q.Where("entity_id = ?", *f.EntityID)
	}
	var args db.Marks
	if after := pos.After(&args); after != "" {
		q = q.Where(after, args...)
	}
	rows, err := q.Order(keyset.Order()).Limit(limit + 1).Rows()
	if err != nil {
		return page.Page[Event]{}, fmt.Errorf("list events: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []Event
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return page.Page[Event]{}, fmt.Errorf("list events: scan: %w", err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return page.Page[Event]{}, fmt.Errorf("list events: %w", err)
	}
	return keyset.Page(out, limit), nil
}

// keyset is the order of List: newest first.
var keyset = page.Desc(page.Serial("id", "id", func(ev Event) int64 { return ev.ID }))
