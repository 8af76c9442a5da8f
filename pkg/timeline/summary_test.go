package timeline_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/timeline"
)

// TestSummary pins the one-line summary of every event type the timeline shows, with and without
// its optional parts, and the fallbacks: a type without a summariser, a payload of another shape,
// free text that would break the line or run long, an unknown currency.
func TestSummary(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 200)
	for _, tc := range []struct{ typ, payload, want string }{
		{"lead.created", `{"via":"api","lead":{"name":"Ada Lovelace","email":"ada@example.com"}}`, "Lead Ada Lovelace created (via api)"},
		{"lead.created", `{"via":"webhook","lead":{"firstName":"Ada","lastName":"King"}}`, "Lead Ada King created (via webhook)"},
		{"lead.created", `{"via":"csv","lead":{"email":"ada@example.com"}}`, "Lead ada@example.com created (via csv)"},
		{"lead.created", `{"lead":{}}`, "Lead created"},
		{"lead.enriched", `{"enrichment":{"domain":"example.com","freeMail":false},"revenueBand":"10M-50M"}`, "Enriched: domain example.com, revenue band 10M-50M"},
		{"lead.enriched", `{"enrichment":{"domain":"gmail.com","freeMail":true},"revenueBand":""}`, "Enriched: domain gmail.com, free-mail address"},
		{"lead.qualified", `{"score":82,"icpMatch":true,"recommendedPath":"book_call","scoredBy":"builtin"}`, "Qualified: score 82, ICP match, path book_call (by builtin)"},
		{"lead.qualified", `{"score":10,"icpMatch":false,"recommendedPath":"disqualify","scoredBy":"gpt-4o"}`, "Qualified: score 10, no ICP match, path disqualify (by gpt-4o)"},
		{"lead.stage_changed", `{"from":"new","to":"qualified","reason":"fits the ICP","version":2}`, "Stage new -> qualified (reason: fits the ICP)"},
		{"lead.stage_changed", `{"from":"qualified","to":"contacted","reason":null}`, "Stage qualified -> contacted"},
		{"lead.stage_changed", `{"from":"new","to":"lost","reason":"line one\nline\ttwo "}`, "Stage new -> lost (reason: line one line two)"},
		{"lead.stage_changed", `{"from":"new","to":"lost","reason":"` + long + `"}`, "Stage new -> lost (reason: " + strings.Repeat("x", 117) + "...)"},
		{"lead.updated", `{"version":3,"changes":{"title":{"from":null,"to":"CTO"},"email":{"from":"a@x","to":"b@x"}}}`, "Updated: email, title"},
		{"lead.deleted", `{"stage":"nurture","version":4}`, "Lead deleted (stage nurture)"},
		{"lead.activity_added", `{"kind":"note","subject":"Met at the booth"}`, "Note added: Met at the booth"},
		{"lead.activity_added", `{"kind":"email","subject":null}`, "Email added"},
		{"lead.stale", `{"stage":"contacted","days":14}`, "Stale: no activity for 14 days in stage contacted"},
		{"lead.ghost_risk_raised", `{"from":1,"to":2,"rule":{"name":"silence","silenceDays":7}}`, "Ghost risk 1 -> 2 (silent 7 days or more)"},
		{"lead.priority_changed", `{"from":"normal","to":"high","rule":"icp_hot"}`, "Priority normal -> high (rule icp_hot)"},
		{"lead.follow_up_scheduled", `{"runAt":"2026-03-02T09:00:00Z"}`, "Follow-up scheduled for 2026-03-02 09:00 UTC"},
		{"call.booked", `{"scheduledAt":"2026-03-02T09:30:00+01:00","durationMinutes":45}`, "Call booked for 2026-03-02 08:30 UTC (45 min)"},
		{"call.completed", `{"from":"booked","to":"completed"}`, "Call completed"},
		{"call.no_show", `{"ghostRisk":{"from":0,"to":1}}`, "Call no-show (ghost risk 0 -> 1)"},
		{"call.no_show", `{}`, "Call no-show"},
		{"call.cancelled", `{"reason":"moved"}`, "Call cancelled (reason: moved)"},
		{"call.analyzed", `{"buyingSignalScore":80,"model":"builtin"}`, "Call analysed: buying signal 80/100 (by builtin)"},
		{"buying_signal.high", `{"buyingSignalScore":85,"threshold":75}`, "High buying signal: 85/100 (threshold 75)"},
		{"deal.created", `{"deal":{"title":"Licence","dealValue":120000,"currency":"EUR","stage":"discovery"}}`, `Deal "Licence" created: EUR 1,200.00, discovery`},
		{"deal.created", `{"deal":{"title":"Licence","dealValue":1200,"currency":"JPY","stage":"proposal"}}`, `Deal "Licence" created: JPY 1,200, proposal`},
		{"deal.updated", `{"changes":{"title":{}}}`, "Deal updated: title"},
		{"deal.stage_changed", `{"from":"discovery","to":"proposal","probability":0.3}`, "Deal stage discovery -> proposal"},
		{"deal.won", `{"from":"negotiation","to":"won","dealValue":120000,"currency":"EUR"}`, "Deal won: EUR 1,200.00"},
		{"deal.won", `{"from":"negotiation","to":"won","dealValue":5,"currency":"XYZ"}`, "Deal won: 5 XYZ (minor units)"},
		{"deal.lost", `{"from":"proposal","to":"lost","lostReason":"budget"}`, "Deal lost in proposal (reason: budget)"},
		{"deal.stalled", `{"stage":"proposal","days":30}`, "Deal stalled: over 30 days in proposal"},
		{"invoice.created", `{"invoice":{"number":"INV-2026-00001","amount":120000,"currency":"EUR"},"causationEventId":7}`, "Invoice INV-2026-00001 issued: EUR 1,200.00"},
		{"invoice.paid", `{"number":"INV-2026-00001","amount":120000,"currency":"EUR","reference":"BANK-42"}`, "Invoice INV-2026-00001 paid: EUR 1,200.00 (reference BANK-42)"},
		{"invoice.paid", `{"number":"INV-2026-00001","amount":120000,"currency":"EUR","reference":null}`, "Invoice INV-2026-00001 paid: EUR 1,200.00"},
		{"invoice.voided", `{"number":"INV-2026-00002","reason":"duplicate"}`, "Invoice INV-2026-00002 voided (reason: duplicate)"},
		{"contract.generated", `{"contract":{},"causationEventId":7}`, "Contract generated"},
		{"contract.status_changed", `{"from":"generated","to":"sent"}`, "Contract generated -> sent"},
		{"client.created", `{"client":{"name":null,"company":"Analytical Engines","status":"onboarding"}}`, `Client "Analytical Engines" created (status onboarding)`},
		{"client.onboarded", `{"done":4,"skipped":1}`, "Onboarding complete: 4 done, 1 skipped"},
		{"client.status_changed", `{"from":"active","to":"paused"}`, "Client status active -> paused"},
		{"client.onboarding_started", `{"tasks":["Kickoff call","Access"],"causationEventId":9}`, "Onboarding started: 2 tasks"},
		{"client.onboarding_started", `{"tasks":["Kickoff call"]}`, "Onboarding started: 1 task"},
		{"onboarding_task.status_changed", `{"title":"Kickoff call","position":0,"from":"pending","to":"done"}`, `Onboarding task "Kickoff call" pending -> done`},
		{"client.renewal_due", `{"renewalDate":"2027-03-15","daysLeft":30}`, "Renewal due on 2027-03-15 (30 days left)"},
		// Fallbacks: the type in words.
		{"report.generated", `{}`, "Report generated"},
		{"lead.stage_changed", `{"from":1}`, "Lead stage changed"},
		{"invoice.paid", `not json`, "Invoice paid"},
		{"deal.won", ``, "Deal won"},
	} {
		got := timeline.Summary(tc.typ, json.RawMessage(tc.payload))
		require.Equal(t, tc.want, got, "%s %s", tc.typ, tc.payload)
		require.NotContains(t, got, "\n")
	}
}
