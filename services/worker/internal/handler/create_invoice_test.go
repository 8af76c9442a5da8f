package handler_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/contract"
	"example.com/crm/pkg/invoice"
	"example.com/crm/pkg/jobs"
)

// TestCreateInvoiceBatch proves create_invoice through the runtime's batch: three deals won
// through the deal service enqueue three create_invoice jobs (deal.won), which run as one batch
// and leave three invoices numbered 1..3, each caused by its deal.won, with every job completed
// in the same transaction; a repeat job of the first deal completes without a new invoice or a
// number; a job about something other than a deal is refused permanently.
func TestCreateInvoiceBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := b.wonDeals(t, "b", "Deal", 100, 3)
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

	b.repeatWon(t, invoice.KindCreateInvoice, ids[0])
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM invoices`))
	require.Equal(t, 3, b.count(t, `SELECT last FROM invoice_counters`))

	b.refuseNotDeal(t, invoice.KindCreateInvoice, ids[0])
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM invoices`))
}
