package events

import (
	"context"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Entity is an entity type that events are about ("lead", "deal", ...): each domain names its
// own and emits through it, so that no domain spells out a NewEvent of its own.
type Entity string

// Event is the event typ about the entity id of orgID, caused by actor, with payload; key is its
// idempotency key (the change it records).
func (e Entity) Event(orgID uuid.UUID, actor, typ string, id uuid.UUID, key string, payload any) NewEvent {
	return NewEvent{
		OrgID: orgID, Type: typ, EntityType: string(e), EntityID: id,
		Payload: payload, IdempotencyKey: key, Actor: actor,
	}
}

// EmitFunc emits one event about an entity of one type (Entity.Event's arguments) in the
// caller's transaction tx, so that the event and its jobs commit with the change they record.
type EmitFunc func(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, actor, typ string, id uuid.UUID, key string, payload any) error

// About returns the EmitFunc of events about e, through em: what a domain service holds.
func (em *Emitter) About(e Entity) EmitFunc {
	return func(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, actor, typ string, id uuid.UUID, key string, payload any) error {
		_, _, err := em.Emit(ctx, tx, e.Event(orgID, actor, typ, id, key, payload))
		return err
	}
}
