package ai_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/ai"
	"example.com/crm/pkg/ai/aitest"
)

// verdict is a small answer type with a range check.
type verdict struct {
	Score  int    `json:"score"`
	Reason string `json:"reason"`
}

func (v *verdict) Validate() error {
	if v.Score < 0 || v.Score > 100 {
		return fmt.Errorf("score %d out of 0..100", v.Score)
	}
	return nil
}

var request = ai.Request{
	Name: "verdict",
	Schema: map[string]any{
		"type": "object", "additionalProperties": false, "required": []string{"score", "reason"},
		"properties": map[string]any{"score": map[string]any{"type": "integer"}, "reason": map[string]any{"type": "string"}},
	},
	System: "You judge.", User: "Judge this.",
}

func newClient(t *testing.T, srv *aitest.Server, timeout time.Duration) *ai.Client {
	t.Helper()
	c, err := ai.New(ai.Config{APIKey: "sk-test", Model: "gpt-test", BaseURL: srv.URL, Timeout: timeout})
	require.NoError(t, err)
	return c
}

func TestJSON(t *testing.T) {
	t.Parallel()

	t.Run("good answer", func(t *testing.T) {
		t.Parallel()
		srv := aitest.NewServer(t, aitest.Content(`{"score":72,"reason":"fits"}`))
		var v verdict
		ans, err := newClient(t, srv, 0).JSON(t.Context(), request, &v)
		require.NoError(t, err)
		require.Equal(t, verdict{Score: 72, Reason: "fits"}, v)
		require.Equal(t, "gpt-4o-2024-08-06", ans.Model)
		require.Equal(t, int64(210), ans.PromptTokens)
		require.Equal(t, int64(42), ans.CompletionTokens)

		reqs := srv.Requests()
		require.Len(t, reqs, 1)
		require.Equal(t, "gpt-test", reqs[0]["model"])
		rf := reqs[0]["response_format"].(map[string]any)
		require.Equal(t, "json_schema", rf["type"])
		js := rf["json_schema"].(map[string]any)
		require.Equal(t, "verdict", js["name"])
		require.Equal(t, true, js["strict"])
		require.Len(t, reqs[0]["messages"], 2)
	})

	malformed := map[string]aitest.Reply{
		"not json":         aitest.Content(`{"score": 72, "reason": "fi`),
		"wrong type":       aitest.Content(`{"score":"high","reason":"x"}`),
		"unknown field":    aitest.Content(`{"score":1,"reason":"x","extra":true}`),
		"out of range":     aitest.Content(`{"score":140,"reason":"x"}`),
		"trailing data":    aitest.Content(`{"score":1,"reason":"x"} {}`),
		"null content":     aitest.Content(`null`),
		"cut off (length)": aitest.Truncated(`{"score":1,"reason":"x"}`),
	}
	for name, reply := range malformed {
		t.Run("malformed: "+name, func(t *testing.T) {
			t.Parallel()
			srv := aitest.NewServer(t, reply)
			var v verdict
			_, err := newClient(t, srv, 0).JSON(t.Context(), request, &v)
			require.ErrorIs(t, err, ai.ErrMalformed)
			require.False(t, ai.IsPermanent(err), "a malformed answer is retried")
		})
	}

	t.Run("refusal", func(t *testing.T) {
		t.Parallel()
		srv := aitest.NewServer(t, aitest.Refusal("I can't help with that."))
		var v verdict
		_, err := newClient(t, srv, 0).JSON(t.Context(), request, &v)
		require.ErrorIs(t, err, ai.ErrRefused)
		require.ErrorContains(t, err, "I can't help with that.")
		require.True(t, ai.IsPermanent(err))
	})

	t.Run("429 then success", func(t *testing.T) {
		t.Parallel()
		srv := aitest.NewServer(t, aitest.RateLimited(), aitest.Content(`{"score":5,"reason":"ok"}`))
		var v verdict
		_, err := newClient(t, srv, 0).JSON(t.Context(), request, &v)
		require.NoError(t, err)
		require.Equal(t, 5, v.Score)
		require.Len(t, srv.Requests(), 2, "openai-go retried the 429 itself")
	})

	t.Run("429 persisting is retryable", func(t *testing.T) {
		t.Parallel()
		srv := aitest.NewServer(t, aitest.RateLimited())
		var v verdict
		_, err := newClient(t, srv, 0).JSON(t.Context(), request, &v)
		require.Error(t, err)
		require.False(t, ai.IsPermanent(err))
		require.Len(t, srv.Requests(), 3, "one call and two retries")
	})

	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		srv := aitest.NewServer(t, aitest.Hang(release))
		t.Cleanup(func() { close(release) })
		var v verdict
		_, err := newClient(t, srv, 100*time.Millisecond).JSON(t.Context(), request, &v)
		require.Error(t, err)
		require.False(t, ai.IsPermanent(err), "a timeout is retried by the queue")
	})

	for _, status := range []int{400, 401, 404} {
		t.Run(fmt.Sprintf("%d is permanent", status), func(t *testing.T) {
			t.Parallel()
			srv := aitest.NewServer(t, aitest.Status(status))
			var v verdict
			_, err := newClient(t, srv, 0).JSON(t.Context(), request, &v)
			require.True(t, ai.IsPermanent(err), "%v", err)
			require.Len(t, srv.Requests(), 1)
		})
	}

	t.Run("500 persisting is retryable", func(t *testing.T) {
		t.Parallel()
		srv := aitest.NewServer(t, aitest.Status(500))
		var v verdict
		_, err := newClient(t, srv, 0).JSON(t.Context(), request, &v)
		require.Error(t, err)
		require.False(t, ai.IsPermanent(err))
		require.False(t, errors.Is(err, ai.ErrMalformed))
	})
}

func TestNewNeedsKey(t *testing.T) {
	t.Parallel()
	_, err := ai.New(ai.Config{})
	require.Error(t, err)
}
