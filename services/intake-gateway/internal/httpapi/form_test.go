package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/intake"
	"example.com/crm/services/intake-gateway/internal/httpapi"
)

// formSource creates a form source that allows https://example.com and redirects to /thanks.
func (b *bundle) formSource(t *testing.T) (intake.Created, string) {
	t.Helper()
	c := b.source(t, intake.NewSource{
		Kind: intake.KindForm, Name: "contact form", RedirectURL: "https://example.com/thanks",
		AllowedOrigins: []string{"https://example.com"},
	})
	require.NotNil(t, c.PublicToken)
	return c, "/intake/form/" + *c.PublicToken
}

func TestFormSubmissions(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{})
	_, path := b.formSource(t)
	body := []byte("email=ada%40example.com&name=Ada+Lovelace&" + httpapi.HoneypotField + "=")

	// A browser asks for HTML: 303 to the redirect URL, with the CORS answer for its origin.
	r := b.do(t, http.MethodPost, path, map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
		"Origin": "https://example.com",
	}, body)
	require.Equal(t, http.StatusSeeOther, r.status, string(r.body))
	require.Equal(t, "https://example.com/thanks", r.header.Get("Location"))
	require.Equal(t, "https://example.com", r.header.Get("Access-Control-Allow-Origin"))

	// A script gets 202 JSON; JSON bodies are taken too; no Origin (a server) is fine.
	r = b.do(t, http.MethodPost, path, map[string]string{"Content-Type": "application/json", "Origin": "https://example.com"},
		[]byte(`{"email":"grace@example.com"}`))
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	require.Equal(t, "accepted", r.json(t)["status"])
	r = b.do(t, http.MethodPost, path, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body)
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))

	// Each submission is its own delivery, stored as received.
	raw, jobs := b.stored(t)
	require.Equal(t, 3, raw)
	require.Equal(t, 3, jobs)
	var n int
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT count(*) FROM lead_intake_raw WHERE body = $1 AND delivery_key LIKE 'form:%'`, body).Scan(&n))
	require.Equal(t, 2, n)
}

func TestFormHoneypot(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{})
	_, path := b.formSource(t)
	r := b.do(t, http.MethodPost, path, map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"},
		[]byte("email=bot%40spam.example&"+httpapi.HoneypotField+"=http%3A%2F%2Fspam.example"))
	require.Equal(t, http.StatusSeeOther, r.status, "a bot is answered like anyone")
	r = b.do(t, http.MethodPost, path, map[string]string{"Content-Type": "application/json"},
		[]byte(`{"email":"bot@spam.example","`+httpapi.HoneypotField+`":"yes"}`))
	require.Equal(t, http.StatusAccepted, r.status)
	require.NotEmpty(t, r.json(t)["intakeId"])
	raw, jobs := b.stored(t)
	require.Zero(t, raw)
	require.Zero(t, jobs)
}

func TestFormCORS(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{})
	_, path := b.formSource(t)

	pre := b.do(t, http.MethodOptions, path, map[string]string{
		"Origin": "https://example.com", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type",
	}, nil)
	require.Equal(t, http.StatusNoContent, pre.status, string(pre.body))
	require.Equal(t, "https://example.com", pre.header.Get("Access-Control-Allow-Origin"))
	require.Equal(t, "POST", pre.header.Get("Access-Control-Allow-Methods"))
	require.Contains(t, pre.header.Get("Access-Control-Allow-Headers"), "Content-Type")

	denied := b.do(t, http.MethodOptions, path, map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, nil)
	requireProblem(t, denied, http.StatusForbidden)
	require.Empty(t, denied.header.Get("Access-Control-Allow-Origin"))

	r := b.do(t, http.MethodPost, path, map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"},
		[]byte(`{"email":"x@example.com"}`))
	requireProblem(t, r, http.StatusForbidden)
	require.Empty(t, r.header.Get("Access-Control-Allow-Origin"))

	requireProblem(t, b.do(t, http.MethodOptions, "/intake/form/frm_unknown", map[string]string{"Origin": "https://example.com"}, nil), http.StatusNotFound)
	raw, jobs := b.stored(t)
	require.Zero(t, raw)
	require.Zero(t, jobs)
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{})
	c := b.source(t, intake.NewSource{Kind: intake.KindForm, Name: "slow", RateLimitPerMinute: 2})
	path := "/intake/form/" + *c.PublicToken
	h := map[string]string{"Content-Type": "application/json"}
	for range 2 {
		r := b.do(t, http.MethodPost, path, h, []byte(`{"email":"a@example.com"}`))
		require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	}
	r := b.do(t, http.MethodPost, path, h, []byte(`{"email":"a@example.com"}`))
	p := requireProblem(t, r, http.StatusTooManyRequests)
	require.Equal(t, "30", r.header.Get("Retry-After"), "2 a minute: the next token comes in 30 s")
	require.InDelta(t, 30, p["retryAfterSeconds"], 0)

	wh := b.source(t, intake.NewSource{Kind: intake.KindWebhook, Name: "hook", RateLimitPerMinute: 1})
	require.Equal(t, http.StatusAccepted, b.webhook(t, wh.ID, wh.SigningSecret, b.clock.now(), []byte(`{"n":1}`)).status)
	r = b.webhook(t, wh.ID, wh.SigningSecret, b.clock.now(), []byte(`{"n":2}`))
	requireProblem(t, r, http.StatusTooManyRequests)
	require.Equal(t, "60", r.header.Get("Retry-After"))
	// A forged delivery is refused for its signature and takes nothing from the allowance.
	requireProblem(t, b.webhook(t, wh.ID, "whsec_forged", b.clock.now(), []byte(`{"n":3}`)), http.StatusUnauthorized)

	raw, jobs := b.stored(t)
	require.Equal(t, 3, raw)
	require.Equal(t, 3, jobs)
}
