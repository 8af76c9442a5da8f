package enrichment_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/enrichment"
)

func TestRegistrable(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"https://www.shop.acme.co.uk/x?y": "acme.co.uk",
		"ada@mail.acme.co.uk":             "acme.co.uk",
		"ACME.com.":                       "acme.com",
		"http://acme.com:8080/":           "acme.com",
		"//foo.bar.example.org":           "example.org",
		"user@foo.github.io":              "foo.github.io",
		"co.uk":                           "",
		"localhost":                       "",
		"127.0.0.1":                       "",
		"https://[::1]/":                  "",
		"":                                "",
		"not a host":                      "",
		"-bad-.com":                       "",
	}
	for in, want := range cases {
		require.Equal(t, want, enrichment.Registrable(in), "Registrable(%q)", in)
	}
}

func TestIsFreeMail(t *testing.T) {
	t.Parallel()
	for _, d := range []string{"gmail.com", "yahoo.co.uk", "yahoo.de", "hotmail.fr", "outlook.com", "live.com",
		"icloud.com", "proton.me", "gmx.net", "gmx.de", "web.de", "yandex.ru", "mail.ru", "aol.com", "zoho.com",
		"mx.gmail.com"} {
		require.True(t, enrichment.IsFreeMail(d), d)
	}
	for _, d := range []string{"acme.com", "yahoo-ventures.com", "mygmail.com", "", "co.uk"} {
		require.False(t, enrichment.IsFreeMail(d), d)
	}
}

func TestLocal(t *testing.T) {
	t.Parallel()
	r := enrichment.Local(enrichment.Input{Email: "ada@gmail.com", Website: "https://blog.acme.co.uk"})
	require.Equal(t, enrichment.Result{Domain: "acme.co.uk", EmailDomain: "gmail.com", FreeMail: true, Source: "local"}, r)

	r = enrichment.Local(enrichment.Input{Email: "ada@gmail.com"})
	require.Empty(t, r.Domain, "a free-mail domain is not the company's")
	require.True(t, r.FreeMail)

	r = enrichment.Local(enrichment.Input{Email: "ada@eu.acme.de"})
	require.Equal(t, "acme.de", r.Domain)
	require.False(t, r.FreeMail)

	r = enrichment.Local(enrichment.Input{Domain: "sub.acme.io", Email: "x@yahoo.com"})
	require.Equal(t, "acme.io", r.Domain)
}

func TestRevenueBand(t *testing.T) {
	t.Parallel()
	cases := map[int64]string{0: "<1M", 999_999: "<1M", 1_000_000: "1M-10M", 49_999_999: "10M-50M",
		50_000_000: "50M-250M", 250_000_000: "250M+"}
	for usd, want := range cases {
		require.Equal(t, want, enrichment.RevenueBand(usd), usd)
	}
}

// fakeAPI serves the documented contract: answer decides the status and body per call.
type fakeAPI struct {
	srv   *httptest.Server
	calls atomic.Int32
}

func newFakeAPI(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) *fakeAPI {
	t.Helper()
	f := &fakeAPI{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		answer(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func reply(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func TestClientContract(t *testing.T) {
	t.Parallel()
	in := enrichment.Input{Email: "ada@acme.co.uk"}

	t.Run("found", func(t *testing.T) {
		t.Parallel()
		var gotQuery, gotAuth string
		f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
			gotQuery, gotAuth = r.URL.Query().Get("domain"), r.Header.Get("Authorization")
			reply(200, `{"company":"Acme Ltd","employees":120,"industry":"SaaS","country":"gb","extra":[1]}`)(w, r)
		})
		c, err := enrichment.New(enrichment.Config{URL: f.srv.URL + "/v1/company", APIKey: "k1"})
		require.NoError(t, err)
		r, err := c.Enrich(t.Context(), in)
		require.NoError(t, err)
		require.Equal(t, "acme.co.uk", gotQuery)
		require.Equal(t, "Bearer k1", gotAuth)
		require.True(t, r.Found)
		require.Equal(t, "api", r.Source)
		require.Equal(t, "Acme Ltd", r.Company.Name)
		require.Equal(t, 120, *r.Company.Employees)
		require.Equal(t, "GB", r.Company.Country)
		require.Equal(t, "10M-50M", r.RevenueBand, "120 employees * 150k = 18M")
		require.True(t, r.RevenueEstimated)
	})

	t.Run("revenue wins over employees", func(t *testing.T) {
		t.Parallel()
		f := newFakeAPI(t, reply(200, `{"employees":5,"revenueUsd":300000000}`))
		c, err := enrichment.New(enrichment.Config{URL: f.srv.URL})
		require.NoError(t, err)
		r, err := c.Enrich(t.Context(), in)
		require.NoError(t, err)
		require.Equal(t, "250M+", r.RevenueBand)
		require.False(t, r.RevenueEstimated)
	})

	t.Run("404 is unknown, not an error", func(t *testing.T) {
		t.Parallel()
		f := newFakeAPI(t, reply(404, `{"error":"unknown"}`))
		c, err := enrichment.New(enrichment.Config{URL: f.srv.URL})
		require.NoError(t, err)
		r, err := c.Enrich(t.Context(), in)
		require.NoError(t, err)
		require.False(t, r.Found)
		require.Nil(t, r.Company)
		require.Equal(t, "acme.co.uk", r.Domain)
	})

	t.Run("free-mail only is not looked up", func(t *testing.T) {
		t.Parallel()
		f := newFakeAPI(t, reply(500, ``))
		c, err := enrichment.New(enrichment.Config{URL: f.srv.URL})
		require.NoError(t, err)
		r, err := c.Enrich(t.Context(), enrichment.Input{Email: "ada@gmail.com"})
		require.NoError(t, err)
		require.True(t, r.FreeMail)
		require.Equal(t, "local", r.Source)
		require.Zero(t, f.calls.Load())
	})

	for name, tc := range map[string]struct {
		status    int
		body      string
		permanent bool
	}{
		"401":              {401, `{}`, true},
		"400":              {400, `{}`, true},
		"422":              {422, `{}`, true},
		"429":              {429, `{}`, false},
		"500":              {500, `oops`, false},
		"503":              {503, ``, false},
		"not json":         {200, `<html>`, true},
		"array":            {200, `[1]`, true},
		"employees string": {200, `{"employees":"many"}`, true},
		"employees float":  {200, `{"employees":1.5}`, true},
		"employees <0":     {200, `{"employees":-1}`, true},
		"revenue huge":     {200, `{"revenueUsd":1e20}`, true},
		"country long":     {200, `{"country":"GBR"}`, true},
		"company empty":    {200, `{"company":"  "}`, true},
		"company control":  {200, `{"company":"a\u0000b"}`, true},
		"company number":   {200, `{"company":42}`, true},
		"trailing":         {200, `{} {}`, true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t, reply(tc.status, tc.body))
			c, err := enrichment.New(enrichment.Config{URL: f.srv.URL})
			require.NoError(t, err)
			_, err = c.Enrich(t.Context(), in)
			require.Error(t, err)
			require.Equal(t, tc.permanent, enrichment.IsPermanent(err), "%v", err)
		})
	}

	t.Run("too large", func(t *testing.T) {
		t.Parallel()
		big := `{"company":"` + string(make([]byte, 70<<10)) + `"}`
		f := newFakeAPI(t, reply(200, big))
		c, err := enrichment.New(enrichment.Config{URL: f.srv.URL})
		require.NoError(t, err)
		_, err = c.Enrich(t.Context(), in)
		require.True(t, enrichment.IsPermanent(err), "%v", err)
	})

	t.Run("timeout is retryable", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		t.Cleanup(func() { close(release) })
		c, err := enrichment.New(enrichment.Config{URL: f.srv.URL, Timeout: 50 * time.Millisecond})
		require.NoError(t, err)
		_, err = c.Enrich(t.Context(), in)
		require.Error(t, err)
		require.False(t, enrichment.IsPermanent(err))
	})
}

func TestNewEnricher(t *testing.T) {
	t.Parallel()
	e, err := enrichment.NewEnricher(enrichment.Config{})
	require.NoError(t, err)
	require.IsType(t, enrichment.LocalEnricher{}, e)
	_, err = enrichment.NewEnricher(enrichment.Config{URL: "ftp://x"})
	require.Error(t, err)
}
