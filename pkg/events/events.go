package events

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/jobs"
)

// NewEvent describes an event to emit.
type NewEvent struct {
	OrgID      uuid.UUID
	Type       string
	EntityType string
	// EntityID is the entity the event is about; uuid.Nil stores NULL.
	EntityID uuid.UUID
	// Payload is marshalled to JSON (nil is {}).
	Payload any
	// IdempotencyKey identifies the change; emitting the same key twice returns the first event.
	IdempotencyKey string
	// Actor says who caused it (default "system").
	Actor string
}

// Event is a stored event.
type Event struct {
	OrgID          uuid.UUID       `json:"orgId"`
	ID             int64           `json:"id"`
	Type           string          `json:"type"`
	EntityType     string          `json:"entityType"`
	EntityID       *uuid.UUID      `json:"entityId"`
	Payload        json.RawMessage `json:"payload"`
	IdempotencyKey string          `json:"idempotencyKey"`
	Actor          string          `json:"actor"`
	OccurredAt     time.Time       `json:"occurredAt"`
}

// JobPayload is the payload of every job enqueued through JobMap: the event that caused it.
type JobPayload struct {
	EventID    int64           `json:"eventId"`
	EventType  string          `json:"eventType"`
	EntityType string          `json:"entityType"`
	EntityID   *uuid.UUID      `json:"entityId,omitempty"`
	Data       json.RawMessage `json:"data"`
}

// Emitter writes events and enqueues their mapped jobs.
type Emitter struct {
	queue  *jobs.Queue
	jobMap map[string][]string
}

// NewEmitter returns an emitter that enqueues on queue by JobMap.
func NewEmitter(queue *jobs.Queue) *Emitter {
	if queue == nil {
		panic("events.NewEmitter: nil queue")
	}
	return &Emitter{queue: queue, jobMap: JobMap}
}

const insertSQL = `
INSERT INTO events (org_id, type, entity_type, entity_id, payload, idempotency_key, actor)
VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)
ON CONFLICT (org_id, idempotency_key) DO NOTHING
RETURNING org_id, id, type, entity_type, entity_id, payload, idempotency_key, actor, occurred_at`

const selectByKeySQL = `
SELECT org_id, id, type, entity_type, entity_id, payload, idempotency_key, actor, occurred_at
FROM events WHERE org_id = $1 AND idempotency_key = $2`

// Emit writes ev in tx and, when it is new, enqueues the jobs JobMap names for its type in the
// same transaction (job idempotency key "event:<id>"). It returns the stored event and whether
// this call created it; a repeat returns the first event with created false and enqueues nothing.
func (e *Emitter) Emit(ctx context.Context, tx *gorm.DB, ev NewEvent) (Event, bool, error) {
	if ev.OrgID == uuid.Nil || ev.Type == "" || ev.EntityType == "" || ev.IdempotencyKey == "" {
		return Event{}, false, fmt.Errorf("emit %s: org, type, entity type and idempotency key are required", ev.Type)
	}
	payload := []byte("{}")
	if ev.Payload != nil {
		b, err := json.Marshal(ev.Payload)
		if err != nil {
			return Event{}, false, fmt.Errorf("emit %s: marshal payload: %w", ev.Type, err)
		}
		payload = b
	}
	actor := ev.Actor
	if actor == "" {
		actor = "system"
	}
	var entityID any
	if ev.EntityID != uuid.Nil {
		entityID = ev.EntityID.String()
	}
	conn := db.Conn(tx)
	stored, err := scanEvent(conn.QueryRowContext(ctx, insertSQL, ev.OrgID.String(), ev.Type, ev.EntityType, entityID, string(payload), ev.IdempotencyKey, actor))
	if errors.Is(err, sql.ErrNoRows) {
		// Emitted before: a new statement sees the committed first emit (READ COMMITTED).
		stored, err = scanEvent(conn.QueryRowContext(ctx, selectByKeySQL, ev.OrgID.String(), ev.IdempotencyKey))
		if err != nil {
			return Event{}, false, fmt.Errorf("emit %s: read existing event: %w", ev.Type, err)
		}
		return stored, false, nil
	}
	if err != nil {
		return Event{}, false, fmt.Errorf("emit %s: %w", ev.Type, err)
	}
	if err := e.enqueue(ctx, tx, stored); err != nil {
		return Event{}, false, err
	}
	return stored, true, nil
}

func (e *Emitter) enqueue(ctx context.Context, tx *gorm.DB, ev Event) error {
	types := e.jobMap[ev.Type]
	if len(types) == 0 {
		return nil
	}
	payload, err := json.Marshal(JobPayload{EventID: ev.ID, EventType: ev.Type, EntityType: ev.EntityType, EntityID: ev.EntityID, Data: ev.Payload})
	if err != nil {
		return fmt.Errorf("emit %s: marshal job payload: %w", ev.Type, err)
	}
	key := fmt.Sprintf("event:%d", ev.ID)
	batch := make([]jobs.NewJob, len(types))
	for i, t := range types {
		batch[i] = jobs.NewJob{OrgID: ev.OrgID, Type: t, Payload: json.RawMessage(payload), IdempotencyKey: key, EventID: &ev.ID}
	}
	if _, err := e.queue.Enqueue(ctx, tx, batch...); err != nil {
		return fmt.Errorf("emit %s: %w", ev.Type, err)
	}
	return nil
}

type rowScanner interface{ Scan(dest ...any) error }

func scanEvent(row rowScanner) (Event, error) {
	var ev Event
	var entityID sql.NullString
	var payload []byte
	if err := row.Scan(&ev.OrgID, &ev.ID, &ev.Type, &ev.EntityType, &entityID, &payload, &ev.IdempotencyKey, &ev.Actor, &ev.OccurredAt); err != nil {
		return Event{}, err
	}
	if entityID.Valid {
		id, err := uuid.Parse(entityID.String)
		if err != nil {
			return Event{}, fmt.Errorf("parse entity id: %w", err)
		}
		ev.EntityID = &id
	}
	ev.Payload = payload
	ev.OccurredAt = ev.OccurredAt.UTC()
	return ev, nil
}
