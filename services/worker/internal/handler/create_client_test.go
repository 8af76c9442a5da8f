package handler_test

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/client"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/invoice"
	"example.com/crm/pkg/jobs"
)

// paidInvoices inserts n won deals, invoices them and pays each through the invoice service,
// which enqueues one create_client job per invoice.paid; it returns the invoices' ids.
func (b *bundle) paidInvoices(t *testing.T, n int) []uuid.UUID {
	t.Helper()
	invoices := invoice.NewService(b.d, b.emitter, nil)
	wons := make([]invoice.Won, n)
	for i := range wons {
		leadID, dealID := uuid.New(), uuid.New()
		_, err := b.super.Pool.Exec(t.Context(), `INSERT INTO leads (org_id, id, email, name, company, fingerprint, stage)
VALUES ($1, $2, $3, 'Ada', 'Buyer Ltd', $4, 'converted')`, b.org, leadID, fmt.Sprintf("c%d@example.com", i), "fp:"+leadID.String())
		require.NoError(t, err)
		_, err = b.super.Pool.Exec(t.Context(), `INSERT INTO deals (org_id, id, lead_id, title, deal_value, currency, stage, probability, won_at)
VALUES ($1, $2, $3, 'Deal', 100, 'USD', 'won', 1, now())`, b.org, dealID, leadID)
		require.NoError(t, err)
		wons[i] = invoice.Won{EventID: 1, DealID: dealID}
	}
	var res []invoice.CreateResult
	require.NoError(t, b.d.Tx(t.Context(), b.org, func(tx *gorm.DB) error {
		var err error
		res, err = invoices.Create(t.Context(), tx, b.org, wons)
		return err
	}))
	ids := make([]uuid.UUID, n)
	for i, r := range res {
		_, err := invoices.Pay(t.Context(), b.org, "user:test", r.Invoice.ID, invoice.Payment{})
		require.NoError(t, err)
		ids[i] = r.Invoice.ID
	}
	return ids
}

// claimOf claims every runnable job and requires them all to be of jobType.
func (b *bundle) claimOf(t *testing.T, jobType string) []*jobs.Job {
	t.Helper()
	var out []*jobs.Job
	for _, j := range b.claim(t) {
		require.Equal(t, jobType, j.Type)
		out = append(out, j)
	}
	return out
}

// TestCreateClientAndStartOnboardingBatches proves create_client and start_onboarding through
// the runtime's batch: three paid invoices enqueue three create_client jobs, which run as one
// batch and leave three onboarding clients caused by their invoice.paid, every job completed;
// their client.created events enqueue three start_onboarding jobs, which leave each client the
// default checklist caused by its client.created. Repeats of either complete without writing,
// and a job about something else is refused permanently.
func TestCreateClientAndStartOnboardingBatches(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := b.paidInvoices(t, 3)

	batch := b.claimOf(t, client.KindCreateClient)
	require.Len(t, batch, 3)
	require.NoError(t, workBatch(t.Context(), b.queue, b.kinds, batch))
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM jobs WHERE status = 'completed'`))
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM clients c JOIN events e ON e.id = c.causation_event_id
	WHERE e.type = 'invoice.paid' AND e.entity_id = c.invoice_id AND c.status = 'onboarding'
	AND c.renewal_date = ((now() AT TIME ZONE 'UTC') + interval '1 year')::date`))

	starts := b.claimOf(t, client.KindStartOnboarding)
	require.Len(t, starts, 3)
	require.NoError(t, workBatch(t.Context(), b.queue, b.kinds, starts))
	tasks := len(client.DefaultSettings().Tasks)
	require.Equal(t, 6, b.count(t, `SELECT count(*) FROM jobs WHERE status = 'completed'`))
	require.Equal(t, 3*tasks, b.count(t, `SELECT count(*) FROM onboarding_tasks t JOIN events e ON e.id = t.causation_event_id
	WHERE e.type = 'client.created' AND e.entity_id = t.client_id AND t.status = 'pending' AND t.due_at > now()`))

	var paidEvent, createdEvent int64
	var clientID uuid.UUID
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT id FROM events WHERE entity_id = $1 AND type = 'invoice.paid'`, ids[0]).Scan(&paidEvent))
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT c.id, e.id FROM clients c JOIN events e ON e.entity_id = c.id AND e.type = 'client.created'
	WHERE c.invoice_id = $1`, ids[0]).Scan(&clientID, &createdEvent))
	repeat := b.enqueue(t, client.KindCreateClient, events.JobPayload{EventID: paidEvent, EventType: invoice.EventPaid, EntityType: invoice.EntityType, EntityID: &ids[0]})
	require.NoError(t, b.run(t.Context(), b.claim(t)[repeat]))
	require.Equal(t, "completed", b.jobStatus(t, repeat))
	repeat = b.enqueue(t, client.KindStartOnboarding, events.JobPayload{EventID: createdEvent, EventType: client.EventCreated, EntityType: client.EntityType, EntityID: &clientID})
	require.NoError(t, b.run(t.Context(), b.claim(t)[repeat]))
	require.Equal(t, "completed", b.jobStatus(t, repeat))
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM clients`))
	require.Equal(t, 3*tasks, b.count(t, `SELECT count(*) FROM onboarding_tasks`))

	for _, kind := range []string{client.KindCreateClient, client.KindStartOnboarding} {
		odd := b.enqueue(t, kind, events.JobPayload{EventID: 1, EventType: "lead.created", EntityType: "lead", EntityID: &ids[0]})
		err := b.run(t.Context(), b.claim(t)[odd])
		require.True(t, jobs.IsPermanent(err), "%s: %v", kind, err)
	}
	require.Zero(t, b.count(t, `SELECT count(*) FROM jobs WHERE status <> 'completed' AND job_type IN ('create_client', 'start_onboarding')
	AND payload->>'eventType' <> 'lead.created'`))
}
