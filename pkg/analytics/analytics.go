package analytics

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/google/uuid"

	"example.com/crm/pkg/client"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/lead"
)

// Steps are the funnel's steps in order; a lead's furthest step is its index here (the
// lead_funnel.step of migration 000033).
var Steps = []string{"created", "qualified", "contacted", "call_booked", "converted", "won"}

// Service reads the analytics figures of an org.
type Service struct {
	d   *db.DB
	now func() time.Time
}

// NewService returns the analytics service on d.
func NewService(d *db.DB) *Service { return &Service{d: d, now: time.Now} }

// Funnel is GET /analytics/funnel: the leads created in the window and how far their histories
// went.
type Funnel struct {
	Window
	Steps []FunnelStep `json:"steps"`
}

// FunnelStep is one step: how many of the window's leads reached it (or a later one), as a
// share of the previous step's count and of the created ones. The first step's previous step is
// itself.
type FunnelStep struct {
	Step                   string       `json:"step"`
	Count                  int64        `json:"count"`
	ConversionFromPrevious *json.Number `json:"conversionFromPrevious"`
	ConversionFromStart    *json.Number `json:"conversionFromStart"`
}

// Velocity is GET /analytics/velocity: the deals of one currency closed in the window and the
// open ones now. Every figure that divides by zero is null.
type Velocity struct {
	Window
	Currency       string       `json:"currency"`
	OpenDeals      int64        `json:"openDeals"`
	WonDeals       int64        `json:"wonDeals"`
	LostDeals      int64        `json:"lostDeals"`
	WinRate        *json.Number `json:"winRate"`
	AvgDealValue   *json.Number `json:"avgDealValue"`
	AvgCycleDays   *json.Number `json:"avgCycleDays"`
	VelocityPerDay *json.Number `json:"velocityPerDay"`
}

// Dashboard is GET /analytics/dashboard.
type Dashboard struct {
	Window
	Leads   DashboardLeads   `json:"leads"`
	Deals   DashboardDeals   `json:"deals"`
	Money   DashboardMoney   `json:"money"`
	Clients DashboardClients `json:"clients"`
	Alerts  DashboardAlerts  `json:"alerts"`
}

// DashboardLeads: the leads created in the window, all of them by source; every alive lead by
// its current stage (every stage present).
type DashboardLeads struct {
	Created  int64            `json:"created"`
	ByStage  map[string]int64 `json:"byStage"`
	BySource []SourceCount    `json:"bySource"`
}

// SourceCount is the leads of one source (null: none given), most first.
type SourceCount struct {
	Source *string `json:"source"`
	Count  int64   `json:"count"`
}

// DashboardDeals: the open deals now (count and per currency), the deals won and lost in the
// window.
type DashboardDeals struct {
	Open               int64           `json:"open"`
	Won                int64           `json:"won"`
	Lost               int64           `json:"lost"`
	PipelineByCurrency []PipelineMoney `json:"pipelineByCurrency"`
}

// PipelineMoney is the open deals of one currency: count, face and weighted value.
type PipelineMoney struct {
	Currency      string      `json:"currency"`
	Count         int64       `json:"count"`
	DealValue     json.Number `json:"dealValue"`
	WeightedValue json.Number `json:"weightedValue"`
}

// DashboardMoney: per currency, the invoices issued in the window (void ones left out), those
// paid in the window, and of those issued in the window the ones still unpaid now.
type DashboardMoney struct {
	Invoiced    []CurrencyAmount `json:"invoiced"`
	Paid        []CurrencyAmount `json:"paid"`
	Outstanding []CurrencyAmount `json:"outstanding"`
}

// CurrencyAmount is a count of invoices and their sum in one currency, in minor units.
type CurrencyAmount struct {
	Currency string      `json:"currency"`
	Count    int64       `json:"count"`
	Amount   json.Number `json:"amount"`
}

// DashboardClients: every client now by status (every status present).
type DashboardClients struct {
	ByStatus map[string]int64 `json:"byStatus"`
}

// DashboardAlerts: the integrity alerts open now.
type DashboardAlerts struct {
	Open int64 `json:"open"`
}

// Funnel returns the funnel of the leads created in w.
func (s *Service) Funnel(ctx context.Context, orgID uuid.UUID, w Window) (Funnel, error) {
	var reached [6]int64
	err := s.d.Read(ctx, orgID, func(b *db.Batch) {
		b.Exec(genericPlansSQL)
		queueWindowed(b, orgID, w, leadStepsSQL, func(r db.Row) error {
			var step int16
			var n int64
			if err := r.Scan(&step, &n); err != nil {
				return fmt.Errorf("scan lead steps: %w", err)
			}
			if step < 0 || int(step) >= len(Steps) {
				return fmt.Errorf("lead steps: unexpected step %d", step)
			}
			reached[step] += n
			return nil
		})
	})
	if err != nil {
		return Funnel{}, fmt.Errorf("analytics funnel: %w", err)
	}
	// A lead at step k reached every step up to k.
	for i := len(reached) - 2; i >= 0; i-- {
		reached[i] += reached[i+1]
	}
	out := Funnel{Window: w, Steps: make([]FunnelStep, len(Steps))}
	for i, name := range Steps {
		prev := reached[max(i-1, 0)]
		out.Steps[i] = FunnelStep{
			Step: name, Count: reached[i],
			ConversionFromPrevious: ratio(big.NewInt(reached[i]), big.NewInt(prev), 4),
			ConversionFromStart:    ratio(big.NewInt(reached[i]), big.NewInt(reached[0]), 4),
		}
	}
	return out, nil
}

// queueWindowed queues query, one of the lead counts over w (leadStepsSQL, leadSourcesSQL), with
// w cut into its whole days and its partial edges, and calls fn per row.
func queueWindowed(b *db.Batch, orgID uuid.UUID, w Window, query string, fn func(db.Row) error) {
	head, tail, firstDay, endDay := w.split()
	b.Rows(fn, query, db.UUID(orgID), head.From, head.To, firstDay, endDay, tail.From, tail.To)
}

// Velocity returns the velocity of the deals in currency closed in w.
func (s *Service) Velocity(ctx context.Context, orgID uuid.UUID, w Window, currency string) (Velocity, error) {
	out := Velocity{Window: w, Currency: currency}
	wonValue, wonSeconds := new(big.Int), new(big.Rat)
	err := s.d.Read(ctx, orgID, func(b *db.Batch) {
		b.Exec(genericPlansSQL)
		queueClosed(b, orgID, w, &currency, func(stage string, n int64, value, seconds string) error {
			if stage == "lost" {
				out.LostDeals = n
				return nil
			}
			out.WonDeals = n
			return parseSums(wonValue, wonSeconds, value, seconds)
		})
		b.Rows(func(r db.Row) error {
			var cur, value, weighted string
			if err := r.Scan(&cur, &out.OpenDeals, &value, &weighted); err != nil {
				return fmt.Errorf("scan open deals: %w", err)
			}
			return nil
		}, openDealsSQL, db.UUID(orgID), currency)
	})
	if err != nil {
		return Velocity{}, fmt.Errorf("analytics velocity: %w", err)
	}
	won, closed := big.NewInt(out.WonDeals), big.NewInt(out.WonDeals+out.LostDeals)
	out.WinRate = ratio(won, closed, 4)
	out.AvgDealValue = ratio(wonValue, won, 0)
	out.AvgCycleDays = ratioRat(wonSeconds, new(big.Rat).SetInt64(out.WonDeals*secondsPerDay), 2)
	if out.WonDeals == 0 || wonSeconds.Sign() == 0 {
		return out, nil // no mean value or cycle, or a cycle of 0 days to divide by
	}
	// open × (value / won) × (won / closed) ÷ (seconds / won / 86,400), on the exact means:
	// open × value × won × 86,400 ÷ (closed × seconds).
	num := new(big.Rat).SetInt(new(big.Int).Mul(big.NewInt(out.OpenDeals), wonValue))
	num.Mul(num, new(big.Rat).SetInt64(out.WonDeals*secondsPerDay))
	den := new(big.Rat).Mul(new(big.Rat).SetInt(closed), wonSeconds)
	out.VelocityPerDay = ratioRat(num, den, 0)
	return out, nil
}

const secondsPerDay = 24 * 60 * 60

// genericPlansSQL makes the read's prepared statements run on their generic plans (for the
// transaction): their shape does not depend on the window, and re-planning the unions on every
// request (the plan cache keeps custom plans when a generic one looks dearer) costs more PostgreSQL
// CPU than the statements themselves.
const genericPlansSQL = `SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`

// queueClosed queues closedSQL for w (currency nil: every currency) and calls fn per stage (won,
// lost) with the count and the exact sums of values and cycle seconds.
func queueClosed(b *db.Batch, orgID uuid.UUID, w Window, currency *string, fn func(stage string, n int64, value, seconds string) error) {
	head, tail, firstDay, endDay := w.split()
	b.Rows(func(r db.Row) error {
		var stage, value, seconds string
		var n int64
		if err := r.Scan(&stage, &n, &value, &seconds); err != nil {
			return fmt.Errorf("scan closed deals: %w", err)
		}
		return fn(stage, n, value, seconds)
	}, closedSQL, db.UUID(orgID), head.From, head.To, firstDay, endDay, tail.From, tail.To, currency)
}

// Dashboard returns the org's dashboard for w.
func (s *Service) Dashboard(ctx context.Context, orgID uuid.UUID, w Window) (Dashboard, error) {
	out := Dashboard{
		Window: w,
		Leads:  DashboardLeads{ByStage: map[string]int64{}, BySource: []SourceCount{}},
		Deals:  DashboardDeals{PipelineByCurrency: []PipelineMoney{}},
		Money: DashboardMoney{
			Invoiced: []CurrencyAmount{}, Paid: []CurrencyAmount{}, Outstanding: []CurrencyAmount{},
		},
		Clients: DashboardClients{ByStatus: map[string]int64{}},
	}
	for _, st := range lead.Stages {
		out.Leads.ByStage[string(st)] = 0
	}
	for _, st := range client.Statuses() {
		out.Clients.ByStatus[st] = 0
	}
	sources := map[string]int64{}
	err := s.d.Read(ctx, orgID, func(b *db.Batch) {
		b.Exec(genericPlansSQL)
		queueWindowed(b, orgID, w, leadSourcesSQL, func(r db.Row) error {
			var source string
			var n int64
			if err := r.Scan(&source, &n); err != nil {
				return fmt.Errorf("scan lead sources: %w", err)
			}
			sources[source] += n
			out.Leads.Created += n
			return nil
		})
		b.Rows(countInto(out.Leads.ByStage, "lead stages"), leadStagesSQL, db.UUID(orgID))
		queueClosed(b, orgID, w, nil, func(stage string, n int64, _, _ string) error {
			if stage == "lost" {
				out.Deals.Lost = n
			} else {
				out.Deals.Won = n
			}
			return nil
		})
		b.Rows(func(r db.Row) error {
			var p PipelineMoney
			var value, weighted string
			if err := r.Scan(&p.Currency, &p.Count, &value, &weighted); err != nil {
				return fmt.Errorf("scan open deals: %w", err)
			}
			p.DealValue, p.WeightedValue = json.Number(value), json.Number(weighted)
			out.Deals.Open += p.Count
			out.Deals.PipelineByCurrency = append(out.Deals.PipelineByCurrency, p)
			return nil
		}, openDealsSQL, db.UUID(orgID), nil)
		b.Rows(func(r db.Row) error {
			var inv, due CurrencyAmount
			var amount, dueAmount string
			if err := r.Scan(&inv.Currency, &inv.Count, &amount, &due.Count, &dueAmount); err != nil {
				return fmt.Errorf("scan invoiced: %w", err)
			}
			inv.Amount, due.Currency, due.Amount = json.Number(amount), inv.Currency, json.Number(dueAmount)
			out.Money.Invoiced = append(out.Money.Invoiced, inv)
			if due.Count > 0 {
				out.Money.Outstanding = append(out.Money.Outstanding, due)
			}
			return nil
		}, invoicedSQL, db.UUID(orgID), w.From, w.To)
		b.Rows(func(r db.Row) error {
			var p CurrencyAmount
			var amount string
			if err := r.Scan(&p.Currency, &p.Count, &amount); err != nil {
				return fmt.Errorf("scan paid: %w", err)
			}
			p.Amount = json.Number(amount)
			out.Money.Paid = append(out.Money.Paid, p)
			return nil
		}, paidSQL, db.UUID(orgID), w.From, w.To)
		b.Rows(countInto(out.Clients.ByStatus, "client statuses"), clientStatusesSQL, db.UUID(orgID))
		b.Row(func(r db.Row) error { return r.Scan(&out.Alerts.Open) }, openAlertsSQL, db.UUID(orgID))
	})
	if err != nil {
		return Dashboard{}, fmt.Errorf("analytics dashboard: %w", err)
	}
	for src, n := range sources {
		if n == 0 {
			continue
		}
		sc := SourceCount{Count: n}
		if src != "" {
			sc.Source = &src
		}
		out.Leads.BySource = append(out.Leads.BySource, sc)
	}
	slices.SortFunc(out.Leads.BySource, func(a, b SourceCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(deref(a.Source), deref(b.Source))
	})
	for _, l := range [][]CurrencyAmount{out.Money.Invoiced, out.Money.Paid, out.Money.Outstanding} {
		slices.SortFunc(l, func(a, b CurrencyAmount) int { return cmp.Compare(a.Currency, b.Currency) })
	}
	slices.SortFunc(out.Deals.PipelineByCurrency, func(a, b PipelineMoney) int { return cmp.Compare(a.Currency, b.Currency) })
	return out, nil
}

// countInto reads (key, count) rows into m.
func countInto(m map[string]int64, what string) func(db.Row) error {
	return func(r db.Row) error {
		var k string
		var n int64
		if err := r.Scan(&k, &n); err != nil {
			return fmt.Errorf("scan %s: %w", what, err)
		}
		m[k] += n
		return nil
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// parseSums adds the decimal texts value (an integer) and seconds (a decimal) to the sums.
func parseSums(value *big.Int, seconds *big.Rat, valueText, secondsText string) error {
	v, ok := new(big.Int).SetString(valueText, 10)
	if !ok {
		return fmt.Errorf("won deals: bad sum %q", valueText)
	}
	sec, ok := new(big.Rat).SetString(secondsText)
	if !ok {
		return fmt.Errorf("won deals: bad seconds %q", secondsText)
	}
	value.Add(value, v)
	seconds.Add(seconds, sec)
	return nil
}

// ratio is a / b rounded half away from zero to decimals places, null when b is 0.
func ratio(a, b *big.Int, decimals int) *json.Number {
	return ratioRat(new(big.Rat).SetInt(a), new(big.Rat).SetInt(b), decimals)
}

// ratioRat is a / b rounded half away from zero to decimals places (big.Rat.FloatString rounds
// so), without trailing zeros; null when b is 0.
func ratioRat(a, b *big.Rat, decimals int) *json.Number {
	if b.Sign() == 0 {
		return nil
	}
	s := new(big.Rat).Quo(a, b).FloatString(decimals)
	if decimals > 0 {
		for s[len(s)-1] == '0' {
			s = s[:len(s)-1]
		}
		if s[len(s)-1] == '.' {
			s = s[:len(s)-1]
		}
	}
	if s == "-0" {
		s = "0"
	}
	n := json.Number(s)
	return &n
}
