package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// asOf is path?asOf=at.
func asOf(path string, at time.Time) string {
	return path + "?asOf=" + url.QueryEscape(at.UTC().Format(time.RFC3339Nano))
}

// stamped is the times of a record as GET shows them.
type stamped struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// TestGetAsOf proves GET /leads/{id}?asOf= and GET /deals/{id}?asOf= answer each record exactly
// as GET answered it at that instant (the body byte for byte), 404 before it existed and after
// the lead's deletion, 404 for another org's record, 400 for an unparsable instant, and 422 for
// an instant in the future and for a lead whose history predates the row records.
func TestGetAsOf(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	get := func(path string) response {
		r := a.do(http.MethodGet, path, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		return r
	}
	stamp := func(r response) stamped {
		var s stamped
		r.json(t, &s)
		return s
	}

	r := a.do(http.MethodPost, "/leads", map[string]any{"name": "Ada Lovelace", "email": "ada@analytical.example", "company": "Analytical"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	leadPath := "/leads/" + stamp(r).ID
	created := get(leadPath)
	require.Equal(t, http.StatusOK, a.do(http.MethodPatch, leadPath, map[string]any{"company": "Engines Ltd", "priority": "high"}).Status)
	patched := get(leadPath)
	var versions []response
	for _, st := range []string{"qualified", "contacted", "call_booked"} {
		require.Equal(t, http.StatusOK, a.do(http.MethodPost, leadPath+"/stage", map[string]any{"stage": st}).Status)
		versions = append(versions, get(leadPath))
	}
	r = a.do(http.MethodPost, "/deals", map[string]any{"leadId": stamp(created).ID, "title": "Engines", "dealValue": 123456, "currency": "EUR"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	dealPath := "/deals/" + stamp(r).ID
	dealCreated := get(dealPath)
	converted := get(leadPath)
	require.Equal(t, http.StatusOK, a.do(http.MethodPatch, dealPath, map[string]any{"dealValue": 99999, "probability": 0.3333}).Status)
	dealPatched := get(dealPath)
	require.Equal(t, http.StatusOK, a.do(http.MethodPost, dealPath+"/stage", map[string]any{"stage": "won"}).Status)
	dealWon := get(dealPath)

	for _, want := range append([]response{created, patched, converted}, versions...) {
		require.JSONEq(t, string(want.Body), string(get(asOf(leadPath, stamp(want).UpdatedAt)).Body))
	}
	for _, want := range []response{dealCreated, dealPatched, dealWon} {
		require.JSONEq(t, string(want.Body), string(get(asOf(dealPath, stamp(want).UpdatedAt)).Body))
	}
	// Between two changes, the earlier one.
	require.JSONEq(t, string(patched.Body), string(get(asOf(leadPath, stamp(versions[0]).UpdatedAt.Add(-time.Microsecond))).Body))

	notFound := func(path string, opts ...reqOpt) {
		t.Helper()
		r := a.do(http.MethodGet, path, nil, opts...)
		require.Equal(t, http.StatusNotFound, r.Status, string(r.Body))
	}
	notFound(asOf(leadPath, stamp(created).CreatedAt.Add(-time.Microsecond)))
	notFound(asOf(dealPath, stamp(dealCreated).CreatedAt.Add(-time.Microsecond)))
	notFound(asOf("/leads/"+uuid.NewString(), time.Now()))

	// Another org sees neither, at any instant.
	other, key := a.newOrg("beta")
	notFound(asOf(leadPath, stamp(converted).UpdatedAt), asOrg(other, key))
	notFound(asOf(dealPath, stamp(dealWon).UpdatedAt), asOrg(other, key))

	// A deleted lead: 404 as of now, itself as of before.
	require.Equal(t, http.StatusNoContent, a.do(http.MethodDelete, leadPath, nil).Status)
	notFound(asOf(leadPath, time.Now()))
	require.JSONEq(t, string(converted.Body), string(get(asOf(leadPath, stamp(converted).UpdatedAt)).Body))

	for _, bad := range []string{"yesterday", "2026-13-01T00:00:00Z", "2026-01-01", ""} {
		r := a.do(http.MethodGet, leadPath+"?asOf="+url.QueryEscape(bad), nil)
		require.Equal(t, http.StatusBadRequest, r.Status, bad)
		require.Equal(t, "asOf", r.problem(t).Errors[0].Field)
		require.Equal(t, http.StatusBadRequest, a.do(http.MethodGet, dealPath+"?asOf="+url.QueryEscape(bad), nil).Status, bad)
	}
	for _, path := range []string{leadPath, dealPath} {
		r := a.do(http.MethodGet, asOf(path, time.Now().Add(time.Hour)), nil)
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Body))
		require.Equal(t, "asOf", r.problem(t).Errors[0].Field)
	}

	// A lead whose lead.created predates the row records (written as the code before them wrote
	// it) cannot be rebuilt: 422 with the reason, at any instant after its creation.
	var legacy uuid.UUID
	var legacyAt time.Time
	ctx := t.Context()
	require.NoError(t, a.super.QueryRow(ctx, `INSERT INTO leads (org_id, email, fingerprint) VALUES ($1, 'old@past.example', 'email:old@past.example')
RETURNING id, created_at`, a.org).Scan(&legacy, &legacyAt))
	old, err := json.Marshal(map[string]any{"via": "api", "lead": map[string]any{"id": legacy, "email": "old@past.example"}})
	require.NoError(t, err)
	_, err = a.super.Exec(ctx, `INSERT INTO events (org_id, type, entity_type, entity_id, payload, idempotency_key)
VALUES ($1, 'lead.created', 'lead', $2, $3, $4)`, a.org, legacy, old, "lead.created:"+legacy.String())
	require.NoError(t, err)
	r = a.do(http.MethodGet, asOf("/leads/"+legacy.String(), time.Now()), nil)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Body))
	require.Contains(t, r.problem(t).Detail, "cannot be rebuilt")
	get("/leads/" + legacy.String()) // the lead as it is now still reads
}
