package events_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/events"
)

// TestAboutEmitsAboutItsEntity proves a domain's EmitFunc stores the event about its entity type
// with the caller's id, actor, key and payload, in the caller's transaction, once per key.
func TestAboutEmitsAboutItsEntity(t *testing.T) {
	t.Parallel()
	b := setup(t)
	emit := b.em.About("lead")
	id := uuid.New()
	for range 2 {
		require.NoError(t, b.db.Tx(t.Context(), b.org, func(tx *gorm.DB) error {
			return emit(t.Context(), tx, b.org, "apikey:1", "lead.created", id, "lead.created:"+id.String(), map[string]int{"n": 1})
		}))
	}
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE entity_id = $1`, id))
	var evID int64
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT id FROM events WHERE entity_id = $1`, id).Scan(&evID))
	got := b.event(t, evID)
	require.Equal(t, "lead.created", got.Type)
	require.Equal(t, "lead", got.EntityType)
	require.Equal(t, "lead.created:"+id.String(), got.Key)
	require.Equal(t, "apikey:1", got.Actor)
	require.Equal(t, id, *got.EntityID)
	require.JSONEq(t, `{"n": 1}`, string(got.Payload))

	require.Equal(t, events.NewEvent{OrgID: b.org, Type: "x", EntityType: "deal", EntityID: id, Payload: 1, IdempotencyKey: "k", Actor: "a"},
		events.Entity("deal").Event(b.org, "a", "x", id, "k", 1))
}
