package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/lead"
)

// leadsAPI is the harness with helpers for the lead routes.
type leadsAPI struct{ *apiTest }

func newLeadsAPI(t *testing.T) leadsAPI { return leadsAPI{newAPI(t)} }

// create posts body to /leads, requires a 201 and returns the lead.
func (a leadsAPI) create(body any) lead.Lead {
	a.t.Helper()
	r := a.do(http.MethodPost, "/leads", body)
	require.Equal(a.t, http.StatusCreated, r.Status, string(r.Body))
	var l lead.Lead
	r.json(a.t, &l)
	return l
}

// get reads a lead, requiring a 200.
func (a leadsAPI) get(id uuid.UUID) lead.Lead {
	a.t.Helper()
	r := a.do(http.MethodGet, "/leads/"+id.String(), nil)
	require.Equal(a.t, http.StatusOK, r.Status, string(r.Body))
	var l lead.Lead
	r.json(a.t, &l)
	return l
}

// leadEvents counts the events about lead id, of type typ when it is not "".
func (a leadsAPI) leadEvents(id uuid.UUID, typ string) int {
	a.t.Helper()
	if typ == "" {
		return a.count(`SELECT count(*) FROM events WHERE entity_type = 'lead' AND entity_id = $1`, id)
	}
	return a.count(`SELECT count(*) FROM events WHERE entity_type = 'lead' AND entity_id = $1 AND type = $2`, id, typ)
}

// leadProblem is a problem document with the extra members of the lead routes.
type leadProblem struct {
	Code           string   `json:"code"`
	Status         int      `json:"status"`
	CurrentStage   string   `json:"currentStage"`
	Allowed        []string `json:"allowed"`
	ExistingLeadID string   `json:"existingLeadId"`
	CurrentVersion int      `json:"currentVersion"`
	Errors         []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (r response) leadProblem(t *testing.T) leadProblem {
	t.Helper()
	var p leadProblem
	r.json(t, &p)
	return p
}

// TestLeadCreateAndGet proves a manual create: 201 with Location, the input normalised (email
// lower-cased, the full name split, the domain taken from the website), the defaults of a new
// lead, every field of API.md in the JSON, the same lead at Location, and lead.created written
// with its enrich_lead and qualify_lead jobs in the same transaction, by the key's actor.
func TestLeadCreateAndGet(t *testing.T) {
	t.Parallel()
	a := newLeadsAPI(t)
	r := a.do(http.MethodPost, "/leads", `{
		"name": "  Ada   Lovelace ", "email": "Ada@Example.COM", "website": "https://www.Analytical.io/about",
		"company": "Analytical Engines", "title": "CTO", "phone": "+44 20 7946 0000", "source": "conference",
		"profileLink": "https://linkedin.com/in/ada", "notes": "met at the fair", "priority": "high",
		"extra": {"utm": "x", "big": 12345678901234567890}}`)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var l lead.Lead
	r.json(t, &l)
	require.Equal(t, "/leads/"+l.ID.String(), r.Header.Get("Location"))

	var raw map[string]json.RawMessage
	r.json(t, &raw)
	keys := []string{"id", "firstName", "lastName", "name", "email", "phone", "company", "website", "domain", "title",
		"profileLink", "source", "notes", "extra", "stage", "stageReason", "score", "scoreReasons", "icpMatch",
		"recommendedPath", "priority", "ghostRisk", "revenueBand", "enrichment", "version", "lastActivityAt",
		"stageChangedAt", "createdAt", "updatedAt"}
	got := make([]string, 0, len(raw))
	for k := range raw {
		got = append(got, k)
	}
	require.ElementsMatch(t, keys, got)
	require.JSONEq(t, `{"utm":"x","big":12345678901234567890}`, string(raw["extra"]), "extra keeps big numbers exactly")
	require.JSONEq(t, `[]`, string(raw["scoreReasons"]))
	require.JSONEq(t, `{}`, string(raw["enrichment"]))
	require.Equal(t, `null`, string(raw["score"]))
	require.True(t, strings.HasSuffix(strings.Trim(string(raw["createdAt"]), `"`), "Z"), "times are UTC")

	require.Equal(t, "Ada Lovelace", *l.Name)
	require.Equal(t, "Ada", *l.FirstName)
	require.Equal(t, "Lovelace", *l.LastName)
	require.Equal(t, "ada@example.com", *l.Email)
	require.Equal(t, "analytical.io", *l.Domain)
	require.Equal(t, lead.StageNew, l.Stage)
	require.Equal(t, lead.PriorityHigh, l.Priority)
	require.Equal(t, 1, l.Version)
	require.Nil(t, l.StageReason)
	require.Nil(t, l.LastActivityAt)
	require.WithinDuration(t, time.Now(), l.CreatedAt, time.Minute)

	require.Equal(t, l, a.get(l.ID))

	var typ, key, actor, via, payloadEmail string
	require.NoError(t, a.super.QueryRow(t.Context(), `SELECT type, idempotency_key, actor, payload->>'via', payload->'lead'->>'email'
		FROM events WHERE entity_type = 'lead' AND entity_id = $1`, l.ID).Scan(&typ, &key, &actor, &via, &payloadEmail))
	require.Equal(t, "lead.created", typ)
	require.Equal(t, "lead.created:"+l.ID.String(), key)
	require.True(t, strings.HasPrefix(actor, "apikey:"), actor)
	require.Equal(t, "api", via)
	require.Equal(t, "ada@example.com", payloadEmail)
	require.Equal(t, 2, a.count(`SELECT count(*) FROM jobs j JOIN events e ON e.org_id = j.org_id AND e.id = j.event_id
		WHERE e.entity_id = $1 AND j.job_type IN ('enrich_lead', 'qualify_lead')`, l.ID))

	// A bare minimum lead: a phone alone; names joined from first and last.
	p := a.create(map[string]any{"phone": "+1 555 0100", "firstName": "Grace", "lastName": "Hopper"})
	require.Equal(t, "Grace Hopper", *p.Name)
	require.Nil(t, p.Email)
	require.Nil(t, p.Domain)
	require.Equal(t, lead.PriorityNormal, p.Priority)
}

// TestLeadCreateDedup proves manual creates deduplicate by fingerprint like intake: the same
// person again (email in other case and spacing, same domain) is 409 with the existing lead's
// id and writes nothing; concurrent creates of one person give exactly one lead, as the unique
// index decides; phone-only leads with other phones are not duplicates; and once the lead is
// deleted its fingerprint is free again.
func TestLeadCreateDedup(t *testing.T) {
	t.Parallel()
	a := newLeadsAPI(t)
	first := a.create(map[string]any{"email": "grace@navy.mil", "name": "Grace"})

	r := a.do(http.MethodPost, "/leads", map[string]any{"email": "  GRACE@navy.mil ", "name": "Grace Hopper"})
	require.Equal(t, http.StatusConflict, r.Status, string(r.Body))
	p := r.leadProblem(t)
	require.Equal(t, "conflict", p.Code)
	require.Equal(t, first.ID.String(), p.ExistingLeadID)
	require.Equal(t, 1, a.count(`SELECT count(*) FROM leads`))
	require.Equal(t, 1, a.count(`SELECT count(*) FROM events`))

	// Another profile link is another fingerprint (email + domain + profile link).
	a.create(map[string]any{"email": "grace@navy.mil", "profileLink": "https://linkedin.com/in/grace"})
	// Phone-only leads of one company are told apart by their phones.
	a.create(map[string]any{"phone": "+1 555 0101", "website": "https://acme.com"})
	a.create(map[string]any{"phone": "+1 555 0102", "website": "https://acme.com"})
	r = a.do(http.MethodPost, "/leads", map[string]any{"phone": "+1-555-0101", "website": "http://www.acme.com/about"})
	require.Equal(t, http.StatusConflict, r.Status, string(r.Body))

	// Concurrent creates of one new person: one 201, the rest 409, one lead, one event.
	const n = 8
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			statuses[i], _ = a.send(http.MethodPost, "/leads", `{"email":"race@example.com"}`)
		})
	}
	close(start)
	wg.Wait()
	slices.Sort(statuses)
	want := slices.Repeat([]int{http.StatusConflict}, n)
	want[0] = http.StatusCreated
	require.Equal(t, want, statuses)
	require.Equal(t, 1, a.count(`SELECT count(*) FROM leads WHERE email = 'race@example.com'`))
	require.Equal(t, 1, a.count(`SELECT count(*) FROM events e JOIN leads l ON l.id = e.entity_id WHERE l.email = 'race@example.com'`))

	// After a delete the same person may be created again.
	require.Equal(t, http.StatusNoContent, a.do(http.MethodDelete, "/leads/"+first.ID.String(), nil).Status)
	again := a.create(map[string]any{"email": "grace@navy.mil"})
	require.NotEqual(t, first.ID, again.ID)

	// Another org has its own leads: the same person is no duplicate there.
	otherOrg, otherKey := a.newOrg("other")
	r = a.do(http.MethodPost, "/leads", map[string]any{"email": "grace@navy.mil"}, asOrg(otherOrg, otherKey))
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
}

// raw sends a JSON request from any goroutine (no require inside) and returns the status and
// body; a transport error is status 0.
func (a leadsAPI) send(method, path, body string) (int, []byte) {
	req, err := http.NewRequestWithContext(a.t.Context(), method, a.srv.URL+path, strings.NewReader(body))
	if err != nil {
		return 0, nil
	}
	req.Header.Set("Content-Type", "application/json")
	asOrg(a.org, a.key)(req)
	res, err := a.srv.Client().Do(req)
	if err != nil {
		return 0, nil
	}
	defer func() { _ = res.Body.Close() }()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return res.StatusCode, []byte(b.String())
}

// TestLeadIdempotencyKey proves Idempotency-Key on POST /leads: a repeat with the same key and
// body returns the first response (status and body) with Idempotent-Replayed: true and creates
// nothing more; the same key with another body is 422 and creates nothing.
func TestLeadIdempotencyKey(t *testing.T) {
	t.Parallel()
	a := newLeadsAPI(t)
	body := `{"email":"idem@example.com","name":"Idem Potent"}`
	first := a.do(http.MethodPost, "/leads", body, withHeader("Idempotency-Key", "create-1"))
	require.Equal(t, http.StatusCreated, first.Status, string(first.Body))
	require.Empty(t, first.Header.Get("Idempotent-Replayed"))

	again := a.do(http.MethodPost, "/leads", body, withHeader("Idempotency-Key", "create-1"))
	require.Equal(t, http.StatusCreated, again.Status)
	require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	require.JSONEq(t, string(first.Body), string(again.Body))
	require.Equal(t, 1, a.count(`SELECT count(*) FROM leads`))
	require.Equal(t, 1, a.count(`SELECT count(*) FROM events`))

	other := a.do(http.MethodPost, "/leads", `{"email":"someone@example.com"}`, withHeader("Idempotency-Key", "create-1"))
	require.Equal(t, http.StatusUnprocessableEntity, other.Status, string(other.Body))
	require.Equal(t, 1, a.count(`SELECT count(*) FROM leads`))
	require.Equal(t, 1, a.count(`SELECT count(*) FROM events`))

	// Without the key, the same body is a new request: here a duplicate.
	require.Equal(t, http.StatusConflict, a.do(http.MethodPost, "/leads", body).Status)

	// PATCH honours the key too: a replay does not make a second version.
	var l lead.Lead
	first.json(t, &l)
	path := "/leads/" + l.ID.String()
	p1 := a.do(http.MethodPatch, path, `{"title":"CEO"}`, withHeader("Idempotency-Key", "patch-1"))
	require.Equal(t, http.StatusOK, p1.Status, string(p1.Body))
	p2 := a.do(http.MethodPatch, path, `{"title":"CEO"}`, withHeader("Idempotency-Key", "patch-1"))
	require.Equal(t, "true", p2.Header.Get("Idempotent-Replayed"))
	require.JSONEq(t, string(p1.Body), string(p2.Body))
	require.Equal(t, 2, a.get(l.ID).Version)
	require.Equal(t, 1, a.leadEvents(l.ID, "lead.updated"))
}

// TestLeadBadInputs proves every malformed or rule-breaking request is a 4xx problem document
// (the harness also refuses any 500) with the expected status, and that none of them writes
// anything: no lead, event, job or activity appears and the existing lead keeps its version.
func TestLeadBadInputs(t *testing.T) {
	t.Parallel()
	a := newLeadsAPI(t)
	l := a.create(map[string]any{"email": "ada@example.com", "name": "Ada"})
	a.create(map[string]any{"email": "grace@example.com"})
	lp := "/leads/" + l.ID.String()
	otherOrg, otherKey := a.newOrg("other")
	foreign := leadsAPI{a.apiTest}
	r := foreign.do(http.MethodPost, "/leads", map[string]any{"email": "x@other.com"}, asOrg(otherOrg, otherKey))
	require.Equal(t, http.StatusCreated, r.Status)
	var fl lead.Lead
	r.json(t, &fl)

	count := func() [4]int {
		return [4]int{
			a.count(`SELECT count(*) FROM leads`), a.count(`SELECT count(*) FROM events`),
			a.count(`SELECT count(*) FROM jobs`), a.count(`SELECT count(*) FROM lead_activities`),
		}
	}
	before := count()

	manyKeys := map[string]int{}
	for i := range 51 {
		manyKeys[fmt.Sprintf("k%d", i)] = i
	}
	huge := `{"email":"big@example.com","notes":"` + strings.Repeat("x", 70<<10) + `"}`
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	cases := []struct {
		name, method, path string
		body               any
		opts               []reqOpt
		status             int
		field              string
	}{
		{"unparsable json", "POST", "/leads", `{"email":`, nil, 400, ""},
		{"not json", "POST", "/leads", `email=a@b.co`, nil, 400, ""},
		{"empty body", "POST", "/leads", ``, nil, 400, ""},
		{"array body", "POST", "/leads", `[]`, nil, 400, ""},
		{"trailing data", "POST", "/leads", `{"email":"t@example.com"} {}`, nil, 400, ""},
		{"wrong type", "POST", "/leads", `{"email":5}`, nil, 400, "email"},
		{"extra not an object", "POST", "/leads", `{"email":"t@example.com","extra":[1]}`, nil, 400, "extra"},
		{"unknown field", "POST", "/leads", `{"email":"t@example.com","stage":"converted"}`, nil, 400, "stage"},
		{"score is not settable", "POST", "/leads", `{"email":"t@example.com","score":99}`, nil, 400, "score"},
		{"duplicate member", "POST", "/leads", `{"email":"t@example.com","email":"u@example.com"}`, nil, 400, "email"},
		{"invalid utf-8", "POST", "/leads", []byte("{\"email\":\"t@example.com\",\"name\":\"\xff\xfe\"}"), nil, 400, ""},
		{"nul character", "POST", "/leads", `{"email":"t@example.com","name":"a\u0000b"}`, nil, 400, ""},
		{"oversize body", "POST", "/leads", huge, nil, 413, ""},
		{"wrong content type", "POST", "/leads", `{"email":"t@example.com"}`, []reqOpt{withHeader("Content-Type", "text/plain")}, 415, ""},
		{"no contact", "POST", "/leads", `{"name":"Nobody","company":"Acme"}`, nil, 422, "email"},
		{"blank contact", "POST", "/leads", `{"email":"","phone":"  ","profileLink":""}`, nil, 422, "phone"},
		{"bad email", "POST", "/leads", `{"email":"not-an-email"}`, nil, 422, "email"},
		{"website not a url", "POST", "/leads", `{"email":"t@example.com","website":"acme"}`, nil, 422, "website"},
		{"website not http", "POST", "/leads", `{"email":"t@example.com","website":"ftp://acme.com"}`, nil, 422, "website"},
		{"profile link not a url", "POST", "/leads", `{"profileLink":"linkedin"}`, nil, 422, "profileLink"},
		{"bad priority", "POST", "/leads", `{"email":"t@example.com","priority":"asap"}`, nil, 422, "priority"},
		{"too many extra keys", "POST", "/leads", map[string]any{"email": "t@example.com", "extra": manyKeys}, nil, 422, "extra"},
		{"name too long", "POST", "/leads", map[string]any{"email": "t@example.com", "firstName": strings.Repeat("é", 201)}, nil, 422, "firstName"},
		{"control character", "POST", "/leads", `{"email":"t@example.com","company":"Ac\u0007me"}`, nil, 422, "company"},
		{"phone without digits", "POST", "/leads", `{"phone":"call me"}`, nil, 422, "phone"},
		{"bad domain", "POST", "/leads", `{"email":"t@example.com","domain":"not a domain"}`, nil, 422, "domain"},
		{"duplicate of a lead", "POST", "/leads", `{"email":"ADA@example.com"}`, nil, 409, ""},

		{"get: id not a uuid", "GET", "/leads/123", nil, nil, 400, "id"},
		{"get: unknown lead", "GET", "/leads/" + uuid.NewString(), nil, nil, 404, ""},
		{"get: another org's lead", "GET", "/leads/" + fl.ID.String(), nil, nil, 404, ""},
		{"list: limit 0", "GET", "/leads?limit=0", nil, nil, 400, "limit"},
		{"list: limit 201", "GET", "/leads?limit=201", nil, nil, 400, "limit"},
		{"list: limit not a number", "GET", "/leads?limit=ten", nil, nil, 400, "limit"},
		{"list: bad cursor", "GET", "/leads?cursor=nope", nil, nil, 400, "cursor"},
		{"list: cursor of another list", "GET", "/leads?cursor=eyJpIjoxfQ", nil, nil, 400, "cursor"},
		{"list: bad stage", "GET", "/leads?stage=won", nil, nil, 400, "stage"},
		{"list: bad sort", "GET", "/leads?sort=name", nil, nil, 400, "sort"},
		{"list: minScore 101", "GET", "/leads?minScore=101", nil, nil, 400, "minScore"},
		{"list: minScore -1", "GET", "/leads?minScore=-1", nil, nil, 400, "minScore"},
		{"list: minScore not a number", "GET", "/leads?minScore=high", nil, nil, 400, "minScore"},
		{"list: q too long", "GET", "/leads?q=" + strings.Repeat("a", 201), nil, nil, 400, "q"},
		{"list: q not utf-8", "GET", "/leads?q=%ff%fe", nil, nil, 400, "q"},
		{"list: q with a nul", "GET", "/leads?q=a%00b", nil, nil, 400, "q"},

		{"patch: id not a uuid", "PATCH", "/leads/nope", `{"title":"x"}`, nil, 400, "id"},
		{"patch: unknown lead", "PATCH", "/leads/" + uuid.NewString(), `{"title":"x"}`, nil, 404, ""},
		{"patch: another org's lead", "PATCH", "/leads/" + fl.ID.String(), `{"title":"x"}`, nil, 404, ""},
		{"patch: stage is not patchable", "PATCH", lp, `{"stage":"qualified"}`, nil, 400, "stage"},
		{"patch: score is not patchable", "PATCH", lp, `{"score":100}`, nil, 400, "score"},
		{"patch: wrong type", "PATCH", lp, `{"version":"1"}`, nil, 400, "version"},
		{"patch: removes the only contact", "PATCH", lp, `{"email":""}`, nil, 422, "email"},
		{"patch: bad email", "PATCH", lp, `{"email":"nope"}`, nil, 422, "email"},
		{"patch: version 0", "PATCH", lp, `{"version":0,"title":"x"}`, nil, 422, "version"},
		{"patch: stale version", "PATCH", lp, `{"version":7,"title":"x"}`, nil, 409, ""},
		{"patch: becomes a duplicate", "PATCH", lp, `{"email":"grace@example.com"}`, nil, 409, ""},
		{"patch: bad priority", "PATCH", lp, `{"priority":"now"}`, nil, 422, "priority"},
		{"patch: invalid utf-8", "PATCH", lp, []byte("{\"title\":\"\xc3\x28\"}"), nil, 400, ""},

		{"stage: unknown stage", "POST", lp + "/stage", `{"stage":"won"}`, nil, 422, "stage"},
		{"stage: missing stage", "POST", lp + "/stage", `{}`, nil, 422, "stage"},
		{"stage: same stage", "POST", lp + "/stage", `{"stage":"new"}`, nil, 409, ""},
		{"stage: not allowed", "POST", lp + "/stage", `{"stage":"converted"}`, nil, 409, ""},
		{"stage: reason too long", "POST", lp + "/stage", map[string]any{"stage": "qualified", "reason": strings.Repeat("r", 1001)}, nil, 422, "reason"},
		{"stage: unparsable", "POST", lp + "/stage", `{"stage":`, nil, 400, ""},
		{"stage: id not a uuid", "POST", "/leads/x/stage", `{"stage":"qualified"}`, nil, 400, "id"},
		{"stage: unknown lead", "POST", "/leads/" + uuid.NewString() + "/stage", `{"stage":"qualified"}`, nil, 404, ""},

		{"activity: system kind", "POST", lp + "/activities", `{"kind":"escalation","body":"x"}`, nil, 422, "kind"},
		{"activity: no subject or body", "POST", lp + "/activities", `{"kind":"note"}`, nil, 422, "body"},
		{"activity: in the future", "POST", lp + "/activities", map[string]any{"kind": "call", "body": "x", "occurredAt": future}, nil, 422, "occurredAt"},
		{"activity: not a time", "POST", lp + "/activities", `{"kind":"call","body":"x","occurredAt":"yesterday"}`, nil, 400, ""},
		{"activity: unknown field", "POST", lp + "/activities", `{"kind":"call","body":"x","leadId":"` + l.ID.String() + `"}`, nil, 400, "leadId"},
		{"activity: unknown lead", "POST", "/leads/" + uuid.NewString() + "/activities", `{"kind":"note","body":"x"}`, nil, 404, ""},
		{"activities: limit 500", "GET", lp + "/activities?limit=500", nil, nil, 400, "limit"},
		{"activities: bad cursor", "GET", lp + "/activities?cursor=!!!", nil, nil, 400, "cursor"},
		{"events: bad cursor", "GET", lp + "/events?cursor=e30", nil, nil, 400, "cursor"},
		{"events: unknown lead", "GET", "/leads/" + uuid.NewString() + "/events", nil, nil, 404, ""},
		{"events: another org's lead", "GET", "/leads/" + fl.ID.String() + "/events", nil, nil, 404, ""},

		{"delete: id not a uuid", "DELETE", "/leads/" + strings.ToUpper(l.ID.String()) + "0", nil, nil, 400, "id"},
		{"delete: unknown lead", "DELETE", "/leads/" + uuid.NewString(), nil, nil, 404, ""},
		{"delete: another org's lead", "DELETE", "/leads/" + fl.ID.String(), nil, nil, 404, ""},
	}
	for _, tc := range cases {
		r := a.do(tc.method, tc.path, tc.body, tc.opts...)
		require.Equal(t, tc.status, r.Status, "%s: %s", tc.name, r.Body)
		p := r.leadProblem(t)
		require.Equal(t, tc.status, p.Status, tc.name)
		require.NotEmpty(t, p.Code, tc.name)
		if tc.field != "" {
			fields := []string{}
			for _, e := range p.Errors {
				fields = append(fields, e.Field)
			}
			require.Contains(t, fields, tc.field, "%s: %s", tc.name, r.Body)
		}
		require.Equal(t, before, count(), "%s wrote something", tc.name)
	}
	require.Equal(t, 1, a.get(l.ID).Version)
	require.Equal(t, 1, a.leadEvents(l.ID, ""))
}

// TestLeadPatch proves PATCH: only the given fields change, "" clears one, the name is split
// or joined again, the domain follows a new email unless given, extra is replaced, the version
// moves on by one, lead.updated records the changed fields; a patch that changes nothing writes
// nothing; a matching version is accepted and a stale one is 409 with the current version.
func TestLeadPatch(t *testing.T) {
	t.Parallel()
	a := newLeadsAPI(t)
	l := a.create(map[string]any{"email": "ada@example.com", "name": "Ada Lovelace", "company": "Engines",
		"title": "CTO", "extra": map[string]any{"a": 1}})
	path := "/leads/" + l.ID.String()

	r := a.do(http.MethodPatch, path, map[string]any{"email": "ADA@Analytical.io", "name": "Augusta Ada King",
		"title": "", "priority": "urgent", "extra": map[string]any{"b": true}, "version": 1})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var u lead.Lead
	r.json(t, &u)
	require.Equal(t, 2, u.Version)
	require.Equal(t, "ada@analytical.io", *u.Email)
	require.Equal(t, "analytical.io", *u.Domain, "the domain follows the email")
	require.Equal(t, "Augusta Ada King", *u.Name)
	require.Equal(t, "Augusta", *u.FirstName)
	require.Equal(t, "Ada King", *u.LastName)
	require.Nil(t, u.Title, `"" clears`)
	require.Equal(t, "Engines", *u.Company, "absent fields are kept")
	require.Equal(t, lead.PriorityUrgent, u.Priority)
	require.JSONEq(t, `{"b":true}`, string(u.Extra))
	require.Equal(t, u, a.get(l.ID))

	var payload []byte
	require.NoError(t, a.super.QueryRow(t.Context(), `SELECT payload FROM events WHERE entity_id = $1 AND type = 'lead.updated'
		AND idempotency_key = $2`, l.ID, fmt.Sprintf("lead.updated:%s:2", l.ID)).Scan(&payload))
	require.JSONEq(t, `{"version":2,"changes":{
		"email":{"from":"ada@example.com","to":"ada@analytical.io"},
		"domain":{"from":"example.com","to":"analytical.io"},
		"name":{"from":"Ada Lovelace","to":"Augusta Ada King"},
		"firstName":{"from":"Ada","to":"Augusta"},
		"lastName":{"from":"Lovelace","to":"Ada King"},
		"title":{"from":"CTO","to":null},
		"priority":{"from":"normal","to":"urgent"},
		"extra":{"from":{"a":1},"to":{"b":true}}},
		"row":{"rev":1,"set":{"email":"ada@analytical.io","domain":"analytical.io","name":"Augusta Ada King",
			"firstName":"Augusta","lastName":"Ada King","title":null,"priority":"urgent","extra":{"b":true},"version":2}}}`, string(payload))

	// First name alone: the full name is joined again. An explicit domain wins.
	r = a.do(http.MethodPatch, path, map[string]any{"firstName": "Ada", "domain": "https://www.Engines.co.uk/"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.json(t, &u)
	require.Equal(t, "Ada Ada King", *u.Name)
	require.Equal(t, "engines.co.uk", *u.Domain)
	require.Equal(t, 3, u.Version)

	// Nothing changes: no new version, no event.
	events := a.leadEvents(l.ID, "")
	for _, body := range []string{`{}`, `{"firstName":"Ada"}`, `{"email":" ada@analytical.io ","extra":{"b":true}}`, `{"version":3}`} {
		r = a.do(http.MethodPatch, path, body)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		r.json(t, &u)
		require.Equal(t, 3, u.Version, body)
	}
	require.Equal(t, events, a.leadEvents(l.ID, ""))

	// A stale version is refused with the current one.
	r = a.do(http.MethodPatch, path, map[string]any{"title": "CEO", "version": 2})
	require.Equal(t, http.StatusConflict, r.Status)
	require.Equal(t, 3, r.leadProblem(t).CurrentVersion)
	require.Nil(t, a.get(l.ID).Title)

	// Taking another lead's identity is 409 naming that lead.
	other := a.create(map[string]any{"email": "grace@example.com"})
	r = a.do(http.MethodPatch, path, map[string]any{"email": "grace@example.com", "domain": "example.com"})
	require.Equal(t, http.StatusConflict, r.Status, string(r.Body))
	require.Equal(t, other.ID.String(), r.leadProblem(t).ExistingLeadID)
	require.Equal(t, 3, a.get(l.ID).Version)

	// Clearing the email is fine while a phone remains.
	r = a.do(http.MethodPatch, path, map[string]any{"phone": "+1 555 0100"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r = a.do(http.MethodPatch, path, map[string]any{"email": ""})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.json(t, &u)
	require.Nil(t, u.Email)
	require.Equal(t, 5, u.Version)
	require.Equal(t, 4, a.leadEvents(l.ID, "lead.updated"))
}

// TestLeadDelete proves soft delete: 204, then the lead is gone from get, list, patch, stage
// and activities (404, a second delete too), lead.deleted is written once, the row stays with
// deleted_at set, and its history is still readable.
func TestLeadDelete(t *testing.T) {
	t.Parallel()
	a := newLeadsAPI(t)
	l := a.create(map[string]any{"email": "gone@example.com"})
	keep := a.create(map[string]any{"email": "kept@example.com"})
	path := "/leads/" + l.ID.String()

	r := a.do(http.MethodDelete, path, nil)
	require.Equal(t, http.StatusNoContent, r.Status)
	require.Empty(t, r.Body)
	require.Equal(t, 1, a.count(`SELECT count(*) FROM leads WHERE id = $1 AND deleted_at IS NOT NULL`, l.ID))
	require.Equal(t, 1, a.leadEvents(l.ID, "lead.deleted"))

	for _, c := range []struct{ method, path, body string }{
		{http.MethodGet, path, ""}, {http.MethodDelete, path, ""}, {http.MethodPatch, path, `{"title":"x"}`},
		{http.MethodPost, path + "/stage", `{"stage":"lost"}`}, {http.MethodPost, path + "/activities", `{"kind":"note","body":"x"}`},
		{http.MethodGet, path + "/activities", ""},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		r := a.do(c.method, c.path, body)
		require.Equal(t, http.StatusNotFound, r.Status, "%s %s", c.method, c.path)
	}
	require.Equal(t, 1, a.leadEvents(l.ID, "lead.deleted"))
	require.Equal(t, 2, a.leadEvents(l.ID, ""))

	var list leadPage
	a.do(http.MethodGet, "/leads", nil).json(t, &list)
	require.Equal(t, []uuid.UUID{keep.ID}, list.ids())

	r = a.do(http.MethodGet, path+"/events", nil)
	require.Equal(t, http.StatusOK, r.Status)
	var hist leadEventPage
	r.json(t, &hist)
	require.Equal(t, []string{"lead.created", "lead.deleted"}, hist.types())
}

// leadPage is a decoded page of leads.
type leadPage struct {
	Data       []lead.Lead `json:"data"`
	NextCursor *string     `json:"nextCursor"`
}

func (p leadPage) ids() []uuid.UUID {
	out := []uuid.UUID{}
	for _, l := range p.Data {
		out = append(out, l.ID)
	}
	return out
}

// leadEventPage is a decoded page of a lead's history.
type leadEventPage struct {
	Data       []lead.Event `json:"data"`
	NextCursor *string      `json:"nextCursor"`
}

func (p leadEventPage) types() []string {
	out := []string{}
	for _, e := range p.Data {
		out = append(out, e.Type)
	}
	return out
}

// walk reads every page of the list at path (which has a query) with limit per page and
// returns the leads in order, requiring that no lead repeats.
func (a leadsAPI) walk(path string, limit int) []lead.Lead {
	a.t.Helper()
	var all []lead.Lead
	seen := map[uuid.UUID]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(a.t, pages, 1000)
		q := fmt.Sprintf("%s&limit=%d", path, limit)
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		r := a.do(http.MethodGet, q, nil)
		require.Equal(a.t, http.StatusOK, r.Status, "%s: %s", q, r.Body)
		var p leadPage
		r.json(a.t, &p)
		require.LessOrEqual(a.t, len(p.Data), limit)
		for _, l := range p.Data {
			require.False(a.t, seen[l.ID], "lead %s repeats in %s", l.ID, path)
			seen[l.ID] = true
		}
		all = append(all, p.Data...)
		if p.NextCursor == nil {
			return all
		}
		require.Len(a.t, p.Data, limit, "a page with a next cursor is full")
		cursor = *p.NextCursor
	}
}

// TestLeadListFiltersSortsAndPages proves GET /leads: every sort order walked page by page
// (with ties in the sort key and unscored leads) returns every lead exactly once in the
// documented order; stage, q (name, email or company, any case, wildcards taken literally) and
// minScore filter; the filters combine; a cursor of one sort is refused by another.
func TestLeadListFiltersSortsAndPages(t *testing.T) {
	t.Parallel()
	a := newLeadsAPI(t)
	type spec struct {
		name, email, company string
		score                *int
	}
	sc := func(n int) *int { return &n }
	specs := []spec{
		{"Ada Lovelace", "ada@engines.io", "Analytical Engines", sc(90)},
		{"Grace Hopper", "grace@navy.mil", "US Navy", sc(75)},
		{"Alan Turing", "alan@bletchley.uk", "Bletchley Park", sc(75)},
		{"Edsger Dijkstra", "ewd@tue.nl", "TU/e", nil},
		{"Barbara Liskov", "liskov@mit.edu", "MIT 100%", sc(40)},
		{"Donald Knuth", "knuth@stanford.edu", "Stanford_CS", sc(75)},
		{"Margaret Hamilton", "margaret@nasa.gov", "NASA", nil},
		{"Ken Thompson", "ken@bell-labs.com", "Bell Labs", sc(10)},
		{"Dennis Ritchie", "dmr@bell-labs.com", "Bell Labs", sc(0)},
		{"Frances Allen", "fran@ibm.com", "IBM", sc(75)},
		{"John Backus", "backus@ibm.com", "IBM", nil},
	}
	leads := map[uuid.UUID]spec{}
	var ids []uuid.UUID
	for _, s := range specs {
		l := a.create(map[string]any{"name": s.name, "email": s.email, "company": s.company})
		leads[l.ID] = s
		ids = append(ids, l.ID)
		if s.score != nil {
			_, err := a.super.Exec(t.Context(), `UPDATE leads SET score = $1 WHERE id = $2`, *s.score, l.ID)
			require.NoError(t, err)
		}
	}
	// Ties in created_at and updated_at, as leads imported in one transaction have.
	_, err := a.super.Exec(t.Context(), `UPDATE leads SET created_at = '2026-01-01T00:00:00Z', updated_at = '2026-02-01T00:00:00Z'
		WHERE id = ANY($1)`, []uuid.UUID{ids[2], ids[3], ids[4], ids[5]})
	require.NoError(t, err)

	all := map[uuid.UUID]lead.Lead{}
	for _, l := range a.walk("/leads?sort=-createdAt", 200) {
		all[l.ID] = l
	}
	require.Len(t, all, len(specs))

	// Expected orders, computed here from the stored values.
	ordered := func(less func(x, y lead.Lead) bool) []uuid.UUID {
		ls := make([]lead.Lead, 0, len(all))
		for _, l := range all {
			ls = append(ls, l)
		}
		sort.Slice(ls, func(i, j int) bool { return less(ls[i], ls[j]) })
		out := make([]uuid.UUID, len(ls))
		for i, l := range ls {
			out[i] = l.ID
		}
		return out
	}
	idLess := func(x, y uuid.UUID) bool { return strings.Compare(x.String(), y.String()) < 0 }
	byTime := func(get func(lead.Lead) time.Time, desc bool) func(x, y lead.Lead) bool {
		return func(x, y lead.Lead) bool {
			tx, ty := get(x), get(y)
			if !tx.Equal(ty) {
				return tx.Before(ty) != desc
			}
			return idLess(x.ID, y.ID) != desc
		}
	}
	scoreOf := func(l lead.Lead) int {
		if l.Score == nil {
			return -1
		}
		return *l.Score
	}
	byScore := func(desc bool) func(x, y lead.Lead) bool {
		return func(x, y lead.Lead) bool {
			if scoreOf(x) != scoreOf(y) {
				return (scoreOf(x) < scoreOf(y)) != desc
			}
			return idLess(x.ID, y.ID) != desc
		}
	}
	created := func(l lead.Lead) time.Time { return l.CreatedAt }
	updated := func(l lead.Lead) time.Time { return l.UpdatedAt }
	orders := map[string][]uuid.UUID{
		"-createdAt": ordered(byTime(created, true)),
		"createdAt":  ordered(byTime(created, false)),
		"-updatedAt": ordered(byTime(updated, true)),
		"updatedAt":  ordered(byTime(updated, false)),
		"-score":     ordered(byScore(true)),
		"score":      ordered(byScore(false)),
	}
	for s, want := range orders {
		for _, limit := range []int{1, 2, 3, 4, 200} {
			path := "/leads?sort=" + s
			if s == "-createdAt" {
				path = "/leads?" // the default
			}
			got := a.walk(path, limit)
			require.Equal(t, want, leadIDs(got), "sort %q limit %d", s, limit)
		}
	}
	// Unscored leads come last under -score.
	desc := orders["-score"]
	require.Nil(t, all[desc[len(desc)-1]].Score)
	require.Equal(t, 90, *all[desc[0]].Score)

	// Filters.
	q := func(query string) []string {
		names := []string{}
		for _, l := range a.walk("/leads?"+query, 2) {
			names = append(names, *l.Name)
		}
		slices.Sort(names)
		return names
	}
	// q: every word must begin a word of the name, company or email, in any case.
	require.Equal(t, []string{"Ada Lovelace"}, q("q=LoV"), "name, any case")
	require.Equal(t, []string{"Barbara Liskov", "John Backus"}, q("q=BA"), "first and last names, email")
	require.Empty(t, q("q=ing"), "words match by their beginning, not inside")
	require.Equal(t, []string{"Dennis Ritchie", "Ken Thompson"}, q("q=bell-labs.COM"), "email")
	require.Equal(t, []string{"Ada Lovelace"}, q("q=ada@engines"), "email")
	require.Equal(t, []string{"Frances Allen", "John Backus"}, q("q=ibm"))
	require.Equal(t, []string{"Grace Hopper"}, q("q=us+navy"), "company")
	require.Equal(t, []string{"Grace Hopper"}, q("q=gra+hop"), "every word, each a prefix")
	require.Empty(t, q("q=grace+turing"), "all words must match")
	require.Equal(t, []string{"Barbara Liskov"}, q("q="+url.QueryEscape("100%")), "% is text")
	require.Equal(t, []string{"Donald Knuth"}, q("q="+url.QueryEscape("stanford_cs")), "_ separates words")
	require.Empty(t, q("q="+url.QueryEscape("_")), "no word, no match")
	require.Equal(t, []string{"Edsger Dijkstra"}, q("q="+url.QueryEscape("tu/e")))
	require.Empty(t, q("q="+url.QueryEscape(`\`)), `\ is no word`)
	require.Equal(t, []string{"Alan Turing"}, q("q="+url.QueryEscape(`'a':* | !b`)), "query syntax is only words")
	require.Equal(t, []string{"Ada Lovelace", "Alan Turing", "Donald Knuth", "Frances Allen", "Grace Hopper"}, q("minScore=75"))
	require.Len(t, q("minScore=0"), 8, "unscored leads have no score to pass")

	// Stage filter, combined with the others.
	for _, id := range []uuid.UUID{ids[0], ids[1], ids[7]} {
		require.Equal(t, http.StatusOK, a.do(http.MethodPost, "/leads/"+id.String()+"/stage", map[string]any{"stage": "qualified"}).Status)
	}
	require.Equal(t, []string{"Ada Lovelace", "Grace Hopper", "Ken Thompson"}, q("stage=qualified"))
	require.Equal(t, []string{"Ada Lovelace", "Grace Hopper"}, q("stage=qualified&minScore=50"))
	require.Equal(t, []string{"Ken Thompson"}, q("stage=qualified&q=KEN&sort=score"))
	require.Len(t, q("stage=new"), len(specs)-3)
	require.Empty(t, q("stage=converted"))

	// A cursor belongs to its sort.
	var p leadPage
	a.do(http.MethodGet, "/leads?sort=score&limit=1", nil).json(t, &p)
	require.NotNil(t, p.NextCursor)
	r := a.do(http.MethodGet, "/leads?sort=-createdAt&limit=1&cursor="+url.QueryEscape(*p.NextCursor), nil)
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
	r = a.do(http.MethodGet, "/leads/"+ids[0].String()+"/events?cursor="+url.QueryEscape(*p.NextCursor), nil)
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
}

func leadIDs(ls []lead.Lead) []uuid.UUID {
	out := make([]uuid.UUID, len(ls))
	for i, l := range ls {
		out[i] = l.ID
	}
	return out
}

// TestLeadActivities proves POST and GET /leads/{id}/activities: 201 with the activity, kinds
// a person may log, the lead's lastActivityAt moved forward (never back by a backdated entry),
// lead.activity_added per activity, and the list newest first across pages.
func TestLeadActivities(t *testing.T) {
	t.Parallel()
	a := newLeadsAPI(t)
	l := a.create(map[string]any{"email": "ada@example.com"})
	path := "/leads/" + l.ID.String() + "/activities"
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)

	var made []lead.Activity
	for i, kind := range []string{"note", "touchpoint", "call", "email", "meeting", "task"} {
		r := a.do(http.MethodPost, path, map[string]any{"kind": kind, "subject": "s " + kind, "body": "b",
			"occurredAt": base.Add(time.Duration(i) * time.Minute).Format(time.RFC3339)})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		var act lead.Activity
		r.json(t, &act)
		require.Equal(t, lead.ActivityKind(kind), act.Kind)
		require.Equal(t, l.ID, act.LeadID)
		require.Equal(t, "s "+kind, *act.Subject)
		require.True(t, strings.HasPrefix(*act.CreatedBy, "apikey:"))
		made = append(made, act)
	}
	last := base.Add(5 * time.Minute)
	got := a.get(l.ID)
	require.NotNil(t, got.LastActivityAt)
	require.True(t, last.Equal(*got.LastActivityAt), "%s != %s", last, got.LastActivityAt)
	require.Equal(t, 1, got.Version, "logging an activity is not an edit of the lead")

	// A backdated activity does not move lastActivityAt back; one without a time is now.
	r := a.do(http.MethodPost, path, map[string]any{"kind": "note", "body": "old", "occurredAt": "2020-01-01T00:00:00Z"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	require.True(t, last.Equal(*a.get(l.ID).LastActivityAt))
	r = a.do(http.MethodPost, path, map[string]any{"kind": "note", "body": "now"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var now lead.Activity
	r.json(t, &now)
	require.WithinDuration(t, time.Now(), now.OccurredAt, time.Minute)
	require.True(t, now.OccurredAt.Equal(*a.get(l.ID).LastActivityAt))
	require.Equal(t, 8, a.leadEvents(l.ID, "lead.activity_added"))

	// Newest first, page by page.
	var all []lead.Activity
	cursor := ""
	for {
		q := path + "?limit=3"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		r := a.do(http.MethodGet, q, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var p struct {
			Data       []lead.Activity `json:"data"`
			NextCursor *string         `json:"nextCursor"`
		}
		r.json(t, &p)
		all = append(all, p.Data...)
		if p.NextCursor == nil {
			break
		}
		cursor = *p.NextCursor
	}
	require.Len(t, all, 8)
	require.Equal(t, now.ID, all[0].ID)
	for i := range made {
		require.Equal(t, made[len(made)-1-i].ID, all[1+i].ID)
	}
	require.Equal(t, "old", *all[7].Body)
}

// TestLeadHistory proves GET /leads/{id}/events: after create, patch, stage change, activity
// and delete the lead's history holds exactly one event per change, oldest first, across
// pages, each by the key's actor with the change in its payload; after every call the number
// of the lead's events has grown by exactly one, so each mutation wrote its event with it.
func TestLeadHistory(t *testing.T) {
	t.Parallel()
	a := newLeadsAPI(t)
	l := a.create(map[string]any{"email": "ada@example.com"})
	other := a.create(map[string]any{"email": "grace@example.com"})
	path := "/leads/" + l.ID.String()
	require.Equal(t, 1, a.leadEvents(l.ID, ""))

	steps := []struct {
		method, path string
		body         any
		status       int
	}{
		{http.MethodPatch, path, map[string]any{"title": "CTO"}, http.StatusOK},
		{http.MethodPost, path + "/stage", map[string]any{"stage": "qualified", "reason": "fits the ICP"}, http.StatusOK},
		{http.MethodPost, path + "/activities", map[string]any{"kind": "call", "subject": "intro"}, http.StatusCreated},
		{http.MethodPost, path + "/stage", map[string]any{"stage": "contacted"}, http.StatusOK},
		{http.MethodDelete, path, nil, http.StatusNoContent},
	}
	for i, s := range steps {
		r := a.do(s.method, s.path, s.body)
		require.Equal(t, s.status, r.Status, string(r.Body))
		require.Equal(t, i+2, a.leadEvents(l.ID, ""), "%s %s wrote one event", s.method, s.path)
	}

	var hist []lead.Event
	cursor := ""
	for {
		q := path + "/events?limit=2"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		r := a.do(http.MethodGet, q, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var p leadEventPage
		r.json(t, &p)
		hist = append(hist, p.Data...)
		if p.NextCursor == nil {
			break
		}
		cursor = *p.NextCursor
	}
	types := leadEventPage{Data: hist}.types()
	require.Equal(t, []string{"lead.created", "lead.updated", "lead.stage_changed", "lead.activity_added",
		"lead.stage_changed", "lead.deleted"}, types)
	for i, e := range hist {
		require.Equal(t, "lead", e.EntityType)
		require.Equal(t, l.ID, e.EntityID)
		require.True(t, strings.HasPrefix(e.Actor, "apikey:"), e.Actor)
		if i > 0 {
			require.Greater(t, e.ID, hist[i-1].ID)
			require.False(t, e.OccurredAt.Before(hist[i-1].OccurredAt))
		}
	}
	require.JSONEq(t, `{"from":"new","to":"qualified","reason":"fits the ICP","version":3,
		"row":{"rev":1,"set":{"stage":"qualified","stageReason":"fits the ICP","version":3},"at":["stageChangedAt"]}}`, string(hist[2].Payload))
	require.JSONEq(t, `{"from":"qualified","to":"contacted","reason":null,"version":4,
		"row":{"rev":1,"set":{"stage":"contacted","stageReason":null,"version":4},"at":["stageChangedAt"]}}`, string(hist[4].Payload))
	require.JSONEq(t, `{"version":2,"changes":{"title":{"from":null,"to":"CTO"}},"row":{"rev":1,"set":{"title":"CTO","version":2}}}`, string(hist[1].Payload))
	require.JSONEq(t, `{"stage":"contacted","version":4,"row":{"rev":1}}`, string(hist[5].Payload))
	var act map[string]any
	require.NoError(t, json.Unmarshal(hist[3].Payload, &act))
	require.Equal(t, "call", act["kind"])
	require.Equal(t, "intro", act["subject"])

	// The other lead's history is its own.
	var p leadEventPage
	a.do(http.MethodGet, "/leads/"+other.ID.String()+"/events", nil).json(t, &p)
	require.Equal(t, []string{"lead.created"}, p.types())
	require.Nil(t, p.NextCursor)
}
