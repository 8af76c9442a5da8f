package httpapi_test

// The test harness of the API: a real server (in process, over HTTP) on a fresh database, reached
// as the api is in production, through the crm_app role that row-level security binds. Every
// exchange goes through do(), which also checks it against the OpenAPI document (openapi_test.go).

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
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

// apiTest is one test's API server and the means to look behind it.
type apiTest struct {
	t     *testing.T
	srv   *httptest.Server
	owner *db.DB        // the owner role, as the worker connects
	super *pgxpool.Pool // superuser on the test database: sees every row, for assertions
	org   uuid.UUID
	key   string
}

// testRules are the configured rules of the test API: defaults unlike the rules package's own,
// so a test sees that /settings/rules starts from the configuration.
var testRules = config.Rules{BuyingSignalThreshold: 75, DealDecayDays: 10, GhostRiskSilenceDays: 5}

// newAPI starts the API on a fresh database with one org and its key.
func newAPI(t *testing.T) *apiTest {
	t.Helper()
	owner, url := dbtest.NewDB(t)
	app, err := db.Open(t.Context(), db.Options{URL: dbtest.AppURL(t, url), MaxConns: 10, AppName: "api-test"})
	require.NoError(t, err)
	t.Cleanup(app.Close)
	jobs.WakeAfterCommit(app) // as cli.OpenDB wires the api
	require.NoError(t, app.CheckAppRole(t.Context()), "the test API must be bound by row-level security")
	super, err := pgxpool.New(t.Context(), dbtest.SuperURL(t, url))
	require.NoError(t, err)
	t.Cleanup(super.Close)

	queue := jobs.New(app, jobs.Config{})
	srv := httpapi.New(httpapi.Deps{
		DB: app, Queue: queue, Emitter: events.NewEmitter(queue, catalog.New().EventJobs), Log: zaptest.NewLogger(t),
		Config: config.APIConfig{BodyLimit: 64 << 10, CORSOrigins: []string{"https://ui.example.com"}}, Registry: prometheus.NewRegistry(),
		Rules: testRules,
	})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	a := &apiTest{t: t, srv: ts, owner: owner, super: super}
	a.org, a.key = a.newOrg("acme")
	return a
}

// newOrg creates another org (as an operator does) and returns its id and key.
func (a *apiTest) newOrg(name string) (uuid.UUID, string) {
	a.t.Helper()
	c, err := org.Create(a.t.Context(), a.owner, name)
	require.NoError(a.t, err)
	return c.OrgID, c.APIKey
}

// reqOpt adjusts one request.
type reqOpt func(r *http.Request)

func asOrg(orgID uuid.UUID, key string) reqOpt {
	return func(r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+key)
		r.Header.Set("X-Org-Id", orgID.String())
	}
}

func withHeader(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

func withoutHeader(k string) reqOpt { return func(r *http.Request) { r.Header.Del(k) } }

// response is a finished exchange.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// problem is an RFC 9457 problem document as the API writes it.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// do sends a request as the test's org (unless opts say otherwise). body is JSON-encoded unless
// it is []byte or string, which are sent as they are.
func (a *apiTest) do(method, path string, body any, opts ...reqOpt) response {
	a.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		raw = b
	case string:
		raw = []byte(b)
	default:
		var err error
		raw, err = json.Marshal(b)
		require.NoError(a.t, err)
	}
	req, err := http.NewRequestWithContext(a.t.Context(), method, a.srv.URL+path, bytes.NewReader(raw))
	require.NoError(a.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	asOrg(a.org, a.key)(req)
	for _, o := range opts {
		o(req)
	}
	res, err := a.srv.Client().Do(req)
	require.NoError(a.t, err)
	defer func() { _ = res.Body.Close() }()
	out, err := io.ReadAll(res.Body)
	require.NoError(a.t, err)
	if validateExchange != nil {
		validateExchange(a.t, req, raw, res, out)
	}
	if res.StatusCode >= 400 {
		require.Equal(a.t, "application/problem+json", res.Header.Get("Content-Type"), "%s %s: every error is a problem: %s", method, path, out)
		require.NotEqual(a.t, http.StatusInternalServerError, res.StatusCode, "%s %s: no input may cause a 500: %s", method, path, out)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: out}
}

// validateExchange checks one request and its response against the OpenAPI document; it is set
// by openapi_test.go.
var validateExchange func(t *testing.T, req *http.Request, reqBody []byte, res *http.Response, resBody []byte)

// json decodes the response body into v.
func (r response) json(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.Body, v), string(r.Body))
}

// problem decodes the response as a problem document.
func (r response) problem(t *testing.T) problem {
	t.Helper()
	var p problem
	r.json(t, &p)
	return p
}

// count runs a counting query as the superuser (every org's rows).
func (a *apiTest) count(query string, args ...any) int {
	a.t.Helper()
	var n int
	require.NoError(a.t, a.super.QueryRow(a.t.Context(), query, args...).Scan(&n))
	return n
}
