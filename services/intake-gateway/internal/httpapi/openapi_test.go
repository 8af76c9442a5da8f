package httpapi_test

// The gateway's OpenAPI document is its contract, so the suite holds the gateway to it: every
// exchange of the test client (harness_test.go's validatingTransport, behind do() and every
// direct use of bundle.client) is validated against openapi.yaml with kin-openapi
// (checkExchange), and the tests here prove that the document is valid and served as written,
// that it names exactly the routes the gateway serves, and walk each operation through its
// successes.

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/intake"
	"example.com/crm/services/intake-gateway/internal/httpapi"
)

func init() {
	// Bodies that are not JSON are checked as strings: their media type is what matters.
	openapi3filter.RegisterBodyDecoder("application/openmetrics-text", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/csv", openapi3filter.PlainBodyDecoder)
	validateExchange = checkExchange
}

// spec is the document as the tests use it.
type spec struct {
	doc     *openapi3.T
	json    []byte // the document re-encoded as JSON, as the gateway should serve it
	router  routers.Router
	problem *openapi3.Schema
}

// loadSpec reads openapi.yaml from the package directory, once for the whole test binary.
var loadSpec = sync.OnceValues(func() (*spec, error) {
	raw, err := os.ReadFile("openapi.yaml")
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("load openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.yaml is not a valid OpenAPI document: %w", err)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route openapi.yaml: %w", err)
	}
	p := doc.Components.Schemas["Problem"]
	if p == nil || p.Value == nil {
		return nil, errors.New("openapi.yaml has no components/schemas/Problem")
	}
	return &spec{doc: doc, json: js, router: router, problem: p.Value}, nil
})

func mustSpec(t *testing.T) *spec {
	t.Helper()
	s, err := loadSpec()
	require.NoError(t, err)
	return s
}

var uuidFormat = openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562)

// validationOptions are kin-openapi's options for the exchanges of the suite.
var validationOptions = &openapi3filter.Options{
	// A status the document does not list for the operation is a mismatch.
	IncludeResponseStatus: true,
	// A body sent to an operation that takes none, and accepted, is a mismatch too.
	RejectWhenRequestBodyNotSpecified: true,
	// Whether a signature or key is valid is the gateway's business (and the tests'); here the
	// request must carry the credentials of one documented scheme, in the documented form.
	AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
		h := in.RequestValidationInput.Request.Header
		switch in.SecuritySchemeName {
		case "xSignature":
			if !strings.Contains(h.Get(httpapi.SignatureHeader), "v1=") {
				return in.NewError(errors.New("no X-Signature"))
			}
		case "standardWebhooks":
			if !strings.Contains(h.Get("webhook-signature"), "v1,") || h.Get("webhook-id") == "" || h.Get("webhook-timestamp") == "" {
				return in.NewError(errors.New("no Standard Webhooks headers"))
			}
		case "bearerAuth":
			scheme, key, ok := strings.Cut(h.Get("Authorization"), " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
				return in.NewError(errors.New("no bearer API key"))
			}
		case "orgId":
			if err := uuidFormat.Validate(h.Get("X-Org-Id")); err != nil {
				return in.NewError(fmt.Errorf("X-Org-Id: %w", err))
			}
		default:
			return in.NewError(fmt.Errorf("unknown security scheme %q", in.SecuritySchemeName))
		}
		return nil
	},
	SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.WithStringFormatValidator("uuid", uuidFormat)},
}

// checkExchange validates one exchange of the suite against the document and returns what does
// not match (nil when all does); it may run on any goroutine:
//   - the response, always: its status must be documented for the operation (and never 500),
//     its Content-Type one the document lists, its body must match the schema (or be empty when
//     the document gives no content), its required headers present; a problem document must
//     also agree with the status line; a gzip-encoded body is checked decoded;
//   - the request (path and query parameters, headers, security, body), only when the gateway
//     accepted it (status < 400): the suite sends malformed requests on purpose to see them
//     refused, and for those the refusal is what is checked;
//   - an exchange the document has no operation for (an unknown path or method) must be the
//     gateway's 404 or 405, as a problem.
func checkExchange(req *http.Request, reqBody []byte, res *http.Response, resBody []byte) error {
	s, err := loadSpec()
	if err != nil {
		return err
	}
	what := fmt.Sprintf("%s %s -> %d: %s", req.Method, req.URL.RequestURI(), res.StatusCode, clip(resBody))
	if res.StatusCode == http.StatusInternalServerError {
		return fmt.Errorf("%s: no input may cause a 500", what)
	}
	if strings.EqualFold(res.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(bytes.NewReader(resBody))
		if err != nil {
			return fmt.Errorf("%s: gzip: %w", what, err)
		}
		if resBody, err = io.ReadAll(zr); err != nil {
			return fmt.Errorf("%s: gzip: %w", what, err)
		}
	}
	ctx := context.Background()
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		switch {
		case errors.Is(err, routers.ErrPathNotFound):
			if res.StatusCode != http.StatusNotFound {
				return fmt.Errorf("%s: the document has no such path, so the gateway must not either", what)
			}
		case errors.Is(err, routers.ErrMethodNotAllowed):
			if res.StatusCode != http.StatusMethodNotAllowed {
				return fmt.Errorf("%s: the document has no such method on this path, so the gateway must not either", what)
			}
		default:
			return fmt.Errorf("%s: %w", what, err)
		}
		return checkProblem(s, res, resBody, what)
	}

	clone := req.Clone(ctx)
	clone.Body = io.NopCloser(bytes.NewReader(reqBody))
	clone.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(reqBody)), nil }
	in := &openapi3filter.RequestValidationInput{Request: clone, PathParams: params, Route: route, Options: validationOptions}
	if res.StatusCode < 400 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			return fmt.Errorf("request does not match the document: %s: %w", what, err)
		}
	}
	documented := route.Operation.Responses.Status(res.StatusCode)
	if documented == nil {
		return fmt.Errorf("%s: status not documented for %s %s", what, route.Method, route.Path)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: res.StatusCode, Header: res.Header, Options: validationOptions,
	}
	out.SetBodyBytes(resBody)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("response does not match the document: %s: %w", what, err)
	}
	if len(documented.Value.Content) == 0 && len(resBody) > 0 {
		return fmt.Errorf("%s: the document gives this response no body", what)
	}
	if mediaType(res.Header) == "application/problem+json" {
		return checkProblem(s, res, resBody, what)
	}
	return nil
}

// checkProblem validates a problem response against components/schemas/Problem and its status
// and code against the status line.
func checkProblem(s *spec, res *http.Response, body []byte, what string) error {
	if mt := mediaType(res.Header); mt != "application/problem+json" {
		return fmt.Errorf("%s: an error is a problem document, not %q", what, mt)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := s.problem.VisitJSON(v, openapi3.VisitAsResponse()); err != nil {
		return fmt.Errorf("problem does not match components/schemas/Problem: %s: %w", what, err)
	}
	p, _ := v.(map[string]any)
	if fmt.Sprint(p["status"]) != fmt.Sprint(res.StatusCode) {
		return fmt.Errorf("%s: problem status %v", what, p["status"])
	}
	if p["type"] != "https://crm.example.com/problems/"+fmt.Sprint(p["code"]) {
		return fmt.Errorf("%s: problem type %v", what, p["type"])
	}
	return nil
}

func mediaType(h http.Header) string {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return mt
}

func clip(b []byte) string {
	const limit = 600
	if len(b) > limit {
		return string(b[:limit]) + "..."
	}
	return string(b)
}

// TestOpenAPIDocumentServed proves /api/openapi.json is the embedded openapi.yaml, as JSON, that
// it is a valid OpenAPI 3 document, that it needs no credentials, and that it revalidates by
// ETag.
func TestOpenAPIDocumentServed(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{})
	s := mustSpec(t)

	r := b.do(t, http.MethodGet, "/api/openapi.json", nil, nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, "application/json", mediaType(r.header))
	require.JSONEq(t, string(s.json), string(r.body))

	served, err := openapi3.NewLoader().LoadFromData(r.body)
	require.NoError(t, err)
	require.NoError(t, served.Validate(t.Context()))
	require.Equal(t, "3.0.3", served.OpenAPI)
	for _, name := range []string{"xSignature", "standardWebhooks", "bearerAuth", "orgId"} {
		require.Contains(t, served.Components.SecuritySchemes, name)
	}

	etag := r.header.Get("ETag")
	require.NotEmpty(t, etag)
	require.Equal(t, http.StatusNotModified, b.do(t, http.MethodGet, "/api/openapi.json", map[string]string{"If-None-Match": etag}, nil).status)
	require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, "/api/openapi.json", map[string]string{"If-None-Match": `"other"`}, nil).status)
}

// TestEveryRouteDocumented proves the gateway registers exactly the operations the document
// describes, and that each of them answers a real request (with something other than "no such
// route" or "method not allowed"; the exchange is validated like every other).
func TestEveryRouteDocumented(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{})
	s := mustSpec(t)

	srv, ok := b.srv.Config.Handler.(*httpapi.Server)
	require.True(t, ok, "the test server serves an *httpapi.Server")
	registered := httpapi.RoutesOf(srv)

	var documented []string
	type op struct{ method, path string }
	var ops []op
	for path, item := range s.doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
			ops = append(ops, op{method, path})
		}
	}
	sort.Strings(documented)
	require.Equal(t, documented, registered, "routes registered by the gateway vs operations in openapi.yaml")

	for _, o := range ops {
		path := strings.NewReplacer("{sourceId}", uuid.NewString(), "{formToken}", "frm_unknown").Replace(o.path)
		r := b.do(t, o.method, path, map[string]string{"Content-Type": "application/json"}, nil)
		require.NotEqual(t, http.StatusMethodNotAllowed, r.status, "%s %s", o.method, path)
		if r.status == http.StatusNotFound {
			require.NotContains(t, string(r.body), "Not Found", "%s %s: the route exists", o.method, path)
		}
	}
	r := b.do(t, http.MethodGet, "/intake/nowhere", nil, nil)
	requireProblem(t, r, http.StatusNotFound)
	requireProblem(t, b.do(t, http.MethodDelete, "/intake/csv", nil, nil), http.StatusMethodNotAllowed)
}

// TestDocumentedExchanges walks every operation through its successes, so that each documented
// 2xx and 3xx answer (and the request that got it) is checked against the document at least
// once in this file, whatever the other tests do.
func TestDocumentedExchanges(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{})
	now := b.clock.now()

	// Webhook, both schemes.
	wh := b.source(t, intake.NewSource{Kind: intake.KindWebhook, Name: "hook"})
	r := b.webhook(t, wh.ID, wh.SigningSecret, now, []byte(`{"email":"x-signature@example.com","extra":{"k":[1,2]}}`))
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	body := []byte(`{"email":"standard@example.com"}`)
	r = b.standard(t, wh.ID, "msg_doc", now, signStandard(t, wh.SigningSecret, "msg_doc", now, body), body)
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))

	// Form: JSON and urlencoded, 202 and 303, the preflight.
	_, formPath := b.formSource(t)
	r = b.do(t, http.MethodPost, formPath, map[string]string{"Content-Type": "application/json; charset=utf-8"}, []byte(`{"email":"form@example.com"}`))
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	r = b.do(t, http.MethodPost, formPath, map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html", "Origin": "https://example.com"},
		[]byte("email=urlencoded%40example.com&name=Ada+Lovelace"))
	require.Equal(t, http.StatusSeeOther, r.status, string(r.body))
	r = b.do(t, http.MethodOptions, formPath, map[string]string{"Origin": "https://example.com", "Access-Control-Request-Method": "POST"}, nil)
	require.Equal(t, http.StatusNoContent, r.status, string(r.body))

	// CSV: as the body and as a multipart file, with and without a source.
	csvSrc := b.source(t, intake.NewSource{Kind: intake.KindCSV, Name: "fair"})
	r = b.do(t, http.MethodPost, "/intake/csv?sourceId="+csvSrc.ID.String(), b.auth(), []byte("email,name\na@example.com,A\n\"broken\n"))
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, err := mw.CreateFormFile("file", "leads.csv")
	require.NoError(t, err)
	_, err = fw.Write([]byte("email\nb@example.com\n"))
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	h := b.auth()
	h["Content-Type"] = mw.FormDataContentType()
	r = b.do(t, http.MethodPost, "/intake/csv", h, mp.Bytes())
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))

	// Rate limited and refused: documented too.
	requireProblem(t, b.do(t, http.MethodPost, "/intake/csv", map[string]string{"Content-Type": "text/csv"}, []byte("email\n")), http.StatusUnauthorized)

	// Operations.
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, p, nil, nil).status, p)
	}
	require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, "/metrics", map[string]string{"Accept": "application/openmetrics-text; version=1.0.0"}, nil).status)
}

// TestExchangeValidationCatchesMismatches proves the validation has teeth: an answer that the
// document does not describe is reported.
func TestExchangeValidationCatchesMismatches(t *testing.T) {
	t.Parallel()
	reqBody := []byte(`{"email":"a@example.com"}`)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://gateway/intake/webhook/"+uuid.NewString(), bytes.NewReader(reqBody))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(httpapi.SignatureHeader, "t=1,v1=00")
	res, body := &http.Response{StatusCode: http.StatusAccepted, Header: http.Header{"Content-Type": {"application/json"}}, Request: req},
		[]byte(`{"intakeId":"`+uuid.NewString()+`","status":"accepted"}`)
	require.NoError(t, checkExchange(req, reqBody, res, body), "a documented answer")
	answer := func(status int, ct, body string) (*http.Response, []byte) {
		return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {ct}}, Request: req}, []byte(body)
	}
	res, body = answer(http.StatusAccepted, "application/json", `{"intakeId":"not-a-uuid","status":"accepted"}`)
	require.Error(t, checkExchange(req, reqBody, res, body), "a bad body")
	res, body = answer(http.StatusAccepted, "application/json", `{"intakeId":"`+uuid.NewString()+`","status":"accepted"}`)
	require.Error(t, checkExchange(req, []byte(`[]`), res, body), "an accepted request the document refuses")
	res, body = answer(http.StatusConflict+1, "application/problem+json", `{"type":"https://crm.example.com/problems/conflict","title":"x","status":410,"code":"conflict"}`)
	require.Error(t, checkExchange(req, nil, res, body), "an undocumented status")
	res, body = answer(http.StatusUnauthorized, "application/json", `{"error":"nope"}`)
	require.Error(t, checkExchange(req, nil, res, body), "an error that is not a problem")
	res, body = answer(http.StatusUnauthorized, "application/problem+json", `{"type":"https://crm.example.com/problems/unauthorized","title":"Unauthorized","status":401,"code":"unauthorized"}`)
	require.NoError(t, checkExchange(req, nil, res, body), "a documented refusal")

	// Refusals of path values that no source can have are documented too (400 or 404).
	for _, path := range []string{"/intake/form/%00", "/intake/form/%ff", "/intake/webhook/%00"} {
		bad, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://gateway"+path, nil)
		require.NoError(t, err)
		for _, status := range []int{http.StatusBadRequest, http.StatusNotFound} {
			code := map[int]string{http.StatusBadRequest: "bad_request", http.StatusNotFound: "not_found"}[status]
			res := &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/problem+json"}}, Request: bad}
			require.NoError(t, checkExchange(bad, nil, res, []byte(`{"type":"https://crm.example.com/problems/`+code+`","title":"x","status":`+strconv.Itoa(status)+`,"code":"`+code+`"}`)), path)
		}
	}
}
