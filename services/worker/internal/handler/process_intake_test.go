package handler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/config"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/pipeline"
	"example.com/crm/services/worker/internal/handler"
	"example.com/crm/services/worker/internal/runtime"
)

// bundle is a fresh database, one org, the queue and emitter the worker uses, the registry
// under test, and a superuser handle for assertions (row-level security hides rows otherwise).
type bundle struct {
	d       *db.DB
	super   *db.DB
	org     uuid.UUID
	queue   *jobs.Queue
	emitter *events.Emitter
	kinds   []jobs.Kind
}

func setup(t *testing.T) *bundle {
	t.Helper()
	d, url := dbtest.NewDB(t)
	q := jobs.New(d, jobs.Config{BaseDelay: time.Hour, MaxAttempts: 3})
	em := events.NewEmitter(q, catalog.New().EventJobs)
	return &bundle{
		d: d, super: dbtest.SuperDB(t, url), org: dbtest.NewOrg(t, d, "acme"), queue: q, emitter: em,
		kinds: handler.Kinds(handler.Deps{DB: d, Queue: q, Emitter: em, Log: zaptest.NewLogger(t)}),
	}
}

func (b *bundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), sql, args...).Scan(&n))
	return n
}

// accept stores a delivery as the gateway does: the raw row and its process_intake job.
func (b *bundle) accept(t *testing.T, body string) uuid.UUID {
	t.Helper()
	a, err := intake.NewAcceptor(b.d, jobs.Config{}).Accept(t.Context(), intake.Delivery{
		OrgID: b.org, DeliveryKey: uuid.NewString(), ContentType: "application/json", Body: []byte(body),
	})
	require.NoError(t, err)
	return a.IntakeID
}

// claim leases every runnable job and returns them by id; the tests run the ones they want.
func (b *bundle) claim(t *testing.T) map[int64]*jobs.Job {
	t.Helper()
	got, err := b.queue.Claim(t.Context(), jobs.NewClaimID("handler-test"), 1000)
	require.NoError(t, err)
	out := make(map[int64]*jobs.Job, len(got))
	for _, j := range got {
		out[j.ID] = j
	}
	return out
}

// enqueue adds a job of jobType with payload and returns its id.
func (b *bundle) enqueue(t *testing.T, jobType string, payload any) int64 {
	t.Helper()
	ids, err := b.queue.Enqueue(t.Context(), b.d.Gorm, jobs.NewJob{OrgID: b.org, Type: jobType, Payload: payload, IdempotencyKey: uuid.NewString()})
	require.NoError(t, err)
	return ids[0]
}

// run works job through its kind as the runtime would, alone.
func (b *bundle) run(ctx context.Context, job *jobs.Job) error {
	_, err := workOne(ctx, b.queue, b.kinds, job)
	return err
}

// jobStatus is the status of job id.
func (b *bundle) jobStatus(t *testing.T, id int64) string {
	t.Helper()
	var s string
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT status FROM jobs WHERE id = $1`, id).Scan(&s))
	return s
}

// TestProcessIntakeHandler proves the process_intake job turns a raw row into a lead with
// lead.created and its enrich_lead and qualify_lead jobs, completing the job in the same
// transaction; a second delivery of the job (at least once) changes nothing; a duplicate
// becomes a touchpoint; a rejection completes the job; a missing raw row is permanent.
func TestProcessIntakeHandler(t *testing.T) {
	t.Parallel()
	b := setup(t)
	raw := b.accept(t, `{"email": "Ada@Example.com", "name": "Ada Lovelace"}`)
	jobsNow := b.claim(t)
	require.Len(t, jobsNow, 1)
	for id, j := range jobsNow {
		require.Equal(t, intake.KindProcessIntake, j.Type)
		require.NoError(t, b.run(t.Context(), j))
		require.Equal(t, "completed", b.jobStatus(t, id))
	}
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM leads WHERE org_id = $1 AND intake_id = $2 AND email = 'ada@example.com'`, b.org, raw))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1 AND type = 'lead.created'`, b.org))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM jobs WHERE org_id = $1 AND job_type = 'enrich_lead' AND status = 'pending'`, b.org))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM jobs WHERE org_id = $1 AND job_type = 'qualify_lead' AND status = 'pending'`, b.org))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_intake_raw WHERE id = $1 AND status = 'processed'`, raw))

	// The same job delivered again (a second job for the same raw row): nothing more.
	rerun := b.enqueue(t, intake.KindProcessIntake, intake.ProcessIntakeJob{IntakeID: raw})
	claimed := b.claim(t)
	require.Contains(t, claimed, rerun)
	require.NoError(t, b.run(t.Context(), claimed[rerun]))
	require.Equal(t, "completed", b.jobStatus(t, rerun))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM leads WHERE org_id = $1`, b.org))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1`, b.org))

	// A duplicate and a rejection complete their jobs too.
	dup := b.accept(t, `{"email": " ADA@example.com"}`)
	bad := b.accept(t, `{"name": "No Contact"}`)
	for _, j := range b.claim(t) {
		if j.Type == intake.KindProcessIntake {
			require.NoError(t, b.run(t.Context(), j))
			require.Equal(t, "completed", b.jobStatus(t, j.ID))
		}
	}
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_intake_raw WHERE id = $1 AND status = 'duplicate' AND lead_id IS NOT NULL`, dup))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_activities WHERE org_id = $1 AND kind = 'touchpoint' AND dedup_key = $2`, b.org, "intake:"+dup.String()))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_intake_raw WHERE id = $1 AND status = 'rejected' AND reject_reason LIKE '%one of email%'`, bad))

	// A raw row that does not exist, and a payload that is not one, are permanent.
	missing := b.enqueue(t, intake.KindProcessIntake, intake.ProcessIntakeJob{IntakeID: uuid.New()})
	garbage := b.enqueue(t, intake.KindProcessIntake, json.RawMessage(`[1]`))
	claimed = b.claim(t)
	require.True(t, jobs.IsPermanent(b.run(t.Context(), claimed[missing])))
	require.True(t, jobs.IsPermanent(b.run(t.Context(), claimed[garbage])))
}

// TestProcessIntakeHandlerConcurrent proves 20 process_intake jobs for deliveries of one person,
// run at the same time, make one lead and 19 touchpoints, and all complete.
func TestProcessIntakeHandlerConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const n = 20
	for i := range n {
		b.accept(t, fmt.Sprintf(`{"email": "same@example.com", "notes": "copy %d"}`, i))
	}
	claimed := b.claim(t)
	require.Len(t, claimed, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, j := range claimed {
		wg.Go(func() { errs <- b.run(t.Context(), j) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM leads WHERE org_id = $1`, b.org))
	require.Equal(t, n-1, b.count(t, `SELECT count(*) FROM lead_activities WHERE org_id = $1 AND kind = 'touchpoint'`, b.org))
	require.Equal(t, n, b.count(t, `SELECT count(*) FROM jobs WHERE org_id = $1 AND job_type = 'process_intake' AND status = 'completed'`, b.org))
}

// TestPipelineThroughRuntime proves the registry wiring with the real runtime and the wired
// lead pipeline (local enrichment, built-in scorer): a delivery is processed into a lead, which
// is enriched, qualified and routed by its recommended path, every job completing.
func TestPipelineThroughRuntime(t *testing.T) {
	t.Parallel()
	b := setup(t)
	lp, err := handler.NewLeadPipeline(b.d, b.emitter, config.AI{}, config.Enrichment{})
	require.NoError(t, err)
	kinds := handler.Kinds(handler.Deps{DB: b.d, Queue: b.queue, Emitter: b.emitter, Log: zaptest.NewLogger(t), Pipeline: lp})
	raw := b.accept(t, `{"email": "ceo@runtime-example.com", "name": "Rita Runtime", "title": "CEO", "company": "Runtime Ltd"}`)
	rt := runtime.New(runtime.Config{WorkerID: "handler-test", Concurrency: 4, PollInterval: 50 * time.Millisecond},
		b.d, b.queue, kinds, zaptest.NewLogger(t), prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})

	require.Eventually(t, func() bool {
		return b.count(t, `SELECT count(*) FROM jobs WHERE org_id = $1 AND job_type = 'route_outreach' AND status = 'completed'`, b.org) == 1
	}, 30*time.Second, 20*time.Millisecond)
	// enrich_lead runs beside qualify_lead and may still be finishing once the lead is routed.
	require.Eventually(t, func() bool {
		return b.count(t, `SELECT count(*) FROM jobs WHERE org_id = $1 AND status <> 'completed'`, b.org) == 0
	}, 30*time.Second, 20*time.Millisecond, "every job completed")
	var leadID uuid.UUID
	var path, stage string
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT l.id, l.recommended_path, l.stage FROM lead_intake_raw r
		JOIN leads l ON l.id = r.lead_id WHERE r.id = $1 AND r.status = 'processed'`, raw).Scan(&leadID, &path, &stage))
	switch pipeline.Path(path) {
	case pipeline.PathBookCall:
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_activities WHERE lead_id = $1 AND kind = 'task'`, leadID))
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM leads WHERE id = $1 AND priority IN ('high', 'urgent')`, leadID))
	case pipeline.PathNurture:
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM scheduled_tasks WHERE entity_id = $1 AND job_type = 'follow_up_lead'`, leadID))
	default:
		require.Equal(t, "disqualified", stage)
	}
}
