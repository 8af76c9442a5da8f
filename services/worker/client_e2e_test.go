package main_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/client"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/invoice"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/proctest"
)

// TestWonDealToOnboardingChain proves the money chain across two worker processes: deals won
// through the deal service are invoiced (create_invoice), their invoices paid concurrently
// through the invoice service make one client each (create_client on invoice.paid), and each
// client gets the default checklist (start_onboarding on client.created). Every record walks
// back through its causationEventId: task -> client.created of its client, client ->
// invoice.paid of its invoice, invoice -> deal.won of its deal. Nothing is dead-lettered.
func TestWonDealToOnboardingChain(t *testing.T) {
	const n = 20
	e := newE2EDB(t)
	super := dbtest.SuperDB(t, e.url)
	em := events.NewEmitter(e.queue, catalog.New().EventJobs)
	deals := deal.NewService(e.db, em, lead.NewService(e.db, em))
	invoices := invoice.NewService(e.db, em, nil)
	s := &e2eDB{db: super}

	ids := make([]uuid.UUID, n)
	for i := range ids {
		leadID := uuid.New()
		ids[i] = uuid.New()
		_, err := super.Pool.Exec(t.Context(), `INSERT INTO leads (org_id, id, email, name, company, fingerprint, stage)
VALUES ($1, $2, $3, 'Chain Buyer', 'Chain Ltd', $4, 'converted')`, e.org, leadID, fmt.Sprintf("chain%d@example.com", i), fmt.Sprintf("fp:%d", i))
		require.NoError(t, err)
		_, err = super.Pool.Exec(t.Context(), `INSERT INTO deals (org_id, id, lead_id, title, deal_value, currency, stage, probability)
VALUES ($1, $2, $3, 'Chain deal', 5000, 'EUR', 'negotiation', 0.6)`, e.org, ids[i], leadID)
		require.NoError(t, err)
	}

	env := []string{"WORKER_CONCURRENCY=8", "WORKER_POLL_INTERVAL_MS=100", "JOB_BASE_DELAY_MS=200"}
	w1, w2 := startWorker(t, "w1", e.url, env...), startWorker(t, "w2", e.url, env...)
	w1.LogLine(t, "worker starting", 10*time.Second)
	w2.LogLine(t, "worker starting", 10*time.Second)

	for _, id := range ids {
		_, err := deals.ChangeStage(t.Context(), e.org, "user:e2e", id, deal.StageWon, "")
		require.NoError(t, err)
	}
	proctest.Eventually(t, 60*time.Second, "every deal to be invoiced", func() bool {
		return s.count(t, `SELECT count(*) FROM invoices`) == n
	})
	rows, err := super.Pool.Query(t.Context(), `SELECT id FROM invoices WHERE org_id = $1`, e.org)
	require.NoError(t, err)
	var invIDs []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		require.NoError(t, rows.Scan(&id))
		invIDs = append(invIDs, id)
	}
	require.NoError(t, rows.Err())

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, id := range invIDs {
		wg.Go(func() {
			_, err := invoices.Pay(t.Context(), e.org, "user:e2e", id, invoice.Payment{})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	tasks := len(client.DefaultSettings().Tasks)
	proctest.Eventually(t, 60*time.Second, "every client's checklist", func() bool {
		return s.count(t, `SELECT count(*) FROM jobs WHERE job_type IN ('create_client', 'start_onboarding') AND status = 'completed'`) == 2*n
	})

	require.Equal(t, n, s.count(t, `SELECT count(*) FROM clients WHERE status = 'onboarding' AND name = 'Chain Buyer'`))
	require.Equal(t, n*tasks, s.count(t, `SELECT count(*) FROM onboarding_tasks`))
	require.Equal(t, n*tasks, s.count(t, `
SELECT count(*) FROM onboarding_tasks t
JOIN events ce ON ce.id = t.causation_event_id AND ce.type = 'client.created' AND ce.entity_id = t.client_id
JOIN clients c ON c.org_id = t.org_id AND c.id = t.client_id
JOIN events pe ON pe.id = c.causation_event_id AND pe.type = 'invoice.paid' AND pe.entity_id = c.invoice_id
JOIN invoices i ON i.org_id = c.org_id AND i.id = c.invoice_id
JOIN events we ON we.id = i.causation_event_id AND we.type = 'deal.won' AND we.entity_id = i.deal_id AND i.deal_id = c.deal_id`),
		"every task walks back to its deal.won")
	require.Zero(t, s.count(t, `SELECT count(*) FROM dead_letter_jobs`))
}
