package events_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
)

// TestEmitAllNewSendsOnlyUnreported proves EmitAllNew leaves the events whose key the org holds
// out before EmitAll ever sees them: a stored key's event carries a payload that cannot be
// encoded (EmitAll refuses it, as the check below shows), yet EmitAllNew emits the rest without
// error and counts it as reported. Another org's equal key does not count, and a list of two
// orgs is refused.
func TestEmitAllNewSendsOnlyUnreported(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	n, err := b.emitAll(t, b.leadCreated("r1"), b.leadCreated("r2"))
	require.NoError(t, err)
	require.Equal(t, 2, n)
	poison := func(ev events.NewEvent) events.NewEvent { ev.Payload = make(chan int); return ev }
	_, err = b.emitAll(t, poison(b.leadCreated("r1")))
	require.Error(t, err, "EmitAll encodes every payload it is given, even a repeat's")

	newAll := func(org uuid.UUID, evs ...events.NewEvent) (emitted, reported int, err error) {
		err = b.db.Tx(ctx, org, func(tx *gorm.DB) error {
			var err error
			emitted, reported, err = b.em.EmitAllNew(ctx, tx, evs...)
			return err
		})
		return emitted, reported, err
	}
	emitted, reported, err := newAll(b.org, poison(b.leadCreated("r1")), b.leadCreated("n1"), poison(b.leadCreated("r2")))
	require.NoError(t, err, "the reported events were never encoded")
	require.Equal(t, 1, emitted)
	require.Equal(t, 2, reported)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1 AND idempotency_key = 'n1'`, b.org))

	emitted, reported, err = newAll(b.org, poison(b.leadCreated("r1")), poison(b.leadCreated("n1")))
	require.NoError(t, err)
	require.Equal(t, 0, emitted)
	require.Equal(t, 2, reported, "a rerun sends nothing")

	other := dbtest.NewOrg(t, b.db, "other")
	ev := b.leadCreated("r1")
	ev.OrgID = other
	emitted, reported, err = newAll(other, ev)
	require.NoError(t, err)
	require.Equal(t, 1, emitted, "another org's key is its own")
	require.Zero(t, reported)

	_, _, err = newAll(b.org, b.leadCreated("x1"), ev)
	require.ErrorContains(t, err, "one org")
	emitted, reported, err = newAll(b.org)
	require.NoError(t, err)
	require.Zero(t, emitted+reported)
}

// TestReportedKeysProbesTheUniqueIndex proves the probe of EmitAllNew reaches each key by its
// own probe of events_idempotency_key (both of its columns bound), in the custom and the generic
// plan of a table without statistics: with 20,000 events in the org (half of one type, as a sweep's), 50 keys (half of
// them stored) stay within a few buffers each, where reading the org's events by
// events_type_idx or events_entity_idx takes hundreds.
func TestReportedKeysProbesTheUniqueIndex(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	_, err := b.super.Pool.Exec(ctx, `INSERT INTO events (org_id, type, entity_type, entity_id, payload, idempotency_key, actor)
SELECT $1, CASE WHEN g % 2 = 0 THEN 'lead.stale' ELSE 'lead.created' END, 'lead', gen_random_uuid(),
    '{"since":"2026-01-01T00:00:00Z"}', 'k:' || g, 'job:x'
FROM generate_series(1, 20000) g`, b.org)
	require.NoError(t, err)
	keys := make([]string, 50)
	for i := range keys {
		keys[i] = fmt.Sprintf("k:%d", i*400+1)
		if i%2 == 1 {
			keys[i] = fmt.Sprintf("absent:%d", i)
		}
	}
	dbtest.RequireFewBuffers(t, b.db, b.org, []dbtest.PlanCheck{
		{Name: "reported keys", SQL: events.ReportedKeysSQL, Args: []any{b.org.String(), keys}, Limit: 50 * 5},
	})

	// And the generic plan names the unique index, with both of its columns as the condition.
	tx, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { require.NoError(t, tx.Rollback(ctx)) }()
	_, err = tx.Exec(ctx, "SELECT set_config('app.org_id', $1, true), set_config('plan_cache_mode', 'force_generic_plan', true)", b.org.String())
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "PREPARE reported AS "+events.ReportedKeysSQL)
	require.NoError(t, err)
	rows, err := tx.Query(ctx, "EXPLAIN EXECUTE reported"+dbtest.ExecuteArgs(t, []any{b.org.String(), keys}))
	require.NoError(t, err)
	var plan []string
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan = append(plan, line)
	}
	require.NoError(t, rows.Err())
	text := strings.Join(plan, "\n")
	require.Contains(t, text, "events_idempotency_key", text)
	require.Contains(t, text, "Index Cond: ((org_id = $1) AND (idempotency_key = k.key))", text)
	require.NotContains(t, text, "events_type_idx", text)
}
