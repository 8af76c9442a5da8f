package httpapi_test

// Tests of the edges that every route shares: text parameters, enum values, the
// Idempotency-Key header, member names, and a database that cannot be reached.

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/config"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/org"
	"example.com/crm/services/api/internal/httpapi"
)

// requireRefused asserts a 4xx problem with the status, naming field (when not ""), and that
// nothing was written (the counts of writes before and after are equal).
func requireRefused(t *testing.T, r response, status int, field, what string) {
	t.Helper()
	require.Equal(t, status, r.Status, "%s: %s", what, r.Body)
	p := r.problem(t)
	require.Equal(t, status, p.Status, what)
	if field != "" {
		fields := []string{}
		for _, e := range p.Errors {
			fields = append(fields, e.Field)
		}
		require.Contains(t, fields, field, "%s: %s", what, r.Body)
	}
}

// writes counts the rows that any write of the API leaves.
func (a *apiTest) writes() [5]int {
	a.t.Helper()
	return [5]int{
		a.count(`SELECT count(*) FROM leads`), a.count(`SELECT count(*) FROM events`), a.count(`SELECT count(*) FROM jobs`),
		a.count(`SELECT count(*) FROM lead_activities`), a.count(`SELECT count(*) FROM deals`),
	}
}

// TestTextParamsRefused proves that a path parameter or query value that PostgreSQL cannot take
// as text (a NUL, bytes that are not UTF-8) is 400 on that parameter on every route, before
// any handler sees it, and writes nothing.
func TestTextParamsRefused(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	before := a.writes()
	cases := []struct{ method, path, body, field string }{
		{"GET", "/observability/events?entityType=%00", "", "entityType"},
		{"GET", "/observability/events?entityType=%ff", "", "entityType"},
		{"GET", "/observability/events?entityType=lead%00x", "", "entityType"},
		{"GET", "/observability/events?type=lead.created&entityType=%c3", "", "entityType"},
		{"GET", "/observability/jobs?jobType=%00", "", "jobType"},
		{"GET", "/leads?stage=new&unknown=%ff", "", "unknown"},
		{"GET", "/leads/%00", "", "id"},
		{"GET", "/leads/%FF", "", "id"},
		{"POST", "/leads?x=%00", `{"email":"t@example.com"}`, "x"},
		{"PATCH", "/leads/%00", `{"title":"x"}`, "id"},
		{"GET", "/deals?%ff=1", "", "query"},
	}
	for _, tc := range cases {
		var body any
		if tc.body != "" {
			body = tc.body
		}
		requireRefused(t, a.do(tc.method, tc.path, body), http.StatusBadRequest, tc.field, tc.method+" "+tc.path)
	}
	require.Equal(t, before, a.writes())
	// The check is no obstacle to ordinary text.
	r := a.do(http.MethodGet, "/observability/events?entityType=l%C3%A9ad", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
}

// TestMalformedQueryRefused proves that a query string that does not parse (a bad escape, a ';'
// separator) is 400 on "query" on every route instead of being read as if the parameters it
// holds were absent (a list answering unfiltered, at the default limit), and writes nothing.
func TestMalformedQueryRefused(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.do(http.MethodPost, "/leads", `{"email":"lost@example.com"}`)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	before := a.writes()
	cases := []struct{ method, path, body string }{
		{"GET", "/leads?limit=%zz", ""},
		{"GET", "/leads?stage=lost;limit=1", ""},
		{"GET", "/leads?q=abc%2", ""},
		{"GET", "/observability/events?%zz=1", ""},
		{"POST", "/leads?x=%zz", `{"email":"q@example.com"}`},
	}
	for _, tc := range cases {
		var body any
		if tc.body != "" {
			body = tc.body
		}
		requireRefused(t, a.do(tc.method, tc.path, body), http.StatusBadRequest, "query", tc.method+" "+tc.path)
	}
	require.Equal(t, before, a.writes())
}

// TestSingleHeadersOnce proves that a header meant once (Authorization, X-Org-Id,
// Idempotency-Key, Content-Type) given twice is 400 on that header, whichever copy is the good
// one, instead of the first copy being read (a second X-Org-Id of another org, appended by a
// client or proxy, would otherwise go unseen), and writes nothing.
func TestSingleHeadersOnce(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	other, otherKey := a.newOrg("other")
	add := func(k, v string) reqOpt { return func(r *http.Request) { r.Header.Add(k, v) } }
	before := a.writes()
	lead := `{"email":"twice@example.com"}`
	cases := []struct {
		method string
		body   any
		opt    reqOpt
		field  string
	}{
		{"GET", nil, add("X-Org-Id", other.String()), "X-Org-Id"},
		{"POST", lead, add("X-Org-Id", other.String()), "X-Org-Id"},
		{"POST", lead, add("X-Org-Id", a.org.String()), "X-Org-Id"},
		{"GET", nil, add("Authorization", "Bearer "+otherKey), "Authorization"},
		{"POST", lead, add("Authorization", "Bearer "+a.key), "Authorization"},
		{"POST", lead, func(r *http.Request) { r.Header["Idempotency-Key"] = []string{"k1", "k2"} }, "Idempotency-Key"},
		{"POST", lead, add("Content-Type", "application/json"), "Content-Type"},
	}
	for _, tc := range cases {
		requireRefused(t, a.do(tc.method, "/leads", tc.body, tc.opt), http.StatusBadRequest, tc.field, tc.method+" twice "+tc.field)
	}
	require.Equal(t, before, a.writes())
	r := a.do(http.MethodGet, "/leads", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
}

// TestContentEncodingRefused proves that a body sent with a content coding is 415 and writes
// nothing, compressed or not: the API does not decode one, so a body claimed as gzip was read as
// it is, and taken when it was in fact plain JSON.
func TestContentEncodingRefused(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, err := w.Write([]byte(`{"email":"zipped@example.com"}`))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	before := a.writes()
	for _, body := range []any{`{"email":"plain@example.com"}`, gz.Bytes()} {
		r := a.do(http.MethodPost, "/leads", body, withHeader("Content-Encoding", "gzip"))
		requireRefused(t, r, http.StatusUnsupportedMediaType, "", "Content-Encoding: gzip")
	}
	require.Equal(t, before, a.writes())
	r := a.do(http.MethodPost, "/leads", `{"email":"plain@example.com"}`, withHeader("Content-Encoding", "identity"))
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
}

// TestQueryParamOnce proves that a query parameter given twice is 400 on its name on every
// route (no parameter of the API is a list), instead of the route reading the first value only
// (?stage=lost&stage=new answering for "lost" alone), and writes nothing.
func TestQueryParamOnce(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	before := a.writes()
	cases := []struct{ method, path, body, field string }{
		{"GET", "/leads?stage=lost&stage=new", "", "stage"},
		{"GET", "/leads?limit=1&limit=200", "", "limit"},
		{"GET", "/observability/events?type=lead.created&entityType=lead&type=deal.created", "", "type"},
		{"POST", "/leads?x=1&x=2", `{"email":"twice@example.com"}`, "x"},
	}
	for _, tc := range cases {
		var body any
		if tc.body != "" {
			body = tc.body
		}
		requireRefused(t, a.do(tc.method, tc.path, body), http.StatusBadRequest, tc.field, tc.method+" "+tc.path)
	}
	require.Equal(t, before, a.writes())
}

// TestDatabaseUnreachable proves that while PostgreSQL cannot be reached, authenticated requests
// answer 503 unavailable with Retry-After (a problem document that does not say where the
// database is), reads and writes alike.
func TestDatabaseUnreachable(t *testing.T) {
	t.Parallel()
	owner, url := dbtest.NewDB(t)
	proxied, cut := dbtest.Cuttable(t, dbtest.AppURL(t, url))
	app, err := db.Open(t.Context(), db.Options{URL: proxied, MaxConns: 4, AppName: "api-test"})
	require.NoError(t, err)
	t.Cleanup(app.Close)
	queue := jobs.New(app, jobs.Config{})
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{
		DB: app, Queue: queue, Emitter: events.NewEmitter(queue, catalog.New().EventJobs), Log: zaptest.NewLogger(t),
		Config: config.APIConfig{BodyLimit: 64 << 10}, Registry: prometheus.NewRegistry(),
	}))
	t.Cleanup(srv.Close)
	created, err := org.Create(t.Context(), owner, "acme")
	require.NoError(t, err)
	a := &apiTest{t: t, srv: srv, owner: owner, org: created.OrgID, key: created.APIKey}

	r := a.do(http.MethodGet, "/leads", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))

	cut()
	for _, req := range []struct{ method, path, body string }{
		{"GET", "/leads", ""},
		{"POST", "/leads", `{"email":"down@example.com"}`},
		{"GET", "/observability/events", ""},
		{"GET", "/settings/icp", ""},
	} {
		var body any
		if req.body != "" {
			body = req.body
		}
		r := a.do(req.method, req.path, body)
		require.Equal(t, http.StatusServiceUnavailable, r.Status, "%s %s: %s", req.method, req.path, r.Body)
		require.Equal(t, "5", r.Header.Get("Retry-After"))
		p := r.problem(t)
		require.Equal(t, "unavailable", p.Code)
		require.NotContains(t, string(r.Body), "127.0.0.1")
	}
}
