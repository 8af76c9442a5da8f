package openapitest_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/openapitest"
)

const thing = "/things/7b0c4f0e-4f6b-4c47-9a43-0c7bd4a3c1f1"

func load(t *testing.T, skipOptions bool) *openapitest.Document {
	t.Helper()
	d, err := openapitest.Load(openapitest.Config{
		Path: "testdata/openapi.yaml",
		Schemes: map[string]func(http.Header) error{
			"bearerAuth": openapitest.BearerKey,
			"orgId":      openapitest.UUIDHeader("X-Org-Id"),
		},
		SkipUndocumentedOptions: skipOptions,
	})
	require.NoError(t, err)
	return d
}

// exchange is a request with the fixture's credentials and its answer.
func exchange(t *testing.T, method, path string, status int, contentType, body string) (*http.Request, *http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, "http://svc"+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer key")
	req.Header.Set("X-Org-Id", "0e7d2b1c-9a55-4f4e-8b1a-0d6c6f1f2a3b")
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return req, &http.Response{StatusCode: status, Header: h, Request: req}, []byte(body)
}

// TestCheckCatchesMismatches proves Check passes the exchanges the document describes and
// reports each kind of mismatch.
func TestCheckCatchesMismatches(t *testing.T) {
	t.Parallel()
	d := load(t, false)
	check := func(req *http.Request, res *http.Response, body []byte) error {
		return d.Check(t.Context(), req, nil, res, body)
	}
	notFound := `{"type":"https://crm.example.com/problems/not_found","title":"Not Found","status":404,"code":"not_found"}`

	require.NoError(t, check(exchange(t, http.MethodGet, thing, 200, "application/json", `{"id":"7b0c4f0e-4f6b-4c47-9a43-0c7bd4a3c1f1"}`)))
	require.NoError(t, check(exchange(t, http.MethodGet, thing, 404, "application/problem+json", notFound)))
	require.NoError(t, check(exchange(t, http.MethodGet, "/ping", 204, "", "")))
	require.NoError(t, check(exchange(t, http.MethodGet, "/nowhere", 404, "application/problem+json", notFound)), "an unknown path refused")

	for name, c := range map[string]struct {
		method, path string
		status       int
		ct, body     string
	}{
		"a body off the schema":     {http.MethodGet, thing, 200, "application/json", `{"id":"not-a-uuid"}`},
		"an undocumented type":      {http.MethodGet, thing, 200, "text/plain", `x`},
		"an undocumented status":    {http.MethodGet, thing, 410, "application/problem+json", `{"type":"https://crm.example.com/problems/gone","title":"Gone","status":410,"code":"gone"}`},
		"an error not a problem":    {http.MethodGet, thing, 404, "application/json", `{"error":"nope"}`},
		"a problem of other status": {http.MethodGet, thing, 404, "application/problem+json", `{"type":"https://crm.example.com/problems/not_found","title":"x","status":400,"code":"not_found"}`},
		"a problem of other type":   {http.MethodGet, thing, 404, "application/problem+json", `{"type":"about:blank","title":"x","status":404,"code":"not_found"}`},
		"a body where none is":      {http.MethodGet, "/ping", 204, "application/json", `{}`},
		"an unknown path served":    {http.MethodGet, "/nowhere", 200, "application/json", `{}`},
		"an unknown method served":  {http.MethodDelete, "/ping", 204, "", ""},
		"a bad path value accepted": {http.MethodGet, "/things/nope", 200, "application/json", `{"id":"7b0c4f0e-4f6b-4c47-9a43-0c7bd4a3c1f1"}`},
		"an undocumented OPTIONS":   {http.MethodOptions, "/ping", 204, "", ""},
	} {
		require.Error(t, check(exchange(t, c.method, c.path, c.status, c.ct, c.body)), name)
	}

	req, res, body := exchange(t, http.MethodGet, thing, 200, "application/json", `{"id":"7b0c4f0e-4f6b-4c47-9a43-0c7bd4a3c1f1"}`)
	req.Header.Del("Authorization")
	require.ErrorContains(t, check(req, res, body), "no bearer API key", "an accepted request without credentials")
	req.Header.Set("Authorization", "Bearer key")
	req.Header.Set("X-Org-Id", "acme")
	require.ErrorContains(t, check(req, res, body), "X-Org-Id", "an accepted request with a malformed org")
}

// TestCheckSkipsWhatIsNotContract proves the answers Check leaves out: an undocumented OPTIONS
// below 400 when the service says so, and the body of an answer to HEAD.
func TestCheckSkipsWhatIsNotContract(t *testing.T) {
	t.Parallel()
	d := load(t, true)
	req, res, body := exchange(t, http.MethodOptions, "/ping", 204, "", "")
	require.NoError(t, d.Check(t.Context(), req, nil, res, body))
	req, res, body = exchange(t, http.MethodOptions, "/nowhere", 404, "application/problem+json", `{}`)
	require.Error(t, d.Check(t.Context(), req, nil, res, body), "a refused OPTIONS is still a problem")
	req, res, body = exchange(t, http.MethodHead, thing, 404, "application/problem+json", "")
	require.NoError(t, d.Check(t.Context(), req, nil, res, body), "an answer to HEAD has no body")
}

// TestCheckHeadMirrorsGet proves a HEAD exchange is checked against the GET operation of its
// path, which the document describes alone: GET's statuses, media types and security hold for
// HEAD, and its answer has no body.
func TestCheckHeadMirrorsGet(t *testing.T) {
	t.Parallel()
	d := load(t, false)
	check := func(req *http.Request, res *http.Response, body []byte) error {
		return d.Check(t.Context(), req, nil, res, body)
	}
	require.NoError(t, check(exchange(t, http.MethodHead, thing, 200, "application/json", "")))
	require.NoError(t, check(exchange(t, http.MethodHead, thing, 200, "application/json; charset=utf-8", "")))
	require.NoError(t, check(exchange(t, http.MethodHead, thing, 404, "application/problem+json", "")))
	require.NoError(t, check(exchange(t, http.MethodHead, "/ping", 204, "", "")))
	require.NoError(t, check(exchange(t, http.MethodHead, "/nowhere", 404, "application/problem+json", "")))

	for name, c := range map[string]struct {
		path     string
		status   int
		ct, body string
	}{
		"a body":                  {thing, 200, "application/json", `{"id":"7b0c4f0e-4f6b-4c47-9a43-0c7bd4a3c1f1"}`},
		"an undocumented type":    {thing, 200, "text/plain", ""},
		"no type where GET has":   {thing, 200, "", ""},
		"an undocumented status":  {thing, 410, "application/problem+json", ""},
		"an error not a problem":  {thing, 404, "application/json", ""},
		"a bad path value served": {"/things/nope", 200, "application/json", ""},
		"an unknown path served":  {"/nowhere", 200, "application/json", ""},
	} {
		require.Error(t, check(exchange(t, http.MethodHead, c.path, c.status, c.ct, c.body)), name)
	}

	req, res, body := exchange(t, http.MethodHead, thing, 200, "application/json", "")
	req.Header.Del("Authorization")
	require.ErrorContains(t, check(req, res, body), "no bearer API key", "an accepted HEAD without credentials")
}

// TestLoadRefusesDocumentWithoutProblem proves a document must define the problem schema.
func TestLoadRefusesDocumentWithoutProblem(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "openapi.yaml")
	require.NoError(t, os.WriteFile(path, []byte("openapi: 3.0.3\ninfo: {title: x, version: \"1\"}\npaths: {}\n"), 0o600))
	_, err := openapitest.Load(openapitest.Config{Path: path})
	require.ErrorContains(t, err, "components/schemas/Problem")
}

// TestGetsWithHead proves that a GET without its HEAD, and a HEAD without its GET, are reported,
// and that the HEADs are left out of the routes returned.
func TestGetsWithHead(t *testing.T) {
	t.Parallel()
	routes, err := openapitest.GetsWithHead([]string{"GET /a", "HEAD /a", "POST /a"})
	require.NoError(t, err)
	require.Equal(t, []string{"GET /a", "POST /a"}, routes)
	_, err = openapitest.GetsWithHead([]string{"GET /a", "HEAD /b"})
	require.ErrorContains(t, err, "GET /a does not answer HEAD")
	require.ErrorContains(t, err, "HEAD /b has no GET")
}
