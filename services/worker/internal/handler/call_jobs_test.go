package handler_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"example.com/crm/pkg/ai/aitest"
	"example.com/crm/pkg/call"
	"example.com/crm/pkg/config"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
	"example.com/crm/services/worker/internal/handler"
)

// runAll claims every runnable job and runs those of the given types, in that order of types,
// requiring each to complete; it returns how many of each type it ran.
func (b *bundle) runAll(t *testing.T, types ...string) map[string]int {
	t.Helper()
	claimed := b.claim(t)
	ran := map[string]int{}
	for _, typ := range types {
		for id, j := range claimed {
			if j.Type != typ {
				continue
			}
			require.NoError(t, b.run(t.Context(), j))
			require.Equal(t, "completed", b.jobStatus(t, id))
			ran[typ]++
		}
	}
	return ran
}

// TestCallJobs proves the path from a completed call to an escalated lead through the queue:
// call.completed enqueues analyze_call, which stores the analysis and emits buying_signal.high,
// which enqueues escalate_lead, which makes the lead urgent with one escalation activity. Both
// jobs delivered a second time (at least once) change nothing and emit nothing.
func TestCallJobs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	leads := lead.NewService(b.d, b.emitter)
	calls := call.NewService(b.d, b.emitter, leads, call.Options{})
	l, err := leads.Create(t.Context(), b.org, "test", lead.NewLead{Contact: lead.Contact{Email: "hot@example.com"}})
	require.NoError(t, err)
	c, err := calls.Book(t.Context(), b.org, "test", call.Booking{LeadID: l.ID, ScheduledAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	_, err = calls.Complete(t.Context(), b.org, "test", c.ID, call.Completion{
		Transcript: "The budget is approved and we're ready to sign. When can we start? Send the contract."})
	require.NoError(t, err)

	require.Equal(t, map[string]int{call.KindAnalyzeCall: 1}, b.runAll(t, call.KindAnalyzeCall))
	require.Equal(t, map[string]int{call.KindEscalateLead: 1}, b.runAll(t, call.KindEscalateLead))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM calls WHERE id = $1 AND analysis_model = 'builtin' AND buying_signal_score >= 75`, c.ID))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM leads WHERE id = $1 AND priority = 'urgent'`, l.ID))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_activities WHERE lead_id = $1 AND kind = 'escalation'`, l.ID))
	eventsBefore := b.count(t, `SELECT count(*) FROM events WHERE org_id = $1`, b.org)

	// Both jobs again, as a redelivery would bring them.
	var analyzed, signal events.Event
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT id, type FROM events WHERE entity_id = $1 AND type = 'call.completed'`,
		c.ID).Scan(&analyzed.ID, &analyzed.Type))
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT id, type FROM events WHERE entity_id = $1 AND type = 'buying_signal.high'`,
		c.ID).Scan(&signal.ID, &signal.Type))
	b.enqueue(t, call.KindAnalyzeCall, events.JobPayload{EventID: analyzed.ID, EventType: analyzed.Type, EntityType: call.EntityType, EntityID: &c.ID})
	b.enqueue(t, call.KindEscalateLead, events.JobPayload{EventID: signal.ID, EventType: signal.Type, EntityType: call.EntityType, EntityID: &c.ID})
	require.Equal(t, map[string]int{call.KindAnalyzeCall: 1, call.KindEscalateLead: 1},
		b.runAll(t, call.KindAnalyzeCall, call.KindEscalateLead))
	require.Equal(t, eventsBefore, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1`, b.org))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_activities WHERE lead_id = $1 AND kind = 'escalation'`, l.ID))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM jobs WHERE org_id = $1 AND job_type = 'escalate_lead' AND status = 'pending'`, b.org))

	// A payload about something else than a call is permanent.
	other := b.enqueue(t, call.KindAnalyzeCall, events.JobPayload{EventID: 1, EntityType: "lead", EntityID: &l.ID})
	require.True(t, jobs.IsPermanent(b.run(t.Context(), b.claim(t)[other])))
}

// TestAnalyzeCallWithAI proves NewCallService takes the AI analyser when a key is set and the
// configured threshold: the model's 60 stays under a threshold of 65 (no escalation), and the
// answer's model is stored.
func TestAnalyzeCallWithAI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := aitest.NewServer(t, aitest.Content(`{"summary":"Interested, no budget yet.","buyingSignalScore":60,
		"signalPhrases":["how much is it"],"objections":["no budget yet"],"nextSteps":["Send pricing"]}`))
	calls, err := handler.NewCallService(b.d, b.emitter, lead.NewService(b.d, b.emitter), config.AI{APIKey: "sk-test", Model: "gpt-test", BaseURL: srv.URL},
		config.Rules{BuyingSignalThreshold: 65})
	require.NoError(t, err)
	kinds := handler.Kinds(handler.Deps{DB: b.d, Queue: b.queue, Emitter: b.emitter, Log: zaptest.NewLogger(t), Calls: calls})
	leads := lead.NewService(b.d, b.emitter)
	l, err := leads.Create(t.Context(), b.org, "test", lead.NewLead{Contact: lead.Contact{Email: "warm@example.com"}})
	require.NoError(t, err)
	c, err := calls.Book(t.Context(), b.org, "test", call.Booking{LeadID: l.ID, ScheduledAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	_, err = calls.Complete(t.Context(), b.org, "test", c.ID, call.Completion{Transcript: "How much is it?"})
	require.NoError(t, err)
	ran := 0
	for id, j := range b.claim(t) {
		if j.Type == call.KindAnalyzeCall {
			_, err := workOne(t.Context(), b.queue, kinds, j)
			require.NoError(t, err)
			require.Equal(t, "completed", b.jobStatus(t, id))
			ran++
		}
	}
	require.Equal(t, 1, ran)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM calls WHERE id = $1 AND analysis_model = 'gpt-4o-2024-08-06'
		AND buying_signal_score = 60 AND objections = '["no budget yet"]'::jsonb`, c.ID))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1 AND type = 'buying_signal.high'`, b.org))
	_, err = handler.NewCallService(b.d, b.emitter, lead.NewService(b.d, b.emitter), config.AI{}, config.Rules{BuyingSignalThreshold: 101})
	require.Error(t, err)
}
