package handler_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os/exec"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/contract"
	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
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
	deals := deal.NewService(b.d, b.emitter, lead.NewService(b.d, b.emitter))
	ids := make([]uuid.UUID, 3)
	for i := range ids {
		leadID := uuid.New()
		ids[i] = uuid.New()
		_, err := b.super.Pool.Exec(t.Context(), `INSERT INTO leads (org_id, id, email, name, company, fingerprint, stage)
VALUES ($1, $2, $3, $4, 'Globex', $5, 'converted')`, b.org, leadID, fmt.Sprintf("c%d@example.com", i), fmt.Sprintf("Client %d", i), fmt.Sprintf("fp:%d", i))
		require.NoError(t, err)
		_, err = b.super.Pool.Exec(t.Context(), `INSERT INTO deals (org_id, id, lead_id, title, deal_value, currency, stage, probability)
VALUES ($1, $2, $3, 'Roof repair', 250000, 'USD', 'proposal', 0.3)`, b.org, ids[i], leadID)
		require.NoError(t, err)
		_, err = deals.ChangeStage(t.Context(), b.org, "user:test", ids[i], deal.StageWon, "")
		require.NoError(t, err)
	}
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
	text := doc
	if _, err := exec.LookPath("pdftotext"); err == nil {
		cmd := exec.CommandContext(t.Context(), "pdftotext", "-layout", "-", "-")
		cmd.Stdin = bytes.NewReader(doc)
		text, err = cmd.Output()
		require.NoError(t, err)
	}
	require.Contains(t, string(text), "Services agreement: Roof repair")
	sum := sha256.Sum256(doc)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM contracts WHERE document_sha256 = $1`, hex.EncodeToString(sum[:])))

	var eventID int64
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT id FROM events WHERE entity_id = $1 AND type = 'deal.won'`, ids[0]).Scan(&eventID))
	repeat := b.enqueue(t, contract.KindGenerateContract, events.JobPayload{EventID: eventID, EventType: deal.EventWon, EntityType: deal.EntityType, EntityID: &ids[0]})
	job := b.claim(t)[repeat]
	require.NotNil(t, job)
	require.NoError(t, b.run(t.Context(), job))
	require.Equal(t, "completed", b.jobStatus(t, repeat))
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM contracts`))

	odd := b.enqueue(t, contract.KindGenerateContract, events.JobPayload{EventID: 1, EventType: "lead.created", EntityType: "lead", EntityID: &ids[0]})
	err := b.run(t.Context(), b.claim(t)[odd])
	require.True(t, jobs.IsPermanent(err), "%v", err)
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM contracts`))
}
