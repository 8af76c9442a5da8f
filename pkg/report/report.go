package report

import (
	"time"

	"github.com/google/uuid"

	"example.com/crm/pkg/events"
)

// EntityType is the entity type of reports in events and errors.
const EntityType events.Entity = "report"

// KindWeekly is the kind of the weekly report.
const KindWeekly = "weekly"

// Kinds are the report kinds, the values of GET /reports?kind=.
var Kinds = []string{KindWeekly}

// BuiltinModel is the model of a report whose narrative the built-in writer wrote.
const BuiltinModel = "builtin"

// Report is a generated report as the API shows it: the figures and narrative are its body.
type Report struct {
	ID   uuid.UUID `json:"id"`
	Kind string    `json:"kind"`
	// PeriodStart and PeriodEnd bound the reported period, [start, end).
	PeriodStart time.Time `json:"periodStart"`
	PeriodEnd   time.Time `json:"periodEnd"`
	// Model is the model that wrote the narrative, or BuiltinModel.
	Model     string    `json:"model"`
	Body      Body      `json:"body"`
	CreatedAt time.Time `json:"createdAt"`
}

// Body is a report's content: the exact figures and the narrative written about them.
type Body struct {
	Figures   Figures   `json:"figures"`
	Narrative Narrative `json:"narrative"`
}

// Narrative is the prose of a report: a summary paragraph and a few highlights.
type Narrative struct {
	Summary    string   `json:"summary"`
	Highlights []string `json:"highlights"`
}

// Figures are the counts and sums of a report's period. Money is in minor units per currency
// (ISO 4217), currencies in alphabetical order.
type Figures struct {
	Leads  LeadFigures  `json:"leads"`
	Calls  CallFigures  `json:"calls"`
	Deals  DealFigures  `json:"deals"`
	Money  MoneyFigures `json:"money"`
	Alerts AlertFigures `json:"alerts"`
}

// LeadFigures count the leads created in the period (In) and those qualified in it (Qualified:
// their qualified_at falls in it); deleted leads are not counted.
type LeadFigures struct {
	In        int64 `json:"in"`
	Qualified int64 `json:"qualified"`
}

// CallFigures count the calls booked (created) in the period and those completed in it.
type CallFigures struct {
	Booked    int64 `json:"booked"`
	Completed int64 `json:"completed"`
}

// DealFigures are the deals won and lost in the period (their wonAt or lostAt falls in it) with
// their deal values.
type DealFigures struct {
	Won  Tally `json:"won"`
	Lost Tally `json:"lost"`
}

// MoneyFigures are the invoices issued in the period (not void) and those paid in it, with
// their amounts.
type MoneyFigures struct {
	Invoiced Tally `json:"invoiced"`
	Paid     Tally `json:"paid"`
}

// AlertFigures count the integrity alerts detected in the period.
type AlertFigures struct {
	Opened int64 `json:"opened"`
}

// Tally is a count of money-carrying records and their sums per currency.
type Tally struct {
	Count      int64           `json:"count"`
	ByCurrency []CurrencyTotal `json:"byCurrency"`
}

// CurrencyTotal is the count and summed amount (minor units) of one currency's records.
type CurrencyTotal struct {
	Currency string `json:"currency"`
	Count    int64  `json:"count"`
	Amount   int64  `json:"amount"`
}

// WeekBefore returns the previous full ISO week (Monday 00:00 to the next Monday 00:00, in UTC)
// of the week that holds at: the week a slot of the weekly report reports on. A slot on a
// Monday at 00:00 reports on the seven days just ended.
func WeekBefore(at time.Time) (start, end time.Time) {
	at = at.UTC()
	day := time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)
	sinceMonday := (int(day.Weekday()) + 6) % 7
	end = day.AddDate(0, 0, -sinceMonday)
	return end.AddDate(0, 0, -7), end
}
