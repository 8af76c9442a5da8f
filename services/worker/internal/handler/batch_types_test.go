package handler_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/client"
	"example.com/crm/pkg/config"
	"example.com/crm/pkg/contract"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/invoice"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/pipeline"
	"example.com/crm/pkg/report"
	"example.com/crm/services/worker/internal/handler"
)

// TestKindSharing proves which kinds may share a transaction: the database-only steps of the
// intake pipeline, create_invoice, generate_contract, create_client and start_onboarding always,
// enrich_lead and qualify_lead only while neither the enrichment API nor a model is configured (a batch's transaction must never wait on the network); and that the
// worker's kinds are exactly the catalog's, so that every mapped event and seeded cron task
// (catalog.Catalog.Check) names a kind the worker works.
func TestKindSharing(t *testing.T) {
	t.Parallel()
	d, _ := dbtest.NewDB(t)
	q := jobs.New(d, jobs.Config{})
	em := events.NewEmitter(q, catalog.New().EventJobs)
	always := []string{intake.KindProcessIntake, pipeline.KindRouteOutreach, pipeline.KindFollowUpLead, invoice.KindCreateInvoice,
		contract.KindGenerateContract, client.KindCreateClient, client.KindStartOnboarding}
	for name, tc := range map[string]struct {
		ai   config.AI
		enr  config.Enrichment
		want []string
	}{
		"offline":        {want: append(always[:len(always):len(always)], pipeline.KindEnrichLead, pipeline.KindQualifyLead)},
		"model":          {ai: config.AI{APIKey: "sk", Model: "m", BaseURL: "http://127.0.0.1:1"}, want: always},
		"enrichment API": {enr: config.Enrichment{URL: "http://127.0.0.1:1/company"}, want: always},
	} {
		pipe, err := handler.NewLeadPipeline(d, em, tc.ai, tc.enr)
		require.NoError(t, err, name)
		kinds := handler.Kinds(handler.Deps{DB: d, Queue: q, Emitter: em, Log: zap.NewNop(), Pipeline: pipe})
		require.ElementsMatch(t, tc.want, shared(kinds), name)
		cat := catalog.New()
		require.NoError(t, cat.Check(), name)
		require.NoError(t, cat.CheckWorked(handler.Names(kinds)), name)
	}
	require.ElementsMatch(t, always, shared(handler.Kinds(handler.Deps{DB: d, Queue: q, Emitter: em})), "no pipeline")
}

// TestSweepKindsTimeout proves the scheduled sweeps' kinds, and only they, take the sweeps' time
// limit (DefaultSweepTimeout, or Deps.SweepTimeout) in place of the runtime's JOB_TIMEOUT_MS, and
// that every sweep the catalog seeds as a cron task is one of them but the weekly report (one
// statement).
func TestSweepKindsTimeout(t *testing.T) {
	t.Parallel()
	d, _ := dbtest.NewDB(t)
	q := jobs.New(d, jobs.Config{})
	em := events.NewEmitter(q, catalog.New().EventJobs)
	for _, tc := range []struct {
		set, want time.Duration
	}{{0, handler.DefaultSweepTimeout}, {7 * time.Minute, 7 * time.Minute}} {
		var sweeps []string
		for _, k := range handler.Kinds(handler.Deps{DB: d, Queue: q, Emitter: em, SweepTimeout: tc.set}) {
			if k.Timeout() == 0 {
				continue
			}
			require.Equal(t, tc.want, k.Timeout(), k.Name())
			sweeps = append(sweeps, k.Name())
		}
		require.ElementsMatch(t, handler.SweepKinds, sweeps)
	}
	var seeded []string
	for _, task := range catalog.New().CronTasks {
		if task.JobType != report.KindGenerateWeeklyReport {
			seeded = append(seeded, task.JobType)
		}
	}
	require.ElementsMatch(t, handler.SweepKinds, seeded)
}

// shared are the names of the kinds whose jobs may share a transaction.
func shared(kinds []jobs.Kind) []string {
	var out []string
	for _, k := range kinds {
		if k.Shared() {
			out = append(out, k.Name())
		}
	}
	return out
}

// TestBatchesRunThePipeline proves the kinds' batch work takes leads from created to routed:
// enrich_lead, qualify_lead and then route_outreach jobs of several leads, each kind worked as
// one batch and committed, leave every lead scored and routed once with every job completed;
// the nurture lead's follow-up then runs as a batch too; and a batch holding a job whose payload
// is not a lead's event is refused permanently, writing nothing.
func TestBatchesRunThePipeline(t *testing.T) {
	t.Parallel()
	d, url := dbtest.NewDB(t)
	super := dbtest.SuperDB(t, url)
	q := jobs.New(d, jobs.Config{})
	em := events.NewEmitter(q, catalog.New().EventJobs)
	org := dbtest.NewOrg(t, d, "acme")
	pipe, err := handler.NewLeadPipeline(d, em, config.AI{}, config.Enrichment{})
	require.NoError(t, err)
	kinds := handler.Kinds(handler.Deps{DB: d, Queue: q, Emitter: em, Pipeline: pipe})
	leads := lead.NewService(d, em)
	for i, email := range []string{"ada@acme.io", "grace@gmail.com", "alan@beta.io"} {
		_, err := leads.Create(t.Context(), org, "test", lead.NewLead{Contact: lead.Contact{Email: email, Title: []string{"CTO", "", "VP"}[i]}})
		require.NoError(t, err)
	}
	count := func(sql string) int {
		var n int
		require.NoError(t, super.Pool.QueryRow(t.Context(), sql).Scan(&n))
		return n
	}
	// runType claims every pending job, and runs those of typ as one batch.
	runType := func(typ string, want int) error {
		claimed, err := q.Claim(t.Context(), jobs.NewClaimID("test"), 100)
		require.NoError(t, err)
		var mine, others []*jobs.Job
		for _, j := range claimed {
			if j.Type == typ {
				mine = append(mine, j)
			} else {
				others = append(others, j)
			}
		}
		_, err = q.Unclaim(t.Context(), others, "not started: another type")
		require.NoError(t, err)
		require.Len(t, mine, want, typ)
		return workBatch(t.Context(), q, kinds, mine)
	}
	require.NoError(t, runType(pipeline.KindQualifyLead, 3))
	require.NoError(t, runType(pipeline.KindEnrichLead, 3))
	require.NoError(t, runType(pipeline.KindRouteOutreach, 3))
	require.Equal(t, 3, count(`SELECT count(*) FROM leads WHERE scored_by = 'builtin' AND enrichment <> '{}'`))
	require.Equal(t, 3, count(`SELECT count(*) FROM events WHERE type = 'lead.qualified'`))
	require.Equal(t, 3, count(`SELECT count(*) FROM events WHERE type = 'lead.enriched'`))
	require.Equal(t, 2, count(`SELECT count(*) FROM leads WHERE priority = 'high'`), "the two book_call leads")
	require.Equal(t, 1, count(`SELECT count(*) FROM scheduled_tasks`), "the nurture lead's follow-up")
	require.Equal(t, 9, count(`SELECT count(*) FROM jobs WHERE status = 'completed'`))

	// The follow-up, when due, runs as a batch too.
	var followUp []byte
	require.NoError(t, super.Pool.QueryRow(t.Context(), `SELECT payload FROM scheduled_tasks`).Scan(&followUp))
	_, err = q.Enqueue(t.Context(), d.Gorm, jobs.NewJob{OrgID: org, Type: pipeline.KindFollowUpLead, IdempotencyKey: "due", Payload: followUp})
	require.NoError(t, err)
	require.NoError(t, runType(pipeline.KindFollowUpLead, 1))
	require.Equal(t, 1, count(`SELECT count(*) FROM lead_activities WHERE kind = 'task' AND dedup_key = 'follow_up:due'`))
	require.Equal(t, 10, count(`SELECT count(*) FROM jobs WHERE status = 'completed'`))

	// A job whose payload is not a lead's event: the batch is refused and writes nothing.
	_, err = leads.Create(t.Context(), org, "test", lead.NewLead{Contact: lead.Contact{Email: "edsger@beta.io"}})
	require.NoError(t, err)
	_, err = super.Pool.Exec(t.Context(), `UPDATE jobs SET payload = '{"eventId": 1, "entityType": "deal"}' WHERE status = 'pending' AND job_type = 'enrich_lead'`)
	require.NoError(t, err)
	_, err = q.Enqueue(t.Context(), d.Gorm, jobs.NewJob{OrgID: org, Type: pipeline.KindEnrichLead, IdempotencyKey: "odd", Payload: []byte(`{"eventId": 2, "entityType": "lead", "entityId": "` + uuid.NewString() + `"}`)})
	require.NoError(t, err)
	err = runType(pipeline.KindEnrichLead, 2)
	require.True(t, jobs.IsPermanent(err), "%v", err)
	require.Equal(t, 3, count(`SELECT count(*) FROM events WHERE type = 'lead.enriched'`))
}
