package httpapi_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/intake"
	"example.com/crm/services/intake-gateway/internal/httpapi"
)

// TestMalformedInputs sends envelopes the gateway must refuse: each is answered 4xx with a
// problem document, and nothing at all is stored.
func TestMalformedInputs(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{BodyLimit: 4096, CSVLimit: 8192})
	wh := b.source(t, intake.NewSource{Kind: intake.KindWebhook, Name: "hook"})
	fm, formPath := b.formSource(t)
	_ = fm
	hookPath := "/intake/webhook/" + wh.ID.String()
	now := b.clock.now()

	// signed is a webhook request for body signed with the source's secret.
	signed := func(ct string, body []byte) map[string]string {
		h := map[string]string{httpapi.SignatureHeader: intake.Sign(wh.SigningSecret, now, body)}
		if ct != "" {
			h["Content-Type"] = ct
		}
		return h
	}
	with := func(h map[string]string, k, v string) map[string]string {
		out := map[string]string{}
		for hk, hv := range h {
			out[hk] = hv
		}
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out
	}
	big := []byte(`{"notes":"` + strings.Repeat("x", 5000) + `"}`)
	multipartBody := func(field string) ([]byte, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, err := mw.CreateFormFile(field, "leads.csv")
		require.NoError(t, err)
		_, _ = fw.Write([]byte("email\na@example.com\n"))
		require.NoError(t, mw.Close())
		return buf.Bytes(), mw.FormDataContentType()
	}
	noFile, noFileCT := multipartBody("upload")
	csvSrc := b.source(t, intake.NewSource{Kind: intake.KindCSV, Name: "csv"})
	_ = csvSrc

	type tc struct {
		method, path string
		header       map[string]string
		body         []byte
		status       int
	}
	js := "application/json"
	cases := map[string]tc{
		// webhook
		"webhook no content type":     {path: hookPath, header: signed("", []byte(`{}`)), body: []byte(`{}`), status: 415},
		"webhook text/plain":          {path: hookPath, header: signed("text/plain", []byte(`{}`)), body: []byte(`{}`), status: 415},
		"webhook latin1 charset":      {path: hookPath, header: signed("application/json; charset=iso-8859-1", []byte(`{}`)), body: []byte(`{}`), status: 415},
		"webhook empty body":          {path: hookPath, header: signed(js, nil), status: 400},
		"webhook over the limit":      {path: hookPath, header: signed(js, big), body: big, status: 413},
		"webhook invalid utf-8":       {path: hookPath, header: signed(js, []byte("{\"name\":\"\xff\"}")), body: []byte("{\"name\":\"\xff\"}"), status: 400},
		"webhook raw NUL":             {path: hookPath, header: signed(js, []byte("{\"name\":\"a\x00\"}")), body: []byte("{\"name\":\"a\x00\"}"), status: 400},
		"webhook escaped NUL":         {path: hookPath, header: signed(js, []byte(`{"name":"a\u0000"}`)), body: []byte(`{"name":"a\u0000"}`), status: 400},
		"webhook truncated json":      {path: hookPath, header: signed(js, []byte(`{"email":"a@`)), body: []byte(`{"email":"a@`), status: 400},
		"webhook trailing data":       {path: hookPath, header: signed(js, []byte(`{"a":1} {}`)), body: []byte(`{"a":1} {}`), status: 400},
		"webhook duplicate key":       {path: hookPath, header: signed(js, []byte(`{"email":"a","email":"b"}`)), body: []byte(`{"email":"a","email":"b"}`), status: 400},
		"webhook nested duplicate":    {path: hookPath, header: signed(js, []byte(`{"x":{"k":1,"k":2}}`)), body: []byte(`{"x":{"k":1,"k":2}}`), status: 400},
		"webhook array":               {path: hookPath, header: signed(js, []byte(`[{"email":"a"}]`)), body: []byte(`[{"email":"a"}]`), status: 400},
		"webhook string":              {path: hookPath, header: signed(js, []byte(`"lead"`)), body: []byte(`"lead"`), status: 400},
		"webhook no signature":        {path: hookPath, header: map[string]string{"Content-Type": js}, body: []byte(`{}`), status: 401},
		"webhook malformed signature": {path: hookPath, header: with(signed(js, []byte(`{}`)), httpapi.SignatureHeader, "sha256=abc"), body: []byte(`{}`), status: 400},
		"webhook non-hex v1":          {path: hookPath, header: with(signed(js, []byte(`{}`)), httpapi.SignatureHeader, "t=1700000000,v1=zz"), body: []byte(`{}`), status: 400},
		"webhook signed other body":   {path: hookPath, header: signed(js, []byte(`{"a":1}`)), body: []byte(`{"a":2}`), status: 401},
		"webhook unknown source":      {path: "/intake/webhook/" + uuid.NewString(), header: signed(js, []byte(`{}`)), body: []byte(`{}`), status: 404},
		"webhook id not a uuid":       {path: "/intake/webhook/123", header: signed(js, []byte(`{}`)), body: []byte(`{}`), status: 404},
		"webhook GET":                 {method: http.MethodGet, path: hookPath, status: 405},
		"webhook form source id":      {path: "/intake/webhook/" + fm.ID.String(), header: signed(js, []byte(`{}`)), body: []byte(`{}`), status: 404},
		// form
		"form unknown token":         {path: "/intake/form/frm_nope", header: map[string]string{"Content-Type": js}, body: []byte(`{}`), status: 404},
		"form multipart":             {path: formPath, header: map[string]string{"Content-Type": noFileCT}, body: noFile, status: 415},
		"form text/plain":            {path: formPath, header: map[string]string{"Content-Type": "text/plain"}, body: []byte("email=a"), status: 415},
		"form bad escape":            {path: formPath, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: []byte("email=%zz"), status: 400},
		"form encoded NUL":           {path: formPath, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: []byte("name=a%00b"), status: 400},
		"form encoded invalid utf-8": {path: formPath, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: []byte("name=%ff%fe"), status: 400},
		"form raw invalid utf-8":     {path: formPath, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: []byte("name=\xff"), status: 400},
		"form json duplicate key":    {path: formPath, header: map[string]string{"Content-Type": js}, body: []byte(`{"a":1,"a":1}`), status: 400},
		"form json not an object":    {path: formPath, header: map[string]string{"Content-Type": js}, body: []byte(`[]`), status: 400},
		"form over the limit":        {path: formPath, header: map[string]string{"Content-Type": js}, body: big, status: 413},
		"form empty body":            {path: formPath, header: map[string]string{"Content-Type": js}, status: 400},
		"form origin not allowed":    {path: formPath, header: map[string]string{"Content-Type": js, "Origin": "https://evil.example"}, body: []byte(`{}`), status: 403},
		"form origin null":           {path: formPath, header: map[string]string{"Content-Type": js, "Origin": "null"}, body: []byte(`{}`), status: 403},
		// csv
		"csv no credentials":           {path: "/intake/csv", header: map[string]string{"Content-Type": "text/csv"}, body: []byte("email\na\n"), status: 401},
		"csv unknown key":              {path: "/intake/csv", header: with(b.auth(), "Authorization", "Bearer crm_"+strings.Repeat("0", 32)+"_"+strings.Repeat("A", 43)), body: []byte("email\na\n"), status: 401},
		"csv key of no org":            {path: "/intake/csv", header: with(b.auth(), "Authorization", "Bearer crm_"+strings.ReplaceAll(uuid.NewString(), "-", "")+"_"+strings.Repeat("A", 43)), body: []byte("email\na\n"), status: 401},
		"csv basic auth":               {path: "/intake/csv", header: with(b.auth(), "Authorization", "Basic YTpi"), body: []byte("email\na\n"), status: 401},
		"csv no org header":            {path: "/intake/csv", header: with(b.auth(), "X-Org-Id", ""), body: []byte("email\na\n"), status: 401},
		"csv org not a uuid":           {path: "/intake/csv", header: with(b.auth(), "X-Org-Id", "acme"), body: []byte("email\na\n"), status: 400},
		"csv another org":              {path: "/intake/csv", header: with(b.auth(), "X-Org-Id", uuid.NewString()), body: []byte("email\na\n"), status: 403},
		"csv json":                     {path: "/intake/csv", header: with(b.auth(), "Content-Type", js), body: []byte(`{}`), status: 415},
		"csv windows-1252":             {path: "/intake/csv", header: with(b.auth(), "Content-Type", "text/csv; charset=windows-1252"), body: []byte("email\na\n"), status: 415},
		"csv empty":                    {path: "/intake/csv", header: b.auth(), status: 400},
		"csv duplicate header":         {path: "/intake/csv", header: b.auth(), body: fixture(t, "duplicate_header.csv"), status: 400},
		"csv header not utf-8":         {path: "/intake/csv", header: b.auth(), body: fixture(t, "bad_header.csv"), status: 400},
		"csv header without names":     {path: "/intake/csv", header: b.auth(), body: []byte(" , \na,b\n"), status: 400},
		"csv header unterminated":      {path: "/intake/csv", header: b.auth(), body: []byte("\"email\na@example.com\n"), status: 400},
		"csv multipart without file":   {path: "/intake/csv", header: with(b.auth(), "Content-Type", noFileCT), body: noFile, status: 400},
		"csv multipart no boundary":    {path: "/intake/csv", header: with(b.auth(), "Content-Type", "multipart/form-data"), body: noFile, status: 400},
		"csv source not a uuid":        {path: "/intake/csv?sourceId=12", header: b.auth(), body: []byte("email\na\n"), status: 400},
		"csv unknown source":           {path: "/intake/csv?sourceId=" + uuid.NewString(), header: b.auth(), body: []byte("email\na\n"), status: 404},
		"csv source of another kind":   {path: "/intake/csv?sourceId=" + wh.ID.String(), header: b.auth(), body: []byte("email\na\n"), status: 404},
		"csv declared length too long": {path: "/intake/csv", header: b.auth(), body: []byte("email\n" + strings.Repeat("a@example.com\n", 700)), status: 413},
	}
	require.GreaterOrEqual(t, len(cases), 30)
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			method := c.method
			if method == "" {
				method = http.MethodPost
			}
			requireProblem(t, b.do(t, method, c.path, c.header, c.body), c.status)
			raw, jobs := b.stored(t)
			require.Zero(t, raw, "nothing stored")
			require.Zero(t, jobs, "nothing enqueued")
		})
	}
}
