package call_test

import (
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/ai"
	"example.com/crm/pkg/ai/aitest"
	"example.com/crm/pkg/call"
)

func newAI(t *testing.T, timeout time.Duration, replies ...aitest.Reply) (*call.AI, *aitest.Server) {
	t.Helper()
	srv := aitest.NewServer(t, replies...)
	c, err := ai.New(ai.Config{APIKey: "sk-test", Model: "gpt-test", BaseURL: srv.URL, Timeout: timeout, MaxRetries: -1})
	require.NoError(t, err)
	return call.NewAI(c), srv
}

const goodAnswer = `{"summary":"Budget approved; wants the contract.","buyingSignalScore":91,
	"signalPhrases":["the budget is approved","send the contract"],"objections":[],"nextSteps":["Send the contract"]}`

// TestAIAnalyzer proves the AI analyser against the fake OpenAI server: a good answer becomes
// the Analysis with the answering model; malformed answers are retryable ai.ErrMalformed; a
// refusal is permanent; a timeout is retryable; the transcript goes to the model as JSON data
// with the strict schema, cut to the budget when long.
func TestAIAnalyzer(t *testing.T) {
	t.Parallel()

	t.Run("good answer", func(t *testing.T) {
		t.Parallel()
		a, srv := newAI(t, 0, aitest.Content(goodAnswer))
		got, err := a.Analyze(t.Context(), call.Input{Transcript: "Prospect: the budget is approved, send the contract.", Notes: "hot"})
		require.NoError(t, err)
		require.Equal(t, call.Analysis{Summary: "Budget approved; wants the contract.", BuyingSignalScore: 91,
			SignalPhrases: []string{"the budget is approved", "send the contract"}, Objections: []string{},
			NextSteps: []string{"Send the contract"}, Model: "gpt-4o-2024-08-06"}, got)
		req := srv.Requests()[0]
		var sent map[string]string
		require.NoError(t, json.Unmarshal([]byte(req["messages"].([]any)[1].(map[string]any)["content"].(string)), &sent))
		require.Equal(t, "Prospect: the budget is approved, send the contract.", sent["transcript"])
		require.Equal(t, "hot", sent["notes"])
		js := req["response_format"].(map[string]any)["json_schema"].(map[string]any)
		require.Equal(t, true, js["strict"])
		schema := js["schema"].(map[string]any)
		require.Equal(t, false, schema["additionalProperties"])
		require.ElementsMatch(t, []any{"summary", "buyingSignalScore", "signalPhrases", "objections", "nextSteps"}, schema["required"])
	})

	t.Run("long transcript is cut to the budget", func(t *testing.T) {
		t.Parallel()
		a, srv := newAI(t, 0, aitest.Content(goodAnswer))
		_, err := a.Analyze(t.Context(), call.Input{Transcript: longTranscript()})
		require.NoError(t, err)
		var sent map[string]string
		require.NoError(t, json.Unmarshal([]byte(srv.Requests()[0]["messages"].([]any)[1].(map[string]any)["content"].(string)), &sent))
		require.Less(t, utf8.RuneCountInString(sent["transcript"]), call.AITranscriptBudget+100)
		require.Contains(t, sent["transcript"], "characters of the middle of the call omitted")
		require.Contains(t, sent["transcript"], "please send the contract")
	})

	for name, content := range map[string]string{
		"not json":       `{"summary": "x", "buyingSign`,
		"score too high": `{"summary":"x","buyingSignalScore":140,"signalPhrases":[],"objections":[],"nextSteps":[]}`,
		"missing field":  `{"summary":"x","buyingSignalScore":40,"signalPhrases":[],"objections":[]}`,
		"extra field":    `{"summary":"x","buyingSignalScore":40,"signalPhrases":[],"objections":[],"nextSteps":[],"deal":"won"}`,
		"wrong type":     `{"summary":"x","buyingSignalScore":"high","signalPhrases":[],"objections":[],"nextSteps":[]}`,
		"empty summary":  `{"summary":"","buyingSignalScore":40,"signalPhrases":[],"objections":[],"nextSteps":[]}`,
	} {
		t.Run("malformed: "+name, func(t *testing.T) {
			t.Parallel()
			a, _ := newAI(t, 0, aitest.Content(content))
			_, err := a.Analyze(t.Context(), call.Input{Transcript: "hello"})
			require.ErrorIs(t, err, ai.ErrMalformed)
			require.False(t, call.IsPermanent(err))
		})
	}

	t.Run("refusal is permanent", func(t *testing.T) {
		t.Parallel()
		a, _ := newAI(t, 0, aitest.Refusal("no"))
		_, err := a.Analyze(t.Context(), call.Input{Transcript: "hello"})
		require.ErrorIs(t, err, ai.ErrRefused)
		require.True(t, call.IsPermanent(err))
	})

	t.Run("timeout is retryable", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		a, _ := newAI(t, 100*time.Millisecond, aitest.Hang(release))
		t.Cleanup(func() { close(release) })
		_, err := a.Analyze(t.Context(), call.Input{Transcript: "hello"})
		require.Error(t, err)
		require.False(t, call.IsPermanent(err))
	})
}
