package handler_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
)

// stalledDeal stores a converted lead with an open deal that entered its stage 30 days ago and
// emits deal.stalled for it, as check_deal_decay does, which enqueues nudge_deal. It returns
// the deal, its lead and the stall's payload.
func (b *bundle) stalledDeal(t *testing.T) (uuid.UUID, uuid.UUID, deal.StalledPayload) {
	t.Helper()
	leadID, dealID := uuid.New(), uuid.New()
	var since time.Time
	require.NoError(t, b.d.Tx(t.Context(), b.org, func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO leads (org_id, id, email, fingerprint, stage, priority)
VALUES (?, ?, 'stalled@example.com', 'fp:stalled', 'converted', 'normal')`, b.org, leadID).Error; err != nil {
			return err
		}
		if err := tx.Raw(`INSERT INTO deals (org_id, id, lead_id, title, deal_value, currency, stage, probability, stage_changed_at)
VALUES (?, ?, ?, 'Licence', 50000, 'EUR', 'proposal', 0.3, now() - interval '30 days') RETURNING stage_changed_at`,
			b.org, dealID, leadID).Scan(&since).Error; err != nil {
			return err
		}
		p := deal.StalledPayload{DealID: dealID, Stage: deal.StageProposal, StageChangedAt: since}
		_, _, err := b.emitter.Emit(t.Context(), tx, events.NewEvent{
			OrgID: b.org, Type: deal.EventStalled, EntityType: deal.EntityType, EntityID: dealID, Payload: p,
			IdempotencyKey: "deal.stalled:" + dealID.String(),
		})
		return err
	}))
	return dealID, leadID, deal.StalledPayload{DealID: dealID, Stage: deal.StageProposal, StageChangedAt: since}
}

// runNudges claims and runs every runnable nudge_deal job, requiring each to complete.
func (b *bundle) runNudges(t *testing.T) int {
	t.Helper()
	n := 0
	for _, j := range b.claim(t) {
		if j.Type != deal.KindNudgeDeal {
			continue
		}
		require.NoError(t, b.run(t.Context(), j))
		require.Equal(t, "completed", b.jobStatus(t, j.ID))
		n++
	}
	return n
}

// TestNudgeDealOnce proves deal.stalled enqueues nudge_deal through the event map, that the job
// adds a nudge activity to the deal's lead and raises its priority one step, and that the same
// stall nudged again (the job run twice) adds nothing and bumps nothing.
func TestNudgeDealOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	dealID, leadID, stall := b.stalledDeal(t)
	require.Equal(t, 1, b.runNudges(t))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_activities WHERE lead_id = $1 AND kind = 'nudge' AND subject = $2`,
		leadID, deal.NudgeSubject))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM leads WHERE id = $1 AND priority = 'high'`, leadID))
	events0 := b.count(t, `SELECT count(*) FROM events WHERE org_id = $1`, b.org)

	// The same stall again, twice: a second job of the same event and a payload without data.
	var eventID int64
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT id FROM events WHERE entity_id = $1 AND type = 'deal.stalled'`, dealID).Scan(&eventID))
	data, err := json.Marshal(stall)
	require.NoError(t, err)
	b.enqueue(t, deal.KindNudgeDeal, events.JobPayload{EventID: eventID, EventType: deal.EventStalled, EntityType: deal.EntityType,
		EntityID: &dealID, Data: data})
	b.enqueue(t, deal.KindNudgeDeal, events.JobPayload{EventID: eventID, EventType: deal.EventStalled, EntityType: deal.EntityType,
		EntityID: &dealID})
	require.Equal(t, 2, b.runNudges(t))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_activities WHERE lead_id = $1 AND kind = 'nudge'`, leadID))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM leads WHERE id = $1 AND priority = 'high'`, leadID))
	require.Equal(t, events0, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1`, b.org))

	// A payload about something else than a deal is permanent.
	other := b.enqueue(t, deal.KindNudgeDeal, events.JobPayload{EventID: 1, EntityType: "lead", EntityID: &leadID})
	claimed := b.claim(t)
	require.True(t, jobs.IsPermanent(b.run(t.Context(), claimed[other])))
}
