package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// dealJSON is a deal as the API answers it, read independently of pkg/deal.
type dealJSON struct {
	ID                string  `json:"id"`
	LeadID            string  `json:"leadId"`
	Title             string  `json:"title"`
	DealValue         int64   `json:"dealValue"`
	Currency          string  `json:"currency"`
	Stage             string  `json:"stage"`
	Probability       float64 `json:"probability"`
	WeightedValue     int64   `json:"weightedValue"`
	ExpectedCloseDate *string `json:"expectedCloseDate"`
	LostReason        *string `json:"lostReason"`
	Version           int     `json:"version"`
	StageChangedAt    string  `json:"stageChangedAt"`
	WonAt             *string `json:"wonAt"`
}

// rawJSON is a member value written into a request body as it is.
type rawJSON string

// dealStageTable is API.md's deal stage machine, written out independently of pkg/deal.
var dealStageTable = map[string][]string{
	"discovery":   {"proposal", "negotiation", "won", "lost"},
	"proposal":    {"discovery", "negotiation", "won", "lost"},
	"negotiation": {"discovery", "proposal", "won", "lost"},
	"won":         {},
	"lost":        {},
}

// convertibleLead creates a lead and moves it to call_booked, ready for a deal.
func convertibleLead(t *testing.T, a *apiTest, email string) string {
	t.Helper()
	r := a.do(http.MethodPost, "/leads", map[string]any{"email": email})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var l struct{ ID string }
	r.json(t, &l)
	for _, st := range []string{"qualified", "contacted", "call_booked"} {
		r := a.do(http.MethodPost, "/leads/"+l.ID+"/stage", map[string]any{"stage": st})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	}
	return l.ID
}

// createDeal creates a deal of leadID with body's members on top of the required ones.
func createDeal(t *testing.T, a *apiTest, leadID string, extra map[string]any) dealJSON {
	t.Helper()
	body := map[string]any{"leadId": leadID, "title": "Annual licence", "dealValue": 1_000_000, "currency": "EUR"}
	for k, v := range extra {
		body[k] = v
	}
	r := a.do(http.MethodPost, "/deals", body)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var d dealJSON
	r.json(t, &d)
	require.Equal(t, "/deals/"+d.ID, r.Header.Get("Location"))
	return d
}

// TestDealCreateGetAndConvert proves a deal made through the API converts its lead, shows its
// weighted value, reads back the same, and that the lead's history records the conversion.
func TestDealCreateGetAndConvert(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	leadID := convertibleLead(t, a, "buyer@example.com")
	d := createDeal(t, a, leadID, map[string]any{"stage": "proposal", "probability": 0.3333, "dealValue": 999_999_999_999_999,
		"expectedCloseDate": "2026-03-31"})
	require.Equal(t, "proposal", d.Stage)
	require.InDelta(t, 0.3333, d.Probability, 1e-12)
	require.Equal(t, int64(333_300_000_000_000), d.WeightedValue)
	require.Equal(t, "2026-03-31", *d.ExpectedCloseDate)

	r := a.do(http.MethodGet, "/deals/"+d.ID, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Contains(t, string(r.Body), `"probability":0.3333,`, "the probability is written exactly")
	require.Contains(t, string(r.Body), `"weightedValue":333300000000000,`)

	r = a.do(http.MethodGet, "/leads/"+leadID, nil)
	require.Contains(t, string(r.Body), `"stage":"converted"`)
	r = a.do(http.MethodGet, "/leads/"+leadID+"/events?limit=200", nil)
	require.Contains(t, string(r.Body), `"to":"converted"`)
	require.Equal(t, 1, a.count(`SELECT count(*) FROM events WHERE entity_id = $1 AND type = 'deal.created'`, d.ID))
	r = a.do(http.MethodGet, "/observability/events?entityType=deal&entityId="+d.ID, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Contains(t, string(r.Body), `"type":"deal.created"`, "a deal's history is read from events")

	require.Equal(t, http.StatusNotFound, a.do(http.MethodGet, "/deals/"+strings.Repeat("0", 8)+d.ID[8:], nil).Status)
	require.Equal(t, http.StatusBadRequest, a.do(http.MethodGet, "/deals/nope", nil).Status)
}

// TestDealBadInputs proves every bad input is a 4xx problem naming the field, and that nothing
// is written: no deal, no event, no job, the lead unmoved.
func TestDealBadInputs(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	leadID := convertibleLead(t, a, "buyer@example.com")
	r := a.do(http.MethodPost, "/leads", map[string]any{"email": "fresh@example.com"})
	var fresh struct{ ID string }
	r.json(t, &fresh)
	gone := convertibleLead(t, a, "gone@example.com")
	require.Equal(t, http.StatusNoContent, a.do(http.MethodDelete, "/leads/"+gone, nil).Status)
	orgB, keyB := a.newOrg("other")
	r = a.do(http.MethodPost, "/leads", map[string]any{"email": "theirs@example.com"}, asOrg(orgB, keyB))
	var theirs struct{ ID string }
	r.json(t, &theirs)

	with := func(k string, v any) string {
		body := map[string]any{"leadId": leadID, "title": "Deal", "dealValue": 100, "currency": "EUR"}
		if v == nil {
			delete(body, k)
		} else {
			body[k] = v
		}
		b := new(strings.Builder)
		fmt.Fprint(b, "{")
		first := true
		for key, val := range body {
			if !first {
				fmt.Fprint(b, ",")
			}
			first = false
			switch x := val.(type) {
			case string:
				fmt.Fprintf(b, "%q:%q", key, x)
			default: // a number, or rawJSON
				fmt.Fprintf(b, "%q:%v", key, x)
			}
		}
		fmt.Fprint(b, "}")
		return b.String()
	}
	counts := func() string {
		return fmt.Sprint(a.count(`SELECT count(*) FROM deals`), a.count(`SELECT count(*) FROM events`),
			a.count(`SELECT count(*) FROM jobs`), a.count(`SELECT count(*) FROM leads WHERE stage = 'converted'`))
	}
	before := counts()
	for _, c := range []struct {
		name, body string
		status     int
		field      string
	}{
		{"negative value", with("dealValue", -1), 422, "dealValue"},
		{"absurd value", with("dealValue", rawJSON("1000000000000000")), 422, "dealValue"},
		{"beyond int64", with("dealValue", rawJSON("99999999999999999999")), 400, "dealValue"},
		{"fractional value", with("dealValue", rawJSON("10.5")), 400, "dealValue"},
		{"value as a string", with("dealValue", "100"), 400, "dealValue"},
		{"unknown currency", with("currency", "XYZ"), 422, "currency"},
		{"lower-case currency", with("currency", "eur"), 422, "currency"},
		{"no currency", with("currency", nil), 422, "currency"},
		{"probability above 1", with("probability", rawJSON("1.5")), 422, "probability"},
		{"probability below 0", with("probability", rawJSON("-0.1")), 422, "probability"},
		{"probability with 5 decimals", with("probability", rawJSON("0.33333")), 422, "probability"},
		{"probability as a string", with("probability", "0.5"), 400, "probability"},
		{"closed stage", with("stage", "won"), 422, "stage"},
		{"bad date", with("expectedCloseDate", "2026-02-30"), 422, "expectedCloseDate"},
		{"no title", with("title", nil), 422, "title"},
		{"leadId not a uuid", with("leadId", "nope"), 422, "leadId"},
		{"unknown member", with("stageChangedAt", "2026-01-01"), 400, "stageChangedAt"},
		{"missing lead", with("leadId", "00000000-0000-4000-8000-000000000000"), 404, "leadId"},
		{"deleted lead", with("leadId", gone), 404, "leadId"},
		{"another org's lead", with("leadId", theirs.ID), 404, "leadId"},
		{"lead that cannot convert", with("leadId", fresh.ID), 409, ""},
	} {
		r := a.do(http.MethodPost, "/deals", []byte(c.body))
		require.Equal(t, c.status, r.Status, "%s: %s -> %s", c.name, c.body, r.Body)
		if c.field != "" {
			p := r.problem(t)
			require.NotEmpty(t, p.Errors, "%s: %s", c.name, r.Body)
			require.Equal(t, c.field, p.Errors[0].Field, "%s: %s", c.name, r.Body)
		} else {
			require.Contains(t, string(r.Body), `"currentStage":"new"`)
		}
		require.Equal(t, before, counts(), "%s wrote something", c.name)
	}
	require.Equal(t, 1, a.count(`SELECT count(*) FROM leads WHERE id = $1 AND stage = 'call_booked'`, leadID))
}

// TestDealStageMachineEveryPair drives a fresh deal to every stage and asks for every stage
// from there: 200 with the stage's default probability exactly when API.md allows the move,
// else 409 with currentStage and allowed, and nothing written.
func TestDealStageMachineEveryPair(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	leadID := convertibleLead(t, a, "buyer@example.com")
	defaults := map[string]float64{"discovery": 0.1, "proposal": 0.3, "negotiation": 0.6, "won": 1, "lost": 0}
	for from := range dealStageTable {
		for to := range dealStageTable {
			name := from + " -> " + to
			d := createDeal(t, a, leadID, nil)
			if from != "discovery" {
				body := map[string]any{"stage": from}
				if from == "lost" {
					body["lostReason"] = "no budget"
				}
				r := a.do(http.MethodPost, "/deals/"+d.ID+"/stage", body)
				require.Equal(t, http.StatusOK, r.Status, "%s: setup: %s", name, r.Body)
			}
			body := map[string]any{"stage": to}
			if to == "lost" {
				body["lostReason"] = "went elsewhere"
			}
			events := a.count(`SELECT count(*) FROM events WHERE entity_id = $1`, d.ID)
			r := a.do(http.MethodPost, "/deals/"+d.ID+"/stage", body)
			if !contains(dealStageTable[from], to) {
				require.Equal(t, http.StatusConflict, r.Status, "%s: %s", name, r.Body)
				require.Contains(t, string(r.Body), `"currentStage":"`+from+`"`, name)
				require.Contains(t, string(r.Body), `"allowed":[`, name)
				require.Equal(t, events, a.count(`SELECT count(*) FROM events WHERE entity_id = $1`, d.ID), name)
				continue
			}
			require.Equal(t, http.StatusOK, r.Status, "%s: %s", name, r.Body)
			var got dealJSON
			r.json(t, &got)
			require.Equal(t, to, got.Stage, name)
			require.InDelta(t, defaults[to], got.Probability, 1e-12, name)
			require.Equal(t, int64(defaults[to]*1_000_000+0.5), got.WeightedValue, name)
			closing := 0
			if to == "won" || to == "lost" {
				closing = 1
			}
			require.Equal(t, events+1+closing, a.count(`SELECT count(*) FROM events WHERE entity_id = $1`, d.ID), name)
		}
	}
	// Winning enqueues one create_invoice and one generate_contract per won deal.
	won := a.count(`SELECT count(*) FROM deals WHERE stage = 'won'`)
	require.Positive(t, won)
	require.Equal(t, won, a.count(`SELECT count(*) FROM jobs WHERE job_type = 'create_invoice'`))
	require.Equal(t, won, a.count(`SELECT count(*) FROM jobs WHERE job_type = 'generate_contract'`))
	r := a.do(http.MethodPost, "/deals/"+createDeal(t, a, leadID, nil).ID+"/stage", map[string]any{"stage": "lost"})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, "lost needs its reason")
}

// TestDealConcurrentStageChanges races two closes of one deal over HTTP: one 200, one 409.
func TestDealConcurrentStageChanges(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	leadID := convertibleLead(t, a, "buyer@example.com")
	for range 5 {
		d := createDeal(t, a, leadID, nil)
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		for i, body := range []map[string]any{{"stage": "won"}, {"stage": "lost", "lostReason": "race"}} {
			wg.Go(func() { statuses[i] = a.do(http.MethodPost, "/deals/"+d.ID+"/stage", body).Status })
		}
		wg.Wait()
		require.ElementsMatch(t, []int{http.StatusOK, http.StatusConflict}, statuses)
		require.Equal(t, 1, a.count(`SELECT count(*) FROM events WHERE entity_id = $1 AND type IN ('deal.won', 'deal.lost')`, d.ID))
	}
}

// TestDealPatchListAndPipeline proves patching an open deal, the finality of a won one, the
// list's filters and pages, and the pipeline sums.
func TestDealPatchListAndPipeline(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	leadID := convertibleLead(t, a, "buyer@example.com")
	d1 := createDeal(t, a, leadID, map[string]any{"dealValue": 5})
	d2 := createDeal(t, a, leadID, map[string]any{"dealValue": 25, "currency": "USD", "stage": "negotiation"})
	d3 := createDeal(t, a, leadID, map[string]any{"dealValue": 700})

	r := a.do(http.MethodPatch, "/deals/"+d1.ID, map[string]any{"probability": 0.5, "title": "Renamed", "expectedCloseDate": "2026-06-30", "version": 1})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var p dealJSON
	r.json(t, &p)
	require.Equal(t, int64(3), p.WeightedValue, "5 × 0.5 = 2.5 rounds to 3")
	require.Equal(t, 2, p.Version)
	require.Equal(t, http.StatusConflict, a.do(http.MethodPatch, "/deals/"+d1.ID, map[string]any{"title": "x", "version": 1}).Status)
	require.Equal(t, http.StatusBadRequest, a.do(http.MethodPatch, "/deals/"+d1.ID, map[string]any{"stage": "won"}).Status)
	require.Equal(t, http.StatusUnprocessableEntity, a.do(http.MethodPatch, "/deals/"+d1.ID, map[string]any{"currency": "usd"}).Status)
	r = a.do(http.MethodPatch, "/deals/"+d1.ID, map[string]any{"expectedCloseDate": ""})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Contains(t, string(r.Body), `"expectedCloseDate":null`)

	require.Equal(t, http.StatusOK, a.do(http.MethodPost, "/deals/"+d3.ID+"/stage", map[string]any{"stage": "won"}).Status)
	require.Equal(t, http.StatusConflict, a.do(http.MethodPatch, "/deals/"+d3.ID, map[string]any{"title": "after the fact"}).Status)

	var pg struct {
		Data       []dealJSON `json:"data"`
		NextCursor *string    `json:"nextCursor"`
	}
	r = a.do(http.MethodGet, "/deals?limit=2", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.json(t, &pg)
	require.Len(t, pg.Data, 2)
	require.Equal(t, d3.ID, pg.Data[0].ID, "newest first")
	require.NotNil(t, pg.NextCursor)
	r = a.do(http.MethodGet, "/deals?limit=2&cursor="+*pg.NextCursor, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.json(t, &pg)
	require.Len(t, pg.Data, 1)
	require.Equal(t, d1.ID, pg.Data[0].ID)
	require.Nil(t, pg.NextCursor)
	for q, want := range map[string][]string{
		"?stage=won":                            {d3.ID},
		"?minValue=25&sort=dealValue":           {d2.ID, d3.ID},
		"?leadId=" + leadID + "&sort=createdAt": {d1.ID, d2.ID, d3.ID},
		"?leadId=" + d1.ID:                      {},
	} {
		r = a.do(http.MethodGet, "/deals"+q, nil)
		require.Equal(t, http.StatusOK, r.Status, "%s: %s", q, r.Body)
		r.json(t, &pg)
		got := []string{}
		for _, d := range pg.Data {
			got = append(got, d.ID)
		}
		require.Equal(t, want, got, q)
	}
	for _, q := range []string{"?stage=closing", "?minValue=-1", "?minValue=1e3", "?sort=title", "?leadId=x", "?cursor=nope", "?limit=0"} {
		require.Equal(t, http.StatusBadRequest, a.do(http.MethodGet, "/deals"+q, nil).Status, q)
	}

	r = a.do(http.MethodGet, "/analytics/pipeline", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.JSONEq(t, `{"from": null, "to": null, "stages": [
		{"stage": "discovery", "count": 1, "currencies": [{"currency": "EUR", "count": 1, "dealValue": 5, "weightedValue": 3}]},
		{"stage": "proposal", "count": 0, "currencies": []},
		{"stage": "negotiation", "count": 1, "currencies": [{"currency": "USD", "count": 1, "dealValue": 25, "weightedValue": 15}]}
	],
	"won": {"stage": "won", "count": 1, "currencies": [{"currency": "EUR", "count": 1, "dealValue": 700, "weightedValue": 700}]},
	"lost": {"stage": "lost", "count": 0, "currencies": []}}`, string(r.Body))
	// The window's scan gives the same won and lost totals as the maintained ones.
	r = a.do(http.MethodGet, "/analytics/pipeline?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Contains(t, string(r.Body), `"won":{"stage":"won","count":1,"currencies":[{"currency":"EUR","count":1,"dealValue":700,"weightedValue":700}]}`)
	r = a.do(http.MethodGet, "/analytics/pipeline?from=2100-01-01T00:00:00Z", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Contains(t, string(r.Body), `"count":0`)
	require.Equal(t, http.StatusBadRequest, a.do(http.MethodGet, "/analytics/pipeline?from=yesterday", nil).Status)
	r = a.do(http.MethodGet, "/analytics/pipeline?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", nil)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Body))
	require.Equal(t, "from", r.problem(t).Errors[0].Field)
}

// TestDealCreateIdempotent proves a retried create with the same Idempotency-Key returns the
// first deal and writes no second one.
func TestDealCreateIdempotent(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	leadID := convertibleLead(t, a, "buyer@example.com")
	body := map[string]any{"leadId": leadID, "title": "Licence", "dealValue": 100, "currency": "EUR"}
	first := a.do(http.MethodPost, "/deals", body, withHeader("Idempotency-Key", "deal-1"))
	require.Equal(t, http.StatusCreated, first.Status, string(first.Body))
	again := a.do(http.MethodPost, "/deals", body, withHeader("Idempotency-Key", "deal-1"))
	require.Equal(t, http.StatusCreated, again.Status, string(again.Body))
	require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	require.Equal(t, string(first.Body), string(again.Body))
	require.Equal(t, 1, a.count(`SELECT count(*) FROM deals`))
}
