package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/call"
	"example.com/crm/pkg/lead"
)

// callSoon is a booking time two days ahead, as RFC 3339.
func callSoon() string { return time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339) }

// seedCall gives org A a third lead with a booked call.
func seedCall(t *testing.T, a *apiTest, d *orgAData) {
	t.Helper()
	r := a.do(http.MethodPost, "/leads", map[string]any{"name": "Hidden Caller", "email": "hidden.caller@hidden-corp.example"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var l struct{ ID string }
	r.json(t, &l)
	d.callLead = l.ID
	r = a.do(http.MethodPost, "/calls", map[string]any{"leadId": l.ID, "scheduledAt": callSoon()})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var c struct{ ID string }
	r.json(t, &c)
	d.call = c.ID
}

// callsAPI is the harness with helpers for the call routes.
type callsAPI struct{ leadsAPI }

func newCallsAPI(t *testing.T) callsAPI { return callsAPI{newLeadsAPI(t)} }

// book books a call for leadID two days ahead, requiring a 201.
func (a callsAPI) book(leadID uuid.UUID) call.Call {
	a.t.Helper()
	r := a.do(http.MethodPost, "/calls", map[string]any{"leadId": leadID, "scheduledAt": callSoon(), "durationMinutes": 45})
	require.Equal(a.t, http.StatusCreated, r.Status, string(r.Body))
	var c call.Call
	r.json(a.t, &c)
	return c
}

// getCall reads a call, requiring a 200.
func (a callsAPI) getCall(id uuid.UUID) call.Call {
	a.t.Helper()
	r := a.do(http.MethodGet, "/calls/"+id.String(), nil)
	require.Equal(a.t, http.StatusOK, r.Status, string(r.Body))
	var c call.Call
	r.json(a.t, &c)
	return c
}

// action is the request that moves a call to status to.
func (a callsAPI) action(id uuid.UUID, to call.Status) response {
	a.t.Helper()
	path := "/calls/" + id.String()
	switch to {
	case call.StatusCompleted:
		return a.do(http.MethodPost, path+"/complete", map[string]any{"transcript": "We talked about pricing.", "notes": "ok"})
	case call.StatusNoShow:
		return a.do(http.MethodPost, path+"/no-show", nil)
	default:
		return a.do(http.MethodPost, path+"/cancel", map[string]any{"reason": "rescheduling"})
	}
}

// totals counts the org's calls, events and activities.
func (a callsAPI) totals() [3]int {
	a.t.Helper()
	return [3]int{
		a.count(`SELECT count(*) FROM calls WHERE org_id = $1`, a.org),
		a.count(`SELECT count(*) FROM events WHERE org_id = $1`, a.org),
		a.count(`SELECT count(*) FROM lead_activities WHERE org_id = $1`, a.org),
	}
}

// callProblem is a problem document with the members of the call routes.
type callProblem struct {
	Code          string   `json:"code"`
	CurrentStatus string   `json:"currentStatus"`
	CurrentStage  string   `json:"currentStage"`
	Allowed       []string `json:"allowed"`
	Errors        []struct {
		Field string `json:"field"`
	} `json:"errors"`
}

// callStatusTable is API.md's call status machine, written out independently of pkg/call.
var callStatusTable = map[string][]string{
	"booked":    {"completed", "no_show", "cancelled"},
	"completed": {},
	"no_show":   {},
	"cancelled": {},
}

// TestCallStatusEveryPair drives, for every status a call can be in and every change the API
// offers (complete, no-show, cancel), a fresh call to that status and asks for the change: 200
// with the new status, its timestamp, version + 1 and exactly one event of the change when the
// machine allows it; otherwise 409 with currentStatus and allowed, the call unchanged and no
// event written. (booked as a target has no route; pkg/call's tests cover that pair.)
func TestCallStatusEveryPair(t *testing.T) {
	t.Parallel()
	a := newCallsAPI(t)
	pairs := 0
	for from := range callStatusTable {
		for _, to := range []call.Status{call.StatusCompleted, call.StatusNoShow, call.StatusCancelled} {
			pairs++
			name := fmt.Sprintf("%s -> %s", from, to)
			l := a.create(map[string]any{"email": fmt.Sprintf("%s.%s@example.com", from, to)})
			c := a.book(l.ID)
			if from != "booked" {
				require.Equal(t, http.StatusOK, a.action(c.ID, call.Status(from)).Status, name)
			}
			before := a.getCall(c.ID)
			eventsBefore := a.count(`SELECT count(*) FROM events WHERE entity_id = $1`, c.ID)
			r := a.action(c.ID, to)
			if contains(callStatusTable[from], string(to)) {
				require.Equal(t, http.StatusOK, r.Status, "%s: %s", name, r.Body)
				var got call.Call
				r.json(t, &got)
				require.Equal(t, to, got.Status, name)
				require.Equal(t, before.Version+1, got.Version, name)
				stamp := map[call.Status]*time.Time{call.StatusCompleted: got.CompletedAt, call.StatusNoShow: got.NoShowAt,
					call.StatusCancelled: got.CancelledAt}[to]
				require.NotNil(t, stamp, name)
				require.Equal(t, eventsBefore+1, a.count(`SELECT count(*) FROM events WHERE entity_id = $1`, c.ID), name)
				require.Equal(t, 1, a.count(`SELECT count(*) FROM events WHERE entity_id = $1 AND type = $2`, c.ID, "call."+string(to)), name)
				continue
			}
			require.Equal(t, http.StatusConflict, r.Status, "%s: %s", name, r.Body)
			var p callProblem
			r.json(t, &p)
			require.Equal(t, "conflict", p.Code, name)
			require.Equal(t, from, p.CurrentStatus, name)
			require.Equal(t, []string{}, p.Allowed, name)
			require.Equal(t, before, a.getCall(c.ID), name)
			require.Equal(t, eventsBefore, a.count(`SELECT count(*) FROM events WHERE entity_id = $1`, c.ID), name)
		}
	}
	require.Equal(t, 12, pairs)
}

// TestCallBook proves a booking: 201 with Location, the call as stored, the lead moved from new
// to call_booked through the stage machine (three lead.stage_changed), a "call" activity on the
// lead that moves its lastActivityAt, and call.booked in the same transaction. A second call for
// the same lead keeps its stage.
func TestCallBook(t *testing.T) {
	t.Parallel()
	a := newCallsAPI(t)
	l := a.create(map[string]any{"email": "booked@example.com"})
	at := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
	r := a.do(http.MethodPost, "/calls", map[string]any{"leadId": l.ID, "scheduledAt": at.Format(time.RFC3339)})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var c call.Call
	r.json(t, &c)
	require.Equal(t, "/calls/"+c.ID.String(), r.Header.Get("Location"))
	require.Equal(t, call.StatusBooked, c.Status)
	require.Equal(t, l.ID, c.LeadID)
	require.True(t, at.Equal(c.ScheduledAt))
	require.Equal(t, 30, c.DurationMinutes)
	require.Equal(t, 1, c.Version)
	require.Nil(t, c.Transcript)
	require.Equal(t, []string{}, c.SignalPhrases.V)
	require.Equal(t, c, a.getCall(c.ID))

	got := a.get(l.ID)
	require.Equal(t, lead.StageCallBooked, got.Stage)
	require.NotNil(t, got.LastActivityAt)
	require.Equal(t, 3, a.leadEvents(l.ID, "lead.stage_changed"))
	require.Equal(t, 1, a.count(`SELECT count(*) FROM lead_activities WHERE lead_id = $1 AND kind = 'call'
		AND payload->>'callId' = $2`, l.ID, c.ID.String()))
	var payload []byte
	require.NoError(t, a.super.QueryRow(t.Context(), `SELECT payload FROM events WHERE entity_type = 'call' AND entity_id = $1
		AND type = 'call.booked' AND idempotency_key = $2`, c.ID, "call.booked:"+c.ID.String()).Scan(&payload))
	require.JSONEq(t, fmt.Sprintf(`{"leadId":%q,"scheduledAt":%q,"durationMinutes":30,"leadStage":"call_booked","version":1}`,
		l.ID, at.Format(time.RFC3339)), string(payload))

	second := a.book(l.ID)
	require.Equal(t, 45, second.DurationMinutes)
	require.Equal(t, lead.StageCallBooked, a.get(l.ID).Stage)
	require.Equal(t, 3, a.leadEvents(l.ID, "lead.stage_changed"))
}

// TestCallBookRefusals proves the refused bookings: a time in the past or too far ahead, a bad
// duration, a lead that is disqualified, lost, converted, deleted, another org's or unknown,
// and malformed input; each is a 4xx and writes nothing (calls, events and activities
// unchanged).
func TestCallBookRefusals(t *testing.T) {
	t.Parallel()
	a := newCallsAPI(t)
	open := a.create(map[string]any{"email": "open@example.com"})
	inStage := func(email string, path ...string) uuid.UUID {
		l := a.create(map[string]any{"email": email})
		for _, st := range path {
			require.Equal(t, http.StatusOK, a.move(l.ID, st, "").Status)
		}
		return l.ID
	}
	disqualified := inStage("dq@example.com", "disqualified")
	lost := inStage("lost@example.com", "qualified", "lost")
	converted := inStage("conv@example.com", "qualified", "contacted", "call_booked", "converted")
	deleted := inStage("deleted@example.com")
	require.Equal(t, http.StatusNoContent, a.do(http.MethodDelete, "/leads/"+deleted.String(), nil).Status)
	orgB, keyB := a.newOrg("other")
	r := a.do(http.MethodPost, "/leads", map[string]any{"email": "b@example.com"}, asOrg(orgB, keyB))
	require.Equal(t, http.StatusCreated, r.Status)
	var other lead.Lead
	r.json(t, &other)

	soon := callSoon()
	for _, tc := range []struct {
		name   string
		body   any
		status int
		field  string
		stage  string
	}{
		{"in the past", map[string]any{"leadId": open.ID, "scheduledAt": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, 422, "scheduledAt", ""},
		{"too far ahead", map[string]any{"leadId": open.ID, "scheduledAt": time.Now().AddDate(2, 0, 0).UTC().Format(time.RFC3339)}, 422, "scheduledAt", ""},
		{"duration zero", map[string]any{"leadId": open.ID, "scheduledAt": soon, "durationMinutes": 0}, 422, "durationMinutes", ""},
		{"duration too long", map[string]any{"leadId": open.ID, "scheduledAt": soon, "durationMinutes": 1441}, 422, "durationMinutes", ""},
		{"no lead", map[string]any{"scheduledAt": soon}, 422, "leadId", ""},
		{"lead not a uuid", map[string]any{"leadId": "nope", "scheduledAt": soon}, 422, "leadId", ""},
		{"no time", map[string]any{"leadId": open.ID}, 422, "scheduledAt", ""},
		{"time not a time", map[string]any{"leadId": open.ID, "scheduledAt": "tomorrow"}, 400, "", ""},
		{"unknown member", map[string]any{"leadId": open.ID, "scheduledAt": soon, "status": "completed"}, 400, "", ""},
		{"disqualified lead", map[string]any{"leadId": disqualified, "scheduledAt": soon}, 409, "", "disqualified"},
		{"lost lead", map[string]any{"leadId": lost, "scheduledAt": soon}, 409, "", "lost"},
		{"converted lead", map[string]any{"leadId": converted, "scheduledAt": soon}, 409, "", "converted"},
		{"deleted lead", map[string]any{"leadId": deleted, "scheduledAt": soon}, 404, "", ""},
		{"another org's lead", map[string]any{"leadId": other.ID, "scheduledAt": soon}, 404, "", ""},
		{"unknown lead", map[string]any{"leadId": uuid.New(), "scheduledAt": soon}, 404, "", ""},
	} {
		before := a.totals()
		stageBefore := a.count(`SELECT count(*) FROM events WHERE org_id = $1 AND type = 'lead.stage_changed'`, a.org)
		r := a.do(http.MethodPost, "/calls", tc.body)
		require.Equal(t, tc.status, r.Status, "%s: %s", tc.name, r.Body)
		var p callProblem
		r.json(t, &p)
		if tc.field != "" {
			require.Len(t, p.Errors, 1, tc.name)
			require.Equal(t, tc.field, p.Errors[0].Field, tc.name)
		}
		if tc.stage != "" {
			require.Equal(t, tc.stage, p.CurrentStage, tc.name)
		}
		require.Equal(t, before, a.totals(), "%s: nothing written", tc.name)
		require.Equal(t, stageBefore, a.count(`SELECT count(*) FROM events WHERE org_id = $1 AND type = 'lead.stage_changed'`, a.org), tc.name)
	}
	require.Equal(t, 0, a.count(`SELECT count(*) FROM calls`))
	require.Equal(t, lead.StageNew, a.get(open.ID).Stage)
}

// TestCallComplete proves a completion: the transcript and notes stored, call.completed with
// analyze_call enqueued in the same transaction, a "call" activity; a completion without a
// transcript is 422 with nothing written.
func TestCallComplete(t *testing.T) {
	t.Parallel()
	a := newCallsAPI(t)
	l := a.create(map[string]any{"email": "done@example.com"})
	c := a.book(l.ID)
	before := a.totals()
	r := a.do(http.MethodPost, "/calls/"+c.ID.String()+"/complete", map[string]any{"transcript": "  "})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Body))
	require.Equal(t, before, a.totals())

	r = a.do(http.MethodPost, "/calls/"+c.ID.String()+"/complete", map[string]any{
		"transcript": "Prospect: the budget is approved, send the contract.", "notes": "Hot lead."})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var got call.Call
	r.json(t, &got)
	require.Equal(t, call.StatusCompleted, got.Status)
	require.Equal(t, "Prospect: the budget is approved, send the contract.", *got.Transcript)
	require.Equal(t, "Hot lead.", *got.Notes)
	require.NotNil(t, got.CompletedAt)
	require.Nil(t, got.AnalyzedAt, "analysis runs in the worker")
	require.Equal(t, 1, a.count(`SELECT count(*) FROM jobs j JOIN events e ON e.org_id = j.org_id AND e.id = j.event_id
		WHERE e.entity_id = $1 AND e.type = 'call.completed' AND j.job_type = 'analyze_call'`, c.ID))
	require.Equal(t, 1, a.count(`SELECT count(*) FROM lead_activities WHERE lead_id = $1 AND kind = 'call'
		AND payload->>'change' = 'completed'`, l.ID))
	// The list leaves the transcript out.
	var p struct {
		Data []call.Call `json:"data"`
	}
	r = a.do(http.MethodGet, "/calls?leadId="+l.ID.String(), nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.json(t, &p)
	require.Len(t, p.Data, 1)
	require.Nil(t, p.Data[0].Transcript)
}

// TestCallNoShowRaisesGhostRisk proves a no-show raises the lead's ghost risk by one per call
// without moving its lastActivityAt, and records the change in call.no_show.
func TestCallNoShowRaisesGhostRisk(t *testing.T) {
	t.Parallel()
	a := newCallsAPI(t)
	l := a.create(map[string]any{"email": "ghost@example.com"})
	first, second := a.book(l.ID), a.book(l.ID)
	touched := a.get(l.ID).LastActivityAt
	require.Equal(t, http.StatusOK, a.action(first.ID, call.StatusNoShow).Status)
	require.Equal(t, 1, a.get(l.ID).GhostRisk)
	require.Equal(t, http.StatusConflict, a.action(first.ID, call.StatusNoShow).Status, "a call misses once")
	require.Equal(t, 1, a.get(l.ID).GhostRisk)
	require.Equal(t, http.StatusOK, a.action(second.ID, call.StatusNoShow).Status)
	got := a.get(l.ID)
	require.Equal(t, 2, got.GhostRisk)
	require.Equal(t, touched, got.LastActivityAt, "a no-show is silence")
	var payload []byte
	require.NoError(t, a.super.QueryRow(t.Context(), `SELECT payload FROM events WHERE entity_id = $1 AND type = 'call.no_show'`,
		second.ID).Scan(&payload))
	var p call.ChangedPayload
	require.NoError(t, json.Unmarshal(payload, &p))
	require.Equal(t, &call.GhostRiskChange{From: 1, To: 2}, p.GhostRisk)
}

// TestCallConcurrentChanges proves concurrent changes of one call cannot both win: ten requests
// at once, completing and marking no-show alternately, give exactly one 200; the other nine are
// 409 naming the winner's status, and exactly one change event is written.
func TestCallConcurrentChanges(t *testing.T) {
	t.Parallel()
	a := newCallsAPI(t)
	l := a.create(map[string]any{"email": "race@example.com"})
	c := a.book(l.ID)
	const n = 10
	type result struct {
		want   call.Status
		status int
		body   []byte
	}
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		want, path, body := call.StatusCompleted, "/complete", `{"transcript":"hello"}`
		if i%2 == 1 {
			want, path, body = call.StatusNoShow, "/no-show", `{}`
		}
		wg.Go(func() {
			<-start
			status, b := a.send(http.MethodPost, "/calls/"+c.ID.String()+path, body)
			results[i] = result{want, status, b}
		})
	}
	close(start)
	wg.Wait()
	var winner call.Status
	for _, r := range results {
		switch r.status {
		case http.StatusOK:
			require.Empty(t, winner, "two changes won")
			winner = r.want
		case http.StatusConflict:
		default:
			require.Failf(t, "unexpected status", "%d: %s", r.status, r.body)
		}
	}
	require.NotEmpty(t, winner)
	for _, r := range results {
		if r.status == http.StatusConflict {
			var p callProblem
			require.NoError(t, json.Unmarshal(r.body, &p))
			require.Equal(t, string(winner), p.CurrentStatus)
		}
	}
	got := a.getCall(c.ID)
	require.Equal(t, winner, got.Status)
	require.Equal(t, 2, got.Version)
	require.Equal(t, 1, a.count(`SELECT count(*) FROM events WHERE entity_id = $1 AND type IN ('call.completed', 'call.no_show')`, c.ID))
}

// TestCallListFilters proves the list's filters (lead, status, from/to), its orders and its
// cursor pagination, and the refusal of bad parameters.
func TestCallListFilters(t *testing.T) {
	t.Parallel()
	a := newCallsAPI(t)
	l1 := a.create(map[string]any{"email": "one@example.com"})
	l2 := a.create(map[string]any{"email": "two@example.com"})
	base := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	var ids []uuid.UUID
	for i := range 5 {
		lid := l1.ID
		if i%2 == 1 {
			lid = l2.ID
		}
		r := a.do(http.MethodPost, "/calls", map[string]any{"leadId": lid, "scheduledAt": base.Add(time.Duration(i) * time.Hour).Format(time.RFC3339)})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		var c call.Call
		r.json(t, &c)
		ids = append(ids, c.ID)
	}
	require.Equal(t, http.StatusOK, a.action(ids[0], call.StatusCancelled).Status)

	list := func(q string) []uuid.UUID {
		t.Helper()
		var out []uuid.UUID
		cursor := ""
		for {
			path := "/calls?limit=2&" + q
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			r := a.do(http.MethodGet, path, nil)
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			var p struct {
				Data       []call.Call `json:"data"`
				NextCursor *string     `json:"nextCursor"`
			}
			r.json(t, &p)
			for _, c := range p.Data {
				out = append(out, c.ID)
			}
			if p.NextCursor == nil {
				return out
			}
			cursor = *p.NextCursor
		}
	}
	require.Equal(t, []uuid.UUID{ids[4], ids[3], ids[2], ids[1], ids[0]}, list(""))
	require.Equal(t, ids, list("sort=scheduledAt"))
	require.Equal(t, []uuid.UUID{ids[4], ids[2], ids[0]}, list("leadId="+l1.ID.String()))
	require.Equal(t, []uuid.UUID{ids[0]}, list("status=cancelled"))
	from, to := base.Add(time.Hour).Format(time.RFC3339), base.Add(3*time.Hour).Format(time.RFC3339)
	require.Equal(t, []uuid.UUID{ids[1], ids[2]}, list("sort=scheduledAt&from="+from+"&to="+to))

	for _, q := range []string{"status=done", "leadId=nope", "from=yesterday", "sort=-createdAt", "limit=0",
		"from=" + to + "&to=" + from, "cursor=bogus"} {
		require.Equal(t, http.StatusBadRequest, a.do(http.MethodGet, "/calls?"+q, nil).Status, q)
	}
	// A cursor of one order is refused by the other.
	r := a.do(http.MethodGet, "/calls?limit=1", nil)
	var p struct {
		NextCursor *string `json:"nextCursor"`
	}
	r.json(t, &p)
	require.NotNil(t, p.NextCursor)
	require.Equal(t, http.StatusBadRequest, a.do(http.MethodGet, "/calls?sort=scheduledAt&cursor="+*p.NextCursor, nil).Status)
	require.Equal(t, http.StatusNotFound, a.do(http.MethodGet, "/calls/"+uuid.NewString(), nil).Status)
	require.Equal(t, http.StatusBadRequest, a.do(http.MethodGet, "/calls/nope", nil).Status)
}

// TestCallIdempotencyKey proves a retried booking with the same Idempotency-Key books once.
func TestCallIdempotencyKey(t *testing.T) {
	t.Parallel()
	a := newCallsAPI(t)
	l := a.create(map[string]any{"email": "idem@example.com"})
	body := map[string]any{"leadId": l.ID, "scheduledAt": callSoon()}
	first := a.do(http.MethodPost, "/calls", body, withHeader("Idempotency-Key", "book-1"))
	require.Equal(t, http.StatusCreated, first.Status, string(first.Body))
	again := a.do(http.MethodPost, "/calls", body, withHeader("Idempotency-Key", "book-1"))
	require.Equal(t, http.StatusCreated, again.Status)
	require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	require.Equal(t, first.Body, again.Body)
	require.Equal(t, first.Header.Get("Location"), again.Header.Get("Location"))
	require.Equal(t, 1, a.count(`SELECT count(*) FROM calls WHERE lead_id = $1`, l.ID))
	var c call.Call
	first.json(t, &c)
	cancel := a.do(http.MethodPost, "/calls/"+c.ID.String()+"/cancel", nil, withHeader("Idempotency-Key", "cancel-1"))
	require.Equal(t, http.StatusOK, cancel.Status, string(cancel.Body))
	again = a.do(http.MethodPost, "/calls/"+c.ID.String()+"/cancel", nil, withHeader("Idempotency-Key", "cancel-1"))
	require.Equal(t, http.StatusOK, again.Status, "the replay, not a 409")
	require.Equal(t, 1, a.count(`SELECT count(*) FROM events WHERE entity_id = $1 AND type = 'call.cancelled'`, c.ID))
}
