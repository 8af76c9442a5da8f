package httpapi_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/httpx"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/org"
	"example.com/crm/services/intake-gateway/internal/httpapi"
)

// TestTextParamsRefused proves that a path parameter or query value that PostgreSQL cannot take
// as text (a NUL, bytes that are not UTF-8) is 400 on that parameter, on every route, and
// stores nothing.
func TestTextParamsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{})
	c, path := b.formSource(t)
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	cases := []struct{ path, field string }{
		{"/intake/form/%00", "formToken"},
		{"/intake/form/%FF", "formToken"},
		{"/intake/form/a%00b", "formToken"},
		{"/intake/webhook/%00", "sourceId"},
		{path + "?ref=%00", "ref"},
		{path + "?ref=%ff", "ref"},
		{"/intake/webhook/" + c.ID.String() + "?%ff=1", "query"},
	}
	for _, tc := range cases {
		r := b.do(t, http.MethodPost, tc.path, form, []byte("email=ada%40example.com"))
		p := requireProblem(t, r, http.StatusBadRequest)
		errs, _ := p["errors"].([]any)
		require.NotEmpty(t, errs, tc.path)
		require.Equal(t, tc.field, errs[0].(map[string]any)["field"], tc.path)
	}
	raw, jobs := b.stored(t)
	require.Zero(t, raw)
	require.Zero(t, jobs)
}

// TestMalformedQueryRefused proves that a query string that does not parse (a bad escape, a ';'
// separator) is 400 on "query" on every route instead of being read as if the parameters it
// holds were absent (a CSV upload without its sourceId), and stores nothing.
func TestMalformedQueryRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{})
	c, path := b.formSource(t)
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for _, p := range []string{path + "?ref=%zz", path + "?a=1;b=2", "/intake/webhook/" + c.ID.String() + "?x=abc%2"} {
		r := b.do(t, http.MethodPost, p, form, []byte("email=ada%40example.com"))
		pr := requireProblem(t, r, http.StatusBadRequest)
		errs, _ := pr["errors"].([]any)
		require.NotEmpty(t, errs, p)
		require.Equal(t, "query", errs[0].(map[string]any)["field"], p)
	}
	r := b.do(t, http.MethodPost, "/intake/csv?sourceId=%zz", b.auth(), []byte("email\nada@example.com\n"))
	requireProblem(t, r, http.StatusBadRequest)
	raw, jobs := b.stored(t)
	require.Zero(t, raw)
	require.Zero(t, jobs)
}

// TestSingleHeadersOnce proves that a header meant once (credentials, a signature header of
// either scheme, Content-Type) given twice is 400 on that header on every route, whichever copy
// is the good one, instead of the first copy being read and the second going unseen, and that
// nothing is stored.
func TestSingleHeadersOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{})
	src := b.source(t, intake.NewSource{Kind: intake.KindWebhook, Name: "twice"})
	now := b.clock.now()
	body := []byte(`{"email":"ada@example.com"}`)
	hook := "/intake/webhook/" + src.ID.String()
	signed := map[string]string{"Content-Type": "application/json", httpapi.SignatureHeader: intake.Sign(src.SigningSecret, now, body)}
	sig, err := intake.SignStandard(src.SigningSecret, "msg_1", now, body)
	require.NoError(t, err)
	standard := map[string]string{
		"Content-Type": "application/json", "webhook-id": "msg_1", "webhook-timestamp": strconv.FormatInt(now.Unix(), 10), "webhook-signature": sig,
	}
	csv := []byte("email\nada@example.com\n")
	cases := []struct {
		path         string
		header       map[string]string
		body         []byte
		name, second string
	}{
		{"/intake/csv", b.auth(), csv, "X-Org-Id", b.org.String()},
		{"/intake/csv", b.auth(), csv, "X-Org-Id", "00000000-0000-4000-8000-000000000001"},
		{"/intake/csv", b.auth(), csv, "Authorization", "Bearer " + b.apiKey},
		{"/intake/csv", b.auth(), csv, "Content-Type", "text/csv"},
		{hook, signed, body, httpapi.SignatureHeader, "t=1,v1=" + strings.Repeat("0", 64)},
		{hook, standard, body, "webhook-id", "msg_2"},
		{hook, standard, body, "webhook-timestamp", "1"},
		{hook, standard, body, "webhook-signature", "v1,AAAA"},
	}
	for _, tc := range cases {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.srv.URL+tc.path, bytes.NewReader(tc.body))
		require.NoError(t, err)
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		req.Header.Add(tc.name, tc.second)
		res, err := b.client.Do(req)
		require.NoError(t, err)
		out, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		p := requireProblem(t, response{status: res.StatusCode, header: res.Header, body: out}, http.StatusBadRequest)
		errs, _ := p["errors"].([]any)
		require.NotEmpty(t, errs, tc.name)
		require.Equal(t, http.CanonicalHeaderKey(tc.name), http.CanonicalHeaderKey(errs[0].(map[string]any)["field"].(string)))
	}
	raw, jobs := b.stored(t)
	require.Zero(t, raw)
	require.Zero(t, jobs)
	// Each delivery once, its headers once, is accepted.
	r := b.do(t, http.MethodPost, hook, standard, body)
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
}

// TestContentEncodingRefused proves that a delivery sent with a content coding is 415 and
// stores nothing: the gateway stores bodies as received and decodes no coding, so a signed body
// declared gzip was stored as if it were plain.
func TestContentEncodingRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{})
	src := b.source(t, intake.NewSource{Kind: intake.KindWebhook, Name: "zipped"})
	_, form := b.formSource(t)
	body := []byte(`{"email":"ada@example.com"}`)
	hook := map[string]string{
		"Content-Type": "application/json", "Content-Encoding": "gzip",
		httpapi.SignatureHeader: intake.Sign(src.SigningSecret, b.clock.now(), body),
	}
	requireProblem(t, b.do(t, http.MethodPost, "/intake/webhook/"+src.ID.String(), hook, body), http.StatusUnsupportedMediaType)
	requireProblem(t, b.do(t, http.MethodPost, form, map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": "br",
	}, []byte("email=ada%40example.com")), http.StatusUnsupportedMediaType)
	csv := b.auth()
	csv["Content-Encoding"] = "gzip"
	requireProblem(t, b.do(t, http.MethodPost, "/intake/csv", csv, []byte("email\nada@example.com\n")), http.StatusUnsupportedMediaType)
	raw, jobs := b.stored(t)
	require.Zero(t, raw)
	require.Zero(t, jobs)
}

// TestQueryParamOnce proves that a query parameter given twice is 400 on its name (no
// parameter of the gateway is a list), instead of the first value being read, and stores
// nothing.
func TestQueryParamOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{})
	csvSource := b.source(t, intake.NewSource{Kind: intake.KindCSV, Name: "sheet"})
	r := b.do(t, http.MethodPost, "/intake/csv?sourceId="+csvSource.ID.String()+"&sourceId="+uuid.NewString(), b.auth(), []byte("email\nada@example.com\n"))
	p := requireProblem(t, r, http.StatusBadRequest)
	errs, _ := p["errors"].([]any)
	require.NotEmpty(t, errs)
	require.Equal(t, "sourceId", errs[0].(map[string]any)["field"])
	raw, jobs := b.stored(t)
	require.Zero(t, raw)
	require.Zero(t, jobs)
}

// TestDatabaseUnreachable proves that while PostgreSQL cannot be reached, deliveries answer 503
// unavailable with Retry-After (a problem document that does not say where the database is)
// instead of 500.
func TestDatabaseUnreachable(t *testing.T) {
	t.Parallel()
	owner, url := dbtest.NewDB(t)
	proxied, cut := dbtest.Cuttable(t, dbtest.AppURL(t, url))
	app, err := db.Open(t.Context(), db.Options{URL: proxied, MaxConns: 4, AppName: "gateway-test"})
	require.NoError(t, err)
	t.Cleanup(app.Close)
	created, err := org.Create(t.Context(), owner, "acme")
	require.NoError(t, err)
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{
		DB: app, Queue: jobs.New(app, jobs.Config{}), Log: zap.NewNop(), Registry: httpx.NewRegistry(),
		Config: httpapi.Config{DisableSourceCache: true},
	}))
	t.Cleanup(srv.Close)
	b := &bundle{srv: srv, client: &http.Client{Timeout: time.Minute}}
	src, err := intake.NewService(owner, events.NewEmitter(jobs.New(owner, jobs.Config{}), nil)).Create(t.Context(),
		created.OrgID, "apikey:test", intake.NewSource{Kind: intake.KindForm, Name: "contact form"})
	require.NoError(t, err)
	hook, err := intake.NewService(owner, events.NewEmitter(jobs.New(owner, jobs.Config{}), nil)).Create(t.Context(),
		created.OrgID, "apikey:test", intake.NewSource{Kind: intake.KindWebhook, Name: "hook"})
	require.NoError(t, err)
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	formPath := "/intake/form/" + *src.PublicToken
	r := b.do(t, http.MethodPost, formPath, form, []byte("email=ada%40example.com"))
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))

	cut()
	hookHeader := map[string]string{"Content-Type": "application/json", httpapi.SignatureHeader: intake.Sign("whatever", time.Now(), nil)}
	for _, req := range []struct {
		path   string
		header map[string]string
		body   string
	}{
		{formPath, form, "email=grace%40example.com"},
		{formPath, form, "email=grace%40example.com"},
		{"/intake/webhook/" + hook.ID.String(), hookHeader, `{"email":"grace@example.com"}`},
	} {
		r := b.do(t, http.MethodPost, req.path, req.header, []byte(req.body))
		p := requireProblem(t, r, http.StatusServiceUnavailable)
		require.Equal(t, "unavailable", p["code"])
		require.Equal(t, "5", r.header.Get("Retry-After"))
		require.NotContains(t, string(r.body), "127.0.0.1")
	}
}
