package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// rawExchange sends a request with exactly the headers given (the harness's client adds no
// Accept-Encoding of its own and decompresses nothing) and returns the response with its body
// as sent and, when gzip-encoded, decompressed; the exchange is validated against the document
// with the decoded body.
func (a *apiTest) rawExchange(method, path string, headers map[string]string) (res *http.Response, wire, body []byte) {
	a.t.Helper()
	req, err := http.NewRequestWithContext(a.t.Context(), method, a.srv.URL+path, nil)
	require.NoError(a.t, err)
	asOrg(a.org, a.key)(req)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	res, err = (&http.Client{Transport: tr}).Do(req)
	require.NoError(a.t, err)
	wire, err = io.ReadAll(res.Body)
	require.NoError(a.t, err)
	require.NoError(a.t, res.Body.Close())
	body = wire
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(wire))
		require.NoError(a.t, err)
		body, err = io.ReadAll(zr)
		require.NoError(a.t, err)
	}
	checkExchange(a.t, req, nil, res, body)
	return res, wire, body
}

var gzipOK = map[string]string{"Accept-Encoding": "gzip"}

// TestCompression proves answers of 1 KiB and more are gzip-compressed for a client that asks
// (the OpenAPI document, a long list, a Swagger UI asset) and identical once decompressed; that
// a client that does not ask, or refuses gzip with q=0, gets them as they are; that a short
// answer and a problem stay uncompressed; that every answer says Vary: Accept-Encoding; that a
// compressed answer's Content-Length, when sent, is that of the bytes sent, and its ETag is weak and still revalidates to 304; and that /metrics, which
// compresses by itself, is compressed once.
func TestCompression(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for i := range 30 {
		r := a.do(http.MethodPost, "/leads", map[string]any{"name": fmt.Sprintf("Lead %d", i), "email": fmt.Sprintf("lead%d@example.com", i)})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	}

	for _, path := range []string{"/api/openapi.json", "/leads?limit=30", "/api/docs/swagger-ui-bundle.js"} {
		plain, plainWire, plainBody := a.rawExchange(http.MethodGet, path, nil)
		require.Equal(t, http.StatusOK, plain.StatusCode, path)
		require.Empty(t, plain.Header.Get("Content-Encoding"), path)
		require.Contains(t, plain.Header.Values("Vary"), "Accept-Encoding", path)
		require.Equal(t, plainWire, plainBody)
		require.Greater(t, len(plainBody), 1024, path)

		zipped, zippedWire, zippedBody := a.rawExchange(http.MethodGet, path, gzipOK)
		require.Equal(t, http.StatusOK, zipped.StatusCode, path)
		require.Equal(t, "gzip", zipped.Header.Get("Content-Encoding"), path)
		require.Contains(t, zipped.Header.Values("Vary"), "Accept-Encoding", path)
		if cl := zipped.Header.Get("Content-Length"); cl != "" {
			require.Equal(t, strconv.Itoa(len(zippedWire)), cl, "%s: the length is the compressed body's", path)
		}
		require.Less(t, len(zippedWire), len(plainBody)/2, path)
		require.Equal(t, mediaType(plain.Header), mediaType(zipped.Header), path)
		if strings.HasPrefix(path, "/leads") {
			require.JSONEq(t, string(plainBody), string(zippedBody), path) // ages and scores may differ in no way here
		} else {
			require.Equal(t, plainBody, zippedBody, path)
		}

		refused, _, _ := a.rawExchange(http.MethodGet, path, map[string]string{"Accept-Encoding": "gzip;q=0, identity"})
		require.Empty(t, refused.Header.Get("Content-Encoding"), "%s: q=0 refuses gzip", path)

		if etag := plain.Header.Get("ETag"); etag != "" {
			require.False(t, strings.HasPrefix(etag, "W/"), "%s: the identity body's tag is strong", path)
			require.Equal(t, "W/"+etag, zipped.Header.Get("ETag"), "%s: the gzip body's tag is weak", path)
			for _, tag := range []string{etag, "W/" + etag} {
				nm, wire, _ := a.rawExchange(http.MethodGet, path, map[string]string{"Accept-Encoding": "gzip", "If-None-Match": tag})
				require.Equal(t, http.StatusNotModified, nm.StatusCode, "%s %s", path, tag)
				require.Empty(t, wire, path)
				require.Empty(t, nm.Header.Get("Content-Encoding"), path)
			}
		}
	}

	// Short answers and problems go out as they are.
	for path, status := range map[string]int{
		"/leads?limit=1":                 http.StatusOK,
		"/leads?limit=0":                 http.StatusBadRequest,
		"/no-such-route":                 http.StatusNotFound,
		"/api/docs/favicon-16x16.png":    http.StatusOK,
		"/observability/jobs?type=nope!": http.StatusBadRequest,
	} {
		res, wire, _ := a.rawExchange(http.MethodGet, path, gzipOK)
		require.Equal(t, status, res.StatusCode, path)
		require.Less(t, len(wire), 1024, path)
		require.Empty(t, res.Header.Get("Content-Encoding"), path)
		require.Contains(t, res.Header.Values("Vary"), "Accept-Encoding", path)
	}

	// /metrics compresses by itself (promhttp): once, not twice.
	res, _, body := a.rawExchange(http.MethodGet, "/metrics", gzipOK)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(body), "# HELP", "one gzip layer: the text is readable after one decompression")
}

// TestCORSExposesLocation proves a browser on a configured origin may read Location (a create's
// answer names the new resource there) besides the other headers the API documents.
func TestCORSExposesLocation(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.do(http.MethodPost, "/leads", map[string]any{"email": "cors@example.com"}, withHeader("Origin", "https://ui.example.com"))
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	require.NotEmpty(t, r.Header.Get("Location"))
	require.Equal(t, "https://ui.example.com", r.Header.Get("Access-Control-Allow-Origin"))
	exposed := strings.Split(r.Header.Get("Access-Control-Expose-Headers"), ",")
	for i := range exposed {
		exposed[i] = strings.ToLower(strings.TrimSpace(exposed[i]))
	}
	for _, h := range []string{"location", "x-request-id", "idempotent-replayed", "retry-after"} {
		require.Contains(t, exposed, h)
	}
}
