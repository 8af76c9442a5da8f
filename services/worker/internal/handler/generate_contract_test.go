package handler_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/contract"
	"example.com/crm/pkg/document/pdftest"
	"example.com/crm/pkg/jobs"
)

// TestGenerateContractBatch proves generate_contract through the runtime's batch: three deals won
// through the deal service enqueue three generate_contract jobs (deal.won), which run as one
// batch and leave three contracts, each caused by its deal.won, its stored PDF's SHA-256 as
// document_sha256 and the deal's values filled in, with every job completed in the same
// transaction; a repeat job of the first deal completes without a new contract; a job about
// something other than a deal is refused permanently.
func TestGenerateContractBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := b.wonDeals(t, "c", "Roof repair", 250000, 3)
	var batch []*jobs.Job
	for _, j := range b.claim(t) {
		if j.Type == contract.KindGenerateContract {
			batch = append(batch, j)
		}
	}
	require.Len(t, batch, 3)
	require.NoError(t, workBatch(t.Context(), b.queue, b.kinds, batch))
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM jobs WHERE status = 'completed' AND job_type = 'generate_contract'`))
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM contracts c JOIN events e ON e.id = c.causation_event_id
	WHERE e.type = 'deal.won' AND e.entity_id = c.deal_id AND c.status = 'generated'
	AND c.document_sha256 = encode(sha256(c.document), 'hex')`))
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM events WHERE type = 'contract.generated'`))

	var doc []byte
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT document FROM contracts WHERE deal_id = $1`, ids[0]).Scan(&doc))
	require.True(t, bytes.HasPrefix(doc, []byte("%PDF-")))
	text := pdftest.Text(t, doc)
	require.Contains(t, text, "Services agreement: Roof repair")
	sum := sha256.Sum256(doc)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM contracts WHERE document_sha256 = $1`, hex.EncodeToString(sum[:])))

	b.repeatWon(t, contract.KindGenerateContract, ids[0])
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM contracts`))

	b.refuseNotDeal(t, contract.KindGenerateContract, ids[0])
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM contracts`))
}
