package call_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/ai"
	"example.com/crm/pkg/ai/aitest"
	"example.com/crm/pkg/call"
	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
)

// bundle is a fresh database with one org, the emitter, the lead use cases and the call use
// cases with analyzer (nil: Builtin) and threshold 70.
type bundle struct {
	d     *db.DB
	super *db.DB
	org   uuid.UUID
	em    *events.Emitter
	leads *lead.Service
	calls *call.Service
}

func setup(t *testing.T, analyzer call.Analyzer) *bundle {
	t.Helper()
	d, url := dbtest.NewDB(t)
	em := events.NewEmitter(jobs.New(d, jobs.Config{}), catalog.New().EventJobs)
	threshold := 70
	leads := lead.NewService(d, em)
	return &bundle{d: d, super: dbtest.SuperDB(t, url), org: dbtest.NewOrg(t, d, "acme"), em: em,
		leads: leads,
		calls: call.NewService(d, em, leads, call.Options{Analyzer: analyzer, BuyingSignalThreshold: &threshold})}
}

func (b *bundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), sql, args...).Scan(&n))
	return n
}

// completed books a call with a new lead and completes it with transcript.
func (b *bundle) completed(t *testing.T, email, transcript string) (uuid.UUID, call.Call) {
	t.Helper()
	l, err := b.leads.Create(t.Context(), b.org, "test", lead.NewLead{Contact: lead.Contact{Email: email}})
	require.NoError(t, err)
	c, err := b.calls.Book(t.Context(), b.org, "test", call.Booking{LeadID: l.ID, ScheduledAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	c, err = b.calls.Complete(t.Context(), b.org, "test", c.ID, call.Completion{Transcript: transcript})
	require.NoError(t, err)
	return l.ID, c
}

// commit is a Commit without a job: the tenant transaction alone.
func (b *bundle) commit(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return db.Tx(ctx, b.d.Gorm, b.org, fn)
}

const hot = "Prospect: The budget is approved and we're ready to move forward. When can we start? Send the contract."

// TestAnalyzeOnce proves analyze_call's use case: the analysis is stored with its model and
// time, call.analyzed and (score 85 >= 70) buying_signal.high are emitted, the latter enqueuing
// escalate_lead; running it again changes nothing and emits nothing. A low score escalates
// nothing.
func TestAnalyzeOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	leadID, c := b.completed(t, "hot@example.com", hot)
	res, err := b.calls.Analyze(t.Context(), b.org, c.ID, b.commit)
	require.NoError(t, err)
	require.Empty(t, res.Skipped)
	require.True(t, res.Escalated)
	got, err := b.calls.Get(t.Context(), b.org, c.ID)
	require.NoError(t, err)
	require.Equal(t, 85, *got.BuyingSignalScore)
	require.Equal(t, "builtin", *got.AnalysisModel)
	require.NotNil(t, got.AnalyzedAt)
	require.NotEmpty(t, *got.Summary)
	require.Contains(t, got.SignalPhrases.V, "budget is approved")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type = 'buying_signal.high'
		AND payload->>'leadId' = $2`, c.ID, leadID.String()))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM jobs j JOIN events e ON e.org_id = j.org_id AND e.id = j.event_id
		WHERE e.entity_id = $1 AND j.job_type = 'escalate_lead'`, c.ID))
	events := b.count(t, `SELECT count(*) FROM events WHERE org_id = $1`, b.org)

	res, err = b.calls.Analyze(t.Context(), b.org, c.ID, b.commit)
	require.NoError(t, err)
	require.Equal(t, "call already analysed", res.Skipped)
	require.Equal(t, events, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1`, b.org))
	again, err := b.calls.Get(t.Context(), b.org, c.ID)
	require.NoError(t, err)
	require.Equal(t, got, again)

	_, cold := b.completed(t, "cold@example.com", "We're not interested.")
	res, err = b.calls.Analyze(t.Context(), b.org, cold.ID, b.commit)
	require.NoError(t, err)
	require.False(t, res.Escalated)
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type = 'buying_signal.high'`, cold.ID))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type = 'call.analyzed'`, cold.ID))
	// AI never moves a deal or the lead's stage: the leads keep call_booked.
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM leads WHERE org_id = $1 AND stage = 'call_booked'`, b.org))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM deals WHERE org_id = $1`, b.org))
}

// TestAnalyzeSkips proves a call that is not completed, or missing, is skipped with nothing
// written.
func TestAnalyzeSkips(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	l, err := b.leads.Create(t.Context(), b.org, "test", lead.NewLead{Contact: lead.Contact{Email: "x@example.com"}})
	require.NoError(t, err)
	c, err := b.calls.Book(t.Context(), b.org, "test", call.Booking{LeadID: l.ID, ScheduledAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	res, err := b.calls.Analyze(t.Context(), b.org, c.ID, b.commit)
	require.NoError(t, err)
	require.Contains(t, res.Skipped, "booked")
	res, err = b.calls.Analyze(t.Context(), b.org, uuid.New(), b.commit)
	require.NoError(t, err)
	require.Equal(t, "call not found", res.Skipped)
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM calls WHERE analyzed_at IS NOT NULL`))
}

// TestAnalyzeWithAI proves the AI path end to end: a good answer is stored with the model's
// name; a malformed answer or a timeout is a retryable error with nothing written; a refusal is
// permanent.
func TestAnalyzeWithAI(t *testing.T) {
	t.Parallel()
	newAnalyzer := func(t *testing.T, timeout time.Duration, replies ...aitest.Reply) call.Analyzer {
		srv := aitest.NewServer(t, replies...)
		c, err := ai.New(ai.Config{APIKey: "sk-test", Model: "gpt-test", BaseURL: srv.URL, Timeout: timeout, MaxRetries: -1})
		require.NoError(t, err)
		return call.NewAI(c)
	}
	t.Run("good", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newAnalyzer(t, 0, aitest.Content(goodAnswer)))
		_, c := b.completed(t, "a@example.com", longTranscript())
		res, err := b.calls.Analyze(t.Context(), b.org, c.ID, b.commit)
		require.NoError(t, err)
		require.True(t, res.Escalated)
		got, err := b.calls.Get(t.Context(), b.org, c.ID)
		require.NoError(t, err)
		require.Equal(t, "gpt-4o-2024-08-06", *got.AnalysisModel)
		require.Equal(t, 91, *got.BuyingSignalScore)
		require.Equal(t, []string{"Send the contract"}, got.NextSteps.V)
	})
	for name, reply := range map[string]func(release chan struct{}) aitest.Reply{
		"malformed": func(chan struct{}) aitest.Reply { return aitest.Content(`{"summary":"x"}`) },
		"timeout":   func(release chan struct{}) aitest.Reply { return aitest.Hang(release) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			b := setup(t, newAnalyzer(t, 200*time.Millisecond, reply(release)))
			_, c := b.completed(t, "a@example.com", hot)
			events := b.count(t, `SELECT count(*) FROM events WHERE org_id = $1`, b.org)
			_, err := b.calls.Analyze(t.Context(), b.org, c.ID, b.commit)
			require.Error(t, err)
			require.False(t, jobs.IsPermanent(err), "retried by the queue")
			require.Equal(t, 0, b.count(t, `SELECT count(*) FROM calls WHERE analyzed_at IS NOT NULL`))
			require.Equal(t, events, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1`, b.org))
		})
	}
	t.Run("refusal", func(t *testing.T) {
		t.Parallel()
		b := setup(t, newAnalyzer(t, 0, aitest.Refusal("no")))
		_, c := b.completed(t, "a@example.com", hot)
		_, err := b.calls.Analyze(t.Context(), b.org, c.ID, b.commit)
		require.True(t, jobs.IsPermanent(err))
	})
}

// TestEscalateOnce proves the escalation of a call's lead happens once however often it runs:
// priority urgent with lead.updated, one escalation activity with lead.activity_added; the
// second run writes nothing.
func TestEscalateOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	leadID, c := b.completed(t, "hot@example.com", hot)
	_, err := b.calls.Analyze(t.Context(), b.org, c.ID, b.commit)
	require.NoError(t, err)
	var results []lead.EscalationResult
	for range 2 {
		require.NoError(t, b.commit(t.Context(), func(tx *gorm.DB) error {
			res, err := b.calls.Escalate(t.Context(), tx, b.org, []uuid.UUID{c.ID})
			if err != nil {
				return err
			}
			results = append(results, res[0])
			return nil
		}))
	}
	require.True(t, results[0].Escalated)
	require.True(t, results[0].PriorityChanged)
	require.False(t, results[1].Escalated)
	require.Equal(t, "already escalated", results[1].Skipped)
	l, err := b.leads.Get(t.Context(), b.org, leadID)
	require.NoError(t, err)
	require.Equal(t, lead.PriorityUrgent, l.Priority)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_activities WHERE lead_id = $1 AND kind = 'escalation'
		AND dedup_key = $2`, leadID, "escalation:call:"+c.ID.String()))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type = 'lead.updated'`, leadID))

	// A call whose lead is deleted is skipped.
	require.NoError(t, b.leads.Delete(t.Context(), b.org, "test", leadID))
	require.NoError(t, b.commit(t.Context(), func(tx *gorm.DB) error {
		res, err := b.calls.Escalate(t.Context(), tx, b.org, []uuid.UUID{c.ID})
		require.NoError(t, err)
		require.Equal(t, "lead not found or deleted", res[0].Skipped)
		return nil
	}))
}

// TestEscalateMany proves that Escalate takes many calls as it takes one: each result is in the
// order of the ids, a missing call is skipped, and every call found escalates its own lead.
func TestEscalateMany(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	lead1, c1 := b.completed(t, "one@example.com", hot)
	lead2, c2 := b.completed(t, "two@example.com", hot)
	for _, id := range []uuid.UUID{c1.ID, c2.ID} {
		_, err := b.calls.Analyze(t.Context(), b.org, id, b.commit)
		require.NoError(t, err)
	}
	var res []lead.EscalationResult
	require.NoError(t, b.commit(t.Context(), func(tx *gorm.DB) error {
		var err error
		res, err = b.calls.Escalate(t.Context(), tx, b.org, []uuid.UUID{c2.ID, uuid.New(), c1.ID})
		return err
	}))
	require.Len(t, res, 3)
	require.True(t, res[0].Escalated)
	require.Equal(t, "call not found", res[1].Skipped)
	require.True(t, res[2].Escalated)
	for _, l := range []struct{ lead, call uuid.UUID }{{lead1, c1.ID}, {lead2, c2.ID}} {
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_activities WHERE lead_id = $1 AND kind = 'escalation'
			AND dedup_key = $2`, l.lead, "escalation:call:"+l.call.String()))
	}
}

// TestCallOfDeletedLead proves a booked call whose lead is deleted can still be closed, without
// touching the lead; booking another call for it is refused.
func TestCallOfDeletedLead(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	l, err := b.leads.Create(t.Context(), b.org, "test", lead.NewLead{Contact: lead.Contact{Email: "gone@example.com"}})
	require.NoError(t, err)
	c, err := b.calls.Book(t.Context(), b.org, "test", call.Booking{LeadID: l.ID, ScheduledAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	require.NoError(t, b.leads.Delete(t.Context(), b.org, "test", l.ID))
	activities := b.count(t, `SELECT count(*) FROM lead_activities WHERE lead_id = $1`, l.ID)
	got, err := b.calls.NoShow(t.Context(), b.org, "test", c.ID)
	require.NoError(t, err)
	require.Equal(t, call.StatusNoShow, got.Status)
	require.Equal(t, activities, b.count(t, `SELECT count(*) FROM lead_activities WHERE lead_id = $1`, l.ID))
	require.Equal(t, 0, b.count(t, `SELECT ghost_risk FROM leads WHERE id = $1`, l.ID))
	_, err = b.calls.Book(t.Context(), b.org, "test", call.Booking{LeadID: l.ID, ScheduledAt: time.Now().Add(time.Hour)})
	require.Error(t, err)
}
