package events_test

import (
	"encoding/json"
	"testing"
	"time"

	"example.com/crm/pkg/events"
)

// BenchmarkWithRowMarshal times the encoding of a payload with its row record, as the
// auto-priority sweep emits one per lead it changes (lead.priority_changed with the record of its
// priority, version and updatedAt).
func BenchmarkWithRowMarshal(b *testing.B) {
	type inputs struct {
		Score         *int   `json:"score"`
		Stage         string `json:"stage"`
		GhostRisk     int    `json:"ghostRisk"`
		OpenDealValue *int64 `json:"openDealValue"`
	}
	type changed struct {
		From    string `json:"from"`
		To      string `json:"to"`
		Version int    `json:"version"`
		Rule    string `json:"rule"`
		Inputs  inputs `json:"inputs"`
	}
	score := 37
	at, _ := json.Marshal(time.Now())
	p := events.WithRow(events.WithRow(changed{From: "high", To: "low", Version: 3, Rule: "cold", Inputs: inputs{Score: &score, Stage: "contacted", GhostRisk: 1}},
		events.Row{Rev: 1, Set: map[string]json.RawMessage{"priority": json.RawMessage(`"low"`), "version": json.RawMessage(`3`)}}),
		events.Row{Rev: 1, Set: map[string]json.RawMessage{"updatedAt": at}})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(p); err != nil {
			b.Fatal(err)
		}
	}
}
