package httpapi_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/client"
	"example.com/crm/pkg/contract"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/invoice"
)

// timelineEntry is an entry of GET /leads/{id}/timeline.
type timelineEntry struct {
	EventID    int64     `json:"eventId"`
	Type       string    `json:"type"`
	OccurredAt time.Time `json:"occurredAt"`
	Summary    string    `json:"summary"`
	Entity     struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"entity"`
	CausationEventID *int64 `json:"causationEventId"`
	Actor            string `json:"actor"`
}

type timelinePage struct {
	Data       []timelineEntry `json:"data"`
	NextCursor *string         `json:"nextCursor"`
}

// leadChain is a lead taken through the whole chain, and the ids of what grew from it.
type leadChain struct {
	lead, call, deal, invoice, contract, client string
	tasks                                       []string
	won, paid, created                          int64 // the deal.won, invoice.paid and client.created events
	number                                      string
}

// wholeChain takes a new lead through everything that can happen to it: stage changes through
// the API, a call booked and completed, a deal created and won, its invoice and contract made as
// the worker's create_invoice and generate_contract make them, the invoice paid, the client made
// and onboarded (create_client, start_onboarding), every task done but the last, skipped.
func wholeChain(t *testing.T, a *apiTest, email string) leadChain {
	t.Helper()
	var ch leadChain
	var l struct{ ID string }
	r := a.do(http.MethodPost, "/leads", map[string]any{"name": "Ada Lovelace", "email": email, "company": "Analytical Engines", "title": "CTO"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	r.json(t, &l)
	ch.lead = l.ID
	r = a.do(http.MethodPost, "/leads/"+ch.lead+"/stage", map[string]any{"stage": "qualified", "reason": "fits the ICP"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r = a.do(http.MethodPost, "/leads/"+ch.lead+"/stage", map[string]any{"stage": "contacted"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))

	var c struct{ ID string }
	r = a.do(http.MethodPost, "/calls", map[string]any{"leadId": ch.lead, "scheduledAt": callSoon(), "durationMinutes": 45})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	r.json(t, &c)
	ch.call = c.ID
	r = a.do(http.MethodPost, "/calls/"+ch.call+"/complete", map[string]any{"transcript": "We have budget and want to start next month."})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))

	d := createDeal(t, a, ch.lead, map[string]any{"title": "Difference Engine No. 2", "dealValue": 1_250_000})
	ch.deal = d.ID
	r = a.do(http.MethodPost, "/deals/"+ch.deal+"/stage", map[string]any{"stage": "proposal"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r = a.do(http.MethodPost, "/deals/"+ch.deal+"/stage", map[string]any{"stage": "won"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	ch.won = causingEvent(t, a, "deal.won", ch.deal)

	dealID := uuid.MustParse(ch.deal)
	inv := dbtest.Batch(t, a.owner, a.org, invoice.NewService(a.owner, workerEmitter(a), nil).Create, invoice.Won{EventID: ch.won, DealID: dealID})[0].Invoice
	ch.invoice, ch.number = inv.ID.String(), inv.Number
	k := dbtest.Batch(t, a.owner, a.org, contract.NewService(a.owner, workerEmitter(a)).Generate, contract.Won{EventID: ch.won, DealID: dealID})[0].Contract
	ch.contract = k.ID.String()
	r = a.do(http.MethodPost, "/invoices/"+ch.invoice+"/pay", map[string]any{"reference": "BANK-42"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	ch.paid = causingEvent(t, a, "invoice.paid", ch.invoice)

	svc := client.NewService(a.owner, workerEmitter(a))
	cl := dbtest.Batch(t, a.owner, a.org, svc.Create, client.Paid{EventID: ch.paid, InvoiceID: inv.ID})[0].Client
	ch.client = cl.ID.String()
	ch.created = causingEvent(t, a, "client.created", ch.client)
	tasks := dbtest.Batch(t, a.owner, a.org, svc.StartOnboarding, client.Created{EventID: ch.created, ClientID: cl.ID})[0].Tasks
	require.NotEmpty(t, tasks)
	for i, task := range tasks {
		ch.tasks = append(ch.tasks, task.ID.String())
		status := "done"
		if i == len(tasks)-1 {
			status = "skipped"
		}
		r = a.do(http.MethodPost, "/clients/"+ch.client+"/onboarding/"+task.ID.String(), map[string]any{"status": status})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	}
	return ch
}

// timeline reads one page of path (200).
func timeline(t *testing.T, a *apiTest, path string) timelinePage {
	t.Helper()
	var pg timelinePage
	getOK(t, a, path, &pg)
	return pg
}

// walkTimeline reads every page of the lead's timeline with query q and limit, and returns the
// entries in the order read.
func walkTimeline(t *testing.T, a *apiTest, leadID string, q url.Values, limit int) []timelineEntry {
	t.Helper()
	var out []timelineEntry
	q.Set("limit", strconv.Itoa(limit))
	for range 1000 {
		pg := timeline(t, a, "/leads/"+leadID+"/timeline?"+q.Encode())
		require.LessOrEqual(t, len(pg.Data), limit)
		out = append(out, pg.Data...)
		if pg.NextCursor == nil {
			return out
		}
		require.Len(t, pg.Data, limit, "a page before the last is full")
		q.Set("cursor", *pg.NextCursor)
	}
	t.Fatal("the timeline does not end")
	return nil
}

// TestLeadTimeline takes a lead through the whole chain and reads its timeline: every event of
// the lead and of its call, deal, invoice, contract and client, and no other lead's, in time
// order with its summary, entity and causing event; the same entries page by page at every page
// size, forwards and backwards, across entries of one instant; the types filter; bad input 400.
func TestLeadTimeline(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ch := wholeChain(t, a, "ada@analytical-engines.io")
	other := wholeChain(t, a, "grace@navy.example")

	all := timeline(t, a, "/leads/"+ch.lead+"/timeline?limit=200").Data
	ids := func(es []timelineEntry) []int64 {
		out := make([]int64, len(es))
		for i, e := range es {
			out[i] = e.EventID
		}
		return out
	}

	// The story, transaction by transaction (the events of one transaction in the order written).
	type step struct{ typ, entity, id, summary string }
	inv := "Invoice " + ch.number
	want := []step{
		{"lead.created", "lead", ch.lead, "Lead Ada Lovelace created (via api)"},
		{"lead.stage_changed", "lead", ch.lead, "Stage new -> qualified (reason: fits the ICP)"},
		{"lead.stage_changed", "lead", ch.lead, "Stage qualified -> contacted"},
		{"lead.stage_changed", "lead", ch.lead, ""}, // booking the call moves the lead
		{"lead.activity_added", "lead", ch.lead, "Call added: Call booked"},
		{"call.booked", "call", ch.call, ""},
		{"lead.activity_added", "lead", ch.lead, "Call added: Call completed"},
		{"call.completed", "call", ch.call, "Call completed"},
		{"lead.stage_changed", "lead", ch.lead, ""}, // the deal converts the lead
		{"deal.created", "deal", ch.deal, `Deal "Difference Engine No. 2" created: EUR 12,500.00, discovery`},
		{"deal.stage_changed", "deal", ch.deal, "Deal stage discovery -> proposal"},
		{"deal.stage_changed", "deal", ch.deal, "Deal stage proposal -> won"},
		{"deal.won", "deal", ch.deal, "Deal won: EUR 12,500.00"},
		{"invoice.created", "invoice", ch.invoice, inv + " issued: EUR 12,500.00"},
		{"contract.generated", "contract", ch.contract, "Contract generated"},
		{"invoice.paid", "invoice", ch.invoice, inv + " paid: EUR 12,500.00 (reference BANK-42)"},
		{"client.created", "client", ch.client, `Client "Ada Lovelace" created (status onboarding)`},
		{"client.onboarding_started", "client", ch.client, "Onboarding started: " + strconv.Itoa(len(ch.tasks)) + " tasks"},
	}
	for _, task := range ch.tasks {
		want = append(want, step{"onboarding_task.status_changed", "onboarding_task", task, ""})
	}
	want = append(want, step{"client.onboarded", "client", ch.client, "Onboarding complete: " + strconv.Itoa(len(ch.tasks)-1) + " done, 1 skipped"})
	require.Len(t, all, len(want), "%+v", all)
	for i, w := range want {
		e := all[i]
		require.Equal(t, w.typ, e.Type, "entry %d", i)
		require.Equal(t, w.entity, e.Entity.Type, "entry %d", i)
		require.Equal(t, w.id, e.Entity.ID, "entry %d", i)
		if w.summary != "" {
			require.Equal(t, w.summary, e.Summary, "entry %d", i)
		}
		require.NotEmpty(t, e.Summary)
		switch e.Type {
		case "invoice.created", "contract.generated":
			require.Equal(t, ch.won, *e.CausationEventID, e.Type)
		case "client.created":
			require.Equal(t, ch.paid, *e.CausationEventID, e.Type)
		case "client.onboarding_started":
			require.Equal(t, ch.created, *e.CausationEventID, e.Type)
		default:
			require.Nil(t, e.CausationEventID, e.Type)
		}
		if i > 0 {
			p := all[i-1]
			require.True(t, p.OccurredAt.Before(e.OccurredAt) || p.OccurredAt.Equal(e.OccurredAt) && p.EventID < e.EventID,
				"entries %d and %d out of order", i-1, i)
		}
	}
	require.Equal(t, "call.booked", all[5].Type)
	require.Regexp(t, `^Call booked for \d{4}-\d\d-\d\d \d\d:\d\d UTC \(45 min\)$`, all[5].Summary)
	require.Regexp(t, `^Stage call_booked -> converted \(reason: .+\)$`, all[8].Summary)
	require.Regexp(t, `^Onboarding task ".+" pending -> done$`, all[19].Summary)
	last := all[len(all)-2]
	require.Regexp(t, `^Onboarding task ".+" pending -> skipped$`, last.Summary)
	require.True(t, last.OccurredAt.Equal(all[len(all)-1].OccurredAt), "the last task's change onboards the client in its transaction")

	// The same as a naive reading of the events table: every event about the lead's records, by
	// (occurred_at, id).
	rows, err := a.super.Query(t.Context(), `SELECT id FROM events WHERE org_id = $1 AND entity_id = ANY($2::uuid[])
ORDER BY occurred_at, id`, a.org, append([]string{ch.lead, ch.call, ch.deal, ch.invoice, ch.contract, ch.client}, ch.tasks...))
	require.NoError(t, err)
	var naive []int64
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		naive = append(naive, id)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, naive, ids(all))

	// Entries of one instant (the call's booking moved the lead in its transaction), so that a
	// page boundary falls between them at the smaller page sizes.
	same := 0
	for i := 1; i < len(all); i++ {
		if all[i].OccurredAt.Equal(all[i-1].OccurredAt) {
			same++
		}
	}
	require.GreaterOrEqual(t, same, 3)

	reversed := slices.Clone(ids(all))
	slices.Reverse(reversed)
	for _, limit := range []int{1, 2, 3, 5, 7, 50} {
		require.Equal(t, ids(all), ids(walkTimeline(t, a, ch.lead, url.Values{}, limit)), "limit %d", limit)
		require.Equal(t, reversed, ids(walkTimeline(t, a, ch.lead, url.Values{"order": {"desc"}}, limit)), "desc, limit %d", limit)
	}
	require.Equal(t, ids(all), ids(walkTimeline(t, a, ch.lead, url.Values{"order": {"asc"}}, 4)))

	// The types filter, paged too.
	pick := func(types ...string) []int64 {
		var out []int64
		for _, e := range all {
			if slices.Contains(types, e.Type) {
				out = append(out, e.EventID)
			}
		}
		return out
	}
	require.Equal(t, pick("deal.won", "invoice.paid"), ids(walkTimeline(t, a, ch.lead, url.Values{"types": {"deal.won, invoice.paid"}}, 50)))
	require.Len(t, pick("lead.stage_changed"), 4)
	require.Equal(t, pick("lead.stage_changed"), ids(walkTimeline(t, a, ch.lead, url.Values{"types": {"lead.stage_changed"}}, 1)))
	require.Empty(t, timeline(t, a, "/leads/"+ch.lead+"/timeline?types=no.such_type").Data)

	// The other lead's story is its own.
	otherAll := timeline(t, a, "/leads/"+other.lead+"/timeline?limit=200").Data
	require.Len(t, otherAll, len(want))
	for _, e := range otherAll {
		require.NotContains(t, ids(all), e.EventID)
	}

	// GET /leads/{id}/events stays the lead's own events.
	var hist struct {
		Data []struct{ Type string } `json:"data"`
	}
	getOK(t, a, "/leads/"+ch.lead+"/events?limit=200", &hist)
	require.NotEmpty(t, hist.Data)
	for _, e := range hist.Data {
		require.Regexp(t, `^lead\.`, e.Type)
	}

	// Bad input is 400 with the field named.
	first := timeline(t, a, "/leads/"+ch.lead+"/timeline?limit=1")
	require.NotNil(t, first.NextCursor)
	for _, tc := range []struct{ query, field string }{
		{"cursor=not-a-cursor", "cursor"},
		{"order=desc&cursor=" + url.QueryEscape(*first.NextCursor), "cursor"}, // an ascending cursor
		{"order=sideways", "order"},
		{"types=Not-A-Type", "types"},
		{"types=" + url.QueryEscape(strings.Repeat("lead.created,", 51)), "types"},
		{"limit=0", "limit"},
		{"limit=201", "limit"},
	} {
		r := a.do(http.MethodGet, "/leads/"+ch.lead+"/timeline?"+tc.query, nil)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", tc.query, r.Body)
		p := r.problem(t)
		require.Len(t, p.Errors, 1, tc.query)
		require.Equal(t, tc.field, p.Errors[0].Field, tc.query)
	}
	require.Equal(t, http.StatusBadRequest, a.do(http.MethodGet, "/leads/not-a-uuid/timeline", nil).Status)
}

// TestLeadTimelineIsolation proves a lead's timeline is its org's alone: another org asking for it
// gets 404 and nothing of it, as does the org for a lead id it does not have or another org's. A
// deleted lead's timeline stays readable.
func TestLeadTimelineIsolation(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ch := wholeChain(t, a, "ada@analytical-engines.io")
	orgB, keyB := a.newOrg("intruder")
	asB := asOrg(orgB, keyB)

	r := a.do(http.MethodGet, "/leads/"+ch.lead+"/timeline", nil, asB)
	require.Equal(t, http.StatusNotFound, r.Status, string(r.Body))
	for _, secret := range []string{ch.deal, ch.invoice, ch.client, ch.number, "Ada Lovelace"} {
		require.NotContains(t, string(r.Body), secret)
	}
	r = a.do(http.MethodGet, "/leads/"+uuid.NewString()+"/timeline", nil)
	require.Equal(t, http.StatusNotFound, r.Status, string(r.Body))

	r = a.do(http.MethodPost, "/leads", map[string]any{"email": "b-own@example.com"}, asB)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var l struct{ ID string }
	r.json(t, &l)
	r = a.do(http.MethodGet, "/leads/"+l.ID+"/timeline", nil, asB)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var own timelinePage
	r.json(t, &own)
	require.Len(t, own.Data, 1)
	require.Equal(t, "lead.created", own.Data[0].Type)
	r = a.do(http.MethodGet, "/leads/"+l.ID+"/timeline", nil)
	require.Equal(t, http.StatusNotFound, r.Status, string(r.Body))

	// A deleted lead keeps its story, its deletion last.
	r = a.do(http.MethodPost, "/leads", map[string]any{"email": "gone@example.com"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	r.json(t, &l)
	require.Equal(t, http.StatusNoContent, a.do(http.MethodDelete, "/leads/"+l.ID, nil).Status)
	gone := timeline(t, a, "/leads/"+l.ID+"/timeline?order=desc&limit=1")
	require.Len(t, gone.Data, 1)
	require.Equal(t, "Lead deleted (stage new)", gone.Data[0].Summary)
	require.NotNil(t, gone.NextCursor)
}
