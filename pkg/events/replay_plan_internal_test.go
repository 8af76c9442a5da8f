package events

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/dbtest"
)

// TestReplayReadsOneIndexRange proves the read of a history (replaySQL) is one range of
// events_entity_idx: with 1,000 events of the entity among 30,000 of the org's other entities, in
// the custom and the generic plan, it touches the index's path to the range and the heap pages of
// that entity's events (written together here, so a few dozen), never the org's other events.
func TestReplayReadsOneIndexRange(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("writes 31,000 events")
	}
	owner, url := dbtest.NewDB(t)
	orgID := dbtest.NewOrg(t, owner, "acme")
	super := dbtest.SuperDB(t, url)
	ctx := t.Context()
	id := uuid.New()
	_, err := super.Pool.Exec(ctx, `INSERT INTO events (org_id, type, entity_type, entity_id, payload, idempotency_key)
SELECT $1, 'lead.updated', 'lead', gen_random_uuid(), '{"version": 2, "row": {"rev": 1, "set": {"version": 2}}}', 'noise:' || g
FROM generate_series(1, 15000) g`, orgID)
	require.NoError(t, err)
	_, err = super.Pool.Exec(ctx, `INSERT INTO events (org_id, type, entity_type, entity_id, payload, idempotency_key)
SELECT $1, CASE WHEN g = 1 THEN 'lead.created' ELSE 'lead.updated' END, 'lead', $2,
    jsonb_build_object('version', g, 'row', jsonb_build_object('rev', 1, 'set', jsonb_build_object('version', g))), 'mine:' || g
FROM generate_series(1, 1000) g`, orgID, id)
	require.NoError(t, err)
	_, err = super.Pool.Exec(ctx, `INSERT INTO events (org_id, type, entity_type, entity_id, payload, idempotency_key)
SELECT $1, 'lead.updated', 'lead', gen_random_uuid(), '{"version": 2, "row": {"rev": 1, "set": {"version": 2}}}', 'more:' || g
FROM generate_series(1, 15000) g`, orgID)
	require.NoError(t, err)
	_, err = super.Pool.Exec(ctx, `ANALYZE events`)
	require.NoError(t, err)

	at := time.Now().UTC().Format(time.RFC3339Nano)
	dbtest.RequireFewBuffers(t, owner, orgID, []dbtest.PlanCheck{
		{Name: "replay", SQL: replaySQL, Args: []any{orgID.String(), "lead", id.String(), at, "lead.created", "lead"}, Limit: 80},
	})
}
