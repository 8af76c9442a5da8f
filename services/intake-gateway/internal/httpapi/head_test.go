package httpapi_test

import (
	"maps"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/services/intake-gateway/internal/httpapi"
)

// requireHeadMirrorsGet sends GET and then HEAD to path with header (both asking for the
// identity coding, so that the two describe the same bytes) and requires HEAD's answer to be
// GET's without the body: the same status and the same header fields, less those that differ
// per exchange (Date, the request id) and those named in volatile.
func requireHeadMirrorsGet(t *testing.T, b *bundle, path string, header map[string]string, volatile ...string) response {
	t.Helper()
	header = maps.Clone(header)
	if header == nil {
		header = map[string]string{}
	}
	header["Accept-Encoding"] = "identity"
	get := b.do(t, http.MethodGet, path, header, nil)
	head := b.do(t, http.MethodHead, path, header, nil)
	require.Equal(t, get.status, head.status, "HEAD %s", path)
	require.Empty(t, head.body, "HEAD %s has no body", path)
	strip := func(h http.Header) http.Header {
		h = maps.Clone(h)
		for _, k := range append([]string{"Date", "X-Request-Id"}, volatile...) {
			h.Del(k)
		}
		return h
	}
	require.Equal(t, strip(get.header), strip(head.header), "HEAD %s has GET's header fields", path)
	return get
}

// TestHeadMirrorsGet proves that every GET route of the gateway (the ops routes and the public
// document) answers HEAD as GET does, with no body (RFC 9110 9.3.2), while a path without GET
// keeps refusing HEAD.
func TestHeadMirrorsGet(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{})

	for _, path := range []string{"/healthz", "/readyz"} {
		r := requireHeadMirrorsGet(t, b, path, nil)
		require.Equal(t, http.StatusOK, r.status, path)
		require.NotEmpty(t, r.header.Get("Content-Length"), path)
	}
	// The scrape changes between two requests (the first one is counted), so its length may too.
	r := requireHeadMirrorsGet(t, b, "/metrics", nil, "Content-Length")
	require.Equal(t, http.StatusOK, r.status)

	r = requireHeadMirrorsGet(t, b, "/api/openapi.json", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.NotEmpty(t, r.header.Get("ETag"))
	r = requireHeadMirrorsGet(t, b, "/api/openapi.json", map[string]string{"If-None-Match": r.header.Get("ETag")})
	require.Equal(t, http.StatusNotModified, r.status)

	r = b.do(t, http.MethodHead, "/intake/csv", nil, nil)
	require.Equal(t, http.StatusMethodNotAllowed, r.status)
	require.Empty(t, r.body)
	r = b.do(t, http.MethodHead, "/intake/nowhere", nil, nil)
	require.Equal(t, http.StatusNotFound, r.status)
	require.Empty(t, r.body)
}
