package httpx_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/httpx"
)

// TestCompress proves the compressing wrapper: an answer of CompressMinLength bytes and more goes
// out gzipped when Accept-Encoding admits gzip (q-values honoured), a shorter one and one to a
// client that refuses gzip go out as they are, every answer varies on Accept-Encoding, and a
// compressed answer's strong ETag goes out weak.
func TestCompress(t *testing.T) {
	t.Parallel()
	big := strings.Repeat(`{"k":"v"},`, httpx.CompressMinLength)
	srv := httptest.NewServer(httpx.Compress(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `"e"`)
		body := "{}"
		if r.URL.Query().Get("big") != "" {
			body = big
		}
		_, _ = io.WriteString(w, body)
	})))
	t.Cleanup(srv.Close)
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	for _, tc := range []struct {
		query, acceptEncoding string
		gzipped               bool
	}{
		{"?big=1", "gzip", true},
		{"?big=1", "br, gzip;q=0.5", true},
		{"?big=1", "GZIP", true},
		{"?big=1", "", false},
		{"?big=1", "identity", false},
		{"?big=1", "gzip;q=0", false},
		{"?big=1", "br", false},
		{"", "gzip", false},
	} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/"+tc.query, nil)
		require.NoError(t, err)
		if tc.acceptEncoding != "" {
			req.Header.Set("Accept-Encoding", tc.acceptEncoding)
		}
		res, err := client.Do(req)
		require.NoError(t, err)
		raw, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		require.Contains(t, res.Header.Values("Vary"), "Accept-Encoding", "%s %q", tc.query, tc.acceptEncoding)
		if !tc.gzipped {
			require.Empty(t, res.Header.Get("Content-Encoding"), "%s %q", tc.query, tc.acceptEncoding)
			require.Equal(t, `"e"`, res.Header.Get("ETag"))
			continue
		}
		require.Equal(t, "gzip", res.Header.Get("Content-Encoding"), "%s %q", tc.query, tc.acceptEncoding)
		require.Equal(t, `W/"e"`, res.Header.Get("ETag"))
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		require.NoError(t, err)
		plain, err := io.ReadAll(zr)
		require.NoError(t, err)
		require.Equal(t, big, string(plain))
	}
}

// TestWeakETagWhenEncoded proves a strong ETag goes out weak only when the response has a
// Content-Encoding, and that the wrapper still reaches the connection (deadlines, flushes).
func TestWeakETagWhenEncoded(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w = httpx.WeakETagWhenEncoded(w)
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("ETag", r.URL.Query().Get("etag"))
		if enc := r.URL.Query().Get("enc"); enc != "" {
			w.Header().Set("Content-Encoding", enc)
		}
		_, _ = io.WriteString(w, "x")
		if err := rc.Flush(); err != nil {
			t.Errorf("flush: %v", err)
		}
	}))
	t.Cleanup(srv.Close)
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	for query, want := range map[string]string{
		`?etag="a"`:                    `"a"`,
		`?etag="a"&enc=gzip`:           `W/"a"`,
		`?etag=W/"a"&enc=gzip`:         `W/"a"`,
		`?etag=&enc=gzip`:              ``,
		`?etag="a"&enc=gzip&other=yes`: `W/"a"`,
	} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/"+query, nil)
		require.NoError(t, err)
		res, err := client.Do(req)
		require.NoError(t, err)
		_, err = io.ReadAll(res.Body)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		require.Equal(t, http.StatusOK, res.StatusCode, query)
		require.Equal(t, want, res.Header.Get("ETag"), query)
	}
}
