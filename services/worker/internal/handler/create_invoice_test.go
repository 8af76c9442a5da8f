package handler_test

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/contract"
	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/invoice"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
)

// TestCreateInvoiceBatch proves create_invoice through the runtime's batch: three deals won
// through the deal service enqueue three create_invoice jobs (deal.won), which run as one batch
// and leave three invoices numbered 1..3, each caused by its deal.won, with every job completed
// in the same transaction; a repeat job of the first deal completes without a new invoice or a
// number; a job about something other than a deal is refused permanently.
func TestCreateInvoiceBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	deals := deal.NewService(b.d, b.emitter, lead.NewService(b.d, b.emitter))
	ids := make([]uuid.UUID, 3)
	for i := range ids {
		leadID := uuid.New()
		ids[i] = uuid.New()
		_, err := b.super.Pool.Exec(t.Context(), `INSERT INTO leads (org_id, id, email, fingerprint, stage) VALUES ($1, $2, $3, $4, 'converted')`,
			b.org, leadID, fmt.Sprintf("b%d@example.com", i), fmt.Sprintf("fp:%d", i))
		require.NoError(t, err)
		_, err = b.super.Pool.Exec(t.Context(), `INSERT INTO deals (org_id, id, lead_id, title, deal_value, currency, stage, probability)
VALUES ($1, $2, $3, 'Deal', 100, 'USD', 'proposal', 0.3)`, b.org, ids[i], leadID)
		require.NoError(t, err)
		_, err = deals.ChangeStage(t.Context(), b.org, "user:test", ids[i], deal.StageWon, "")
		require.NoError(t, err)
	}
	var batch []*jobs.Job
	for _, j := range b.claim(t) {
		// deal.won also enqueues generate_contract (TestGenerateContractBatch works those).
		require.Contains(t, []string{invoice.KindCreateInvoice, contract.KindGenerateContract}, j.Type)
		if j.Type == invoice.KindCreateInvoice {
			batch = append(batch, j)
		}
	}
	require.Len(t, batch, 3)
	require.NoError(t, workBatch(t.Context(), b.queue, b.kinds, batch))
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM jobs WHERE status = 'completed'`))
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM invoices i JOIN events e ON e.id = i.causation_event_id
	WHERE e.type = 'deal.won' AND e.entity_id = i.deal_id AND i.number ~ '^INV-\d{4}-0000[123]$'`))
	require.Equal(t, 3, b.count(t, `SELECT count(DISTINCT number) FROM invoices`))

	var eventID int64
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT id FROM events WHERE entity_id = $1 AND type = 'deal.won'`, ids[0]).Scan(&eventID))
	repeat := b.enqueue(t, invoice.KindCreateInvoice, events.JobPayload{EventID: eventID, EventType: deal.EventWon, EntityType: deal.EntityType, EntityID: &ids[0]})
	job := b.claim(t)[repeat]
	require.NotNil(t, job)
	require.NoError(t, b.run(t.Context(), job))
	require.Equal(t, "completed", b.jobStatus(t, repeat))
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM invoices`))
	require.Equal(t, 3, b.count(t, `SELECT last FROM invoice_counters`))

	odd := b.enqueue(t, invoice.KindCreateInvoice, events.JobPayload{EventID: 1, EventType: "lead.created", EntityType: "lead", EntityID: &ids[0]})
	err := b.run(t.Context(), b.claim(t)[odd])
	require.True(t, jobs.IsPermanent(err), "%v", err)
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM invoices`))
}
