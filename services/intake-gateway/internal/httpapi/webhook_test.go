package httpapi_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/intake"
	"example.com/crm/services/intake-gateway/internal/httpapi"
)

func TestWebhookSignatures(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{})
	src := b.source(t, intake.NewSource{Kind: intake.KindWebhook, Name: "site"})
	now := b.clock.now()

	body := []byte(`{"email":"ada@example.com","name":"Ada Lovelace"}`)
	ok := b.webhook(t, src.ID, src.SigningSecret, now, body)
	require.Equal(t, http.StatusAccepted, ok.status, string(ok.body))
	first := ok.json(t)
	require.Equal(t, "accepted", first["status"])
	require.NotEmpty(t, first["intakeId"])

	// An exact replay inside the window: same answer, nothing more stored.
	again := b.webhook(t, src.ID, src.SigningSecret, now, body)
	require.Equal(t, http.StatusAccepted, again.status)
	require.Equal(t, first["intakeId"], again.json(t)["intakeId"])
	raw, jobs := b.stored(t)
	require.Equal(t, 1, raw)
	require.Equal(t, 1, jobs)

	// The row keeps the body byte for byte, under the webhook delivery key.
	var stored []byte
	var key string
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT body, delivery_key FROM lead_intake_raw`).Scan(&stored, &key))
	require.Equal(t, body, stored)
	wantKey, err := intake.WebhookDeliveryKey(intake.Sign(src.SigningSecret, now, body), body)
	require.NoError(t, err)
	require.Equal(t, wantKey, key)

	refused := map[string]struct {
		secret string
		at     time.Time
		status int
	}{
		"wrong secret":  {secret: "whsec_not-the-secret", at: now, status: http.StatusUnauthorized},
		"stale":         {secret: src.SigningSecret, at: now.Add(-301 * time.Second), status: http.StatusUnauthorized},
		"future":        {secret: src.SigningSecret, at: now.Add(301 * time.Second), status: http.StatusUnauthorized},
		"replayed late": {secret: src.SigningSecret, at: now.Add(-10 * time.Minute), status: http.StatusUnauthorized},
	}
	for name, tc := range refused {
		r := b.webhook(t, src.ID, tc.secret, tc.at, []byte(`{"email":"`+name+`@example.com"}`))
		requireProblem(t, r, tc.status)
	}
	// Exactly at the edge of the window in both directions is accepted.
	for i, at := range []time.Time{now.Add(-300 * time.Second), now.Add(300 * time.Second)} {
		r := b.webhook(t, src.ID, src.SigningSecret, at, []byte(`{"n":`+string(rune('1'+i))+`}`))
		require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	}
	raw, jobs = b.stored(t)
	require.Equal(t, 3, raw)
	require.Equal(t, 3, jobs)
}

func TestWebhookRotatedSecret(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{})
	src := b.source(t, intake.NewSource{Kind: intake.KindWebhook, Name: "crm"})
	grace := time.Hour
	rotated, err := b.svc.RotateSecret(t.Context(), b.org, "apikey:test", src.ID, &grace)
	require.NoError(t, err)
	require.NotEqual(t, src.SigningSecret, rotated.SigningSecret)

	// Inside the grace period both secrets sign.
	for i, secret := range []string{src.SigningSecret, rotated.SigningSecret} {
		r := b.webhook(t, src.ID, secret, b.clock.now(), []byte(`{"email":"in`+string(rune('0'+i))+`@example.com"}`))
		require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	}
	// A sender signing with both during the switch is accepted once.
	body := []byte(`{"email":"both@example.com"}`)
	at := b.clock.now()
	both := intake.Sign(src.SigningSecret, at, body) + ",v1=" + intake.Sign(rotated.SigningSecret, at, body)[len("t=1234567890,v1="):]
	r := b.do(t, http.MethodPost, "/intake/webhook/"+src.ID.String(), map[string]string{
		"Content-Type": "application/json", httpapi.SignatureHeader: both,
	}, body)
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))

	// After the grace period (moved into the past rather than waited for) the old one is refused.
	b.exec(t, `UPDATE intake_sources SET previous_secret_expires_at = now() - interval '1 hour' WHERE id = $1`, src.ID)
	requireProblem(t, b.webhook(t, src.ID, src.SigningSecret, b.clock.now(), []byte(`{"email":"after@example.com"}`)), http.StatusUnauthorized)
	r = b.webhook(t, src.ID, rotated.SigningSecret, b.clock.now(), []byte(`{"email":"new@example.com"}`))
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	raw, jobs := b.stored(t)
	require.Equal(t, 4, raw)
	require.Equal(t, 4, jobs)
}

func TestWebhookConcurrentReplays(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{})
	src := b.source(t, intake.NewSource{Kind: intake.KindWebhook, Name: "burst"})
	body := []byte(`{"email":"once@example.com","company":"Acme"}`)
	sig := intake.Sign(src.SigningSecret, b.clock.now(), body)

	const n = 50
	ids := make([]string, n)
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.srv.URL+"/intake/webhook/"+src.ID.String(), bytesReader(body))
			if err != nil {
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(httpapi.SignatureHeader, sig)
			res, err := b.client.Do(req)
			if err != nil {
				return
			}
			defer func() { _ = res.Body.Close() }()
			statuses[i] = res.StatusCode
			ids[i] = decodeID(res.Body)
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		require.Equal(t, http.StatusAccepted, statuses[i])
		require.Equal(t, ids[0], ids[i], "every copy answers with the one intake id")
	}
	raw, jobs := b.stored(t)
	require.Equal(t, 1, raw)
	require.Equal(t, 1, jobs)
}

func TestWebhookUnknownSource(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{})
	src := b.source(t, intake.NewSource{Kind: intake.KindWebhook, Name: "gone"})
	form := b.source(t, intake.NewSource{Kind: intake.KindForm, Name: "form"})
	require.NoError(t, b.svc.Delete(t.Context(), b.org, "apikey:test", src.ID))
	body := []byte(`{"email":"x@example.com"}`)
	for _, id := range []string{src.ID.String(), form.ID.String(), "not-a-uuid"} {
		r := b.do(t, http.MethodPost, "/intake/webhook/"+id, map[string]string{
			"Content-Type": "application/json", httpapi.SignatureHeader: intake.Sign(src.SigningSecret, b.clock.now(), body),
		}, body)
		p := requireProblem(t, r, http.StatusNotFound)
		require.Equal(t, "intake source not found", p["detail"])
	}
	raw, jobs := b.stored(t)
	require.Zero(t, raw)
	require.Zero(t, jobs)
}
