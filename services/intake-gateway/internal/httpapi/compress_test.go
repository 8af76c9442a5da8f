package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/intake"
	"example.com/crm/services/intake-gateway/internal/httpapi"
)

// gunzip decompresses a gzip body.
func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	require.NoError(t, err)
	out, err := io.ReadAll(zr)
	require.NoError(t, err)
	return out
}

// doRaw is b.do with a client that sends Accept-Encoding only when header names it and then
// decompresses nothing, so that the answer is seen as sent.
func (b *bundle) doRaw(t *testing.T, method, path string, header map[string]string, body []byte) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, b.srv.URL+path, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err)
	out, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	return response{status: res.StatusCode, header: res.Header, body: out}
}

// TestCompression proves the gateway gzips an answer of 1 KiB and more for a client that asks
// (a CSV upload's report of its refused lines, read while the upload streams in), identical
// once decompressed, and leaves it as it is for a client that does not ask; that a short answer
// (a webhook's 202, a problem) stays uncompressed; and that every answer says Vary:
// Accept-Encoding.
func TestCompression(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{})
	csvFile := func() []byte {
		var f strings.Builder
		f.WriteString("email,name\n")
		for i := range 2000 {
			if i%40 == 0 {
				fmt.Fprintf(&f, "only-one-field-%d\n", i)
				continue
			}
			fmt.Fprintf(&f, "row%d@example.com,Row %d\n", i, i)
		}
		return []byte(f.String())
	}
	withGzip := b.auth()
	withGzip["Accept-Encoding"] = "gzip"
	zipped := b.doRaw(t, http.MethodPost, "/intake/csv", withGzip, csvFile())
	require.Equal(t, http.StatusAccepted, zipped.status, string(zipped.body))
	require.Equal(t, "gzip", zipped.header.Get("Content-Encoding"))
	require.Contains(t, zipped.header.Values("Vary"), "Accept-Encoding")
	report := gunzip(t, zipped.body)
	require.Greater(t, len(report), 1024)
	require.Contains(t, string(report), `"rejectedCount":50`)

	plain := b.doRaw(t, http.MethodPost, "/intake/csv", b.auth(), csvFile())
	require.Equal(t, http.StatusAccepted, plain.status, string(plain.body))
	require.Empty(t, plain.header.Get("Content-Encoding"))
	require.Contains(t, plain.header.Values("Vary"), "Accept-Encoding")
	require.Contains(t, string(plain.body), `"rejectedCount":50`)
	require.Equal(t, len(report), len(plain.body), "the same report (another batch id of the same length)")

	// Short answers go out as they are.
	src := b.source(t, intake.NewSource{Kind: intake.KindWebhook, Name: "Zapier"})
	body := []byte(`{"email": "ada@example.com"}`)
	r := b.doRaw(t, http.MethodPost, "/intake/webhook/"+src.ID.String(), map[string]string{
		"Content-Type": "application/json", httpapi.SignatureHeader: intake.Sign(src.SigningSecret, b.clock.now(), body), "Accept-Encoding": "gzip",
	}, body)
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	require.Empty(t, r.header.Get("Content-Encoding"))
	r = b.doRaw(t, http.MethodPost, "/intake/csv", map[string]string{"Accept-Encoding": "gzip", "Content-Type": "text/csv"}, csvFile())
	requireProblem(t, r, http.StatusUnauthorized)
	require.Empty(t, r.header.Get("Content-Encoding"))
}
