package report

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"example.com/crm/pkg/document"
)

// Input is what a Writer is given: the report's kind, its period and its figures. It holds no
// person's data, so a model may see all of it.
type Input struct {
	Kind        string    `json:"kind"`
	PeriodStart time.Time `json:"periodStart"`
	PeriodEnd   time.Time `json:"periodEnd"`
	Figures     Figures   `json:"figures"`
}

// Writer writes a report's narrative from its figures and names the model that wrote it.
type Writer interface {
	Write(ctx context.Context, in Input) (Narrative, string, error)
}

// Limits of a narrative, which Narrative.Validate enforces on a model's answer.
const (
	MaxSummaryLen   = 2000
	MaxHighlights   = 6
	MaxHighlightLen = 300
)

// Validate checks that the narrative has a summary and 1 to MaxHighlights highlights, each
// within its length and free of control characters other than newlines.
func (n Narrative) Validate() error {
	if err := checkText("summary", n.Summary, MaxSummaryLen); err != nil {
		return err
	}
	if len(n.Highlights) == 0 || len(n.Highlights) > MaxHighlights {
		return fmt.Errorf("highlights: %d given, want 1 to %d", len(n.Highlights), MaxHighlights)
	}
	for i, h := range n.Highlights {
		if err := checkText(fmt.Sprintf("highlights[%d]", i), h, MaxHighlightLen); err != nil {
			return err
		}
	}
	return nil
}

func checkText(field, s string, limit int) error {
	switch n := len([]rune(s)); {
	case strings.TrimSpace(s) == "":
		return fmt.Errorf("%s is empty", field)
	case n > limit:
		return fmt.Errorf("%s has %d characters, more than %d", field, n, limit)
	}
	for _, r := range s {
		if r != '\n' && (r < 0x20 || r == 0x7f) {
			return fmt.Errorf("%s holds a control character", field)
		}
	}
	return nil
}

// Builtin is the writer used without a model: plain sentences made from the figures by fixed
// rules, so equal figures give equal text. It never fails.
type Builtin struct{}

// Write writes the narrative of in; the model is BuiltinModel.
func (Builtin) Write(_ context.Context, in Input) (Narrative, string, error) {
	return BuiltinNarrative(in), BuiltinModel, nil
}

// BuiltinNarrative is the built-in writer's narrative of in: a summary of every figure and the
// highlights pipeline, win rate, cash collected and integrity.
func BuiltinNarrative(in Input) Narrative {
	f := in.Figures
	last := in.PeriodEnd.AddDate(0, 0, -1)
	var s strings.Builder
	fmt.Fprintf(&s, "Week %s to %s: %s came in and %s qualified. ", in.PeriodStart.Format(dateLayout), last.Format(dateLayout),
		plural(f.Leads.In, "lead", "leads"), strconv.FormatInt(f.Leads.Qualified, 10))
	fmt.Fprintf(&s, "%s booked and %s completed. ", plural(f.Calls.Booked, "call was", "calls were"), strconv.FormatInt(f.Calls.Completed, 10))
	fmt.Fprintf(&s, "%s won%s and %s lost%s. ", plural(f.Deals.Won.Count, "deal was", "deals were"), amounts(f.Deals.Won),
		strconv.FormatInt(f.Deals.Lost.Count, 10), amounts(f.Deals.Lost))
	fmt.Fprintf(&s, "%s issued%s; %s paid%s. ", plural(f.Money.Invoiced.Count, "invoice was", "invoices were"), amounts(f.Money.Invoiced),
		strconv.FormatInt(f.Money.Paid.Count, 10), amounts(f.Money.Paid))
	fmt.Fprintf(&s, "%s opened.", plural(f.Alerts.Opened, "integrity alert was", "integrity alerts were"))

	var hl []string
	if f.Leads.In > 0 || f.Leads.Qualified > 0 {
		hl = append(hl, fmt.Sprintf("Pipeline: %s in, %d qualified this week.", plural(f.Leads.In, "new lead", "new leads"), f.Leads.Qualified))
	} else {
		hl = append(hl, "No new leads came in this week.")
	}
	if closed := f.Deals.Won.Count + f.Deals.Lost.Count; closed > 0 {
		hl = append(hl, fmt.Sprintf("Win rate: %d of %d closed deals won (%s).", f.Deals.Won.Count, closed, percent(f.Deals.Won.Count, closed)))
	} else {
		hl = append(hl, "No deal was closed this week.")
	}
	if f.Money.Paid.Count > 0 {
		hl = append(hl, "Cash collected: "+moneyList(f.Money.Paid)+".")
	} else {
		hl = append(hl, "No invoice was paid this week.")
	}
	if f.Alerts.Opened > 0 {
		hl = append(hl, fmt.Sprintf("Integrity: %s to review.", plural(f.Alerts.Opened, "new alert", "new alerts")))
	} else {
		hl = append(hl, "Integrity: no new alerts.")
	}
	return Narrative{Summary: s.String(), Highlights: hl}
}

// dateLayout is how the narrative and the document show a date.
const dateLayout = "2006-01-02"

// plural is "1 <one>" or "<n> <many>".
func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// percent is part/whole as a whole percentage, rounded half up.
func percent(part, whole int64) string {
	return fmt.Sprintf("%d%%", (part*200+whole)/(2*whole))
}

// amounts is " (EUR 1,500.00, USD 20.00)" for a tally with money, "" for one without.
func amounts(t Tally) string {
	if len(t.ByCurrency) == 0 {
		return ""
	}
	return " (" + moneyList(t) + ")"
}

// moneyList is "EUR 1,500.00, USD 20.00": a tally's sums per currency.
func moneyList(t Tally) string {
	parts := make([]string, len(t.ByCurrency))
	for i, c := range t.ByCurrency {
		parts[i] = FormatMoney(c.Amount, c.Currency)
	}
	return strings.Join(parts, ", ")
}

// FormatMoney is amount (minor units of cur) as a document shows it, or "<amount> <cur> (minor
// units)" for a currency the formatter does not know.
func FormatMoney(amount int64, cur string) string {
	s, err := document.FormatAmount(amount, cur)
	if err != nil {
		return fmt.Sprintf("%d %s (minor units)", amount, cur)
	}
	return s
}
