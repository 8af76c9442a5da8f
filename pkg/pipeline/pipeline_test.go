package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/ai"
	"example.com/crm/pkg/ai/aitest"
	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/enrichment"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/pipeline"
	"example.com/crm/pkg/scoring"
)

// fakeEnricher counts calls and answers Local with a fixed company, or err.
type fakeEnricher struct {
	calls atomic.Int32
	err   error
}

func (f *fakeEnricher) Enrich(_ context.Context, in enrichment.Input) (enrichment.Result, error) {
	f.calls.Add(1)
	if f.err != nil {
		return enrichment.Result{}, f.err
	}
	r := enrichment.Local(in)
	emp := 300
	r.Source, r.Found, r.Company, r.RevenueBand = "api", true, &enrichment.Company{Name: "Acme", Employees: &emp, Industry: "SaaS"}, "<1M"
	return r, nil
}

// pipeBundle is a fresh database, the lead service, a pipeline with a fake enricher and the
// built-in scorer, and a commit that runs a plain tenant transaction.
type pipeBundle struct {
	*bundle
	d        *db.DB
	enricher *fakeEnricher
	pipe     *pipeline.Pipeline
	commit   pipeline.Commit
}

func setupPipeline(t *testing.T, scorer pipeline.Scorer) *pipeBundle {
	t.Helper()
	d, url := dbtest.NewDB(t)
	em := events.NewEmitter(jobs.New(d, jobs.Config{}), catalog.New().EventJobs)
	b := &bundle{svc: lead.NewService(d, em), super: dbtest.SuperDB(t, url), org: dbtest.NewOrg(t, d, "acme")}
	if scorer == nil {
		scorer = scoring.Builtin{}
	}
	f := &fakeEnricher{}
	pb := &pipeBundle{bundle: b, d: d, enricher: f, pipe: pipeline.New(d, em, f, scorer)}
	pb.commit = func(ctx context.Context, fn func(tx *gorm.DB) error) error { return d.Tx(ctx, b.org, fn) }
	return pb
}

func (b *pipeBundle) newLead(t *testing.T) lead.Lead {
	t.Helper()
	l, err := b.svc.Create(t.Context(), b.org, "test", lead.NewLead{Contact: lead.Contact{
		Email: "ada@acme.io", Name: "Ada Lovelace", Title: "CTO", Company: "Acme", Phone: "+44 20 1234", Website: "https://www.acme.io"}})
	require.NoError(t, err)
	return l
}

func (b *pipeBundle) events(t *testing.T, typ string, id uuid.UUID) int {
	t.Helper()
	return b.count(t, `SELECT count(*) FROM events WHERE type = $1 AND entity_id = $2`, typ, id)
}

func TestEnrichStoresOnce(t *testing.T) {
	t.Parallel()
	b := setupPipeline(t, nil)
	l := b.newLead(t)
	require.NoError(t, b.pipe.Enrich(t.Context(), b.org, []uuid.UUID{l.ID}, b.commit))
	require.NoError(t, b.pipe.Enrich(t.Context(), b.org, []uuid.UUID{l.ID}, b.commit), "a rerun is a no-op")
	require.Equal(t, int32(1), b.enricher.calls.Load(), "the second run sees the enrichment and calls nothing")
	require.Equal(t, 1, b.events(t, lead.EventEnriched, l.ID))

	got, err := b.svc.Get(t.Context(), b.org, l.ID)
	require.NoError(t, err)
	require.Equal(t, "<1M", *got.RevenueBand)
	require.Equal(t, "acme.io", *got.Domain)
	require.JSONEq(t, `{"domain":"acme.io","emailDomain":"acme.io","freeMail":false,"source":"api","found":true,
		"company":{"name":"Acme","employees":300,"industry":"SaaS"},"revenueBand":"<1M"}`, string(got.Enrichment))
	require.Equal(t, l.Version, got.Version, "enrichment is derived data: the version stays")
}

func TestEnrichErrors(t *testing.T) {
	t.Parallel()
	b := setupPipeline(t, nil)
	l := b.newLead(t)
	b.enricher.err = errors.New("503")
	err := b.pipe.Enrich(t.Context(), b.org, []uuid.UUID{l.ID}, b.commit)
	require.Error(t, err)
	require.False(t, jobs.IsPermanent(err))

	require.Equal(t, 0, b.events(t, lead.EventEnriched, l.ID), "nothing written")

	// A deleted lead completes with nothing to do.
	require.NoError(t, b.svc.Delete(t.Context(), b.org, "test", l.ID))
	b.enricher.err = nil
	require.NoError(t, b.pipe.Enrich(t.Context(), b.org, []uuid.UUID{l.ID}, b.commit))
	require.NoError(t, b.pipe.Qualify(t.Context(), b.org, []uuid.UUID{l.ID}, b.commit))
	require.Equal(t, int32(1), b.enricher.calls.Load(), "only the failed call before the delete")
}

// TestQualifyBeforeEnrich proves the ordering rule: qualify_lead running first enriches the lead
// itself, stores that enrichment with lead.enriched, and enrich_lead afterwards does nothing.
func TestQualifyBeforeEnrich(t *testing.T) {
	t.Parallel()
	b := setupPipeline(t, nil)
	l := b.newLead(t)
	require.NoError(t, b.pipe.Qualify(t.Context(), b.org, []uuid.UUID{l.ID}, b.commit))
	require.NoError(t, b.pipe.Enrich(t.Context(), b.org, []uuid.UUID{l.ID}, b.commit))
	require.NoError(t, b.pipe.Qualify(t.Context(), b.org, []uuid.UUID{l.ID}, b.commit), "a rerun is a no-op")
	require.Equal(t, int32(1), b.enricher.calls.Load())

	got, err := b.svc.Get(t.Context(), b.org, l.ID)
	require.NoError(t, err)
	require.Equal(t, lead.StageQualified, got.Stage)
	require.Equal(t, scoring.PathBookCall, scoring.Path(*got.RecommendedPath))
	require.True(t, *got.ICPMatch)
	require.Equal(t, 40+20+12+15+10, *got.Score, "enriched with 300 employees: the scorer saw the enrichment")
	require.Equal(t, l.Version+1, got.Version)
	var scoredBy string
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT scored_by FROM leads WHERE id = $1`, l.ID).Scan(&scoredBy))
	require.Equal(t, "builtin", scoredBy)

	for typ, want := range map[string]int{lead.EventEnriched: 1, lead.EventQualified: 1, lead.EventStageChanged: 1} {
		require.Equal(t, want, b.events(t, typ, l.ID), typ)
	}
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM jobs WHERE job_type = 'route_outreach'`))
	var by string
	require.NoError(t, b.super.Pool.QueryRow(t.Context(),
		`SELECT payload->>'by' FROM events WHERE type = 'lead.enriched' AND entity_id = $1`, l.ID).Scan(&by))
	require.Equal(t, "qualify_lead", by)
}

// TestQualifyPermanentEnrichmentFailure proves that a broken enrichment API does not block
// qualification: it scores with the local enrichment and stores none.
func TestQualifyPermanentEnrichmentFailure(t *testing.T) {
	t.Parallel()
	b := setupPipeline(t, nil)
	l := b.newLead(t)
	b.enricher.err = permanentEnrichErr(t)
	require.NoError(t, b.pipe.Qualify(t.Context(), b.org, []uuid.UUID{l.ID}, b.commit))
	got, err := b.svc.Get(t.Context(), b.org, l.ID)
	require.NoError(t, err)
	require.NotNil(t, got.Score)
	require.JSONEq(t, `{}`, string(got.Enrichment))
	require.Equal(t, 0, b.events(t, lead.EventEnriched, l.ID))
	require.Equal(t, 1, b.events(t, lead.EventQualified, l.ID))

	// A retryable failure is returned and writes nothing.
	l2, err := b.svc.Create(t.Context(), b.org, "test", lead.NewLead{Contact: lead.Contact{Email: "bo@beta.io"}})
	require.NoError(t, err)
	b.enricher.err = errors.New("timeout")
	err = b.pipe.Qualify(t.Context(), b.org, []uuid.UUID{l2.ID}, b.commit)
	require.Error(t, err)
	require.False(t, jobs.IsPermanent(err))
	require.Equal(t, 0, b.events(t, lead.EventQualified, l2.ID))
}

// permanentEnrichErr returns a real permanent error of the enrichment client (a 401).
func permanentEnrichErr(t *testing.T) error {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	c, err := enrichment.New(enrichment.Config{URL: srv.URL})
	require.NoError(t, err)
	_, err = c.Enrich(t.Context(), enrichment.Input{Email: "a@acme.io"})
	require.True(t, enrichment.IsPermanent(err), "%v", err)
	return err
}

// TestQualifyLeadThatMovedOn proves the score is stored but the stage left alone when a person
// moved the lead before qualification ran.
func TestQualifyLeadThatMovedOn(t *testing.T) {
	t.Parallel()
	b := setupPipeline(t, nil)
	l := b.newLead(t)
	moved, err := b.svc.ChangeStage(t.Context(), b.org, "test", l.ID, lead.StageNurture, "met at a fair")
	require.NoError(t, err)
	require.NoError(t, b.pipe.Qualify(t.Context(), b.org, []uuid.UUID{l.ID}, b.commit))
	got, err := b.svc.Get(t.Context(), b.org, l.ID)
	require.NoError(t, err)
	require.Equal(t, lead.StageNurture, got.Stage)
	require.Equal(t, "book_call", *got.RecommendedPath)
	require.Equal(t, moved.Version, got.Version)
	var changed bool
	require.NoError(t, b.super.Pool.QueryRow(t.Context(),
		`SELECT (payload->>'stageChanged')::bool FROM events WHERE type = 'lead.qualified' AND entity_id = $1`, l.ID).Scan(&changed))
	require.False(t, changed)
	require.Equal(t, 1, b.events(t, lead.EventStageChanged, l.ID), "only the person's move")
}

func TestQualifyPaths(t *testing.T) {
	t.Parallel()
	for path, stage := range pipeline.PathStage {
		t.Run(string(path), func(t *testing.T) {
			t.Parallel()
			srv := aitest.NewServer(t, aitest.JSON(map[string]any{
				"score": 50, "reasons": []string{"r"}, "icpMatch": false, "recommendedPath": path}))
			c, err := ai.New(ai.Config{APIKey: "sk", BaseURL: srv.URL})
			require.NoError(t, err)
			b := setupPipeline(t, scoring.NewAI(c))
			l := b.newLead(t)
			require.NoError(t, b.pipe.Qualify(t.Context(), b.org, []uuid.UUID{l.ID}, b.commit))
			got, err := b.svc.Get(t.Context(), b.org, l.ID)
			require.NoError(t, err)
			require.Equal(t, stage, got.Stage)
			require.Equal(t, 50, *got.Score)
			require.JSONEq(t, `["r"]`, string(got.ScoreReasons))
		})
	}
}

func TestQualifyAIErrors(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		reply     aitest.Reply
		permanent bool
	}{
		"malformed": {aitest.Content(`{"score":`), false},
		"refusal":   {aitest.Refusal("no"), true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := aitest.NewServer(t, tc.reply)
			c, err := ai.New(ai.Config{APIKey: "sk", BaseURL: srv.URL})
			require.NoError(t, err)
			b := setupPipeline(t, scoring.NewAI(c))
			l := b.newLead(t)
			err = b.pipe.Qualify(t.Context(), b.org, []uuid.UUID{l.ID}, b.commit)
			require.Error(t, err)
			require.Equal(t, tc.permanent, jobs.IsPermanent(err), "%v", err)
			got, err := b.svc.Get(t.Context(), b.org, l.ID)
			require.NoError(t, err)
			require.Nil(t, got.Score, "a bad answer is never half-written")
			require.Equal(t, lead.StageNew, got.Stage)
		})
	}
}

// localEnricher is enrichment.LocalEnricher behind another type, so that a pipeline using it is
// not Offline and takes the path with a read before its calls.
type localEnricher struct{}

func (localEnricher) Enrich(ctx context.Context, in enrichment.Input) (enrichment.Result, error) {
	return enrichment.LocalEnricher{}.Enrich(ctx, in)
}

// TestOfflinePipelineAgrees proves the offline path (local enrichment and the built-in scorer:
// one locked read inside the transaction) stores exactly what the path with a read before the
// calls stores, for both orders of enrich_lead and qualify_lead, that its reruns are no-ops, and
// that it leaves a deleted lead alone.
func TestOfflinePipelineAgrees(t *testing.T) {
	t.Parallel()
	b := setupPipeline(t, nil)
	em := events.NewEmitter(jobs.New(b.d, jobs.Config{}), catalog.New().EventJobs)
	offline := pipeline.New(b.d, em, enrichment.LocalEnricher{}, scoring.Builtin{})
	online := pipeline.New(b.d, em, localEnricher{}, scoring.Builtin{})
	require.True(t, offline.Offline())
	require.False(t, online.Offline())
	require.False(t, b.pipe.Offline())

	n := 0
	newLead := func() lead.Lead { // b.newLead's lead, under a new email at the same domain
		t.Helper()
		n++
		l, err := b.svc.Create(t.Context(), b.org, "test", lead.NewLead{Contact: lead.Contact{
			Email: fmt.Sprintf("ada%d@acme.io", n), Name: "Ada Lovelace", Title: "CTO", Company: "Acme", Phone: "+44 20 1234", Website: "https://www.acme.io"}})
		require.NoError(t, err)
		return l
	}
	run := func(p *pipeline.Pipeline, qualifyFirst bool) outcome {
		t.Helper()
		l := newLead()
		steps := []func(context.Context, uuid.UUID, []uuid.UUID, pipeline.Commit) error{p.Enrich, p.Qualify}
		if qualifyFirst {
			steps[0], steps[1] = steps[1], steps[0]
		}
		for _, step := range append(steps, steps...) { // the second round is a rerun: a no-op
			require.NoError(t, step(t.Context(), b.org, []uuid.UUID{l.ID}, b.commit))
		}
		return b.outcomeOf(t, l.ID)
	}
	for _, qualifyFirst := range []bool{false, true} {
		want := run(online, qualifyFirst)
		require.Equal(t, want, run(offline, qualifyFirst), "qualify first: %v", qualifyFirst)
		require.Equal(t, map[string]int{lead.EventEnriched: 1, lead.EventQualified: 1, lead.EventStageChanged: 1}, want.Events)
		require.Contains(t, want.Lead, `"stage": "qualified"`)
	}

	l := newLead()
	require.NoError(t, b.svc.Delete(t.Context(), b.org, "test", l.ID))
	require.NoError(t, offline.Enrich(t.Context(), b.org, []uuid.UUID{l.ID}, b.commit))
	require.NoError(t, offline.Qualify(t.Context(), b.org, []uuid.UUID{l.ID}, b.commit))
	require.Zero(t, b.events(t, lead.EventEnriched, l.ID)+b.events(t, lead.EventQualified, l.ID), "a deleted lead is left alone")
}
