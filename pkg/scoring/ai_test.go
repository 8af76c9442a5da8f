package scoring_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/ai"
	"example.com/crm/pkg/ai/aitest"
	"example.com/crm/pkg/scoring"
)

func newAI(t *testing.T, replies ...aitest.Reply) (*scoring.AI, *aitest.Server) {
	t.Helper()
	srv := aitest.NewServer(t, replies...)
	c, err := ai.New(ai.Config{APIKey: "sk-test", Model: "gpt-test", BaseURL: srv.URL})
	require.NoError(t, err)
	return scoring.NewAI(c), srv
}

func TestAIScorer(t *testing.T) {
	t.Parallel()

	t.Run("good answer", func(t *testing.T) {
		t.Parallel()
		s, srv := newAI(t, aitest.Content(`{"score":64,"reasons":["VP at a mid-size company"],"icpMatch":false,"recommendedPath":"nurture"}`))
		r, err := s.Score(t.Context(), contractInputs()["strong"])
		require.NoError(t, err)
		require.Equal(t, scoring.Result{Score: 64, Reasons: []string{"VP at a mid-size company"}, ICPMatch: false,
			RecommendedPath: scoring.PathNurture, Model: "gpt-4o-2024-08-06"}, r)

		// The lead goes to the model as JSON data in the user message, with the strict schema.
		req := srv.Requests()[0]
		msgs := req["messages"].([]any)
		var sent map[string]any
		require.NoError(t, json.Unmarshal([]byte(msgs[1].(map[string]any)["content"].(string)), &sent))
		require.Equal(t, "CTO", sent["lead"].(map[string]any)["title"])
		schema := req["response_format"].(map[string]any)["json_schema"].(map[string]any)["schema"].(map[string]any)
		require.Equal(t, false, schema["additionalProperties"])
		require.ElementsMatch(t, []any{"score", "reasons", "icpMatch", "recommendedPath"}, schema["required"])
	})

	for name, content := range map[string]string{
		"score out of range": `{"score":101,"reasons":["x"],"icpMatch":true,"recommendedPath":"book_call"}`,
		"negative score":     `{"score":-1,"reasons":["x"],"icpMatch":true,"recommendedPath":"book_call"}`,
		"unknown path":       `{"score":50,"reasons":["x"],"icpMatch":true,"recommendedPath":"call_now"}`,
		"no reasons":         `{"score":50,"reasons":[],"icpMatch":true,"recommendedPath":"nurture"}`,
		"missing field":      `{"score":50,"reasons":["x"],"recommendedPath":"nurture"}`,
		"extra field":        `{"score":50,"reasons":["x"],"icpMatch":true,"recommendedPath":"nurture","x":1}`,
		"not json":           `score: 50`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, _ := newAI(t, aitest.Content(content))
			_, err := s.Score(t.Context(), contractInputs()["strong"])
			require.ErrorIs(t, err, ai.ErrMalformed)
			require.False(t, ai.IsPermanent(err))
		})
	}

	t.Run("refusal is permanent", func(t *testing.T) {
		t.Parallel()
		s, _ := newAI(t, aitest.Refusal("no"))
		_, err := s.Score(t.Context(), contractInputs()["strong"])
		require.ErrorIs(t, err, ai.ErrRefused)
		require.True(t, ai.IsPermanent(err))
	})
}
