package httpapi_test

// The OpenAPI document is the contract, so the suite holds the server to it: every exchange that
// do() makes is validated against openapi.yaml with kin-openapi (validateExchange, set below), and
// the tests here prove that the document is served as written, that Swagger UI and its assets are
// served, and that the document and the server's routes name the same operations.

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/openapitest"
	"example.com/crm/services/api/internal/httpapi"
)

func init() {
	validateExchange = checkExchange
}

// loadSpec reads openapi.yaml from the package directory, once for the whole test binary.
// Response bodies that are not JSON are checked as strings (their media type is what matters),
// images as files. The credentials' validity is the server's business (and checked by the
// tests); here the request must carry both, in the documented form.
var loadSpec = sync.OnceValues(func() (*openapitest.Document, error) {
	return openapitest.Load(openapitest.Config{
		Path: "openapi.yaml",
		Schemes: map[string]func(http.Header) error{
			"bearerAuth": openapitest.BearerKey,
			"orgId":      openapitest.UUIDHeader("X-Org-Id"),
		},
		BodyDecoders: map[string]openapi3filter.BodyDecoder{
			"text/html":                    openapi3filter.PlainBodyDecoder,
			"text/css":                     openapi3filter.PlainBodyDecoder,
			"text/javascript":              openapi3filter.PlainBodyDecoder,
			"application/openmetrics-text": openapi3filter.PlainBodyDecoder,
			"image/png":                    openapi3filter.FileBodyDecoder,
		},
		// CORS preflights and echo's automatic OPTIONS are not part of the contract.
		SkipUndocumentedOptions: true,
	})
})

func mustSpec(t *testing.T) *openapitest.Document {
	t.Helper()
	s, err := loadSpec()
	require.NoError(t, err)
	return s
}

// checkExchange validates one exchange of the suite against the document (openapitest's Check)
// and fails the test on a mismatch. resBody is the body decoded: a gzip-encoded answer is
// decoded by the client or by rawExchange first.
func checkExchange(t *testing.T, req *http.Request, reqBody []byte, res *http.Response, resBody []byte) {
	t.Helper()
	require.NoError(t, mustSpec(t).Check(t.Context(), req, reqBody, res, resBody))
}

var mediaType = openapitest.MediaType

// anonymous drops the credentials do() adds.
var anonymous = []reqOpt{withoutHeader("Authorization"), withoutHeader("X-Org-Id")}

// TestOpenAPIDocumentServed proves /api/openapi.json is the embedded openapi.yaml, as JSON, that
// it is a valid OpenAPI document, that it needs no credentials, and that it revalidates by ETag.
func TestOpenAPIDocumentServed(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	s := mustSpec(t)

	r := a.do(http.MethodGet, "/api/openapi.json", nil, anonymous...)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Equal(t, "application/json", mediaType(r.Header))
	require.JSONEq(t, string(s.JSON), string(r.Body))

	served, err := openapi3.NewLoader().LoadFromData(r.Body)
	require.NoError(t, err)
	require.NoError(t, served.Validate(t.Context()))
	require.Equal(t, "3.0.3", served.OpenAPI)

	etag := r.Header.Get("ETag")
	require.NotEmpty(t, etag)
	require.Equal(t, http.StatusNotModified, a.do(http.MethodGet, "/api/openapi.json", nil, append(anonymous, withHeader("If-None-Match", etag))...).Status)
	require.Equal(t, http.StatusOK, a.do(http.MethodGet, "/api/openapi.json", nil, append(anonymous, withHeader("If-None-Match", `"other"`))...).Status)
}

var assetRef = regexp.MustCompile(`(?:src|href)="([^"]+)"`)

// TestSwaggerUIServed proves /api/docs leads to the Swagger UI page, that every asset the page
// names is served from the binary with its content type, and that the page is pointed at the
// API's own document.
func TestSwaggerUIServed(t *testing.T) {
	t.Parallel()
	a := newAPI(t)

	// /api/docs and /api/docs/ send the browser to the page, /api/docs/index.html, where its
	// relative URLs resolve. /api/docs/ is a convenience outside the document (which has no
	// path ending in a slash): its redirect is checked here, the page it leads to by do().
	noFollow := *a.srv.Client()
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for path, location := range map[string]string{"/api/docs": "docs/index.html", "/api/docs/": "index.html"} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, a.srv.URL+path, nil)
		require.NoError(t, err)
		res, err := noFollow.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		if path == "/api/docs" {
			checkExchange(t, req, nil, res, body)
		}
		require.Equal(t, http.StatusMovedPermanently, res.StatusCode, path)
		require.Equal(t, location, res.Header.Get("Location"), path)
	}

	for _, path := range []string{"/api/docs", "/api/docs/", "/api/docs/index.html"} {
		r := a.do(http.MethodGet, path, nil, anonymous...)
		require.Equal(t, http.StatusOK, r.Status, path)
		require.Equal(t, "text/html", mediaType(r.Header), path)
		require.Contains(t, r.Header.Get("Content-Security-Policy"), "script-src 'self'", path)
		require.Contains(t, string(r.Body), `<div id="swagger-ui">`, path)
	}

	page := a.do(http.MethodGet, "/api/docs/index.html", nil, anonymous...)
	want := map[string]string{
		"swagger-ui.css":       "text/css",
		"swagger-ui-bundle.js": "text/javascript",
		"init.js":              "text/javascript",
		"favicon-32x32.png":    "image/png",
		"favicon-16x16.png":    "image/png",
	}
	var refs []string
	for _, m := range assetRef.FindAllStringSubmatch(string(page.Body), -1) {
		refs = append(refs, m[1])
	}
	sort.Strings(refs)
	wantRefs := make([]string, 0, len(want))
	for name := range want {
		wantRefs = append(wantRefs, name)
	}
	sort.Strings(wantRefs)
	require.Equal(t, wantRefs, refs, "the page loads exactly these assets, by relative URL")

	for name, ct := range want {
		r := a.do(http.MethodGet, "/api/docs/"+name, nil, anonymous...)
		require.Equal(t, http.StatusOK, r.Status, name)
		require.Equal(t, ct, mediaType(r.Header), name)
		require.Greater(t, len(r.Body), 100, name)
		require.Contains(t, r.Header.Get("Cache-Control"), "max-age=", name)
		require.Equal(t, http.StatusNotModified,
			a.do(http.MethodGet, "/api/docs/"+name, nil, append(anonymous, withHeader("If-None-Match", r.Header.Get("ETag")))...).Status, name)
	}
	initJS := a.do(http.MethodGet, "/api/docs/init.js", nil, anonymous...)
	require.Contains(t, string(initJS.Body), `url: "../openapi.json"`, "the UI shows the API's own document")
	require.Contains(t, string(initJS.Body), "validatorUrl: null", "the UI calls no online validator")

	// The licence travels with the code it covers.
	for _, name := range []string{"LICENSE", "NOTICE", "swagger-ui-bundle.js.LICENSE.txt"} {
		r := a.do(http.MethodGet, "/api/docs/"+name, nil, anonymous...)
		require.Equal(t, http.StatusOK, r.Status, name)
		require.Equal(t, "text/plain", mediaType(r.Header), name)
	}
	require.Contains(t, string(a.do(http.MethodGet, "/api/docs/LICENSE", nil, anonymous...).Body), "Apache License")

	for _, name := range []string{"nope.js", "README.md", "..%2Fopenapi.yaml", "swagger-ui-bundle.js.map"} {
		r := a.do(http.MethodGet, "/api/docs/"+name, nil, anonymous...)
		require.Equal(t, http.StatusNotFound, r.Status, name)
		require.Equal(t, "not_found", r.problem(t).Code, name)
	}
}

// TestEveryRouteDocumented proves the server registers exactly the operations the document
// describes, and that each of them answers a real request (with something other than "no such
// route" or "method not allowed"; the exchange is validated like every other).
func TestEveryRouteDocumented(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	s := mustSpec(t)

	srv, ok := a.srv.Config.Handler.(*httpapi.Server)
	require.True(t, ok, "the test server serves an *httpapi.Server")
	registered, err := openapitest.GetsWithHead(httpapi.RoutesOf(srv))
	require.NoError(t, err)

	type op struct {
		method, path string
		operation    *openapi3.Operation
	}
	var ops []op
	var documented []string
	for path, item := range s.Doc.Paths.Map() {
		for method, o := range item.Operations() {
			ops = append(ops, op{method, path, o})
			documented = append(documented, method+" "+path)
		}
	}
	sort.Strings(documented)
	require.Equal(t, documented, registered, "routes registered by the server vs operations in openapi.yaml")

	for _, o := range ops {
		path := o.path
		for _, p := range o.operation.Parameters {
			if p.Value.In == openapi3.ParameterInPath {
				path = strings.ReplaceAll(path, "{"+p.Value.Name+"}", samplePathValue(p.Value))
			}
		}
		var body any
		if o.operation.RequestBody != nil {
			body = map[string]any{}
		}
		r := a.do(o.method, path, body)
		require.NotEqual(t, http.StatusMethodNotAllowed, r.Status, "%s %s", o.method, path)
		if r.Status == http.StatusNotFound {
			require.NotEqual(t, "no such route", r.problem(t).Detail, "%s %s", o.method, path)
		}
		if o.method == http.MethodGet {
			h := a.do(http.MethodHead, path, nil)
			require.Equal(t, r.Status, h.Status, "HEAD %s answers as GET does", path)
			require.Empty(t, h.Body, "HEAD %s", path)
		}
	}
}

// samplePathValue is a well-formed value for a path parameter: its example, or one of its type.
func samplePathValue(p *openapi3.Parameter) string {
	if p.Schema == nil || p.Schema.Value == nil {
		return "x"
	}
	sc := p.Schema.Value
	switch {
	case sc.Example != nil:
		return fmt.Sprint(sc.Example)
	case sc.Type.Is(openapi3.TypeInteger):
		return "9007199254740991"
	case sc.Format == "uuid":
		return uuid.NewString()
	default:
		return "x"
	}
}

// TestDocumentedSuccesses walks every operation through a success (and the typical refusals of
// the writes), so that each documented 2xx body is checked against the document at least once
// in this file, whatever the other tests do.
func TestDocumentedSuccesses(t *testing.T) {
	t.Parallel()
	a := newAPI(t)

	// Leads.
	create := map[string]any{
		"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", "company": "Analytical Engines",
		"website": "https://analytical.example.com", "source": "conference", "extra": map[string]any{"booth": "B12"},
	}
	r := a.do(http.MethodPost, "/leads", create, withHeader("Idempotency-Key", "contract-create-1"))
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var l struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
	}
	r.json(t, &l)
	replay := a.do(http.MethodPost, "/leads", create, withHeader("Idempotency-Key", "contract-create-1"))
	require.Equal(t, http.StatusCreated, replay.Status, string(replay.Body))
	require.Equal(t, "true", replay.Header.Get("Idempotent-Replayed"))
	require.Equal(t, http.StatusConflict, a.do(http.MethodPost, "/leads", create).Status, "a duplicate lead")
	require.Equal(t, http.StatusUnprocessableEntity, a.do(http.MethodPost, "/leads", map[string]any{"name": "No Contact"}).Status)

	lead := "/leads/" + l.ID
	require.Equal(t, http.StatusOK, a.do(http.MethodGet, lead, nil).Status)
	r = a.do(http.MethodPatch, lead, map[string]any{"title": "CTO", "priority": "high", "notes": nil, "version": l.Version})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Equal(t, http.StatusConflict, a.do(http.MethodPatch, lead, map[string]any{"title": "CEO", "version": l.Version}).Status, "a stale version")
	r = a.do(http.MethodPost, lead+"/stage", map[string]any{"stage": "qualified", "reason": "fits the ICP"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r = a.do(http.MethodPost, lead+"/stage", map[string]any{"stage": "converted"})
	require.Equal(t, http.StatusConflict, r.Status, string(r.Body))
	r = a.do(http.MethodPost, lead+"/activities", map[string]any{"kind": "call", "subject": "Intro call", "body": "Send pricing.", "occurredAt": "2026-01-15T10:30:00Z"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	require.Equal(t, http.StatusCreated, a.do(http.MethodPost, lead+"/activities", map[string]any{"kind": "note", "body": "Met at the booth."}).Status)
	require.Equal(t, http.StatusOK, a.do(http.MethodGet, lead+"/activities?limit=1", nil).Status)
	var events struct {
		NextCursor *string `json:"nextCursor"`
	}
	r = a.do(http.MethodGet, lead+"/events?limit=1", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.json(t, &events)
	require.NotNil(t, events.NextCursor)
	require.Equal(t, http.StatusOK, a.do(http.MethodGet, lead+"/events?limit=200&cursor="+*events.NextCursor, nil).Status)
	for _, q := range []string{"", "?stage=qualified&q=ada&sort=-updatedAt&limit=10", "?minScore=0&sort=score", "?limit=1"} {
		r = a.do(http.MethodGet, "/leads"+q, nil)
		require.Equal(t, http.StatusOK, r.Status, "%s: %s", q, r.Body)
	}

	// Intake sources: each kind, the secret once, the typical refusals, rotation, delete.
	webhook := map[string]any{"kind": "webhook", "name": "Zapier", "fieldMapping": map[string]any{"e-mail": "email"}, "rateLimitPerMinute": 120}
	r = a.do(http.MethodPost, "/intake-sources", webhook, withHeader("Idempotency-Key", "contract-source-1"))
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var src struct {
		ID string `json:"id"`
	}
	r.json(t, &src)
	replay = a.do(http.MethodPost, "/intake-sources", webhook, withHeader("Idempotency-Key", "contract-source-1"))
	require.Equal(t, http.StatusCreated, replay.Status, string(replay.Body))
	require.Equal(t, "true", replay.Header.Get("Idempotent-Replayed"))
	require.Equal(t, http.StatusConflict, a.do(http.MethodPost, "/intake-sources", webhook).Status, "a taken name")
	require.Equal(t, http.StatusUnprocessableEntity, a.do(http.MethodPost, "/intake-sources", map[string]any{"kind": "form", "name": "x", "redirectUrl": "http://example.com"}).Status)
	r = a.do(http.MethodPost, "/intake-sources", map[string]any{
		"kind": "form", "name": "Website", "redirectUrl": "https://www.example.com/thanks", "allowedOrigins": []string{"https://www.example.com"},
	})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var formSrc struct {
		ID string `json:"id"`
	}
	r.json(t, &formSrc)
	require.Equal(t, http.StatusCreated, a.do(http.MethodPost, "/intake-sources", map[string]any{"kind": "csv", "name": "Fair export"}).Status)
	source := "/intake-sources/" + src.ID
	require.Equal(t, http.StatusOK, a.do(http.MethodGet, source, nil).Status)
	for _, q := range []string{"", "?kind=webhook", "?limit=1"} {
		r = a.do(http.MethodGet, "/intake-sources"+q, nil)
		require.Equal(t, http.StatusOK, r.Status, "%s: %s", q, r.Body)
	}
	r = a.do(http.MethodPatch, source, map[string]any{"name": "Zapier (prod)", "fieldMapping": map[string]any{"mail": "email"}, "redirectUrl": nil})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Equal(t, http.StatusConflict, a.do(http.MethodPatch, source, map[string]any{"name": "Website"}).Status, "a taken name")
	r = a.do(http.MethodPost, source+"/rotate-secret", map[string]any{"graceSeconds": 3600})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Equal(t, http.StatusOK, a.do(http.MethodPost, source+"/rotate-secret", nil).Status, "no body: the default grace")
	require.Equal(t, http.StatusConflict, a.do(http.MethodPost, "/intake-sources/"+formSrc.ID+"/rotate-secret", nil).Status, "a form has no secret")
	require.Equal(t, http.StatusNoContent, a.do(http.MethodDelete, "/intake-sources/"+formSrc.ID, nil).Status)
	require.Equal(t, http.StatusNotFound, a.do(http.MethodGet, "/intake-sources/"+formSrc.ID, nil).Status)

	// The queue: the lead's jobs, run into dead letters by hand.
	queue := jobs.New(a.owner, jobs.Config{})
	claimed, err := queue.Claim(t.Context(), jobs.NewClaimID("contract-test"), 10)
	require.NoError(t, err)
	require.NotEmpty(t, claimed, "lead.created enqueues jobs")
	for _, j := range claimed {
		_, err := queue.Fail(t.Context(), j, jobs.Permanentf("contract test"), 0)
		require.NoError(t, err)
	}
	var jobPage struct {
		Data []struct {
			ID int64 `json:"id"`
		} `json:"data"`
	}
	r = a.do(http.MethodGet, "/observability/jobs?status=failed&limit=5", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.json(t, &jobPage)
	require.NotEmpty(t, jobPage.Data)
	jobID := fmt.Sprint(jobPage.Data[0].ID)
	require.Equal(t, http.StatusOK, a.do(http.MethodGet, "/observability/jobs/"+jobID, nil).Status)
	require.Equal(t, http.StatusOK, a.do(http.MethodGet, "/observability/logs?jobId="+jobID+"&outcome=dead", nil).Status)
	var dead struct {
		Data []struct {
			ID int64 `json:"id"`
		} `json:"data"`
	}
	r = a.do(http.MethodGet, "/observability/dead-letters?open=true", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.json(t, &dead)
	require.NotEmpty(t, dead.Data)
	retry := "/observability/dead-letters/" + fmt.Sprint(dead.Data[0].ID) + "/retry"
	require.Equal(t, http.StatusOK, a.do(http.MethodPost, retry, nil).Status)
	require.Equal(t, http.StatusConflict, a.do(http.MethodPost, retry, nil).Status, "a dead letter is retried once")
	require.Equal(t, http.StatusOK, a.do(http.MethodGet, "/observability/events?type=lead.created&entityType=lead&entityId="+l.ID, nil).Status)

	_, err = a.super.Exec(t.Context(), `INSERT INTO integrity_alerts (org_id, check_name, severity, entity_type, entity_id, detail)
		VALUES ($1, 'contract_check', 'critical', 'lead', $2, '{"why": "test"}'), ($1, 'org_check', 'info', NULL, NULL, '{}')`, a.org, l.ID)
	require.NoError(t, err)
	r = a.do(http.MethodGet, "/observability/integrity-alerts?open=true&limit=1", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.json(t, &events)
	require.NotNil(t, events.NextCursor)
	require.Equal(t, http.StatusOK, a.do(http.MethodGet, "/observability/integrity-alerts?cursor="+*events.NextCursor, nil).Status)

	// Deleted: gone from reads, its history stays.
	require.Equal(t, http.StatusNoContent, a.do(http.MethodDelete, lead, nil).Status)
	require.Equal(t, http.StatusNotFound, a.do(http.MethodGet, lead, nil).Status)
	require.Equal(t, http.StatusOK, a.do(http.MethodGet, lead+"/events", nil).Status)

	// The operational routes answer without credentials.
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		require.Equal(t, http.StatusOK, a.do(http.MethodGet, p, nil, anonymous...).Status, p)
	}
}
