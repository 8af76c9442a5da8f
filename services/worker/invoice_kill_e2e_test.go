package main_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
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

// holdKey is the advisory lock the test holds to stop a create_invoice batch inside its
// transaction (holdInvoicesSQL).
const holdKey = 1515

// holdInvoicesSQL makes every INSERT into invoices wait, after the statement ran, for the
// advisory lock holdKey: while the test holds it, the batch transaction that inserted the
// invoices waits with its numbers taken from the counter row and its deals locked.
var holdInvoicesSQL = fmt.Sprintf(`
CREATE FUNCTION e2e_hold_invoices() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(%d);
	RETURN NULL;
END $$;
CREATE TRIGGER e2e_hold_invoices AFTER INSERT ON invoices FOR EACH STATEMENT EXECUTE FUNCTION e2e_hold_invoices();`, holdKey)

// TestKilledWorkerMidInvoiceBatch proves that kill -9 of a worker holding a batch of
// create_invoice jobs loses no invoice and no number: 50 deals of one org are won at once
// (deal.won -> create_invoice and generate_contract); worker A, started alone with slots for
// every job, claims them all in one claim, so its create_invoice batch holds all 50 jobs; that
// batch's transaction takes the numbers 1..50 from the counter row, inserts the invoices and
// then waits on the advisory lock the test holds (holdInvoicesSQL). The test sees that backend
// wait in pg_stat_activity, starts worker B, and kills A with SIGKILL.
//
// A's backend does not notice its client's death while it waits on a lock (PostgreSQL reads the
// socket only between statements), so it keeps the transaction open, with the counter row and
// the deals locked, until the test releases the advisory lock. Then the statement ends, the
// backend finds the connection closed (a failed send or EOF on the next read), rolls the
// transaction back and exits: the numbers, the invoices and the jobs' completions go back
// together. The test waits for that backend to leave pg_stat_activity; B's reaper frees A's jobs
// once their short lease has expired, and B invoices the 50 deals on attempt 2.
//
// Afterwards every won deal has exactly one invoice and one contract, the org's numbers are
// exactly 1..50 (none skipped, none doubled), each create_invoice job was reaped from A and
// completed by B, and nothing is dead-lettered. Every wait is on an observed state.
func TestKilledWorkerMidInvoiceBatch(t *testing.T) {
	t.Parallel()
	const n = 50
	e := newE2EDB(t)
	super := dbtest.SuperDB(t, e.url)
	s := &e2eDB{db: super}
	em := events.NewEmitter(e.queue, catalog.New().EventJobs)
	deals := deal.NewService(e.db, em, lead.NewService(e.db, em))

	ids := make([]uuid.UUID, n)
	for i := range ids {
		leadID := uuid.New()
		ids[i] = uuid.New()
		_, err := super.Pool.Exec(t.Context(), `INSERT INTO leads (org_id, id, email, name, company, fingerprint, stage)
VALUES ($1, $2, $3, 'Kill Buyer', 'Kill Ltd', $4, 'converted')`, e.org, leadID, fmt.Sprintf("kill%d@example.com", i), fmt.Sprintf("fp:%d", i))
		require.NoError(t, err)
		_, err = super.Pool.Exec(t.Context(), `INSERT INTO deals (org_id, id, lead_id, title, deal_value, currency, stage, probability)
VALUES ($1, $2, $3, $4, $5, 'EUR', 'negotiation', 0.6)`, e.org, ids[i], leadID, fmt.Sprintf("Kill deal %d", i), 1000+i)
		require.NoError(t, err)
	}
	_, err := super.Pool.Exec(t.Context(), holdInvoicesSQL)
	require.NoError(t, err)

	// The test's own connection holds the advisory lock until it releases it below.
	hold, err := super.Pool.Acquire(t.Context())
	require.NoError(t, err)
	defer hold.Release()
	_, err = hold.Exec(t.Context(), `SELECT pg_advisory_lock($1)`, holdKey)
	require.NoError(t, err)

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
	require.Equal(t, 2*n, s.count(t, `SELECT count(*) FROM jobs WHERE status = 'pending'`), "each win enqueued create_invoice and generate_contract")

	// A's first claim takes one job per free slot: with 2n slots, every job, in two batches.
	a := startWorker(t, "A", e.url, slices.Concat(leaseEnv, []string{"WORKER_CONCURRENCY=100", "WORKER_CLAIM_BATCH=100", "WORKER_BATCH_SIZE=64"})...)
	var backend int
	proctest.Eventually(t, 30*time.Second, "A's invoice batch to wait on the advisory lock", func() bool {
		return super.Pool.QueryRow(t.Context(), `SELECT pid FROM pg_stat_activity
WHERE datname = current_database() AND application_name = 'crm-worker' AND wait_event_type = 'Lock' AND wait_event = 'advisory'`).
			Scan(&backend) == nil
	})
	require.Equal(t, 1, s.count(t, `SELECT count(DISTINCT locked_by) FROM jobs WHERE job_type = 'create_invoice'`), "one claim holds every create_invoice job")
	require.Equal(t, n, s.count(t, `SELECT count(*) FROM jobs WHERE job_type = 'create_invoice' AND status = 'running' AND starts_with(locked_by, $1)`,
		claimPrefix(t, a)), "A holds them all")
	require.Equal(t, 1, s.count(t, `SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
WHERE l.pid = $1 AND l.granted AND c.relname = 'invoice_counters' AND l.mode = 'RowExclusiveLock'`, backend), "the waiting batch has taken its numbers")
	require.Zero(t, s.count(t, `SELECT count(*) FROM invoices`), "nothing of it is committed")

	b := startWorker(t, "B", e.url, slices.Concat(leaseEnv, []string{"WORKER_CONCURRENCY=8"})...)
	b.LogLine(t, "worker starting", 10*time.Second)
	a.Signal(t, syscall.SIGKILL)
	require.Equal(t, syscall.SIGKILL, a.WaitExit(t, 10*time.Second).Signal())
	backendAlive := `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`
	require.Equal(t, 1, s.count(t, backendAlive, backend), "the dead worker's backend still waits, holding its transaction")

	var released bool
	require.NoError(t, hold.QueryRow(t.Context(), `SELECT pg_advisory_unlock($1)`, holdKey).Scan(&released))
	require.True(t, released)
	proctest.Eventually(t, 10*time.Second, "the dead worker's backend to end", func() bool {
		return s.count(t, backendAlive, backend) == 0
	})
	proctest.Eventually(t, 60*time.Second, "B to finish every job", func() bool {
		return s.count(t, `SELECT count(*) FROM jobs WHERE job_type IN ('create_invoice', 'generate_contract') AND status = 'completed'`) == 2*n
	})

	rows, err := super.Pool.Query(t.Context(), `SELECT number FROM invoices WHERE org_id = $1 ORDER BY number`, e.org)
	require.NoError(t, err)
	var got []string
	for rows.Next() {
		var num string
		require.NoError(t, rows.Scan(&num))
		got = append(got, num)
	}
	require.NoError(t, rows.Err())
	year := time.Now().UTC().Year()
	want := make([]string, n)
	for i := range want {
		want[i] = invoice.Number(invoice.DefaultPrefix, year, int64(i+1))
	}
	require.Equal(t, want, got, "numbers 1..50, none skipped or doubled")
	require.Equal(t, n, s.count(t, `SELECT last FROM invoice_counters WHERE org_id = $1 AND year = $2`, e.org, year))
	require.Equal(t, n, s.count(t, `SELECT count(DISTINCT deal_id) FROM invoices`), "one invoice per won deal")
	require.Equal(t, n, s.count(t, `SELECT count(*) FROM contracts`))
	require.Equal(t, n, s.count(t, `SELECT count(DISTINCT deal_id) FROM contracts`), "one contract per won deal")
	require.Equal(t, n, s.count(t, `SELECT count(*) FROM invoices i JOIN events e ON e.id = i.causation_event_id
WHERE e.type = 'deal.won' AND e.entity_id = i.deal_id`), "each invoice is caused by its deal's deal.won")

	prefixB := claimPrefix(t, b)
	require.Equal(t, n, s.count(t, `SELECT count(*) FROM jobs WHERE job_type = 'create_invoice' AND attempts = 2 AND starts_with(locked_by, $1)`, prefixB),
		"B completed every create_invoice job on attempt 2")
	require.Equal(t, n, s.count(t, `SELECT count(*) FROM job_logs l JOIN jobs j ON j.id = l.job_id
WHERE j.job_type = 'create_invoice' AND l.attempt = 1 AND l.outcome = 'reaped' AND starts_with(l.worker, $1)`, claimPrefix(t, a)),
		"each was reaped from A's dead claim")
	require.Zero(t, s.count(t, `SELECT count(*) FROM dead_letter_jobs`))
	require.False(t, strings.Contains(b.Output(), `"level":"error"`), "B logged no error")
}
