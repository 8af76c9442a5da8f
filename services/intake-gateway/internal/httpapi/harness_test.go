package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/httpx"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/org"
	"example.com/crm/services/intake-gateway/internal/httpapi"
)

// bundle is a fresh database with one org, the gateway serving it over httptest as production
// does (an app-role connection bound by row-level security), and a superuser handle for checks
// of what is really stored.
type bundle struct {
	app    *db.DB
	super  *db.DB
	svc    *intake.Service
	org    uuid.UUID
	apiKey string
	srv    *httptest.Server
	client *http.Client
	// clock is the gateway's clock: real time plus whatever the test added.
	clock *clock
}

// clock is the gateway's clock in tests: frozen at the start of the test, moved only by advance,
// so that timestamp checks are exact however slowly the test runs.
type clock struct {
	mu sync.Mutex
	at time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

// advance moves the gateway's clock forward.
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(d)
}

// setup starts a gateway with cfg (the source cache off unless cfg says otherwise); each of with
// may change the gateway's dependencies first (its logger, registry or client-address rules).
func setup(t *testing.T, cfg httpapi.Config, with ...func(*httpapi.Deps)) *bundle {
	return setupTB(t, cfg, with...)
}

// setupB is setup for benchmarks, with the gateway's defaults.
func setupB(b *testing.B) *bundle {
	return setupTB(b, httpapi.Config{SourceCacheTTL: httpapi.DefaultSourceCacheTTL})
}

func setupTB(t testing.TB, cfg httpapi.Config, with ...func(*httpapi.Deps)) *bundle {
	t.Helper()
	owner, url := dbtest.NewDB(t)
	app, err := db.Open(t.Context(), db.Options{URL: dbtest.AppURL(t, url), MaxConns: 60, AppName: "gateway-test"})
	require.NoError(t, err)
	t.Cleanup(app.Close)
	require.NoError(t, app.CheckAppRole(t.Context()), "the gateway runs as the app role")
	created, err := org.Create(t.Context(), owner, "acme")
	require.NoError(t, err)
	queue := jobs.New(app, jobs.Config{})
	if cfg.SourceCacheTTL == 0 {
		cfg.DisableSourceCache = true
	}
	clock := &clock{at: time.Now().Truncate(time.Second)}
	deps := httpapi.Deps{DB: app, Queue: queue, Log: zap.NewNop(), Registry: httpx.NewRegistry(), Config: cfg, Now: clock.now}
	for _, w := range with {
		w(&deps)
	}
	srv := httptest.NewServer(httpapi.New(deps))
	t.Cleanup(srv.Close)
	return &bundle{
		app: app, super: dbtest.SuperDB(t, url), svc: intake.NewService(app, events.NewEmitter(queue, nil)),
		org: created.OrgID, apiKey: created.APIKey, srv: srv, clock: clock,
		client: &http.Client{Timeout: 2 * time.Minute, Transport: newTransport(t), CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
	}
}

// validateExchange checks one exchange against the OpenAPI document and says what does not
// match; it is set by openapi_test.go.
var validateExchange func(req *http.Request, reqBody []byte, res *http.Response, resBody []byte) error

// newTransport is the test client's transport: for a test (not a benchmark) it validates every
// exchange against the OpenAPI document (validatingTransport), whichever helper or goroutine
// makes it.
func newTransport(tb testing.TB) http.RoundTripper {
	base := http.DefaultTransport.(*http.Transport).Clone()
	if t, ok := tb.(*testing.T); ok {
		return validatingTransport{t: t, base: base}
	}
	return base
}

// validatingTransport reads each request and response whole, passes both to validateExchange,
// and reports a mismatch as an error of the test (t.Errorf, safe from any goroutine).
type validatingTransport struct {
	t    *testing.T
	base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (v validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if cerr := req.Body.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		body = b
	}
	sent := req.Clone(req.Context())
	sent.Body = io.NopCloser(bytes.NewReader(body))
	res, err := v.base.RoundTrip(sent)
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(res.Body)
	if cerr := res.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(out))
	if validateExchange != nil {
		if err := validateExchange(req, body, res, out); err != nil {
			v.t.Errorf("OpenAPI: %v", err)
		}
	}
	return res, nil
}

// source creates a source in the bundle's org.
func (b *bundle) source(t *testing.T, in intake.NewSource) intake.Created {
	t.Helper()
	c, err := b.svc.Create(t.Context(), b.org, "apikey:test", in)
	require.NoError(t, err)
	return c
}

// stored counts the raw rows and the process_intake jobs, as the superuser.
func (b *bundle) stored(t *testing.T) (raw, jobs int) {
	t.Helper()
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT count(*) FROM lead_intake_raw`).Scan(&raw))
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT count(*) FROM jobs WHERE job_type = 'process_intake'`).Scan(&jobs))
	return raw, jobs
}

// exec runs a statement as the superuser.
func (b *bundle) exec(t *testing.T, stmt string, args ...any) {
	t.Helper()
	_, err := b.super.Pool.Exec(t.Context(), stmt, args...)
	require.NoError(t, err, stmt)
}

// response is an answer read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), string(r.body))
	return m
}

// do sends a request to the gateway.
func (b *bundle) do(t *testing.T, method, path string, header map[string]string, body []byte) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, b.srv.URL+path, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := b.client.Do(req)
	require.NoError(t, err)
	defer func() { _ = res.Body.Close() }()
	out, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return response{status: res.StatusCode, header: res.Header, body: out}
}

// webhook posts body to the webhook route of src signed with secret at time at.
func (b *bundle) webhook(t *testing.T, src uuid.UUID, secret string, at time.Time, body []byte) response {
	t.Helper()
	return b.do(t, http.MethodPost, "/intake/webhook/"+src.String(), map[string]string{
		"Content-Type": "application/json", httpapi.SignatureHeader: intake.Sign(secret, at, body),
	}, body)
}

// requireProblem checks a problem+json answer of status.
func requireProblem(t *testing.T, r response, status int) map[string]any {
	t.Helper()
	require.Equal(t, status, r.status, string(r.body))
	require.Equal(t, httpx.ProblemContentType, r.header.Get("Content-Type"))
	p := r.json(t)
	require.InDelta(t, float64(status), p["status"], 0)
	require.NotEmpty(t, p["detail"])
	return p
}
