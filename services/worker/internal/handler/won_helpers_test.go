package handler_test

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
)

// The steps the tests of the kinds a deal.won causes share.

// wonDeals wins n new deals (title, value in USD cents) of converted leads (Client <i> of Globex,
// <prefix><i>@example.com) through the deal service, which enqueues their deal.won jobs, and
// returns the deals' ids.
func (b *bundle) wonDeals(t *testing.T, prefix, title string, value int64, n int) []uuid.UUID {
	t.Helper()
	deals := deal.NewService(b.d, b.emitter, lead.NewService(b.d, b.emitter))
	ids := make([]uuid.UUID, n)
	for i := range ids {
		leadID := uuid.New()
		ids[i] = uuid.New()
		_, err := b.super.Pool.Exec(t.Context(), `INSERT INTO leads (org_id, id, email, name, company, fingerprint, stage)
VALUES ($1, $2, $3, $4, 'Globex', $5, 'converted')`, b.org, leadID, fmt.Sprintf("%s%d@example.com", prefix, i), fmt.Sprintf("Client %d", i), "fp:"+leadID.String())
		require.NoError(t, err)
		_, err = b.super.Pool.Exec(t.Context(), `INSERT INTO deals (org_id, id, lead_id, title, deal_value, currency, stage, probability)
VALUES ($1, $2, $3, $4, $5, 'USD', 'proposal', 0.3)`, b.org, ids[i], leadID, title, value)
		require.NoError(t, err)
		_, err = deals.ChangeStage(t.Context(), b.org, "user:test", ids[i], deal.StageWon, "")
		require.NoError(t, err)
	}
	return ids
}

// repeatWon runs a second job of kind for the deal.won of dealID and requires it completed (the
// caller checks it made nothing).
func (b *bundle) repeatWon(t *testing.T, kind string, dealID uuid.UUID) {
	t.Helper()
	var eventID int64
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT id FROM events WHERE entity_id = $1 AND type = 'deal.won'`, dealID).Scan(&eventID))
	repeat := b.enqueue(t, kind, events.JobPayload{EventID: eventID, EventType: deal.EventWon, EntityType: deal.EntityType, EntityID: &dealID})
	job := b.claim(t)[repeat]
	require.NotNil(t, job)
	require.NoError(t, b.run(t.Context(), job))
	require.Equal(t, "completed", b.jobStatus(t, repeat))
}

// refuseNotDeal runs a job of kind about a lead's event and requires it refused permanently.
func (b *bundle) refuseNotDeal(t *testing.T, kind string, id uuid.UUID) {
	t.Helper()
	odd := b.enqueue(t, kind, events.JobPayload{EventID: 1, EventType: "lead.created", EntityType: "lead", EntityID: &id})
	err := b.run(t.Context(), b.claim(t)[odd])
	require.True(t, jobs.IsPermanent(err), "%v", err)
}
