package handler_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
)

// TestScheduledChecksReachTheirEffects proves the two scheduled checks through the worker's
// kinds, with the slot payload the scheduler writes: check_deal_decay emits deal.stalled for a
// deal resting past the default rotting days, which enqueues nudge_deal, which nudges the
// deal's lead; check_lead_stale emits lead.stale for an open lead silent past the default 30
// days, and not for the converted one. A second job of the same slot emits and nudges nothing;
// an activity on the deal's lead starts a new stall, which is reported and nudged again.
func TestScheduledChecksReachTheirEffects(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	var slot time.Time
	require.NoError(t, b.super.Pool.QueryRow(ctx, `SELECT now()`).Scan(&slot))
	converted, open, dealID := uuid.New(), uuid.New(), uuid.New()
	_, err := b.super.Pool.Exec(ctx, `INSERT INTO leads (org_id, id, email, fingerprint, stage, last_activity_at) VALUES
($1, $2, 'won@example.com', 'fp:won', 'converted', $4::timestamptz - interval '40 days'),
($1, $3, 'quiet@example.com', 'fp:quiet', 'contacted', $4::timestamptz - interval '31 days')`, b.org, converted, open, slot)
	require.NoError(t, err)
	_, err = b.super.Pool.Exec(ctx, `INSERT INTO deals (org_id, id, lead_id, title, deal_value, currency, stage, probability, stage_changed_at)
VALUES ($1, $2, $3, 'Licence', 50000, 'EUR', 'proposal', 0.3, $4::timestamptz - interval '15 days')`, b.org, dealID, converted, slot)
	require.NoError(t, err)

	sweep := func(kinds ...string) {
		t.Helper()
		for _, kind := range kinds {
			id := b.enqueue(t, kind, map[string]any{"slot": slot.Format(time.RFC3339Nano)})
			claimed := b.claim(t)
			require.Contains(t, claimed, id)
			require.NoError(t, b.run(ctx, claimed[id]))
			var others []*jobs.Job // leased by the claim: back to pending for runNudges
			for other, j := range claimed {
				if other != id {
					others = append(others, j)
				}
			}
			_, err := b.queue.Release(ctx, others)
			require.NoError(t, err)
		}
	}
	sweep(deal.KindCheckDealDecay, lead.KindCheckLeadStale)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1 AND type = 'deal.stalled' AND entity_id = $2
  AND payload->>'stage' = 'proposal' AND (payload->>'days')::int = 14`, b.org, dealID))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1 AND type = 'lead.stale'`, b.org))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1 AND type = 'lead.stale' AND entity_id = $2
  AND (payload->>'days')::int = 30`, b.org, open))
	require.Equal(t, 1, b.runNudges(t), "deal.stalled enqueued nudge_deal")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_activities WHERE lead_id = $1 AND kind = 'nudge'`, converted))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM leads WHERE id = $1 AND priority = 'high'`, converted))

	events := b.count(t, `SELECT count(*) FROM events WHERE org_id = $1`, b.org)
	sweep(deal.KindCheckDealDecay, lead.KindCheckLeadStale)
	require.Equal(t, events, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1`, b.org), "a rerun of the slot emits nothing")
	require.Zero(t, b.runNudges(t))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_activities WHERE lead_id = $1 AND kind = 'nudge'`, converted))

	// A meeting on the deal's lead resets its clock: 14 days later it is a new stall, nudged again.
	met := slot.Add(time.Hour)
	_, err = b.super.Pool.Exec(ctx, `INSERT INTO lead_activities (org_id, lead_id, kind, occurred_at) VALUES ($1, $2, 'meeting', $3)`,
		b.org, converted, met)
	require.NoError(t, err)
	slot = met.Add(14 * 24 * time.Hour)
	sweep(deal.KindCheckDealDecay)
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1 AND type = 'deal.stalled' AND entity_id = $2`, b.org, dealID))
	require.Equal(t, 1, b.runNudges(t))
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM lead_activities WHERE lead_id = $1 AND kind = 'nudge'`, converted))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM leads WHERE id = $1 AND priority = 'urgent'`, converted))
}
