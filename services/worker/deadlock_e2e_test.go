package main_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/proctest"
)

// TestDuplicateStormDeadlocksNothing proves that the lead pipeline takes its locks in one order:
// a storm of duplicate deliveries — 200 people, each delivered 10 times with a fresh delivery
// key (a webhook re-signed), all at once through the gateway's write path (intake.Acceptor) —
// is worked by two worker processes, whose batches of process_intake (a new lead, or a
// touchpoint on the lead it repeats) run beside the batches of enrich_lead, qualify_lead and
// route_outreach that lock the same leads. PostgreSQL detects no deadlock in the test's
// database (pg_stat_database.deadlocks, read once every worker backend has ended and so
// flushed its counters), no worker logs one, and the outcome is one lead per person with nine
// touchpoints.
func TestDuplicateStormDeadlocksNothing(t *testing.T) {
	t.Parallel()
	const (
		people = 200
		copies = 10
	)
	e := newE2EDB(t)
	app, err := db.Open(t.Context(), db.Options{URL: dbtest.AppURL(t, e.url), MaxConns: 16, AppName: "storm-test"})
	require.NoError(t, err)
	t.Cleanup(app.Close)
	src, err := intake.NewService(app, events.NewEmitter(jobs.New(app, jobs.Config{}), catalog.New().EventJobs)).
		Create(t.Context(), e.org, "apikey:test", intake.NewSource{Kind: intake.KindWebhook, Name: "storm"})
	require.NoError(t, err)

	deadlocks := func() int {
		return e.count(t, `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`)
	}
	before := deadlocks()

	env := []string{"WORKER_CONCURRENCY=4", "WORKER_POLL_INTERVAL_MS=200"}
	workers := []*proctest.Proc{startWorker(t, "w1", e.url, env...), startWorker(t, "w2", e.url, env...)}
	for _, w := range workers {
		w.LogLine(t, "worker starting", 20*time.Second)
	}

	type delivery struct{ person, copy int }
	storm := make([]delivery, 0, people*copies)
	for p := range people {
		for c := range copies {
			storm = append(storm, delivery{p, c})
		}
	}
	rand.Shuffle(len(storm), func(i, j int) { storm[i], storm[j] = storm[j], storm[i] })
	acc := intake.NewAcceptor(app, jobs.Config{})
	var wg sync.WaitGroup
	errs := make(chan error, len(storm))
	for _, d := range storm {
		wg.Go(func() {
			body := fmt.Sprintf(`{"email":"person-%03d@example.com","name":"Person %d","company":"Acme %d"}`, d.person, d.person, d.person)
			_, err := acc.Accept(t.Context(), intake.Delivery{
				OrgID: e.org, SourceID: &src.ID, DeliveryKey: fmt.Sprintf("msg_%03d_%d", d.person, d.copy),
				ContentType: "application/json", Body: []byte(body),
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	proctest.Eventually(t, 3*time.Minute, "the storm to be worked", func() bool {
		return e.count(t, `SELECT count(*) FROM jobs WHERE status = 'running' OR (status = 'pending' AND run_at <= now())`) == 0
	})
	for _, w := range workers {
		w.Signal(t, syscall.SIGTERM)
	}
	for _, w := range workers {
		require.Zero(t, w.WaitExit(t, 30*time.Second).ExitStatus(), "worker %s exits cleanly", w.Name)
	}
	// A backend flushes its counters before it leaves pg_stat_activity.
	proctest.Eventually(t, 10*time.Second, "the workers' backends to end", func() bool {
		return e.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'crm-worker'`) == 0
	})

	require.Equal(t, before, deadlocks(), "PostgreSQL detected no deadlock")
	for _, w := range workers {
		require.NotContains(t, w.Output(), "40P01", "worker %s met no deadlock", w.Name)
	}
	// The tenant tables are read as the superuser: row-level security hides them from the owner.
	super := &e2eDB{db: dbtest.SuperDB(t, e.url)}
	require.Equal(t, people, super.count(t, `SELECT count(*) FROM leads`))
	require.Equal(t, people, super.count(t, `SELECT count(*) FROM lead_intake_raw WHERE status = 'processed'`))
	require.Equal(t, people*(copies-1), super.count(t, `SELECT count(*) FROM lead_intake_raw WHERE status = 'duplicate'`))
	require.Equal(t, people*(copies-1), super.count(t, `SELECT count(*) FROM lead_activities WHERE kind = 'touchpoint'`))
	require.Zero(t, super.count(t, `SELECT count(*) FROM leads WHERE scored_by IS NULL`), "every lead was qualified")
	require.Zero(t, super.count(t, `SELECT count(*) FROM dead_letter_jobs`))
}
