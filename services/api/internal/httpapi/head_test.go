package httpapi_test

import (
	"maps"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireHeadMirrorsGet sends GET and then HEAD to path (both asking for the identity coding, so
// that the two describe the same bytes) and requires HEAD's answer to be GET's without the
// body: the same status and the same header fields, less those that differ per exchange (Date,
// the request id) and those named in volatile.
func requireHeadMirrorsGet(t *testing.T, a *apiTest, path string, volatile []string, opts ...reqOpt) response {
	t.Helper()
	opts = append(opts, withHeader("Accept-Encoding", "identity"))
	get := a.do(http.MethodGet, path, nil, opts...)
	head := a.do(http.MethodHead, path, nil, opts...)
	require.Equal(t, get.Status, head.Status, "HEAD %s", path)
	require.Empty(t, head.Body, "HEAD %s has no body", path)
	strip := func(h http.Header) http.Header {
		h = maps.Clone(h)
		for _, k := range append([]string{"Date", "X-Request-Id"}, volatile...) {
			h.Del(k)
		}
		return h
	}
	require.Equal(t, strip(get.Header), strip(head.Header), "HEAD %s has GET's header fields", path)
	return get
}

// TestHeadMirrorsGet proves that every kind of GET route answers HEAD as GET does, with no
// body (RFC 9110 9.3.2): the ops routes, the public document and docs, authenticated reads of
// one resource and of a list, their 404, and the 401 of a request without credentials.
func TestHeadMirrorsGet(t *testing.T) {
	t.Parallel()
	a := newAPI(t)

	created := a.do(http.MethodPost, "/leads", `{"email":"head@example.com","company":"Head"}`)
	require.Equal(t, http.StatusCreated, created.Status, string(created.Body))
	var l struct{ ID string }
	created.json(t, &l)

	for _, path := range []string{"/healthz", "/readyz"} {
		r := requireHeadMirrorsGet(t, a, path, nil)
		require.Equal(t, http.StatusOK, r.Status, path)
		require.NotEmpty(t, r.Header.Get("Content-Length"), path)
	}
	// The scrape changes between two requests (the first one is counted), so its length may too.
	r := requireHeadMirrorsGet(t, a, "/metrics", []string{"Content-Length"})
	require.Equal(t, http.StatusOK, r.Status)

	r = requireHeadMirrorsGet(t, a, "/api/openapi.json", nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.NotEmpty(t, r.Header.Get("ETag"))
	r = requireHeadMirrorsGet(t, a, "/api/openapi.json", nil, withHeader("If-None-Match", r.Header.Get("ETag")))
	require.Equal(t, http.StatusNotModified, r.Status)
	// The client follows the redirect, and HEAD stays HEAD on the way.
	r = requireHeadMirrorsGet(t, a, "/api/docs", nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.NotEmpty(t, r.Header.Get("Content-Security-Policy"), "the page itself answered")

	r = requireHeadMirrorsGet(t, a, "/leads/"+l.ID, nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.NotEmpty(t, r.Header.Get("Content-Length"))
	r = requireHeadMirrorsGet(t, a, "/leads", nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.Contains(t, string(r.Body), l.ID)
	r = requireHeadMirrorsGet(t, a, "/deals?limit=5", nil)
	require.Equal(t, http.StatusOK, r.Status)

	r = requireHeadMirrorsGet(t, a, "/leads/00000000-0000-4000-8000-000000000000", nil)
	require.Equal(t, http.StatusNotFound, r.Status)
	r = requireHeadMirrorsGet(t, a, "/leads?limit=0", nil)
	require.Equal(t, http.StatusBadRequest, r.Status)

	anon := []reqOpt{withoutHeader("Authorization"), withoutHeader("X-Org-Id")}
	for _, path := range []string{"/leads/" + l.ID, "/leads"} {
		r = requireHeadMirrorsGet(t, a, path, nil, anon...)
		require.Equal(t, http.StatusUnauthorized, r.Status, path)
		require.NotEmpty(t, r.Header.Get("WWW-Authenticate"), path)
	}

	// A method the path does not have stays 405, HEAD included where there is no GET.
	r = a.do(http.MethodHead, "/leads/"+l.ID+"/stage", nil)
	require.Equal(t, http.StatusMethodNotAllowed, r.Status)
	require.Empty(t, r.Body)
}
