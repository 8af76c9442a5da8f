package httpx_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/httpx"
)

// TestAcceptsGzip proves Accept-Encoding is read with its q-values: gzip named with a weight
// above 0 admits it, q=0 or no mention refuses it.
func TestAcceptsGzip(t *testing.T) {
	t.Parallel()
	for header, want := range map[string]bool{
		"gzip": true, "GZIP": true, "br, gzip;q=0.5": true, "x-gzip": true, "gzip ; q=1.0": true, "deflate, gzip;Q=0.001": true,
		"": false, "identity": false, "*": false, "br": false, "gzip;q=0": false, "gzip;q=0.000, br": false, "gzip;q=x": false,
		"gzipped": false,
	} {
		require.Equal(t, want, httpx.AcceptsGzip(header), header)
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
