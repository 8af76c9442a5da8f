package handler_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
)

// TestLeadSweepKinds proves the recalc_ghost_risk and recalc_auto_priority jobs, with the slot the
// scheduler puts in their payload, sweep their org through the worker's kinds: the silent
// contacted lead's ghost risk goes up by one with the default silence days, the cold lead's
// priority drops to low by the table; the same jobs run again change nothing; and a payload without
// a slot fails permanently.
func TestLeadSweepKinds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	var silent, cold string
	require.NoError(t, b.super.Pool.QueryRow(ctx, `INSERT INTO leads (org_id, email, fingerprint, stage, last_activity_at, stage_changed_at)
VALUES ($1, 'silent@example.com', 'silent', 'contacted', now() - interval '30 days', now() - interval '30 days') RETURNING id`, b.org).Scan(&silent))
	require.NoError(t, b.super.Pool.QueryRow(ctx, `INSERT INTO leads (org_id, email, fingerprint, stage, score)
VALUES ($1, 'cold@example.com', 'cold', 'nurture', 10) RETURNING id`, b.org).Scan(&cold))
	slot := map[string]any{"slot": time.Now().UTC().Truncate(time.Second)}

	for range 2 {
		ids := []int64{b.enqueue(t, lead.KindRecalcGhostRisk, slot), b.enqueue(t, lead.KindRecalcAutoPriority, slot)}
		claimed := b.claim(t)
		for _, id := range ids {
			require.NoError(t, b.run(ctx, claimed[id]))
		}
		require.Equal(t, 1, b.count(t, `SELECT ghost_risk FROM leads WHERE id = $1`, silent))
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM leads WHERE id = $1 AND priority = 'low'`, cold))
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE type = 'lead.ghost_risk_raised'`))
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE type = 'lead.priority_changed' AND entity_id = $1`, cold))
	}

	for _, kind := range []string{lead.KindRecalcGhostRisk, lead.KindRecalcAutoPriority} {
		id := b.enqueue(t, kind, map[string]any{})
		err := b.run(ctx, b.claim(t)[id])
		require.True(t, jobs.IsPermanent(err), "%s: %v", kind, err)
	}
}
