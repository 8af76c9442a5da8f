package handler_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/ai/aitest"
	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/config"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/pipeline"
	"example.com/crm/services/worker/internal/handler"
)

// pipeFixture is a fresh database with one org (with an ICP), the queue and emitter, a fake
// enrichment API speaking the README contract, and the enrich_lead and qualify_lead kinds
// built by handler.NewLeadPipeline.
type pipeFixture struct {
	d        *db.DB
	super    *db.DB
	org      uuid.UUID
	queue    *jobs.Queue
	leads    *lead.Service
	kinds    []jobs.Kind
	apiCalls *atomic.Int32
}

// newPipeFixture builds the fixture; aiURL "" means the built-in scorer, enrichStatus the fake
// enrichment API's status (200 answers a company).
func newPipeFixture(t *testing.T, aiURL string, enrichStatus int) *pipeFixture {
	t.Helper()
	d, url := dbtest.NewDB(t)
	q := jobs.New(d, jobs.Config{MaxAttempts: 3})
	em := events.NewEmitter(q, catalog.New().EventJobs)
	f := &pipeFixture{d: d, super: dbtest.SuperDB(t, url), org: dbtest.NewOrg(t, d, "acme"), queue: q,
		leads: lead.NewService(d, em), apiCalls: &atomic.Int32{}}
	_, err := f.super.Pool.Exec(t.Context(), `UPDATE orgs SET icp = $1::jsonb WHERE id = $2`,
		`{"industries":["saas"],"minEmployees":50,"maxEmployees":1000,"countries":["GB"],"seniorities":["c_level"]}`, f.org)
	require.NoError(t, err)

	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.apiCalls.Add(1)
		if r.Header.Get("Authorization") != "Bearer ek" || r.URL.Query().Get("domain") == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(enrichStatus)
		if enrichStatus == http.StatusOK {
			_, _ = w.Write([]byte(`{"company":"Acme Ltd","employees":240,"industry":"B2B SaaS","country":"GB","revenueUsd":30000000}`))
		}
	}))
	t.Cleanup(api.Close)

	aiCfg := config.AI{}
	if aiURL != "" {
		aiCfg = config.AI{APIKey: "sk-test", Model: "gpt-test", BaseURL: aiURL}
	}
	pipe, err := handler.NewLeadPipeline(d, em, aiCfg, config.Enrichment{URL: api.URL + "/company", APIKey: "ek"})
	require.NoError(t, err)
	f.kinds = []jobs.Kind{handler.EnrichLead(pipe), handler.QualifyLead(pipe)}
	return f
}

// create makes a lead by hand, which emits lead.created and enqueues enrich_lead and
// qualify_lead; it claims both and returns them by type.
func (f *pipeFixture) create(t *testing.T) (lead.Lead, map[string]*jobs.Job) {
	t.Helper()
	l, err := f.leads.Create(t.Context(), f.org, "test", lead.NewLead{Contact: lead.Contact{
		Email: "ada@acme.co.uk", Name: "Ada Lovelace", Title: "Chief Technology Officer", Company: "Acme",
		Phone: "+44 20 7946 0000", Website: "https://www.acme.co.uk"}})
	require.NoError(t, err)
	claimed, err := f.queue.Claim(t.Context(), "test-worker", 10)
	require.NoError(t, err)
	require.Len(t, claimed, 2)
	byType := map[string]*jobs.Job{}
	for _, j := range claimed {
		byType[j.Type] = j
	}
	require.Contains(t, byType, pipeline.KindEnrichLead)
	require.Contains(t, byType, pipeline.KindQualifyLead)
	return l, byType
}

// run works job through its kind on a real attempt of it, alone.
func (f *pipeFixture) run(ctx context.Context, job *jobs.Job) (*jobs.Run, error) {
	return workOne(ctx, f.queue, f.kinds, job)
}

func (f *pipeFixture) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, f.super.Pool.QueryRow(t.Context(), sql, args...).Scan(&n))
	return n
}

func (f *pipeFixture) status(t *testing.T, id int64) string {
	t.Helper()
	var s string
	require.NoError(t, f.super.Pool.QueryRow(t.Context(), `SELECT status FROM jobs WHERE id = $1`, id).Scan(&s))
	return s
}

// TestLeadPipelineEndToEnd takes one lead from created through enriched to qualified, with
// lead.qualified emitted and route_outreach enqueued, for both scorers and both job orders.
func TestLeadPipelineEndToEnd(t *testing.T) {
	t.Parallel()
	aiAnswer := `{"score":88,"reasons":["CTO of a 240-person SaaS company in GB"],"icpMatch":true,"recommendedPath":"book_call"}`
	for _, tc := range []struct {
		name         string
		ai           bool
		qualifyFirst bool
	}{
		{"builtin, enrich first", false, false},
		{"builtin, qualify first", false, true},
		{"ai, enrich first", true, false},
		{"ai, qualify first (429 then success)", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			aiURL, wantModel := "", "builtin"
			if tc.ai {
				srv := aitest.NewServer(t, aitest.RateLimited(), aitest.Content(aiAnswer))
				aiURL, wantModel = srv.URL, "gpt-4o-2024-08-06"
			}
			f := newPipeFixture(t, aiURL, http.StatusOK)
			l, js := f.create(t)
			order := []*jobs.Job{js[pipeline.KindEnrichLead], js[pipeline.KindQualifyLead]}
			if tc.qualifyFirst {
				order[0], order[1] = order[1], order[0]
			}
			for _, j := range order {
				run, err := f.run(t.Context(), j)
				require.NoError(t, err, j.Type)
				require.True(t, run.Completed(), j.Type)
				require.Equal(t, "completed", f.status(t, j.ID), j.Type)
			}
			require.Equal(t, int32(1), f.apiCalls.Load(), "the enrichment API is asked once")

			var stage, scoredBy, band string
			var score int
			var icp bool
			var industry string
			require.NoError(t, f.super.Pool.QueryRow(t.Context(), `SELECT stage, score, icp_match, scored_by, revenue_band,
	enrichment->'company'->>'industry' FROM leads WHERE id = $1`, l.ID).Scan(&stage, &score, &icp, &scoredBy, &band, &industry))
			require.Equal(t, "qualified", stage)
			require.Equal(t, wantModel, scoredBy)
			require.True(t, icp)
			require.Equal(t, "10M-50M", band)
			require.Equal(t, "B2B SaaS", industry)
			if !tc.ai {
				require.Equal(t, 40+20+12+15+10, score)
			} else {
				require.Equal(t, 88, score)
			}

			for typ, want := range map[string]int{lead.EventCreated: 1, lead.EventEnriched: 1, lead.EventQualified: 1, lead.EventStageChanged: 1} {
				require.Equal(t, want, f.count(t, `SELECT count(*) FROM events WHERE type = $1 AND entity_id = $2`, typ, l.ID), typ)
			}
			require.Equal(t, 1, f.count(t, `SELECT count(*) FROM jobs WHERE job_type = 'route_outreach' AND status = 'pending'`))
			var key string
			require.NoError(t, f.super.Pool.QueryRow(t.Context(),
				`SELECT idempotency_key FROM events WHERE type = 'lead.qualified' AND entity_id = $1`, l.ID).Scan(&key))
			require.Equal(t, "lead.qualified:"+l.ID.String(), key)
		})
	}
}

// TestLeadPipelineErrors proves how external failures reach the queue: retryable ones leave the
// job uncompleted with nothing written, permanent ones are jobs.Permanent.
func TestLeadPipelineErrors(t *testing.T) {
	t.Parallel()

	t.Run("enrichment 503 is retried", func(t *testing.T) {
		t.Parallel()
		f := newPipeFixture(t, "", http.StatusServiceUnavailable)
		l, js := f.create(t)
		for _, typ := range []string{pipeline.KindEnrichLead, pipeline.KindQualifyLead} {
			run, err := f.run(t.Context(), js[typ])
			require.Error(t, err, typ)
			require.False(t, jobs.IsPermanent(err), typ)
			require.False(t, run.Completed())
		}
		require.Equal(t, 0, f.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type <> 'lead.created'`, l.ID))
	})

	t.Run("enrichment 403 is permanent for enrich_lead only", func(t *testing.T) {
		t.Parallel()
		f := newPipeFixture(t, "", http.StatusForbidden)
		l, js := f.create(t)
		_, err := f.run(t.Context(), js[pipeline.KindEnrichLead])
		require.True(t, jobs.IsPermanent(err), "%v", err)
		run, err := f.run(t.Context(), js[pipeline.KindQualifyLead])
		require.NoError(t, err)
		require.True(t, run.Completed())
		require.Equal(t, 1, f.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type = 'lead.qualified'`, l.ID))
		require.Equal(t, 0, f.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type = 'lead.enriched'`, l.ID))
	})

	for name, tc := range map[string]struct {
		reply     aitest.Reply
		permanent bool
	}{
		"ai malformed is retried": {aitest.Content(`{"score": "high"}`), false},
		"ai refusal is permanent": {aitest.Refusal("I can't assess people."), true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := aitest.NewServer(t, tc.reply)
			f := newPipeFixture(t, srv.URL, http.StatusOK)
			l, js := f.create(t)
			run, err := f.run(t.Context(), js[pipeline.KindQualifyLead])
			require.Error(t, err)
			require.Equal(t, tc.permanent, jobs.IsPermanent(err), "%v", err)
			require.False(t, run.Completed())
			require.Equal(t, 0, f.count(t, `SELECT count(*) FROM leads WHERE id = $1 AND score IS NOT NULL`, l.ID))
			require.Equal(t, 0, f.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type <> 'lead.created'`, l.ID),
				"nothing of the failed attempt is kept, not even the enrichment")
		})
	}

	t.Run("a payload that is not about a lead is permanent", func(t *testing.T) {
		t.Parallel()
		f := newPipeFixture(t, "", http.StatusOK)
		_, err := f.run(t.Context(), &jobs.Job{OrgID: f.org, Type: pipeline.KindQualifyLead, Payload: []byte(`{"eventId":1,"entityType":"deal"}`)})
		require.True(t, jobs.IsPermanent(err))
		_, err = f.run(t.Context(), &jobs.Job{OrgID: f.org, Type: pipeline.KindEnrichLead, Payload: []byte(`[`)})
		require.True(t, jobs.IsPermanent(err))
	})
}

// TestLeadPipelineConcurrentJobs runs enrich_lead and qualify_lead of one lead at the same time,
// as two workers would: both complete, the lead is enriched and qualified once each.
func TestLeadPipelineConcurrentJobs(t *testing.T) {
	t.Parallel()
	f := newPipeFixture(t, "", http.StatusOK)
	l, js := f.create(t)
	errs := make(chan error, 2)
	for _, j := range js {
		go func() {
			_, err := f.run(t.Context(), j)
			errs <- err
		}()
	}
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	for _, j := range js {
		require.Equal(t, "completed", f.status(t, j.ID), j.Type)
	}
	for _, typ := range []string{lead.EventEnriched, lead.EventQualified, lead.EventStageChanged} {
		require.Equal(t, 1, f.count(t, `SELECT count(*) FROM events WHERE type = $1 AND entity_id = $2`, typ, l.ID), typ)
	}
	require.LessOrEqual(t, f.apiCalls.Load(), int32(2), "at most one extra API call when both run at once")
	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM leads WHERE id = $1 AND stage = 'qualified' AND enrichment <> '{}'::jsonb`, l.ID))
}
