package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"example.com/crm/pkg/document"
)

// Render renders r as its PDF (pkg/document.Report): the narrative, the figures as a table, a
// bar chart of the week's counts and a grouped bar chart of its money per currency (won deals,
// invoiced, paid; in major units). Equal reports give equal bytes.
func Render(r Report) ([]byte, error) {
	f := r.Body.Figures
	in := document.ReportInput{
		Title:       "Weekly report",
		PeriodStart: r.PeriodStart,
		PeriodEnd:   r.PeriodEnd,
		Author:      r.Model,
		Summary:     r.Body.Narrative.Summary,
		Highlights:  r.Body.Narrative.Highlights,
		Figures: [][2]string{
			{"Leads in", strconv.FormatInt(f.Leads.In, 10)},
			{"Leads qualified", strconv.FormatInt(f.Leads.Qualified, 10)},
			{"Calls booked", strconv.FormatInt(f.Calls.Booked, 10)},
			{"Calls completed", strconv.FormatInt(f.Calls.Completed, 10)},
			{"Deals won", tallyText(f.Deals.Won)},
			{"Deals lost", tallyText(f.Deals.Lost)},
			{"Invoiced", tallyText(f.Money.Invoiced)},
			{"Paid", tallyText(f.Money.Paid)},
			{"Integrity alerts opened", strconv.FormatInt(f.Alerts.Opened, 10)},
		},
		Charts: []document.Chart{countsChart(f), moneyChart(f)},
	}
	doc, err := document.Report(in)
	if err != nil {
		return nil, fmt.Errorf("render report: %w", err)
	}
	return doc, nil
}

// tallyText is "3: EUR 1,500.00, USD 20.00" (or "0").
func tallyText(t Tally) string {
	s := strconv.FormatInt(t.Count, 10)
	if len(t.ByCurrency) == 0 {
		return s
	}
	return s + ": " + moneyList(t)
}

// countsChart is the week's counts, one bar each.
func countsChart(f Figures) document.Chart {
	return document.Chart{
		Title:  "The week in counts",
		Labels: []string{"Leads in", "Qualified", "Calls booked", "Calls done", "Deals won", "Deals lost", "Alerts"},
		Series: []document.Series{{Name: "Count", Values: []float64{
			float64(f.Leads.In), float64(f.Leads.Qualified), float64(f.Calls.Booked), float64(f.Calls.Completed),
			float64(f.Deals.Won.Count), float64(f.Deals.Lost.Count), float64(f.Alerts.Opened),
		}}},
	}
}

// moneyChart is the week's money per currency: won deals, invoiced and paid, in major units. A
// week without money has one currency "none" at zero.
func moneyChart(f Figures) document.Chart {
	tallies := []Tally{f.Deals.Won, f.Money.Invoiced, f.Money.Paid}
	var curs []string
	for _, t := range tallies {
		for _, c := range t.ByCurrency {
			if !slices.Contains(curs, c.Currency) {
				curs = append(curs, c.Currency)
			}
		}
	}
	slices.Sort(curs)
	if len(curs) == 0 {
		curs = []string{"none"}
	}
	series := make([]document.Series, len(tallies))
	for i, name := range []string{"Deals won", "Invoiced", "Paid"} {
		values := make([]float64, len(curs))
		for _, c := range tallies[i].ByCurrency {
			values[slices.Index(curs, c.Currency)] = major(c.Amount, c.Currency)
		}
		series[i] = document.Series{Name: name, Values: values}
	}
	return document.Chart{Title: "Money by currency", Labels: curs, Series: series}
}

// major is amount (minor units of cur) in major units; an unknown currency counts as two
// decimals.
func major(amount int64, cur string) float64 {
	scale, err := document.Scale(cur)
	if err != nil {
		scale = 2
	}
	return float64(amount) / math.Pow10(scale)
}
