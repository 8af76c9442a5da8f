package timeline

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"example.com/crm/pkg/call"
	"example.com/crm/pkg/client"
	"example.com/crm/pkg/contract"
	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/document"
	"example.com/crm/pkg/invoice"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/pipeline"
)

// maxText is the most characters of free text (a reason, a subject, a name) a summary quotes.
const maxText = 120

// Summary is the one-line summary of an event of type typ with payload: what happened, with the
// figures that matter ("Stage new -> qualified (reason: budget confirmed)", "Invoice
// INV-2026-00001 issued: EUR 1,200.00"). An event type without a summary of its own, or a
// payload of an unexpected shape, is summarised by its type ("Lead follow up scheduled").
func Summary(typ string, payload json.RawMessage) string {
	if f, ok := summaries[typ]; ok {
		if s := f(payload); s != "" {
			return s
		}
	}
	return typeText(typ)
}

// summaries are the summarisers of the event types that the timeline shows, each decoding only
// the payload fields it reads.
var summaries = map[string]func(json.RawMessage) string{
	lead.EventCreated: view(func(p struct {
		Via  string   `json:"via"`
		Lead leadView `json:"lead"`
	}) string {
		return join("Lead", p.Lead.who(), "created") + paren("via", p.Via)
	}),
	lead.EventEnriched: view(func(p struct {
		Enrichment struct {
			Domain   string `json:"domain"`
			FreeMail bool   `json:"freeMail"`
		} `json:"enrichment"`
		RevenueBand string `json:"revenueBand"`
	}) string {
		var parts []string
		if d := p.Enrichment.Domain; d != "" {
			parts = append(parts, "domain "+clip(d))
		}
		if p.Enrichment.FreeMail {
			parts = append(parts, "free-mail address")
		}
		if p.RevenueBand != "" {
			parts = append(parts, "revenue band "+clip(p.RevenueBand))
		}
		return list("Enriched", parts)
	}),
	lead.EventQualified: view(func(p struct {
		Score           int    `json:"score"`
		ICPMatch        bool   `json:"icpMatch"`
		RecommendedPath string `json:"recommendedPath"`
		ScoredBy        string `json:"scoredBy"`
	}) string {
		icp := "no ICP match"
		if p.ICPMatch {
			icp = "ICP match"
		}
		return fmt.Sprintf("Qualified: score %d, %s", p.Score, icp) + prefixed(", path ", p.RecommendedPath) + paren("by", p.ScoredBy)
	}),
	lead.EventStageChanged: view(func(p struct {
		From   string  `json:"from"`
		To     string  `json:"to"`
		Reason *string `json:"reason"`
	}) string {
		return move("Stage", p.From, p.To) + reason(p.Reason)
	}),
	lead.EventUpdated: view(func(p struct {
		Changes map[string]json.RawMessage `json:"changes"`
	}) string {
		return list("Updated", sortedKeys(p.Changes))
	}),
	lead.EventDeleted: view(func(p struct {
		Stage string `json:"stage"`
	}) string {
		return "Lead deleted" + paren("stage", p.Stage)
	}),
	lead.EventActivityAdded: view(func(p struct {
		Kind    string  `json:"kind"`
		Subject *string `json:"subject"`
	}) string {
		kind := "Activity"
		if p.Kind != "" {
			kind = capitalize(strings.ReplaceAll(p.Kind, "_", " "))
		}
		return kind + " added" + prefixed(": ", deref(p.Subject))
	}),
	lead.EventStale: view(func(p struct {
		Stage string `json:"stage"`
		Days  int    `json:"days"`
	}) string {
		return fmt.Sprintf("Stale: no activity for %d days", p.Days) + prefixed(" in stage ", p.Stage)
	}),
	lead.EventGhostRiskRaised: view(func(p struct {
		From int `json:"from"`
		To   int `json:"to"`
		Rule struct {
			SilenceDays int `json:"silenceDays"`
		} `json:"rule"`
	}) string {
		return fmt.Sprintf("Ghost risk %d -> %d (silent %d days or more)", p.From, p.To, p.Rule.SilenceDays)
	}),
	lead.EventPriorityChanged: view(func(p struct {
		From string `json:"from"`
		To   string `json:"to"`
		Rule string `json:"rule"`
	}) string {
		return move("Priority", p.From, p.To) + paren("rule", p.Rule)
	}),
	pipeline.LeadFollowUpScheduled: view(func(p struct {
		RunAt time.Time `json:"runAt"`
	}) string {
		return "Follow-up scheduled" + prefixed(" for ", when(p.RunAt))
	}),

	call.EventBooked: view(func(p struct {
		ScheduledAt     time.Time `json:"scheduledAt"`
		DurationMinutes int       `json:"durationMinutes"`
	}) string {
		s := "Call booked" + prefixed(" for ", when(p.ScheduledAt))
		if p.DurationMinutes > 0 {
			s += fmt.Sprintf(" (%d min)", p.DurationMinutes)
		}
		return s
	}),
	call.EventCompleted: view(func(struct{}) string { return "Call completed" }),
	call.EventNoShow: view(func(p struct {
		GhostRisk *struct {
			From int `json:"from"`
			To   int `json:"to"`
		} `json:"ghostRisk"`
	}) string {
		if g := p.GhostRisk; g != nil && g.From != g.To {
			return fmt.Sprintf("Call no-show (ghost risk %d -> %d)", g.From, g.To)
		}
		return "Call no-show"
	}),
	call.EventCancelled: view(func(p struct {
		Reason *string `json:"reason"`
	}) string {
		return "Call cancelled" + reason(p.Reason)
	}),
	call.CallAnalyzed: view(func(p struct {
		Score int    `json:"buyingSignalScore"`
		Model string `json:"model"`
	}) string {
		return fmt.Sprintf("Call analysed: buying signal %d/100", p.Score) + paren("by", p.Model)
	}),
	call.EventBuyingSignalHigh: view(func(p struct {
		Score     int `json:"buyingSignalScore"`
		Threshold int `json:"threshold"`
	}) string {
		return fmt.Sprintf("High buying signal: %d/100 (threshold %d)", p.Score, p.Threshold)
	}),

	deal.EventCreated: view(func(p struct {
		Deal struct {
			Title     string `json:"title"`
			DealValue int64  `json:"dealValue"`
			Currency  string `json:"currency"`
			Stage     string `json:"stage"`
		} `json:"deal"`
	}) string {
		s := join("Deal", quote(p.Deal.Title), "created")
		if p.Deal.Currency != "" {
			s += ": " + money(p.Deal.DealValue, p.Deal.Currency)
		}
		return s + prefixed(", ", p.Deal.Stage)
	}),
	deal.EventUpdated: view(func(p struct {
		Changes map[string]json.RawMessage `json:"changes"`
	}) string {
		return list("Deal updated", sortedKeys(p.Changes))
	}),
	deal.EventStageChanged: view(func(p dealMove) string { return move("Deal stage", p.From, p.To) }),
	deal.EventWon: view(func(p dealMove) string {
		if p.Currency == "" {
			return "Deal won"
		}
		return "Deal won: " + money(p.DealValue, p.Currency)
	}),
	deal.EventLost: view(func(p dealMove) string {
		return "Deal lost" + prefixed(" in ", p.From) + reason(p.LostReason)
	}),
	deal.EventStalled: view(func(p struct {
		Stage string `json:"stage"`
		Days  int    `json:"days"`
	}) string {
		return fmt.Sprintf("Deal stalled: over %d days", p.Days) + prefixed(" in ", p.Stage)
	}),

	invoice.EventCreated: view(func(p struct {
		Invoice struct {
			Number   string `json:"number"`
			Amount   int64  `json:"amount"`
			Currency string `json:"currency"`
		} `json:"invoice"`
	}) string {
		return join("Invoice", clip(p.Invoice.Number), "issued") + moneyPart(p.Invoice.Amount, p.Invoice.Currency)
	}),
	invoice.EventPaid: view(func(p struct {
		Number    string  `json:"number"`
		Amount    int64   `json:"amount"`
		Currency  string  `json:"currency"`
		Reference *string `json:"reference"`
	}) string {
		return join("Invoice", clip(p.Number), "paid") + moneyPart(p.Amount, p.Currency) + paren("reference", deref(p.Reference))
	}),
	invoice.EventVoided: view(func(p struct {
		Number string `json:"number"`
		Reason string `json:"reason"`
	}) string {
		return join("Invoice", clip(p.Number), "voided") + reason(&p.Reason)
	}),

	contract.EventGenerated: view(func(struct{}) string { return "Contract generated" }),
	contract.EventStatusChanged: view(func(p struct {
		From string `json:"from"`
		To   string `json:"to"`
	}) string {
		return move("Contract", p.From, p.To)
	}),

	client.EventCreated: view(func(p struct {
		Client struct {
			Name    *string `json:"name"`
			Email   *string `json:"email"`
			Company *string `json:"company"`
			Status  string  `json:"status"`
		} `json:"client"`
	}) string {
		c := p.Client
		who := firstOf(deref(c.Name), deref(c.Company), deref(c.Email))
		return join("Client", quote(who), "created") + paren("status", c.Status)
	}),
	client.EventOnboarded: view(func(p struct {
		Done    int `json:"done"`
		Skipped int `json:"skipped"`
	}) string {
		return fmt.Sprintf("Onboarding complete: %d done, %d skipped", p.Done, p.Skipped)
	}),
	client.EventStatusChanged: view(func(p struct {
		From string `json:"from"`
		To   string `json:"to"`
	}) string {
		return move("Client status", p.From, p.To)
	}),
	client.EventOnboardingStarted: view(func(p struct {
		Tasks []string `json:"tasks"`
	}) string {
		if len(p.Tasks) == 1 {
			return "Onboarding started: 1 task"
		}
		return fmt.Sprintf("Onboarding started: %d tasks", len(p.Tasks))
	}),
	client.EventTaskStatusChanged: view(func(p struct {
		Title string `json:"title"`
		From  string `json:"from"`
		To    string `json:"to"`
	}) string {
		return move(join("Onboarding task", quote(p.Title)), p.From, p.To)
	}),
	client.EventRenewalDue: view(func(p struct {
		RenewalDate string `json:"renewalDate"`
		DaysLeft    int    `json:"daysLeft"`
	}) string {
		return "Renewal due" + prefixed(" on ", clip(p.RenewalDate)) + fmt.Sprintf(" (%d days left)", p.DaysLeft)
	}),
}

// leadView is the part of a lead that names it.
type leadView struct {
	Name      *string `json:"name"`
	FirstName *string `json:"firstName"`
	LastName  *string `json:"lastName"`
	Email     *string `json:"email"`
	Company   *string `json:"company"`
	Phone     *string `json:"phone"`
}

// who names the lead: its name, else its first and last name, email, company or phone.
func (l leadView) who() string {
	first := strings.TrimSpace(deref(l.FirstName) + " " + deref(l.LastName))
	return firstOf(deref(l.Name), first, deref(l.Email), deref(l.Company), deref(l.Phone))
}

// dealMove is the payload of deal.stage_changed, deal.won and deal.lost, as far as read.
type dealMove struct {
	From       string  `json:"from"`
	To         string  `json:"to"`
	LostReason *string `json:"lostReason"`
	DealValue  int64   `json:"dealValue"`
	Currency   string  `json:"currency"`
}

// view turns f into a summariser of payloads that decode into a T ("" for one that does not).
func view[T any](f func(T) string) func(json.RawMessage) string {
	return func(raw json.RawMessage) string {
		var v T
		if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
			return ""
		}
		return f(v)
	}
}

// typeText is an event type as words: "lead.follow_up_scheduled" is "Lead follow up scheduled".
func typeText(typ string) string {
	return capitalize(strings.NewReplacer(".", " ", "_", " ").Replace(typ))
}

// money is an amount of minor units of cur as documents show it ("EUR 1,200.00"), or "<amount>
// <cur> (minor units)" for a currency the formatter does not know.
func money(amount int64, cur string) string {
	s, err := document.FormatAmount(amount, cur)
	if err != nil {
		return fmt.Sprintf("%d %s (minor units)", amount, clip(cur))
	}
	return s
}

// moneyPart is ": <money>", or "" without a currency.
func moneyPart(amount int64, cur string) string {
	if cur == "" {
		return ""
	}
	return ": " + money(amount, cur)
}

// move is "<what> <from> -> <to>", or "<what> <to>" without a from.
func move(what, from, to string) string {
	if from == "" {
		return join(what, clip(to))
	}
	return join(what, clip(from)+" -> "+clip(to))
}

// reason is " (reason: <text>)", or "" for none.
func reason(r *string) string { return paren("reason", deref(r)) }

// paren is " (<label> <value>)" (" (reason: <value>)" for the reason), or "" for an empty value.
func paren(label, value string) string {
	if value = clip(value); value == "" {
		return ""
	}
	if label == "reason" {
		return " (reason: " + value + ")"
	}
	return " (" + label + " " + value + ")"
}

// prefixed is prefix and value, or "" for an empty value.
func prefixed(prefix, value string) string {
	if value = clip(value); value == "" {
		return ""
	}
	return prefix + value
}

// list is "<head>: a, b, c", or head alone for no items.
func list(head string, items []string) string {
	if len(items) == 0 {
		return head
	}
	return head + ": " + strings.Join(items, ", ")
}

// join joins the non-empty words with spaces.
func join(words ...string) string {
	return strings.Join(slices.DeleteFunc(words, func(w string) bool { return w == "" }), " ")
}

// quote is s in double quotes, or "" for an empty s.
func quote(s string) string {
	if s = clip(s); s == "" {
		return ""
	}
	return `"` + s + `"`
}

// when is an instant as "2006-01-02 15:04 UTC", or "" for the zero time.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// clip makes free text fit one line of a summary: its blanks and control characters folded into
// single spaces, at most maxText characters (cut with "...").
func clip(s string) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if r := []rune(s); len(r) > maxText {
		return string(r[:maxText-3]) + "..."
	}
	return s
}

// firstOf is the first of ss that is not blank, clipped.
func firstOf(ss ...string) string {
	for _, s := range ss {
		if s = clip(s); s != "" {
			return s
		}
	}
	return ""
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, clip(k))
	}
	slices.Sort(keys)
	return keys
}
