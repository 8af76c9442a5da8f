package events_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
)

// emitAll runs EmitAll in a tenant transaction of the bundle's org.
func (b *bundle) emitAll(t *testing.T, evs ...events.NewEvent) (int, error) {
	t.Helper()
	var n int
	err := b.db.Tx(t.Context(), b.org, func(tx *gorm.DB) error {
		var err error
		n, err = b.em.EmitAll(t.Context(), tx, evs...)
		return err
	})
	return n, err
}

// stored is what the tests compare of the events and jobs of one org: the events in id order,
// and every job with its event's position and the event ids in its key and payload replaced by
// that position, so that two orgs' writes compare equal when they were written alike.
type stored struct {
	Events []eventRow
	Jobs   []string
}

func (b *bundle) storedOf(t *testing.T, org uuid.UUID) stored {
	t.Helper()
	ctx := t.Context()
	var out stored
	pos := map[int64]int{}
	rows, err := b.super.Pool.Query(ctx, `SELECT id, type, entity_type, idempotency_key, actor, entity_id, payload FROM events WHERE org_id = $1 ORDER BY id`, org)
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		var r eventRow
		require.NoError(t, rows.Scan(&id, &r.Type, &r.EntityType, &r.Key, &r.Actor, &r.EntityID, &r.Payload))
		pos[id] = len(out.Events)
		out.Events = append(out.Events, r)
	}
	require.NoError(t, rows.Err())
	rows, err = b.super.Pool.Query(ctx, `SELECT event_id, job_type, status, max_attempts, idempotency_key, payload FROM jobs WHERE org_id = $1 ORDER BY id`, org)
	require.NoError(t, err)
	ids := regexp.MustCompile(`"eventId": ?\d+|event:\d+`)
	for rows.Next() {
		var eventID int64
		var typ, status, key string
		var attempts int
		var payload json.RawMessage
		require.NoError(t, rows.Scan(&eventID, &typ, &status, &attempts, &key, &payload))
		p := ids.ReplaceAllString(string(payload), "ID")
		k := ids.ReplaceAllString(key, "ID")
		out.Jobs = append(out.Jobs, fmt.Sprintf("%s %s %s %s max %d, of event %d", typ, status, k, p, attempts, pos[eventID]))
	}
	require.NoError(t, rows.Err())
	return out
}

// TestEmitAllIsEmitInOneStatement proves EmitAll stores what the same Emit calls one by one
// store (events in order, with defaults, their mapped jobs and payloads), that a repeat of a
// whole list or of part of it writes and enqueues nothing again and is not counted, that an
// unmapped-only list enqueues nothing, and that an invalid event refuses the whole list.
func TestEmitAllIsEmitInOneStatement(t *testing.T) {
	t.Parallel()
	b := setup(t)
	lead := uuid.New()
	list := func(org uuid.UUID) []events.NewEvent {
		return []events.NewEvent{
			{OrgID: org, Type: "lead.stage_changed", EntityType: "lead", EntityID: lead, Payload: map[string]any{"to": "qualified"}, IdempotencyKey: "s1", Actor: "system:worker"},
			{OrgID: org, Type: "lead.qualified", EntityType: "lead", EntityID: lead, Payload: map[string]any{"score": 80}, IdempotencyKey: "q1", Actor: "system:worker"},
			{OrgID: org, Type: "lead.created", EntityType: "lead", IdempotencyKey: "c1"}, // defaults: no entity, {}, "system"
			{OrgID: org, Type: "lead.updated", EntityType: "lead", EntityID: lead, IdempotencyKey: "u1"},
		}
	}
	n, err := b.emitAll(t, list(b.org)...)
	require.NoError(t, err)
	require.Equal(t, 4, n)

	other := dbtest.NewOrg(t, b.db, "other")
	for _, ev := range list(other) {
		var err error
		require.NoError(t, b.db.Tx(t.Context(), other, func(tx *gorm.DB) error {
			_, _, err = b.em.Emit(t.Context(), tx, ev)
			return err
		}))
	}
	want := b.storedOf(t, other)
	require.Len(t, want.Events, 4)
	require.Len(t, want.Jobs, 3, "route_outreach for lead.qualified, enrich and qualify for lead.created")
	require.Equal(t, want, b.storedOf(t, b.org))

	// Repeats: the whole list, then two old events around a new one.
	n, err = b.emitAll(t, list(b.org)...)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, want, b.storedOf(t, b.org))
	fresh := events.NewEvent{OrgID: b.org, Type: "lead.qualified", EntityType: "lead", EntityID: lead, IdempotencyKey: "q2"}
	n, err = b.emitAll(t, list(b.org)[1], fresh, list(b.org)[2])
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, 5, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1`, b.org))
	require.Equal(t, 4, b.count(t, `SELECT count(*) FROM jobs WHERE org_id = $1`, b.org), "one route_outreach for the new lead.qualified")

	// Unmapped only: stored, nothing enqueued.
	n, err = b.emitAll(t, events.NewEvent{OrgID: b.org, Type: "lead.updated", EntityType: "lead", EntityID: lead, IdempotencyKey: "u2"})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, 4, b.count(t, `SELECT count(*) FROM jobs WHERE org_id = $1`, b.org))

	// An invalid event refuses the list: nothing of it is written.
	_, err = b.emitAll(t, events.NewEvent{OrgID: b.org, Type: "lead.updated", EntityType: "lead", IdempotencyKey: "u3"},
		events.NewEvent{OrgID: b.org, Type: "lead.updated", EntityType: "lead"})
	require.Error(t, err)
	require.Zero(t, b.count(t, `SELECT count(*) FROM events WHERE idempotency_key = 'u3'`))

	n, err = b.emitAll(t)
	require.NoError(t, err)
	require.Zero(t, n)
}
