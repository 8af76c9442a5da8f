package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"example.com/crm/pkg/ai"
)

// AI is the writer that asks a model (pkg/ai) for the narrative. It sends the report's kind,
// period and figures only: counts and sums, no person's data.
type AI struct {
	client *ai.Client
}

// NewAI returns the AI writer on client.
func NewAI(client *ai.Client) *AI {
	if client == nil {
		panic("report.NewAI: nil client")
	}
	return &AI{client: client}
}

// aiSchema is the strict JSON schema of the model's answer: exactly the Narrative fields.
var aiSchema = map[string]any{
	"type":                 "object",
	"additionalProperties": false,
	"required":             []string{"summary", "highlights"},
	"properties": map[string]any{
		"summary": map[string]any{"type": "string", "description": fmt.Sprintf("one paragraph of at most %d characters", MaxSummaryLen)},
		"highlights": map[string]any{
			"type": "array", "items": map[string]any{"type": "string"},
			"description": fmt.Sprintf("1 to %d short highlights, each at most %d characters", MaxHighlights, MaxHighlightLen),
		},
	},
}

const aiSystem = `You write the weekly executive report of a B2B sales CRM. You receive one JSON document:
the report's kind, its period (periodStart inclusive, periodEnd exclusive, UTC) and its figures:
leads that came in and were qualified, calls booked and completed, deals won and lost, invoices
issued and paid (counts and, per currency, amounts in minor units: cents for EUR and USD), and
integrity alerts opened. Write a summary paragraph and 1 to 6 short highlights for the
management. Use only these figures; never invent a number, a name or a trend you were not given.
Answer only with the JSON object of the schema.`

// aiAnswer is the wire form of the answer; nil members tell a missing field from an empty one.
type aiAnswer struct {
	Summary    *string  `json:"summary"`
	Highlights []string `json:"highlights"`
}

// Validate checks that every field is present and within the Narrative's limits.
func (a *aiAnswer) Validate() error {
	if a.Summary == nil || a.Highlights == nil {
		return errors.New("a required field is missing")
	}
	return Narrative{Summary: *a.Summary, Highlights: a.Highlights}.Validate()
}

// Write asks the model. A malformed or invalid answer is an error wrapping ai.ErrMalformed; a
// refusal or a rejected request is permanent (ai.IsPermanent). The model is the one that
// answered (the configured one when the server does not say).
func (w *AI) Write(ctx context.Context, in Input) (Narrative, string, error) {
	user, err := json.Marshal(in)
	if err != nil {
		return Narrative{}, "", fmt.Errorf("write report with ai: encode prompt: %w", err)
	}
	var a aiAnswer
	ans, err := w.client.JSON(ctx, ai.Request{Name: "weekly_report", Schema: aiSchema, System: aiSystem, User: string(user)}, &a)
	if err != nil {
		return Narrative{}, "", fmt.Errorf("write report with ai: %w", err)
	}
	model := ans.Model
	if model == "" {
		model = w.client.Model()
	}
	return Narrative{Summary: *a.Summary, Highlights: a.Highlights}, model, nil
}

// fallsBack reports whether a Writer's error is one the built-in writer stands in for: an answer
// that is malformed or invalid, a refusal, or a request the model rejects. Asking again would
// most likely give the same answer, and the figures are exact without the model's prose. Other
// errors (a timeout, 5xx or 429 after the client's own retries) are retried by the queue.
func fallsBack(err error) bool {
	return errors.Is(err, ai.ErrMalformed) || ai.IsPermanent(err)
}
