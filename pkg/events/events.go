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

// JobPayload is the payload of every job an event enqueues: the event that caused it. The
// statements that insert those jobs build it from the new event's row (its col tags, through
// jobs.PayloadSQL), since the event id exists only inside them.
type JobPayload struct {
	EventID    int64           `json:"eventId" col:"id"`
	EventType  string          `json:"eventType" col:"type"`
	EntityType string          `json:"entityType" col:"entity_type"`
	EntityID   *uuid.UUID      `json:"entityId,omitempty" col:"entity_id"`
	Data       json.RawMessage `json:"data" col:"payload"`
}

// Payload returns p: the event behind the arguments of every kind that embeds JobPayload, so
// that code generic over those kinds can read it.
func (p JobPayload) Payload() JobPayload { return p }

// Emitter writes events and enqueues their mapped jobs.
type Emitter struct {
	queue  *jobs.Queue
	jobMap map[string][]string // the job types of each mapped event type
}

// NewEmitter returns an emitter that enqueues on queue the jobs that mappings name for each
// event it writes; an event type no mapping names enqueues nothing.
func NewEmitter(queue *jobs.Queue, mappings []Mapping) *Emitter {
	if queue == nil {
		panic("events.NewEmitter: nil queue")
	}
	return &Emitter{queue: queue, jobMap: jobTypes(mappings)}
}

// JobTypes are the job types that the emitter enqueues for an event of type eventType, in their
// order.
func (e *Emitter) JobTypes(eventType string) []string { return e.jobMap[eventType] }

// insertSQL inserts the event: $1..$7 are org, type, entity type, entity id (NULL for none),
// payload, idempotency key and actor. A repeat of (org, key) inserts nothing and returns no row.
//
// Emit runs it alone for an event type without mapped jobs rather than insertWithJobsSQL
// with no job types: the jobs insert in there would still fire the jobs insert trigger (FOR
// EACH STATEMENT, even for no rows), whose NOTIFY makes the commit queue behind PostgreSQL's
// notify lock and wakes the workers for nothing.
const insertSQL = `
INSERT INTO events (org_id, type, entity_type, entity_id, payload, idempotency_key, actor)
VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)
ON CONFLICT (org_id, idempotency_key) DO NOTHING
RETURNING ` + eventColumns

// insertWithJobsSQL is Emit's statement for an event type with mapped jobs: it inserts the
// event and, in the same round trip, one job per type of $8 (max_attempts $9), keyed
// jobs.EventKey, linked by event_id, runnable now, with the payload JobPayload. It returns the
// event and the number of jobs inserted, or no row on a repeat, when ev is empty and so no job is
// inserted.
//
// All sub-statements of a WITH see the same snapshot, but the foreign key from jobs to events
// is checked after the whole statement, when the new event is visible to it.
var insertWithJobsSQL = `
WITH ev AS (` + insertSQL + `
), j AS (` + eventJobs("ev CROSS JOIN unnest($8::text[]) AS t(job_type)") + `
    RETURNING 1
)
SELECT ` + eventColumns + `, (SELECT count(*) FROM j) FROM ev`

// eventJobs inserts, for each row of from that names an inserted event ev and a job type
// t.job_type, the job that event triggers: keyed jobs.EventKey, linked by event_id, runnable
// now, with max_attempts $9 and the payload JobPayload.
func eventJobs(from string) string {
	return jobs.Insert{
		OrgID: "ev.org_id", JobType: "t.job_type", Payload: jobs.PayloadSQL(JobPayload{}, "ev"),
		Key: jobs.EventKeySQL("ev.id"), MaxAttempts: "$9::int", EventID: "ev.id", From: from,
	}.SQL()
}

const selectByKeySQL = `
SELECT ` + eventColumns + `
FROM events WHERE org_id = $1 AND idempotency_key = $2`

// Emit writes ev in tx and, when it is new, enqueues the jobs the mappings name for its type in the
// same transaction (job idempotency key "event:<id>"). It returns the stored event and whether
// this call created it; a repeat returns the first event with created false and enqueues nothing.
//
// A new event costs one statement, jobs included; a repeat costs a second one to read the first
// event.
func (e *Emitter) Emit(ctx context.Context, tx *gorm.DB, ev NewEvent) (Event, bool, error) {
	payload, actor, entityID, err := ev.columns()
	if err != nil {
		return Event{}, false, err
	}
	conn := db.Conn(tx)
	args := []any{ev.OrgID.String(), ev.Type, ev.EntityType, entityID, payload, ev.IdempotencyKey, actor}
	var (
		stored Event
		jobCnt int64 // read to drain the row; the trigger wakes the workers for them
	)
	if types := e.jobMap[ev.Type]; len(types) > 0 {
		args = append(args, types, int32(e.queue.MaxAttempts()))
		stored, err = scanEvent(conn.QueryRowContext(ctx, insertWithJobsSQL, args...), &jobCnt)
	} else {
		stored, err = scanEvent(conn.QueryRowContext(ctx, insertSQL, args...))
	}
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
	return stored, true, nil
}

// emitAllInput unnests EmitAll's parallel arrays ($1..$7: org, type, entity type, entity id,
// payload, idempotency key, actor) in their order.
const emitAllInput = `
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::jsonb[], $6::text[], $7::text[])
        WITH ORDINALITY AS i(org_id, type, entity_type, entity_id, payload, idempotency_key, actor, ord)
), ev AS (
    INSERT INTO events (org_id, type, entity_type, entity_id, payload, idempotency_key, actor)
    SELECT org_id, type, entity_type, entity_id, payload, idempotency_key, actor FROM input ORDER BY ord
    ON CONFLICT (org_id, idempotency_key) DO NOTHING
    RETURNING org_id, id, type, entity_type, entity_id, payload
)`

// emitAllSQL is EmitAll's statement when none of the events has mapped jobs: it returns the
// number of events inserted.
const emitAllSQL = emitAllInput + `
SELECT count(*), 0::bigint FROM ev`

// emitAllWithJobsSQL is EmitAll's statement when some of them do: $8 holds each new event
// type's job types ("<event type>:<job type>", in their mappings' order) and $9 their max_attempts,
// and the jobs are what insertWithJobsSQL writes for one event, in the same order. It returns
// the numbers of events and of jobs inserted.
var emitAllWithJobsSQL = emitAllInput + `, m AS (
    SELECT split_part(x, ':', 1) AS type, split_part(x, ':', 2) AS job_type, ord FROM unnest($8::text[]) WITH ORDINALITY AS u(x, ord)
), j AS (` + eventJobs(`ev JOIN m AS t ON t.type = ev.type
    ORDER BY ev.id, t.ord`) + `
    RETURNING 1
)
SELECT (SELECT count(*) FROM ev), (SELECT count(*) FROM j)`

// EmitAll writes evs in tx in one statement, in their order (their ids ascend in it), with the
// jobs the mappings name for each new one, as that many Emit calls would. A repeat of an event (its
// org and idempotency key) is skipped, enqueues nothing, and is not counted. It returns how many
// events it created. Unlike Emit it does not return the stored events: it is for writers that
// emit several events of one change and need nothing back, at one round trip instead of one per
// event.
func (e *Emitter) EmitAll(ctx context.Context, tx *gorm.DB, evs ...NewEvent) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	n := len(evs)
	orgs, types, entityTypes, payloads, keys, actors := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	entityIDs := make([]*string, n)
	var mapped []string
	seen := map[string]bool{}
	for i, ev := range evs {
		var err error
		if payloads[i], actors[i], entityIDs[i], err = ev.columns(); err != nil {
			return 0, err
		}
		orgs[i], types[i], entityTypes[i], keys[i] = ev.OrgID.String(), ev.Type, ev.EntityType, ev.IdempotencyKey
		if !seen[ev.Type] {
			seen[ev.Type] = true
			for _, jt := range e.jobMap[ev.Type] {
				mapped = append(mapped, ev.Type+":"+jt)
			}
		}
	}
	query, args := emitAllSQL, []any{orgs, types, entityTypes, entityIDs, payloads, keys, actors}
	if len(mapped) > 0 {
		query, args = emitAllWithJobsSQL, append(args, mapped, int32(e.queue.MaxAttempts()))
	}
	var created, jobCnt int64
	if err := db.Conn(tx).QueryRowContext(ctx, query, args...).Scan(&created, &jobCnt); err != nil {
		return 0, fmt.Errorf("emit %d events (%s first): %w", n, evs[0].Type, err)
	}
	return int(created), nil
}

// columns checks ev and returns what the events insert stores for it besides its org, type,
// entity type and key: the payload's JSON ({} for none), the actor ("system" for none) and the
// entity id's text (nil, NULL, for none).
func (ev NewEvent) columns() (payload, actor string, entityID *string, err error) {
	if ev.OrgID == uuid.Nil || ev.Type == "" || ev.EntityType == "" || ev.IdempotencyKey == "" {
		return "", "", nil, fmt.Errorf("emit %s: org, type, entity type and idempotency key are required", ev.Type)
	}
	payload = "{}"
	if ev.Payload != nil {
		b, err := json.Marshal(ev.Payload)
		if err != nil {
			return "", "", nil, fmt.Errorf("emit %s: marshal payload: %w", ev.Type, err)
		}
		payload = string(b)
	}
	actor = ev.Actor
	if actor == "" {
		actor = "system"
	}
	if ev.EntityID != uuid.Nil {
		id := ev.EntityID.String()
		entityID = &id
	}
	return payload, actor, entityID, nil
}

type rowScanner interface{ Scan(dest ...any) error }

// scanEvent reads the eventColumns of row, and the columns that follow them into extra.
func scanEvent(row rowScanner, extra ...any) (Event, error) {
	var ev Event
	var entityID sql.NullString
	var payload []byte
	dest := append([]any{&ev.OrgID, &ev.ID, &ev.Type, &ev.EntityType, &entityID, &payload, &ev.IdempotencyKey, &ev.Actor, &ev.OccurredAt}, extra...)
	if err := row.Scan(dest...); err != nil {
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
