package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// seedAlert inserts an open alert of org for check about a new deal id and returns its id.
func (a *apiTest) seedAlert(org uuid.UUID, check string) uuid.UUID {
	a.t.Helper()
	var id uuid.UUID
	require.NoError(a.t, a.super.QueryRow(a.t.Context(), `INSERT INTO integrity_alerts (org_id, check_name, severity, entity_type, entity_id, detail)
VALUES ($1, $2, 'critical', 'deal', $3, '{"dealId": "x"}') RETURNING id`, org, check, uuid.New()).Scan(&id))
	return id
}

// TestResolveIntegrityAlert proves POST /observability/integrity-alerts/{id}/resolve: an open
// alert is answered resolved and emits system.integrity_alert_resolved by the caller's key; a
// second resolve is 409 and changes nothing, while a replay of the first under its
// Idempotency-Key is its first answer again; another org's alert and an unknown one are 404 and
// stay open; a malformed id is 400. The list's checkName filter keeps one check's alerts.
func TestResolveIntegrityAlert(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	other, _ := a.newOrg("other")
	mine, second := a.seedAlert(a.org, "deal_won_without_invoice"), a.seedAlert(a.org, "deal_won_without_contract")
	theirs := a.seedAlert(other, "deal_won_without_invoice")
	var keyID uuid.UUID
	require.NoError(t, a.super.QueryRow(t.Context(), `SELECT id FROM api_keys WHERE org_id = $1`, a.org).Scan(&keyID))
	resolve := func(id string, opts ...reqOpt) response {
		return a.do(http.MethodPost, "/observability/integrity-alerts/"+id+"/resolve", nil, opts...)
	}

	r := resolve(mine.String())
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var got obsAlert
	r.json(t, &got)
	require.Equal(t, mine, got.ID)
	require.Equal(t, "deal_won_without_invoice", got.CheckName)
	require.NotNil(t, got.ResolvedAt)
	require.JSONEq(t, `{"dealId": "x"}`, string(got.Detail))
	require.Equal(t, 1, a.count(`SELECT count(*) FROM events WHERE org_id = $1 AND type = 'system.integrity_alert_resolved'
	AND entity_id = $2 AND actor = $3 AND payload->>'by' = 'hand'`, a.org, mine, "apikey:"+keyID.String()))

	r = resolve(mine.String())
	require.Equal(t, http.StatusConflict, r.Status, string(r.Body))
	require.Equal(t, "conflict", r.problem(t).Code)
	require.Equal(t, 1, a.count(`SELECT count(*) FROM integrity_alerts WHERE id = $1 AND resolved_at = $2`, mine, *got.ResolvedAt))
	require.Equal(t, 1, a.count(`SELECT count(*) FROM events WHERE type = 'system.integrity_alert_resolved'`))

	first := resolve(second.String(), withHeader("Idempotency-Key", "resolve-second"))
	require.Equal(t, http.StatusOK, first.Status, string(first.Body))
	replay := resolve(second.String(), withHeader("Idempotency-Key", "resolve-second"))
	require.Equal(t, http.StatusOK, replay.Status, string(replay.Body))
	require.Equal(t, "true", replay.Header.Get("Idempotent-Replayed"))
	require.JSONEq(t, string(first.Body), string(replay.Body))
	require.Equal(t, http.StatusConflict, resolve(second.String()).Status)

	for _, id := range []uuid.UUID{theirs, uuid.New()} {
		r := resolve(id.String())
		require.Equal(t, http.StatusNotFound, r.Status, "alert %s: %s", id, r.Body)
	}
	require.Equal(t, 1, a.count(`SELECT count(*) FROM integrity_alerts WHERE id = $1 AND resolved_at IS NULL`, theirs))
	r = resolve("not-a-uuid")
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Equal(t, "id", r.problem(t).Errors[0].Field)

	a.seedAlert(a.org, "deal_won_without_invoice")
	only := walkList[obsAlert](a, "/observability/integrity-alerts?checkName=deal_won_without_invoice", 1)
	require.Len(t, only, 2)
	for _, x := range only {
		require.Equal(t, "deal_won_without_invoice", x.CheckName)
	}
	require.Len(t, walkList[obsAlert](a, "/observability/integrity-alerts?checkName=deal_won_without_invoice&open=true", 5), 1)
	r = a.do(http.MethodGet, "/observability/integrity-alerts?checkName="+strings.Repeat("x", 101), nil)
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Equal(t, "checkName", r.problem(t).Errors[0].Field)
}
