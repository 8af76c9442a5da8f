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
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/openapitest"
	"example.com/crm/services/intake-gateway/internal/httpapi"
)

func init() {
	validateExchange = checkExchange
}

// loadSpec reads openapi.yaml from the package directory, once for the whole test binary. Bodies
// that are not JSON are checked as strings: their media type is what matters. Whether a
// signature or key is valid is the gateway's business (and the tests'); here the request must
// carry the credentials of one documented scheme, in the documented form.
var loadSpec = sync.OnceValues(func() (*openapitest.Document, error) {
	return openapitest.Load(openapitest.Config{
		Path: "openapi.yaml",
		Schemes: map[string]func(http.Header) error{
			"xSignature": func(h http.Header) error {
				if !strings.Contains(h.Get(httpapi.SignatureHeader), "v1=") {
					return errors.New("no X-Signature")
				}
				return nil
			},
			"standardWebhooks": func(h http.Header) error {
				if !strings.Contains(h.Get("webhook-signature"), "v1,") || h.Get("webhook-id") == "" || h.Get("webhook-timestamp") == "" {
					return errors.New("no Standard Webhooks headers")
				}
				return nil
			},
			"bearerAuth": openapitest.BearerKey,
			"orgId":      openapitest.UUIDHeader("X-Org-Id"),
		},
		BodyDecoders: map[string]openapi3filter.BodyDecoder{
			"application/openmetrics-text": openapi3filter.PlainBodyDecoder,
			"text/csv":                     openapi3filter.PlainBodyDecoder,
		},
	})
})

func mustSpec(t *testing.T) *openapitest.Document {
	t.Helper()
	s, err := loadSpec()
	require.NoError(t, err)
	return s
}

// checkExchange validates one exchange of the suite against the document (openapitest's Check)
// and returns what does not match (nil when all does); it may run on any goroutine. It takes
// the body as sent: no answer may be a 500, and a gzip-encoded body is checked decoded.
func checkExchange(req *http.Request, reqBody []byte, res *http.Response, resBody []byte) error {
	s, err := loadSpec()
	if err != nil {
		return err
	}
	what := openapitest.Summary(req, res, resBody)
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
	return s.Check(context.Background(), req, reqBody, res, resBody)
}

var mediaType = openapitest.MediaType

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
	require.JSONEq(t, string(s.JSON), string(r.body))

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
	registered, err := openapitest.GetsWithHead(httpapi.RoutesOf(srv))
	require.NoError(t, err)

	var documented []string
	type op struct{ method, path string }
	var ops []op
	for path, item := range s.Doc.Paths.Map() {
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
		if o.method == http.MethodGet {
			h := b.do(t, http.MethodHead, path, nil, nil)
			require.Equal(t, r.status, h.status, "HEAD %s answers as GET does", path)
			require.Empty(t, h.body, "HEAD %s", path)
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
