package main_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/invoice"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/proctest"
)

// failTwiceSQL makes the first two INSERT statements into invoices that hold the deal $1 fail,
// after the statement ran, so after their transaction has taken its invoice numbers from the
// counter. The count is a sequence, which a rollback does not undo. The first failure is
// typically that of a batch (which the runtime then re-runs job by job), the second that of the
// deal's job alone, which fails its attempt and is retried after the back-off.
const failTwiceSQL = `
CREATE SEQUENCE e2e_invoice_failures;
GRANT USAGE ON SEQUENCE e2e_invoice_failures TO PUBLIC;
CREATE FUNCTION e2e_fail_twice() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM new_rows WHERE deal_id = '%s') AND nextval('e2e_invoice_failures') <= 2 THEN
		RAISE EXCEPTION 'e2e: injected failure after the invoice number was taken';
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER e2e_fail_twice AFTER INSERT ON invoices REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION e2e_fail_twice();`

// TestHundredConcurrentWinsGaplessNumbers proves the invoice numbering across processes: two
// worker processes invoice 100 deals of one org won concurrently through the deal service
// (deal.won -> create_invoice, batched), and the org's invoices are numbered 1..100 of the
// year, none skipped or doubled, one per deal, each caused by its deal.won event; even though
// the first deal's invoice fails twice after its transaction has taken a number (a trigger, see
// failTwiceSQL), so that its job is retried. The same wins get one contract each (deal.won ->
// generate_contract), caused by their deal.won. Nothing is dead-lettered.
func TestHundredConcurrentWinsGaplessNumbers(t *testing.T) {
	const n = 100
	e := newE2EDB(t)
	super := dbtest.SuperDB(t, e.url)
	em := events.NewEmitter(e.queue, catalog.New().EventJobs)
	deals := deal.NewService(e.db, em, lead.NewService(e.db, em))

	ids := make([]uuid.UUID, n)
	for i := range ids {
		leadID := uuid.New()
		ids[i] = uuid.New()
		_, err := super.Pool.Exec(t.Context(), `INSERT INTO leads (org_id, id, email, fingerprint, stage) VALUES ($1, $2, $3, $4, 'converted')`,
			e.org, leadID, fmt.Sprintf("buyer%d@example.com", i), fmt.Sprintf("fp:%d", i))
		require.NoError(t, err)
		_, err = super.Pool.Exec(t.Context(), `INSERT INTO deals (org_id, id, lead_id, title, deal_value, currency, stage, probability)
VALUES ($1, $2, $3, $4, $5, 'EUR', 'negotiation', 0.6)`, e.org, ids[i], leadID, fmt.Sprintf("Deal %d", i), 1000+i)
		require.NoError(t, err)
	}
	_, err := super.Pool.Exec(t.Context(), fmt.Sprintf(failTwiceSQL, ids[0]))
	require.NoError(t, err)

	env := []string{"WORKER_CONCURRENCY=8", "WORKER_POLL_INTERVAL_MS=100", "JOB_BASE_DELAY_MS=200"}
	w1, w2 := startWorker(t, "w1", e.url, env...), startWorker(t, "w2", e.url, env...)
	w1.LogLine(t, "worker starting", 10*time.Second)
	w2.LogLine(t, "worker starting", 10*time.Second)

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, id := range ids {
		wg.Go(func() {
			_, err := deals.ChangeStage(t.Context(), e.org, "user:e2e", id, deal.StageWon, "")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	s := &e2eDB{db: super}
	proctest.Eventually(t, 60*time.Second, "every create_invoice job to finish", func() bool {
		return s.count(t, `SELECT count(*) FROM jobs WHERE job_type = 'create_invoice' AND status = 'completed'`) == n
	})

	year := time.Now().UTC().Year()
	rows, err := super.Pool.Query(t.Context(), `SELECT number FROM invoices WHERE org_id = $1 ORDER BY number`, e.org)
	require.NoError(t, err)
	var got []string
	for rows.Next() {
		var num string
		require.NoError(t, rows.Scan(&num))
		got = append(got, num)
	}
	require.NoError(t, rows.Err())
	want := make([]string, n)
	for i := range want {
		want[i] = invoice.Number(invoice.DefaultPrefix, year, int64(i+1))
	}
	require.Equal(t, want, got, "numbers 1..100, none skipped or doubled")
	require.Equal(t, n, s.count(t, `SELECT last FROM invoice_counters WHERE org_id = $1 AND year = $2`, e.org, year))
	require.Equal(t, n, s.count(t, `SELECT count(DISTINCT deal_id) FROM invoices`))
	require.Equal(t, n, s.count(t, `SELECT count(*) FROM invoices i JOIN events e ON e.id = i.causation_event_id
	WHERE e.type = 'deal.won' AND e.entity_id = i.deal_id`), "each invoice is caused by its deal's deal.won")
	require.Equal(t, n, s.count(t, `SELECT count(*) FROM events WHERE type = 'invoice.created'`))

	require.GreaterOrEqual(t, s.count(t, `SELECT last_value FROM e2e_invoice_failures`), 2, "the injected failure happened twice")
	require.GreaterOrEqual(t, s.count(t, `SELECT j.attempts FROM jobs j JOIN events e ON e.id = j.event_id
	WHERE j.job_type = 'create_invoice' AND e.entity_id = $1`, ids[0]), 2, "the failed job was retried")

	// deal.won also enqueued generate_contract: one contract per deal, caused by its deal.won.
	proctest.Eventually(t, 60*time.Second, "every generate_contract job to finish", func() bool {
		return s.count(t, `SELECT count(*) FROM jobs WHERE job_type = 'generate_contract' AND status = 'completed'`) == n
	})
	require.Equal(t, n, s.count(t, `SELECT count(*) FROM contracts c JOIN events e ON e.id = c.causation_event_id
	WHERE e.type = 'deal.won' AND e.entity_id = c.deal_id AND c.document_sha256 = encode(sha256(c.document), 'hex')`))
	require.Zero(t, s.count(t, `SELECT count(*) FROM dead_letter_jobs`))
}
