package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/analytics"
	"example.com/crm/pkg/client"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/invoice"
	"example.com/crm/pkg/lead"
)

// analyticsSeed is the seed of the random histories: ANALYTICS_SEED when set (a failing run's
// logged seed reproduces it), else the clock.
func analyticsSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ANALYTICS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
		seed = v
	}
	t.Logf("seed %d (ANALYTICS_SEED=%d reproduces this run)", seed, seed)
	return seed
}

// history drives random operations of one org through the API (and the worker's use cases where
// a job would do the work), remembering what it made so that the next operation can pick from it.
type history struct {
	t        *testing.T
	a        *apiTest
	rng      *rand.Rand
	org      uuid.UUID
	as       reqOpt
	n        int
	leads    map[string]string // id -> stage
	deals    map[string]string // id -> stage
	won      []string          // won deals not yet invoiced
	invoices map[string]string // id -> status
	paid     []string          // paid invoices without a client
	clients  map[string]string // id -> status
}

func newHistory(t *testing.T, a *apiTest, rng *rand.Rand, org uuid.UUID, key string) *history {
	return &history{t: t, a: a, rng: rng, org: org, as: asOrg(org, key), leads: map[string]string{}, deals: map[string]string{},
		invoices: map[string]string{}, clients: map[string]string{}}
}

var testSources = []any{nil, "web", "ads", "referral"}
var testCurrencies = []string{"EUR", "USD", "GBP"}

// pick returns a random key of m whose value satisfies ok, or "".
func pick(rng *rand.Rand, m map[string]string, ok func(string) bool) string {
	var keys []string
	for k, v := range m {
		if ok(v) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	slices.Sort(keys)
	return keys[rng.IntN(len(keys))]
}

func (h *history) do(method, path string, body any) response {
	h.t.Helper()
	r := h.a.do(method, path, body, h.as)
	require.Less(h.t, r.Status, 500, string(r.Body))
	return r
}

// step runs one random operation.
func (h *history) step() {
	t := h.t
	switch op := h.rng.IntN(16); {
	case op < 2 || len(h.leads) < 3: // a new lead
		h.n++
		body := map[string]any{"email": fmt.Sprintf("l%d@%s.example", h.n, h.org)}
		if src := testSources[h.rng.IntN(len(testSources))]; src != nil {
			body["source"] = src
		}
		r := h.do(http.MethodPost, "/leads", body)
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		var l struct{ ID, Stage string }
		r.json(t, &l)
		h.leads[l.ID] = l.Stage
	case op < 6: // a stage move the machine allows
		id := pick(h.rng, h.leads, func(s string) bool { return len(lead.Allowed(lead.Stage(s))) > 0 })
		if id == "" {
			return
		}
		next := lead.Allowed(lead.Stage(h.leads[id]))
		to := next[h.rng.IntN(len(next))]
		if (to == lead.StageLost || to == lead.StageDisqualified) && h.rng.IntN(3) > 0 {
			to = next[0] // exits are rarer than forward moves
		}
		r := h.do(http.MethodPost, "/leads/"+id+"/stage", map[string]any{"stage": to})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		h.leads[id] = string(to)
	case op == 6: // a lead's source changes, or a lead is deleted
		id := pick(h.rng, h.leads, func(string) bool { return true })
		if h.rng.IntN(4) == 0 {
			r := h.do(http.MethodDelete, "/leads/"+id, nil)
			if r.Status == http.StatusNoContent {
				delete(h.leads, id)
			}
			return
		}
		r := h.do(http.MethodPatch, "/leads/"+id, map[string]any{"source": testSources[1+h.rng.IntN(len(testSources)-1)]})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	case op < 9: // a deal of a lead that has booked a call (or is converted)
		id := pick(h.rng, h.leads, func(s string) bool { return s == "call_booked" || s == "converted" })
		if id == "" {
			return
		}
		body := map[string]any{"leadId": id, "title": "Deal", "dealValue": h.rng.Int64N(5_000_000),
			"currency": testCurrencies[h.rng.IntN(len(testCurrencies))]}
		if h.rng.IntN(2) == 0 {
			body["probability"] = float64(h.rng.IntN(10001)) / 10000
		}
		r := h.do(http.MethodPost, "/deals", body)
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		var d struct{ ID, Stage string }
		r.json(t, &d)
		h.deals[d.ID], h.leads[id] = d.Stage, "converted"
	case op < 11: // a deal moves, is won or lost, or is patched
		id := pick(h.rng, h.deals, func(s string) bool { return s != "won" && s != "lost" })
		if id == "" {
			return
		}
		if h.rng.IntN(4) == 0 {
			r := h.do(http.MethodPatch, "/deals/"+id, map[string]any{"dealValue": h.rng.Int64N(5_000_000),
				"currency": testCurrencies[h.rng.IntN(len(testCurrencies))], "probability": float64(h.rng.IntN(10001)) / 10000})
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			return
		}
		moves := slices.DeleteFunc([]string{"discovery", "proposal", "negotiation", "won", "won", "lost"},
			func(s string) bool { return s == h.deals[id] })
		to := moves[h.rng.IntN(len(moves))]
		body := map[string]any{"stage": to}
		if to == "lost" {
			body["lostReason"] = "budget"
		}
		r := h.do(http.MethodPost, "/deals/"+id+"/stage", body)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		h.deals[id] = to
		if to == "won" {
			h.won = append(h.won, id)
		}
	case op == 11: // a won deal is invoiced, as create_invoice does
		if len(h.won) == 0 {
			return
		}
		id := h.won[0]
		h.won = h.won[1:]
		var eventID int64
		require.NoError(t, h.a.super.QueryRow(t.Context(), `SELECT id FROM events WHERE org_id = $1 AND entity_id = $2 AND type = 'deal.won'`,
			h.org, id).Scan(&eventID))
		svc := invoice.NewService(h.a.owner, workerEmitter(h.a), nil)
		res := dbtest.Batch(t, h.a.owner, h.org, svc.Create, invoice.Won{EventID: eventID, DealID: uuid.MustParse(id)})
		h.invoices[res[0].Invoice.ID.String()] = "issued"
	case op == 12: // an invoice is paid (some at an earlier time) or voided
		id := pick(h.rng, h.invoices, func(s string) bool { return s == "issued" })
		if id == "" {
			return
		}
		if h.rng.IntN(4) == 0 {
			r := h.do(http.MethodPost, "/invoices/"+id+"/void", map[string]any{"reason": "cancelled"})
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			h.invoices[id] = "void"
			return
		}
		body := map[string]any{}
		if h.rng.IntN(2) == 0 {
			body["paidAt"] = time.Now().Add(-time.Duration(h.rng.IntN(72*3600)) * time.Second).UTC().Format(time.RFC3339)
		}
		r := h.do(http.MethodPost, "/invoices/"+id+"/pay", body)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		h.invoices[id] = "paid"
		h.paid = append(h.paid, id)
	case op == 13: // a paid invoice makes a client, as create_client does
		if len(h.paid) == 0 {
			return
		}
		id := h.paid[0]
		h.paid = h.paid[1:]
		var eventID int64
		require.NoError(t, h.a.super.QueryRow(t.Context(), `SELECT id FROM events WHERE org_id = $1 AND entity_id = $2 AND type = 'invoice.paid'`,
			h.org, id).Scan(&eventID))
		svc := client.NewService(h.a.owner, workerEmitter(h.a))
		c := dbtest.Batch(t, h.a.owner, h.org, svc.Create, client.Paid{EventID: eventID, InvoiceID: uuid.MustParse(id)})[0].Client
		h.clients[c.ID.String()] = string(c.Status)
	default: // a client's status moves
		id := pick(h.rng, h.clients, func(s string) bool { return len(client.Allowed(client.Status(s))) > 0 })
		if id == "" {
			return
		}
		next := client.Allowed(client.Status(h.clients[id]))
		to := next[h.rng.IntN(len(next))]
		r := h.do(http.MethodPost, "/clients/"+id+"/status", map[string]any{"status": to})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		h.clients[id] = string(to)
	}
}

// TestAnalyticsProperty builds random histories of two orgs through the API (leads created,
// moved through their stage machine, re-sourced and deleted; deals created, patched, moved, won
// and lost; invoices made, paid at random earlier times and voided; clients made and moved), and
// after each round compares every figure of /analytics/funnel, /velocity (each currency) and
// /dashboard, for windows cut between the rounds, windows over whole days and the default, with
// a naive recomputation from the org's events alone (naiveFigures). Org B's history runs in
// between, so a figure of A that counted B's rows would differ.
func TestAnalyticsProperty(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(analyticsSeed(t), 17))
	a := newAPI(t)
	orgB, keyB := a.newOrg("other")
	hA := newHistory(t, a, rng, a.org, a.key)
	hB := newHistory(t, a, rng, orgB, keyB)
	rounds, steps := 4, 60
	if testing.Short() {
		rounds, steps = 2, 20
	}
	cuts := []time.Time{time.Now()}
	for range rounds {
		for range steps {
			hA.step()
			if rng.IntN(3) == 0 {
				hB.step()
			}
		}
		cuts = append(cuts, time.Now())
		for _, h := range []*history{hA, hB} {
			checkAnalytics(t, a, h.org, h.as, windowsOf(cuts))
		}
	}
	var summary string
	require.NoError(t, a.super.QueryRow(t.Context(), `SELECT string_agg(type || ' ' || n, ', ' ORDER BY type)
FROM (SELECT type, count(*) AS n FROM events WHERE org_id = $1 GROUP BY type) x`, a.org).Scan(&summary))
	t.Logf("org A's history: %s", summary)
}

// windowsOf returns the windows to check: every pair of cuts, windows whose edges fall mid-day
// around whole days (so that both the day sums and the edge scans count), an empty one, and the
// default (nil).
func windowsOf(cuts []time.Time) []*analytics.Window {
	now := time.Now()
	var out []*analytics.Window
	for i := range cuts {
		for j := i + 1; j < len(cuts); j++ {
			out = append(out, &analytics.Window{From: cuts[i], To: cuts[j]})
		}
	}
	mid := cuts[len(cuts)/2]
	out = append(out,
		&analytics.Window{From: now.Add(-50 * time.Hour), To: now.Add(50 * time.Hour)},
		&analytics.Window{From: mid, To: now.Add(50 * time.Hour)},
		&analytics.Window{From: now.Add(-50 * time.Hour), To: mid},
		&analytics.Window{From: mid.Truncate(24 * time.Hour), To: mid.Truncate(24 * time.Hour).Add(24 * time.Hour)},
		&analytics.Window{From: mid, To: mid},
		nil)
	return out
}

func windowQuery(w *analytics.Window) url.Values {
	q := url.Values{}
	if w != nil {
		q.Set("from", w.From.UTC().Format(time.RFC3339Nano))
		q.Set("to", w.To.UTC().Format(time.RFC3339Nano))
	}
	return q
}

// checkAnalytics compares the org's three routes with the naive figures for every window.
func checkAnalytics(t *testing.T, a *apiTest, org uuid.UUID, as reqOpt, windows []*analytics.Window) {
	t.Helper()
	evs := orgEvents(t, a, org)
	for _, w := range windows {
		q := windowQuery(w)
		var f analytics.Funnel
		getAs(t, a, "/analytics/funnel?"+q.Encode(), as, &f)
		win := f.Window
		if w != nil {
			require.True(t, w.From.Equal(win.From) && w.To.Equal(win.To))
		} else {
			require.WithinDuration(t, time.Now().Add(-analytics.DefaultSpan), win.From, time.Minute)
			require.Equal(t, analytics.DefaultSpan, win.To.Sub(win.From))
		}
		n := naiveFigures(t, evs, win)
		label := fmt.Sprintf("org %s window [%s, %s)", org, win.From.Format(time.RFC3339Nano), win.To.Format(time.RFC3339Nano))
		require.Len(t, f.Steps, 6)
		for i, st := range f.Steps {
			require.Equal(t, analytics.Steps[i], st.Step, label)
			require.Equal(t, n.reached[i], st.Count, "%s: funnel step %s", label, st.Step)
			requireRounded(t, n.reached[i], n.reached[max(i-1, 0)], 4, st.ConversionFromPrevious, label)
			requireRounded(t, n.reached[i], n.reached[0], 4, st.ConversionFromStart, label)
		}
		for _, cur := range testCurrencies {
			qc := windowQuery(w)
			qc.Set("currency", cur)
			var v analytics.Velocity
			getAs(t, a, "/analytics/velocity?"+qc.Encode(), as, &v)
			// The default window is the route's own "now": recompute on the window it reports.
			nv := naiveFigures(t, evs, v.Window)
			vc := nv.velocity[cur]
			l := label + " " + cur
			require.Equal(t, cur, v.Currency)
			require.Equal(t, vc.open, v.OpenDeals, "%s: open deals", l)
			require.Equal(t, vc.won, v.WonDeals, "%s: won deals", l)
			require.Equal(t, vc.lost, v.LostDeals, "%s: lost deals", l)
			requireRounded(t, vc.won, vc.won+vc.lost, 4, v.WinRate, l+" winRate")
			requireRoundedRat(t, ratOrNil(new(big.Rat).SetInt(vc.value), vc.won), 0, v.AvgDealValue, l+" avgDealValue")
			var cycleDays, velocity *big.Rat
			if vc.won > 0 {
				cycleDays = new(big.Rat).Quo(vc.seconds, big.NewRat(vc.won*86_400, 1))
				if cycleDays.Sign() > 0 {
					mean := new(big.Rat).SetFrac(vc.value, big.NewInt(vc.won))
					velocity = new(big.Rat).Mul(big.NewRat(vc.open, 1), mean)
					velocity.Mul(velocity, big.NewRat(vc.won, vc.won+vc.lost))
					velocity.Quo(velocity, cycleDays)
				}
			}
			requireRoundedRat(t, cycleDays, 2, v.AvgCycleDays, l+" avgCycleDays")
			requireRoundedRat(t, velocity, 0, v.VelocityPerDay, l+" velocityPerDay")
		}
		var d analytics.Dashboard
		getAs(t, a, "/analytics/dashboard?"+q.Encode(), as, &d)
		nd := naiveFigures(t, evs, d.Window)
		require.Equal(t, nd.reached[0], d.Leads.Created, "%s: leads created", label)
		require.Equal(t, nd.byStage, d.Leads.ByStage, "%s: leads by stage", label)
		require.Equal(t, nd.bySource, d.Leads.BySource, "%s: leads by source", label)
		require.Equal(t, nd.openDeals, d.Deals.Open, "%s: open deals", label)
		require.Equal(t, nd.wonDeals, d.Deals.Won, "%s: won deals", label)
		require.Equal(t, nd.lostDeals, d.Deals.Lost, "%s: lost deals", label)
		require.Equal(t, nd.pipeline, d.Deals.PipelineByCurrency, "%s: pipeline", label)
		require.Equal(t, nd.invoiced, d.Money.Invoiced, "%s: invoiced", label)
		require.Equal(t, nd.paid, d.Money.Paid, "%s: paid", label)
		require.Equal(t, nd.outstanding, d.Money.Outstanding, "%s: outstanding", label)
		require.Equal(t, nd.clients, d.Clients.ByStatus, "%s: clients", label)
		require.Equal(t, nd.alerts, d.Alerts.Open, "%s: alerts", label)
	}
}

// getAs reads path as the org of as (200) into v.
func getAs(t *testing.T, a *apiTest, path string, as reqOpt, v any) {
	t.Helper()
	r := a.do(http.MethodGet, path, nil, as)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.json(t, v)
}

// requireRounded requires got to be num/den rounded half away from zero to places decimals, or
// null when den is 0.
func requireRounded(t *testing.T, num, den int64, places int, got *json.Number, label string) {
	t.Helper()
	requireRoundedRat(t, ratOrNil(big.NewRat(num, 1), den), places, got, label)
}

func ratOrNil(num *big.Rat, den int64) *big.Rat {
	if den == 0 {
		return nil
	}
	return new(big.Rat).Quo(num, big.NewRat(den, 1))
}

// requireRoundedRat requires got to equal want rounded half away from zero to places decimals
// (computed here as floor(|want| * 10^places + 1/2)), or null when want is nil.
func requireRoundedRat(t *testing.T, want *big.Rat, places int, got *json.Number, label string) {
	t.Helper()
	if want == nil {
		require.Nil(t, got, label)
		return
	}
	require.NotNil(t, got, label)
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil)
	x := new(big.Rat).Mul(new(big.Rat).Abs(want), new(big.Rat).SetInt(scale))
	x.Add(x, big.NewRat(1, 2))
	units := new(big.Int).Quo(x.Num(), x.Denom())
	if want.Sign() < 0 {
		units.Neg(units)
	}
	g, ok := new(big.Rat).SetString(string(*got))
	require.True(t, ok, "%s: %q is no number", label, *got)
	g.Mul(g, new(big.Rat).SetInt(scale))
	require.True(t, g.IsInt(), "%s: %s has more than %d decimals", label, *got, places)
	require.Zero(t, units.Cmp(g.Num()), "%s: want %s rounded to %d places, got %s", label, want.FloatString(8), places, *got)
}

// event is a row of the events table as the naive figures read it.
type event struct {
	typ, entity string
	id          uuid.UUID
	payload     map[string]any
	at          time.Time
}

// orgEvents reads every event of org, in order.
func orgEvents(t *testing.T, a *apiTest, org uuid.UUID) []event {
	t.Helper()
	rows, err := a.super.Query(t.Context(), `SELECT type, entity_type, coalesce(entity_id, '00000000-0000-0000-0000-000000000000'), payload, occurred_at
FROM events WHERE org_id = $1 ORDER BY id`, org)
	require.NoError(t, err)
	defer rows.Close()
	var out []event
	for rows.Next() {
		var e event
		var raw []byte
		require.NoError(t, rows.Scan(&e.typ, &e.entity, &e.id, &raw, &e.at))
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		require.NoError(t, d.Decode(&e.payload))
		out = append(out, e)
	}
	require.NoError(t, rows.Err())
	return out
}

// naive are the figures recomputed from the events alone, for one window.
type naive struct {
	reached                        [6]int64
	byStage                        map[string]int64
	bySource                       []analytics.SourceCount
	velocity                       map[string]*naiveVelocity
	openDeals, wonDeals, lostDeals int64
	pipeline                       []analytics.PipelineMoney
	invoiced, paid, outstanding    []analytics.CurrencyAmount
	clients                        map[string]int64
	alerts                         int64
}

type naiveVelocity struct {
	open, won, lost int64
	value           *big.Int
	seconds         *big.Rat
}

// naiveLead and naiveDeal are an entity's state replayed from its events.
type naiveLead struct {
	created time.Time
	source  string
	stage   string
	step    int
	deleted bool
}

type naiveDeal struct {
	created  time.Time
	lead     string
	currency string
	value    int64
	bp       int64
	stage    string
}

type naiveInvoice struct {
	issued   time.Time
	currency string
	amount   int64
	status   string
}

// funnelStep is a lead stage's funnel step, written out here on its own.
func funnelStep(stage string) int {
	return map[string]int{"qualified": 1, "contacted": 2, "call_booked": 3, "converted": 4}[stage]
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(t *testing.T, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	require.True(t, ok, "%v is no number", v)
	i, err := n.Int64()
	require.NoError(t, err)
	return i
}

// basisPoints reads a probability (a JSON number 0..1) as basis points, exactly.
func basisPoints(t *testing.T, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	require.True(t, ok, "%v is no number", v)
	r, ok := new(big.Rat).SetString(string(n))
	require.True(t, ok)
	r.Mul(r, big.NewRat(10_000, 1))
	require.True(t, r.IsInt())
	return r.Num().Int64()
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func parseTime(t *testing.T, v any) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, str(v))
	require.NoError(t, err)
	return ts
}

// naiveFigures replays evs and computes every figure for w by the definitions of API.md.
func naiveFigures(t *testing.T, evs []event, w analytics.Window) naive {
	t.Helper()
	in := func(at time.Time) bool { return !at.Before(w.From) && at.Before(w.To) }
	leads := map[uuid.UUID]*naiveLead{}
	deals := map[uuid.UUID]*naiveDeal{}
	invoices := map[uuid.UUID]*naiveInvoice{}
	clients := map[uuid.UUID]string{}
	out := naive{byStage: map[string]int64{}, velocity: map[string]*naiveVelocity{}, clients: map[string]int64{},
		bySource: []analytics.SourceCount{}, pipeline: []analytics.PipelineMoney{},
		invoiced: []analytics.CurrencyAmount{}, paid: []analytics.CurrencyAmount{}, outstanding: []analytics.CurrencyAmount{}}
	for _, c := range testCurrencies {
		out.velocity[c] = &naiveVelocity{value: new(big.Int), seconds: new(big.Rat)}
	}
	wonLeads := map[string]bool{}
	paidBy := map[string]*analytics.CurrencyAmount{}
	for _, e := range evs {
		p := e.payload
		switch e.typ {
		case "lead.created":
			l := obj(p["lead"])
			leads[e.id] = &naiveLead{created: e.at, source: str(l["source"]), stage: str(l["stage"]), step: funnelStep(str(l["stage"]))}
		case "lead.stage_changed":
			l := leads[e.id]
			l.stage = str(p["to"])
			l.step = max(l.step, funnelStep(l.stage))
		case "lead.updated":
			if ch, ok := obj(p["changes"])["source"]; ok {
				leads[e.id].source = str(obj(ch)["to"])
			}
		case "lead.deleted":
			leads[e.id].deleted = true
		case "deal.created":
			d := obj(p["deal"])
			deals[e.id] = &naiveDeal{created: e.at, lead: str(d["leadId"]), currency: str(d["currency"]), value: num(t, d["dealValue"]),
				bp: basisPoints(t, d["probability"]), stage: str(d["stage"])}
		case "deal.updated":
			d := deals[e.id]
			ch := obj(p["changes"])
			if c, ok := ch["currency"]; ok {
				d.currency = str(obj(c)["to"])
			}
			if c, ok := ch["dealValue"]; ok {
				d.value = num(t, obj(c)["to"])
			}
			if c, ok := ch["probability"]; ok {
				d.bp = basisPoints(t, obj(c)["to"])
			}
		case "deal.stage_changed":
			d := deals[e.id]
			d.stage, d.bp = str(p["to"]), basisPoints(t, p["probability"])
		case "deal.won":
			d := deals[e.id]
			wonLeads[str(p["leadId"])] = true
			if in(e.at) {
				out.wonDeals++
				v := out.velocity[str(p["currency"])]
				v.won++
				v.value.Add(v.value, big.NewInt(num(t, p["dealValue"])))
				v.seconds.Add(v.seconds, big.NewRat(e.at.Sub(d.created).Microseconds(), 1_000_000))
			}
		case "deal.lost":
			if in(e.at) {
				out.lostDeals++
				out.velocity[str(p["currency"])].lost++
			}
		case "invoice.created":
			i := obj(p["invoice"])
			invoices[e.id] = &naiveInvoice{issued: parseTime(t, i["issuedAt"]), currency: str(i["currency"]), amount: num(t, i["amount"]), status: "issued"}
		case "invoice.paid":
			invoices[e.id].status = "paid"
			if in(parseTime(t, p["paidAt"])) {
				c := str(p["currency"])
				if paidBy[c] == nil {
					paidBy[c] = &analytics.CurrencyAmount{Currency: c, Amount: "0"}
				}
				paidBy[c].Count++
				paidBy[c].Amount = addNumber(paidBy[c].Amount, num(t, p["amount"]))
			}
		case "invoice.voided":
			invoices[e.id].status = "void"
		case "client.created":
			clients[e.id] = str(obj(p["client"])["status"])
		case "client.status_changed":
			clients[e.id] = str(p["to"])
		case "client.onboarded":
			clients[e.id] = "active"
		case "system.integrity_alert":
			out.alerts++
		case "system.integrity_alert_resolved":
			out.alerts--
		}
	}
	for _, st := range lead.Stages {
		out.byStage[string(st)] = 0
	}
	sources := map[string]int64{}
	for id, l := range leads {
		if l.deleted {
			continue
		}
		out.byStage[l.stage]++
		if !in(l.created) {
			continue
		}
		step := l.step
		if wonLeads[id.String()] {
			step = 5
		}
		for k := 0; k <= step; k++ {
			out.reached[k]++
		}
		sources[l.source]++
	}
	for src, n := range sources {
		sc := analytics.SourceCount{Count: n}
		if src != "" {
			sc.Source = &src
		}
		out.bySource = append(out.bySource, sc)
	}
	slices.SortFunc(out.bySource, func(a, b analytics.SourceCount) int {
		if a.Count != b.Count {
			return int(b.Count - a.Count)
		}
		sa, sb := "", ""
		if a.Source != nil {
			sa = *a.Source
		}
		if b.Source != nil {
			sb = *b.Source
		}
		return compareStrings(sa, sb)
	})
	pipe := map[string]*analytics.PipelineMoney{}
	for _, d := range deals {
		if d.stage == "won" || d.stage == "lost" {
			continue
		}
		out.openDeals++
		out.velocity[d.currency].open++
		if pipe[d.currency] == nil {
			pipe[d.currency] = &analytics.PipelineMoney{Currency: d.currency, DealValue: "0", WeightedValue: "0"}
		}
		pm := pipe[d.currency]
		pm.Count++
		pm.DealValue = addNumber(pm.DealValue, d.value)
		pm.WeightedValue = addNumber(pm.WeightedValue, (d.value*d.bp+5_000)/10_000)
	}
	invBy, dueBy := map[string]*analytics.CurrencyAmount{}, map[string]*analytics.CurrencyAmount{}
	for _, i := range invoices {
		if i.status == "void" || !in(i.issued) {
			continue
		}
		for k, m := range []map[string]*analytics.CurrencyAmount{invBy, dueBy} {
			if k == 1 && i.status != "issued" {
				continue
			}
			if m[i.currency] == nil {
				m[i.currency] = &analytics.CurrencyAmount{Currency: i.currency, Amount: "0"}
			}
			m[i.currency].Count++
			m[i.currency].Amount = addNumber(m[i.currency].Amount, i.amount)
		}
	}
	for _, c := range testCurrencies {
		if pm := pipe[c]; pm != nil && pm.Count > 0 {
			out.pipeline = append(out.pipeline, *pm)
		}
		if v := invBy[c]; v != nil {
			out.invoiced = append(out.invoiced, *v)
		}
		if v := paidBy[c]; v != nil {
			out.paid = append(out.paid, *v)
		}
		if v := dueBy[c]; v != nil {
			out.outstanding = append(out.outstanding, *v)
		}
	}
	slices.SortFunc(out.pipeline, func(a, b analytics.PipelineMoney) int { return compareStrings(a.Currency, b.Currency) })
	for _, l := range [][]analytics.CurrencyAmount{out.invoiced, out.paid, out.outstanding} {
		slices.SortFunc(l, func(a, b analytics.CurrencyAmount) int { return compareStrings(a.Currency, b.Currency) })
	}
	for _, s := range client.Statuses() {
		out.clients[s] = 0
	}
	for _, s := range clients {
		out.clients[s]++
	}
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// addNumber adds n to the integer text s.
func addNumber(s json.Number, n int64) json.Number {
	v, _ := new(big.Int).SetString(string(s), 10)
	return json.Number(v.Add(v, big.NewInt(n)).String())
}

// TestAnalyticsBadInputs proves every bad window or currency is a problem naming its field: an
// unparsable time 400, from after to 422, a missing or malformed currency 422; an empty window
// (from equal to to) is no mistake and counts nothing.
func TestAnalyticsBadInputs(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for _, c := range []struct {
		path, field string
		status      int
	}{
		{"/analytics/funnel?from=yesterday", "from", http.StatusBadRequest},
		{"/analytics/dashboard?to=2026-13-01T00:00:00Z", "to", http.StatusBadRequest},
		{"/analytics/velocity?currency=EUR&from=2026-01-01", "from", http.StatusBadRequest},
		{"/analytics/funnel?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from", http.StatusUnprocessableEntity},
		{"/analytics/dashboard?from=2026-02-01T00:00:00Z&to=2026-01-31T23:59:59.999Z", "from", http.StatusUnprocessableEntity},
		{"/analytics/velocity?currency=EUR&from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from", http.StatusUnprocessableEntity},
		{"/analytics/velocity", "currency", http.StatusUnprocessableEntity},
		{"/analytics/velocity?currency=eur", "currency", http.StatusUnprocessableEntity},
		{"/analytics/velocity?currency=EURO", "currency", http.StatusUnprocessableEntity},
	} {
		r := a.do(http.MethodGet, c.path, nil)
		require.Equal(t, c.status, r.Status, "%s: %s", c.path, r.Body)
		p := r.problem(t)
		require.Len(t, p.Errors, 1, c.path)
		require.Equal(t, c.field, p.Errors[0].Field, c.path)
	}
	convertibleLead(t, a, "counted@example.com")
	now := time.Now().UTC().Format(time.RFC3339Nano)
	var f analytics.Funnel
	getOK(t, a, "/analytics/funnel?from="+now+"&to="+now, &f)
	require.Zero(t, f.Steps[0].Count)
	require.Nil(t, f.Steps[0].ConversionFromStart)
	getOK(t, a, "/analytics/funnel", &f)
	require.Equal(t, []int64{1, 1, 1, 1, 0, 0}, []int64{f.Steps[0].Count, f.Steps[1].Count, f.Steps[2].Count,
		f.Steps[3].Count, f.Steps[4].Count, f.Steps[5].Count})
	require.Equal(t, json.Number("1"), *f.Steps[3].ConversionFromPrevious)
	require.Equal(t, json.Number("0"), *f.Steps[4].ConversionFromPrevious)
	require.Nil(t, f.Steps[5].ConversionFromPrevious)
}
