package handler_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"example.com/crm/pkg/config"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
	"example.com/crm/services/worker/internal/handler"
)

// TestBatchTypes proves which job types may share a transaction: the database-only steps of the
// intake pipeline always, enrich_lead and qualify_lead only while neither the enrichment API nor
// a model is configured (a batch's transaction must never wait on the network), and every type
// named has a handler that is not the "not implemented" one; and that those two then have batch
// handlers (BatchRegistry), as process_intake, route_outreach and follow_up_lead always do.
func TestBatchTypes(t *testing.T) {
	t.Parallel()
	d, _ := dbtest.NewDB(t)
	q := jobs.New(d, jobs.Config{})
	em := events.NewEmitter(q)
	always := []string{jobs.TypeProcessIntake, jobs.TypeRouteOutreach, jobs.TypeFollowUpLead}
	for name, tc := range map[string]struct {
		ai   config.AI
		enr  config.Enrichment
		want []string
	}{
		"offline":        {want: append(always[:3:3], jobs.TypeEnrichLead, jobs.TypeQualifyLead)},
		"model":          {ai: config.AI{APIKey: "sk", Model: "m", BaseURL: "http://127.0.0.1:1"}, want: always},
		"enrichment API": {enr: config.Enrichment{URL: "http://127.0.0.1:1/company"}, want: always},
	} {
		pipe, err := handler.NewLeadPipeline(d.Gorm, em, tc.ai, tc.enr)
		require.NoError(t, err, name)
		deps := handler.Deps{Gorm: d.Gorm, Queue: q, Emitter: em, Log: zap.NewNop(), Pipeline: pipe}
		got := handler.BatchTypes(deps)
		require.ElementsMatch(t, tc.want, got, name)
		var withBatchHandler []string
		for typ := range handler.BatchRegistry(deps) {
			withBatchHandler = append(withBatchHandler, typ)
		}
		if name == "offline" {
			require.ElementsMatch(t, []string{jobs.TypeProcessIntake, jobs.TypeEnrichLead, jobs.TypeQualifyLead, jobs.TypeRouteOutreach, jobs.TypeFollowUpLead}, withBatchHandler, "the set-based pipeline")
		} else {
			require.ElementsMatch(t, []string{jobs.TypeProcessIntake, jobs.TypeRouteOutreach, jobs.TypeFollowUpLead}, withBatchHandler, name)
		}
		reg := handler.Registry(deps)
		for _, typ := range got {
			err := reg[typ](t.Context(), q.NewRun(&jobs.Job{OrgID: [16]byte{1}, Type: typ, Payload: []byte(`"not an object"`)}))
			require.NotErrorIs(t, err, jobs.ErrNotImplemented, "%s: %s", name, typ)
		}
	}
	require.ElementsMatch(t, always, handler.BatchTypes(handler.Deps{Gorm: d.Gorm, Queue: q, Emitter: em}), "no pipeline")
}

// TestBatchHandlersRunThePipeline proves the batch handlers take leads from created to routed:
// enrich_lead, qualify_lead and then route_outreach jobs of several leads, each type run as one
// batch through its batch handler and committed, leave every lead scored and routed once with
// every job completed; the nurture lead's follow-up then runs through its batch handler; and a
// batch holding a job whose payload is not a lead's event is refused, writing nothing, so that
// its jobs run through their Handlers.
func TestBatchHandlersRunThePipeline(t *testing.T) {
	t.Parallel()
	d, url := dbtest.NewDB(t)
	super := dbtest.SuperDB(t, url)
	q := jobs.New(d, jobs.Config{})
	em := events.NewEmitter(q)
	org := dbtest.NewOrg(t, d, "acme")
	pipe, err := handler.NewLeadPipeline(d.Gorm, em, config.AI{}, config.Enrichment{})
	require.NoError(t, err)
	reg := handler.BatchRegistry(handler.Deps{Gorm: d.Gorm, Queue: q, Emitter: em, Pipeline: pipe})
	leads := lead.NewService(d.Gorm, em)
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
		_, err = q.Unclaim(t.Context(), others)
		require.NoError(t, err)
		require.Len(t, mine, want, typ)
		b, err := q.NewBatch(mine)
		require.NoError(t, err)
		defer b.Rollback(t.Context())
		if err := reg[typ](t.Context(), b); err != nil {
			return err
		}
		return b.Commit(t.Context())
	}
	require.NoError(t, runType(jobs.TypeQualifyLead, 3))
	require.NoError(t, runType(jobs.TypeEnrichLead, 3))
	require.NoError(t, runType(jobs.TypeRouteOutreach, 3))
	require.Equal(t, 3, count(`SELECT count(*) FROM leads WHERE scored_by = 'builtin' AND enrichment <> '{}'`))
	require.Equal(t, 3, count(`SELECT count(*) FROM events WHERE type = 'lead.qualified'`))
	require.Equal(t, 3, count(`SELECT count(*) FROM events WHERE type = 'lead.enriched'`))
	require.Equal(t, 2, count(`SELECT count(*) FROM leads WHERE priority = 'high'`), "the two book_call leads")
	require.Equal(t, 1, count(`SELECT count(*) FROM scheduled_tasks`), "the nurture lead's follow-up")
	require.Equal(t, 9, count(`SELECT count(*) FROM jobs WHERE status = 'completed'`))

	// The follow-up, when due, runs through its batch handler too.
	var followUp []byte
	require.NoError(t, super.Pool.QueryRow(t.Context(), `SELECT payload FROM scheduled_tasks`).Scan(&followUp))
	_, err = q.Enqueue(t.Context(), d.Gorm, jobs.NewJob{OrgID: org, Type: jobs.TypeFollowUpLead, IdempotencyKey: "due", Payload: followUp})
	require.NoError(t, err)
	require.NoError(t, runType(jobs.TypeFollowUpLead, 1))
	require.Equal(t, 1, count(`SELECT count(*) FROM lead_activities WHERE kind = 'task' AND dedup_key = 'follow_up:due'`))
	require.Equal(t, 10, count(`SELECT count(*) FROM jobs WHERE status = 'completed'`))

	// A job whose payload is not a lead's event: the batch is refused and writes nothing.
	_, err = leads.Create(t.Context(), org, "test", lead.NewLead{Contact: lead.Contact{Email: "edsger@beta.io"}})
	require.NoError(t, err)
	_, err = super.Pool.Exec(t.Context(), `UPDATE jobs SET payload = '{"eventId": 1, "entityType": "deal"}' WHERE status = 'pending' AND job_type = 'enrich_lead'`)
	require.NoError(t, err)
	_, err = q.Enqueue(t.Context(), d.Gorm, jobs.NewJob{OrgID: org, Type: jobs.TypeEnrichLead, IdempotencyKey: "odd", Payload: []byte(`{"eventId": 2, "entityType": "lead", "entityId": "` + uuid.NewString() + `"}`)})
	require.NoError(t, err)
	err = runType(jobs.TypeEnrichLead, 2)
	require.True(t, jobs.IsPermanent(err), "%v", err)
	require.Equal(t, 3, count(`SELECT count(*) FROM events WHERE type = 'lead.enriched'`))
}
