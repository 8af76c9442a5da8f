package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEnumValuesExact proves one rule for every enum member of every body: a value that is not
// exactly an allowed one (a trailing or leading space included) is 422 on its field and writes
// nothing, on leads as on deals; free text is still trimmed.
func TestEnumValuesExact(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	leadID := convertibleLead(t, a, "enum@example.com")
	d := createDeal(t, a, convertibleLead(t, a, "deal@example.com"), nil)
	lp, dp := "/leads/"+leadID, "/deals/"+d.ID
	before := a.writes()
	cases := []struct{ method, path, body, field string }{
		{"POST", "/leads", `{"email":"p@example.com","priority":"high "}`, "priority"},
		{"POST", "/leads", `{"email":"p@example.com","priority":" high"}`, "priority"},
		{"PATCH", lp, `{"priority":"urgent "}`, "priority"},
		{"POST", lp + "/activities", `{"kind":"email ","body":"sent the offer"}`, "kind"},
		{"POST", lp + "/stage", `{"stage":"lost "}`, "stage"},
		{"POST", lp + "/stage", `{"stage":"\tlost"}`, "stage"},
		{"POST", dp + "/stage", `{"stage":"lost "}`, "stage"},
		{"POST", "/deals", `{"leadId":"` + leadID + `","title":"x","dealValue":1,"currency":"EUR","stage":"proposal "}`, "stage"},
		{"POST", "/intake-sources", `{"name":"Site","kind":"form "}`, "kind"},
	}
	for _, tc := range cases {
		requireRefused(t, a.do(tc.method, tc.path, tc.body), http.StatusUnprocessableEntity, tc.field, tc.method+" "+tc.path+" "+tc.body)
	}
	require.Equal(t, before, a.writes())
	require.Zero(t, a.count(`SELECT count(*) FROM intake_sources`))

	// Free text around an exact enum value is still trimmed.
	r := a.do(http.MethodPost, "/leads", `{"email":"  trim@example.com ","priority":"high","company":" Acme "}`)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var l struct{ Email, Company, Priority string }
	r.json(t, &l)
	require.Equal(t, "trim@example.com", l.Email)
	require.Equal(t, "Acme", l.Company)
	require.Equal(t, "high", l.Priority)
}

// TestIdempotencyKeyEmpty proves that an Idempotency-Key header that is present but empty is
// 400 on that header (a key is 1 to 255 characters) and writes nothing, while no header at all
// still runs the request without a key.
func TestIdempotencyKeyEmpty(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	before := a.writes()
	r := a.do(http.MethodPost, "/leads", `{"email":"key@example.com"}`, withHeader("Idempotency-Key", ""))
	requireRefused(t, r, http.StatusBadRequest, "Idempotency-Key", "empty key")
	require.Equal(t, before, a.writes())
	require.Zero(t, a.count(`SELECT count(*) FROM idempotency_records`))

	r = a.do(http.MethodPost, "/leads", `{"email":"key@example.com"}`, withoutHeader("Idempotency-Key"))
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
}

// TestMemberNamesExact proves that on every JSON body of the API a member name matches a field
// only exactly, case included: {"EMAIL": ...} is an unknown member, 400 on that name, and
// nothing is written.
func TestMemberNamesExact(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	leadID := convertibleLead(t, a, "names@example.com")
	r := a.do(http.MethodPost, "/calls", map[string]any{"leadId": leadID, "scheduledAt": callSoon()})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var c struct{ ID string }
	r.json(t, &c)
	d := createDeal(t, a, convertibleLead(t, a, "deal@example.com"), nil)
	r = a.do(http.MethodPost, "/intake-sources", map[string]any{"name": "Hook", "kind": "webhook"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var src struct{ ID string }
	r.json(t, &src)
	lp, cp, dp, sp := "/leads/"+leadID, "/calls/"+c.ID, "/deals/"+d.ID, "/intake-sources/"+src.ID

	before := [3]int{a.writes()[0], a.writes()[1], a.count(`SELECT count(*) FROM intake_sources`)}
	cases := []struct{ method, path, body, field string }{
		{"POST", "/leads", `{"EMAIL":"x@example.com"}`, "EMAIL"},
		{"POST", "/leads", `{"email":"x@example.com","Company":"Acme"}`, "Company"},
		{"PATCH", lp, `{"Title":"CTO"}`, "Title"},
		{"POST", lp + "/stage", `{"Stage":"qualified"}`, "Stage"},
		{"POST", lp + "/activities", `{"kind":"note","BODY":"x"}`, "BODY"},
		{"POST", "/calls", `{"LeadId":"` + leadID + `","scheduledAt":"` + callSoon() + `"}`, "LeadId"},
		{"POST", cp + "/complete", `{"Transcript":"hello"}`, "Transcript"},
		{"POST", cp + "/cancel", `{"REASON":"x"}`, "REASON"},
		{"POST", "/deals", `{"LeadId":"` + leadID + `","title":"x","dealValue":1,"currency":"EUR"}`, "LeadId"},
		{"PATCH", dp, `{"dealvalue":5}`, "dealvalue"},
		{"POST", dp + "/stage", `{"stage":"lost","LostReason":"x"}`, "LostReason"},
		{"POST", "/intake-sources", `{"Name":"Form","kind":"form"}`, "Name"},
		{"PATCH", sp, `{"NAME":"Other"}`, "NAME"},
		{"POST", sp + "/rotate-secret", `{"graceseconds":60}`, "graceseconds"},
		{"PUT", "/settings/icp", `{"Keywords":["crm"]}`, "Keywords"},
	}
	for _, tc := range cases {
		requireRefused(t, a.do(tc.method, tc.path, tc.body), http.StatusBadRequest, tc.field, tc.method+" "+tc.path+" "+tc.body)
	}
	require.Equal(t, before, [3]int{a.writes()[0], a.writes()[1], a.count(`SELECT count(*) FROM intake_sources`)})
}

// TestNullBodyRefused proves that a body of JSON null is 400 on every JSON body of the API, not
// an empty request: it neither clears the ICP (PUT) nor passes as an empty patch, and writes
// nothing.
func TestNullBodyRefused(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.do(http.MethodPut, "/settings/icp", `{"keywords":["crm"]}`)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	leadID := convertibleLead(t, a, "null@example.com")
	d := createDeal(t, a, convertibleLead(t, a, "deal@example.com"), nil)
	r = a.do(http.MethodPost, "/intake-sources", map[string]any{"name": "Hook", "kind": "webhook"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var src struct{ ID string }
	r.json(t, &src)
	r = a.do(http.MethodPost, "/calls", map[string]any{"leadId": leadID, "scheduledAt": callSoon()})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var c struct{ ID string }
	r.json(t, &c)
	lp, cp, dp, sp := "/leads/"+leadID, "/calls/"+c.ID, "/deals/"+d.ID, "/intake-sources/"+src.ID

	before := [3]int{a.writes()[1], a.writes()[2], a.count(`SELECT count(*) FROM intake_sources`)}
	for _, op := range []struct{ method, path string }{
		{"PUT", "/settings/icp"}, {"PATCH", lp}, {"PATCH", dp}, {"PATCH", sp},
		{"POST", "/leads"}, {"POST", lp + "/stage"}, {"POST", lp + "/activities"}, {"POST", "/deals"},
		{"POST", dp + "/stage"}, {"POST", "/intake-sources"}, {"POST", sp + "/rotate-secret"},
		{"POST", "/calls"}, {"POST", cp + "/complete"}, {"POST", cp + "/cancel"},
	} {
		for _, body := range []string{"null", " null\n"} {
			requireRefused(t, a.do(op.method, op.path, body), http.StatusBadRequest, "", op.method+" "+op.path+" "+body)
		}
	}
	require.Equal(t, before, [3]int{a.writes()[1], a.writes()[2], a.count(`SELECT count(*) FROM intake_sources`)})
	r = a.do(http.MethodGet, "/settings/icp", nil)
	var icp struct{ Keywords []string }
	r.json(t, &icp)
	require.Equal(t, []string{"crm"}, icp.Keywords, "a null PUT leaves the ICP as it was")
}

// TestJSONCharsetRefused proves that a JSON body declared in another charset than UTF-8 is 415
// on the API as on the gateway (bodies are read as UTF-8, never transcoded) and writes nothing,
// while UTF-8 named in any case, or US-ASCII, is accepted.
func TestJSONCharsetRefused(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	leadID := convertibleLead(t, a, "charset@example.com")
	before := a.writes()
	for _, ct := range []string{"application/json; charset=latin1", "application/json; charset=iso-8859-1", "application/json; charset=utf-16"} {
		requireRefused(t, a.do(http.MethodPost, "/leads", `{"email":"caf@example.com"}`, withHeader("Content-Type", ct)), http.StatusUnsupportedMediaType, "", ct)
		requireRefused(t, a.do(http.MethodPatch, "/leads/"+leadID, `{"company":"Acme"}`, withHeader("Content-Type", ct)), http.StatusUnsupportedMediaType, "", ct)
	}
	require.Equal(t, before, a.writes())
	for i, ct := range []string{"application/json; charset=UTF-8", "application/json;charset=utf-8", "application/json; charset=us-ascii"} {
		r := a.do(http.MethodPost, "/leads", fmt.Sprintf(`{"email":"ok%d@example.com"}`, i), withHeader("Content-Type", ct))
		require.Equal(t, http.StatusCreated, r.Status, "%s: %s", ct, r.Body)
	}
}
