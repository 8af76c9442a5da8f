package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// sourceJSON is an intake source as the API answers it.
type sourceJSON struct {
	ID                      uuid.UUID         `json:"id"`
	Kind                    string            `json:"kind"`
	Name                    string            `json:"name"`
	PublicToken             *string           `json:"publicToken"`
	RedirectURL             *string           `json:"redirectUrl"`
	AllowedOrigins          []string          `json:"allowedOrigins"`
	FieldMapping            map[string]string `json:"fieldMapping"`
	RateLimitPerMinute      int               `json:"rateLimitPerMinute"`
	HasPreviousSecret       bool              `json:"hasPreviousSecret"`
	PreviousSecretExpiresAt *time.Time        `json:"previousSecretExpiresAt"`
	CreatedAt               time.Time         `json:"createdAt"`
	UpdatedAt               time.Time         `json:"updatedAt"`
	SigningSecret           *string           `json:"signingSecret"`
}

// sourcesAPI is the harness with helpers for the intake source routes.
type sourcesAPI struct{ *apiTest }

func newSourcesAPI(t *testing.T) sourcesAPI { return sourcesAPI{newAPI(t)} }

// create posts body to /intake-sources, requires a 201 and returns the answer.
func (a sourcesAPI) create(body any, opts ...reqOpt) sourceJSON {
	a.t.Helper()
	r := a.do(http.MethodPost, "/intake-sources", body, opts...)
	require.Equal(a.t, http.StatusCreated, r.Status, string(r.Body))
	var s sourceJSON
	r.json(a.t, &s)
	require.Equal(a.t, "/intake-sources/"+s.ID.String(), r.Header.Get("Location"))
	return s
}

// requireHidden requires that no secret (of secrets, or any "whsec_" one) is in body.
func requireHidden(t *testing.T, body []byte, what string, secrets ...string) {
	t.Helper()
	require.NotContains(t, string(body), "whsec_", what)
	require.NotContains(t, string(body), "signingSecret", what)
	for _, s := range secrets {
		require.NotContains(t, string(body), s, what)
	}
}

// TestIntakeSourcesCRUD proves the life of each kind of source through the API: 201 with
// Location and the secret (webhook) or the token (form) on create, the same source at
// Location without the secret, the list, a patch, a delete (204) after which the source is 404
// and the name free, and an event per change.
func TestIntakeSourcesCRUD(t *testing.T) {
	t.Parallel()
	a := newSourcesAPI(t)

	wh := a.create(map[string]any{"kind": "webhook", "name": "Zapier", "fieldMapping": map[string]any{"e-mail": "email", "Full Name": "name"}})
	require.Equal(t, "webhook", wh.Kind)
	require.NotNil(t, wh.SigningSecret)
	require.True(t, strings.HasPrefix(*wh.SigningSecret, "whsec_"))
	require.Nil(t, wh.PublicToken)
	require.Equal(t, map[string]string{"e-mail": "email", "Full Name": "name"}, wh.FieldMapping)
	require.Equal(t, 600, wh.RateLimitPerMinute)
	require.Equal(t, []string{}, wh.AllowedOrigins)
	require.Equal(t, *wh.SigningSecret, func() string {
		var s string
		require.NoError(t, a.super.QueryRow(t.Context(), `SELECT signing_secret FROM intake_sources WHERE id = $1`, wh.ID).Scan(&s))
		return s
	}(), "the secret shown is the one stored")

	form := a.create(map[string]any{
		"kind": "form", "name": "Website", "redirectUrl": "https://www.example.com/thanks",
		"allowedOrigins": []string{"https://WWW.example.com:443"}, "rateLimitPerMinute": 60,
	})
	require.Nil(t, form.SigningSecret)
	require.NotNil(t, form.PublicToken)
	require.Equal(t, []string{"https://www.example.com"}, form.AllowedOrigins, "normalised as browsers send it")
	csv := a.create(map[string]any{"kind": "csv", "name": "Fair export"})
	require.Nil(t, csv.SigningSecret)
	require.Nil(t, csv.PublicToken)

	r := a.do(http.MethodGet, "/intake-sources/"+wh.ID.String(), nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	requireHidden(t, r.Body, "GET", *wh.SigningSecret)
	var got sourceJSON
	r.json(t, &got)
	require.Equal(t, wh.Name, got.Name)
	require.Equal(t, wh.CreatedAt, got.CreatedAt)

	r = a.do(http.MethodGet, "/intake-sources/"+form.ID.String(), nil)
	require.Equal(t, http.StatusOK, r.Status)
	r.json(t, &got)
	require.Equal(t, *form.PublicToken, *got.PublicToken, "the public token is always shown")

	r = a.do(http.MethodPatch, "/intake-sources/"+form.ID.String(), map[string]any{
		"name": "Website form", "redirectUrl": "", "allowedOrigins": []string{}, "fieldMapping": map[string]any{"mail": "email"},
		"rateLimitPerMinute": 30, "kind": "form",
	})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	got = sourceJSON{}
	r.json(t, &got)
	require.Equal(t, "Website form", got.Name)
	require.Nil(t, got.RedirectURL)
	require.Empty(t, got.AllowedOrigins)
	require.Equal(t, map[string]string{"mail": "email"}, got.FieldMapping)
	require.Equal(t, 30, got.RateLimitPerMinute)

	var page struct {
		Data       []sourceJSON `json:"data"`
		NextCursor *string      `json:"nextCursor"`
	}
	r = a.do(http.MethodGet, "/intake-sources", nil)
	require.Equal(t, http.StatusOK, r.Status)
	requireHidden(t, r.Body, "list", *wh.SigningSecret)
	r.json(t, &page)
	require.Len(t, page.Data, 3)
	require.Nil(t, page.NextCursor)
	require.Equal(t, []uuid.UUID{csv.ID, form.ID, wh.ID}, []uuid.UUID{page.Data[0].ID, page.Data[1].ID, page.Data[2].ID}, "newest first")
	r = a.do(http.MethodGet, "/intake-sources?kind=form", nil)
	page.Data = nil
	r.json(t, &page)
	require.Len(t, page.Data, 1)
	require.Equal(t, form.ID, page.Data[0].ID)
	r = a.do(http.MethodGet, "/intake-sources?limit=2", nil)
	r.json(t, &page)
	require.Len(t, page.Data, 2)
	require.NotNil(t, page.NextCursor)
	r = a.do(http.MethodGet, "/intake-sources?limit=2&cursor="+*page.NextCursor, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.json(t, &page)
	require.Len(t, page.Data, 1)
	require.Equal(t, wh.ID, page.Data[0].ID)

	require.Equal(t, http.StatusNoContent, a.do(http.MethodDelete, "/intake-sources/"+wh.ID.String(), nil).Status)
	require.Equal(t, http.StatusNotFound, a.do(http.MethodGet, "/intake-sources/"+wh.ID.String(), nil).Status)
	require.Equal(t, http.StatusNotFound, a.do(http.MethodDelete, "/intake-sources/"+wh.ID.String(), nil).Status)
	require.Equal(t, http.StatusNotFound, a.do(http.MethodPatch, "/intake-sources/"+wh.ID.String(), map[string]any{"name": "x"}).Status)
	a.create(map[string]any{"kind": "webhook", "name": "Zapier"})

	for typ, n := range map[string]int{"intake_source.created": 4, "intake_source.updated": 1, "intake_source.deleted": 1} {
		require.Equal(t, n, a.count(`SELECT count(*) FROM events WHERE org_id = $1 AND type = $2 AND entity_type = 'intake_source'`, a.org, typ), typ)
	}
	require.Equal(t, 1, a.count(`SELECT count(*) FROM events WHERE type = 'intake_source.created' AND entity_id = $1 AND actor LIKE 'apikey:%'`, wh.ID))
}

// TestIntakeSourceSecretShownOnce proves the signing secret appears in the create answer and
// nowhere else the API shows: not in GET, the list, a PATCH answer, the source's events (as
// the observability route lists them) nor a later rotation's answer (which has its own).
func TestIntakeSourceSecretShownOnce(t *testing.T) {
	t.Parallel()
	a := newSourcesAPI(t)
	wh := a.create(map[string]any{"kind": "webhook", "name": "Zapier"})
	secret := *wh.SigningSecret
	id := wh.ID.String()

	for _, r := range []response{
		a.do(http.MethodGet, "/intake-sources/"+id, nil),
		a.do(http.MethodGet, "/intake-sources", nil),
		a.do(http.MethodGet, "/intake-sources?kind=webhook&limit=1", nil),
		a.do(http.MethodPatch, "/intake-sources/"+id, map[string]any{"name": "Zapier 2"}),
		a.do(http.MethodGet, "/observability/events?entityType=intake_source&entityId="+id, nil),
	} {
		require.Less(t, r.Status, 300, string(r.Body))
		requireHidden(t, r.Body, "after create", secret)
	}
	r := a.do(http.MethodPost, "/intake-sources/"+id+"/rotate-secret", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.NotContains(t, string(r.Body), secret, "the rotation shows the new secret only")
	var rot sourceJSON
	r.json(t, &rot)
	for _, path := range []string{"/intake-sources/" + id, "/intake-sources", "/observability/events?entityType=intake_source"} {
		r := a.do(http.MethodGet, path, nil)
		require.Equal(t, http.StatusOK, r.Status)
		requireHidden(t, r.Body, "after rotation: "+path, secret, *rot.SigningSecret)
	}
}

// TestIntakeSourceRotateSecret proves POST /intake-sources/{id}/rotate-secret: a new secret with
// the old one's expiry 24 h ahead by default, or graceSeconds ahead, or none with 0; a GET then
// says hasPreviousSecret without showing either secret; refused grace periods and bodies write
// nothing; a form source is 409; an Idempotency-Key replay answers the first rotation again and
// rotates nothing.
func TestIntakeSourceRotateSecret(t *testing.T) {
	t.Parallel()
	a := newSourcesAPI(t)
	wh := a.create(map[string]any{"kind": "webhook", "name": "Zapier"})
	path := "/intake-sources/" + wh.ID.String() + "/rotate-secret"
	stored := func() string {
		t.Helper()
		var s string
		require.NoError(t, a.super.QueryRow(t.Context(), `SELECT signing_secret FROM intake_sources WHERE id = $1`, wh.ID).Scan(&s))
		return s
	}
	rotate := func(body any, opts ...reqOpt) sourceJSON {
		t.Helper()
		r := a.do(http.MethodPost, path, body, opts...)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var s sourceJSON
		r.json(t, &s)
		require.NotNil(t, s.SigningSecret)
		require.Equal(t, *s.SigningSecret, stored())
		return s
	}

	first := rotate(nil)
	require.NotEqual(t, *wh.SigningSecret, *first.SigningSecret)
	require.True(t, first.HasPreviousSecret)
	require.NotNil(t, first.PreviousSecretExpiresAt)
	require.WithinDuration(t, time.Now().Add(24*time.Hour), *first.PreviousSecretExpiresAt, time.Minute)
	r := a.do(http.MethodGet, "/intake-sources/"+wh.ID.String(), nil)
	var got sourceJSON
	r.json(t, &got)
	require.True(t, got.HasPreviousSecret)
	require.Equal(t, first.PreviousSecretExpiresAt, got.PreviousSecretExpiresAt)
	requireHidden(t, r.Body, "GET after rotation", *wh.SigningSecret, *first.SigningSecret)

	hour := rotate(map[string]any{"graceSeconds": 3600})
	require.WithinDuration(t, time.Now().Add(time.Hour), *hour.PreviousSecretExpiresAt, time.Minute)
	none := rotate(map[string]any{"graceSeconds": 0})
	require.False(t, none.HasPreviousSecret)
	require.Nil(t, none.PreviousSecretExpiresAt)
	require.Equal(t, 3, a.count(`SELECT count(*) FROM events WHERE type = 'intake_source.secret_rotated' AND entity_id = $1`, wh.ID))

	for name, tc := range map[string]struct {
		body   any
		opts   []reqOpt
		status int
	}{
		"negative grace":  {map[string]any{"graceSeconds": -1}, nil, http.StatusUnprocessableEntity},
		"grace too long":  {map[string]any{"graceSeconds": 604801}, nil, http.StatusUnprocessableEntity},
		"grace as string": {`{"graceSeconds": "60"}`, nil, http.StatusBadRequest},
		"grace fraction":  {`{"graceSeconds": 1.5}`, nil, http.StatusBadRequest},
		"unknown member":  {map[string]any{"grace": 60}, nil, http.StatusBadRequest},
		"not JSON":        {`graceSeconds=60`, nil, http.StatusBadRequest},
		"not a JSON type": {`{"graceSeconds": 60}`, []reqOpt{withHeader("Content-Type", "text/plain")}, http.StatusUnsupportedMediaType},
	} {
		r := a.do(http.MethodPost, path, tc.body, tc.opts...)
		require.Equal(t, tc.status, r.Status, "%s: %s", name, r.Body)
	}
	require.Equal(t, *none.SigningSecret, stored(), "no refused rotation changed the secret")

	replayed := rotate(map[string]any{"graceSeconds": 60}, withHeader("Idempotency-Key", "rotate-1"))
	r = a.do(http.MethodPost, path, map[string]any{"graceSeconds": 60}, withHeader("Idempotency-Key", "rotate-1"))
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, "true", r.Header.Get("Idempotent-Replayed"))
	var again sourceJSON
	r.json(t, &again)
	require.Equal(t, *replayed.SigningSecret, *again.SigningSecret)
	require.Equal(t, *replayed.SigningSecret, stored(), "the replay rotated nothing")

	form := a.create(map[string]any{"kind": "form", "name": "Website"})
	r = a.do(http.MethodPost, "/intake-sources/"+form.ID.String()+"/rotate-secret", nil)
	require.Equal(t, http.StatusConflict, r.Status, string(r.Body))
	require.Equal(t, http.StatusNotFound, a.do(http.MethodPost, "/intake-sources/"+uuid.NewString()+"/rotate-secret", nil).Status)
}

// TestIntakeSourcesOtherOrg proves another org's source does not exist for the caller: GET,
// PATCH, DELETE and rotate-secret are 404 and change nothing, and the list leaves it out.
func TestIntakeSourcesOtherOrg(t *testing.T) {
	t.Parallel()
	a := newSourcesAPI(t)
	otherOrg, otherKey := a.newOrg("globex")
	theirs := a.create(map[string]any{"kind": "webhook", "name": "Theirs"}, asOrg(otherOrg, otherKey))
	mine := a.create(map[string]any{"kind": "webhook", "name": "Mine"})
	path := "/intake-sources/" + theirs.ID.String()

	for _, r := range []response{
		a.do(http.MethodGet, path, nil),
		a.do(http.MethodPatch, path, map[string]any{"name": "stolen"}),
		a.do(http.MethodDelete, path, nil),
		a.do(http.MethodPost, path+"/rotate-secret", nil),
	} {
		require.Equal(t, http.StatusNotFound, r.Status, string(r.Body))
		require.Equal(t, "not_found", r.problem(t).Code)
	}
	var page struct {
		Data []sourceJSON `json:"data"`
	}
	a.do(http.MethodGet, "/intake-sources", nil).json(t, &page)
	require.Len(t, page.Data, 1)
	require.Equal(t, mine.ID, page.Data[0].ID)
	require.Equal(t, 1, a.count(`SELECT count(*) FROM intake_sources WHERE id = $1 AND name = 'Theirs' AND deleted_at IS NULL
		AND signing_secret = $2`, theirs.ID, *theirs.SigningSecret), "untouched")
	require.Zero(t, a.count(`SELECT count(*) FROM events WHERE entity_id = $1 AND type <> 'intake_source.created'`, theirs.ID))
}

// TestIntakeSourcesRefuseBadInput proves malformed and rule-breaking requests are 4xx problems
// that name the field, and that nothing is written for them.
func TestIntakeSourcesRefuseBadInput(t *testing.T) {
	t.Parallel()
	a := newSourcesAPI(t)
	form := func(extra map[string]any) map[string]any {
		b := map[string]any{"kind": "form", "name": "Website"}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	origins := make([]string, 21)
	for i := range origins {
		origins[i] = "https://o" + strings.Repeat("x", i) + ".example.com"
	}
	cases := []struct {
		name   string
		body   any
		opts   []reqOpt
		status int
		field  string
	}{
		{"not JSON", `{"kind": "form",`, nil, http.StatusBadRequest, ""},
		{"trailing data", `{"kind": "form", "name": "x"} {}`, nil, http.StatusBadRequest, ""},
		{"duplicate member", `{"kind": "form", "name": "x", "name": "y"}`, nil, http.StatusBadRequest, ""},
		{"unknown member", form(map[string]any{"signingSecret": "whsec_mine"}), nil, http.StatusBadRequest, "signingSecret"},
		{"public token given", form(map[string]any{"publicToken": "frm_mine"}), nil, http.StatusBadRequest, "publicToken"},
		{"wrong type", form(map[string]any{"rateLimitPerMinute": "60"}), nil, http.StatusBadRequest, "rateLimitPerMinute"},
		{"mapping value not a string", form(map[string]any{"fieldMapping": map[string]any{"a": 1}}), nil, http.StatusBadRequest, ""},
		{"text/plain", `{"kind": "form", "name": "x"}`, []reqOpt{withHeader("Content-Type", "text/plain")}, http.StatusUnsupportedMediaType, ""},
		{"no kind", map[string]any{"name": "x"}, nil, http.StatusUnprocessableEntity, "kind"},
		{"unknown kind", map[string]any{"kind": "email", "name": "x"}, nil, http.StatusUnprocessableEntity, "kind"},
		{"no name", map[string]any{"kind": "form"}, nil, http.StatusUnprocessableEntity, "name"},
		{"blank name", map[string]any{"kind": "form", "name": "   "}, nil, http.StatusUnprocessableEntity, "name"},
		{"long name", map[string]any{"kind": "form", "name": strings.Repeat("n", 201)}, nil, http.StatusUnprocessableEntity, "name"},
		{"http redirect", form(map[string]any{"redirectUrl": "http://example.com/thanks"}), nil, http.StatusUnprocessableEntity, "redirectUrl"},
		{"javascript redirect", form(map[string]any{"redirectUrl": "javascript:alert(1)"}), nil, http.StatusUnprocessableEntity, "redirectUrl"},
		{"redirect on a webhook", map[string]any{"kind": "webhook", "name": "w", "redirectUrl": "https://example.com"}, nil, http.StatusUnprocessableEntity, "redirectUrl"},
		{"origin with path", form(map[string]any{"allowedOrigins": []string{"https://example.com/form"}}), nil, http.StatusUnprocessableEntity, "allowedOrigins[0]"},
		{"wildcard origin", form(map[string]any{"allowedOrigins": []string{"*"}}), nil, http.StatusUnprocessableEntity, "allowedOrigins[0]"},
		{"too many origins", form(map[string]any{"allowedOrigins": origins}), nil, http.StatusUnprocessableEntity, "allowedOrigins"},
		{"origins on a csv", map[string]any{"kind": "csv", "name": "c", "allowedOrigins": []string{"https://example.com"}}, nil, http.StatusUnprocessableEntity, "allowedOrigins"},
		{"mapping to no lead field", form(map[string]any{"fieldMapping": map[string]any{"mail": "e-mail"}}), nil, http.StatusUnprocessableEntity, "fieldMapping.mail"},
		{"mapping to stage", form(map[string]any{"fieldMapping": map[string]any{"s": "stage"}}), nil, http.StatusUnprocessableEntity, "fieldMapping.s"},
		{"rate limit 0", form(map[string]any{"rateLimitPerMinute": 0}), nil, http.StatusUnprocessableEntity, "rateLimitPerMinute"},
		{"rate limit too high", form(map[string]any{"rateLimitPerMinute": 100001}), nil, http.StatusUnprocessableEntity, "rateLimitPerMinute"},
	}
	for _, tc := range cases {
		r := a.do(http.MethodPost, "/intake-sources", tc.body, tc.opts...)
		require.Equal(t, tc.status, r.Status, "%s: %s", tc.name, r.Body)
		if tc.field != "" {
			var fields []string
			for _, e := range r.problem(t).Errors {
				fields = append(fields, e.Field)
			}
			require.Contains(t, fields, tc.field, "%s: %s", tc.name, r.Body)
		}
	}
	require.Zero(t, a.count(`SELECT count(*) FROM intake_sources`), "no refused create wrote a source")
	require.Zero(t, a.count(`SELECT count(*) FROM events`), "nor an event")

	// Patches: refused, and nothing changed.
	wh := a.create(map[string]any{"kind": "webhook", "name": "Zapier"})
	a.create(map[string]any{"kind": "form", "name": "Website"})
	path := "/intake-sources/" + wh.ID.String()
	before := a.do(http.MethodGet, path, nil).Body
	for _, tc := range []struct {
		name   string
		body   any
		status int
	}{
		{"change kind", map[string]any{"kind": "form"}, http.StatusUnprocessableEntity},
		{"unknown kind", map[string]any{"kind": "email"}, http.StatusUnprocessableEntity},
		{"origins on a webhook", map[string]any{"allowedOrigins": []string{"https://example.com"}}, http.StatusUnprocessableEntity},
		{"rate limit 0", map[string]any{"rateLimitPerMinute": 0}, http.StatusUnprocessableEntity},
		{"blank name", map[string]any{"name": " "}, http.StatusUnprocessableEntity},
		{"taken name", map[string]any{"name": "Website"}, http.StatusConflict},
		{"secret given", map[string]any{"signingSecret": "whsec_mine"}, http.StatusBadRequest},
		{"not JSON", `{`, http.StatusBadRequest},
	} {
		r := a.do(http.MethodPatch, path, tc.body)
		require.Equal(t, tc.status, r.Status, "%s: %s", tc.name, r.Body)
	}
	require.JSONEq(t, string(before), string(a.do(http.MethodGet, path, nil).Body), "no refused patch changed the source")
	require.Zero(t, a.count(`SELECT count(*) FROM events WHERE type <> 'intake_source.created'`))

	// Malformed ids and list parameters.
	for _, p := range []string{"/intake-sources/nope", "/intake-sources/" + strings.ToUpper(wh.ID.String()) + "x", "/intake-sources?limit=0",
		"/intake-sources?limit=201", "/intake-sources?kind=email", "/intake-sources?cursor=nope"} {
		r := a.do(http.MethodGet, p, nil)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", p, r.Body)
	}
	require.Equal(t, http.StatusBadRequest, a.do(http.MethodPost, "/intake-sources/nope/rotate-secret", nil).Status)
	require.Equal(t, http.StatusBadRequest, a.do(http.MethodDelete, "/intake-sources/nope", nil).Status)
}

// TestIntakeSourceCreateIdempotent proves Idempotency-Key on create: a retry with the same key
// and body gets the first answer again (same id, same secret, Location, Idempotent-Replayed)
// and creates nothing; the same key with another body is 422; and without a key a second create
// of the name is 409.
func TestIntakeSourceCreateIdempotent(t *testing.T) {
	t.Parallel()
	a := newSourcesAPI(t)
	body := map[string]any{"kind": "webhook", "name": "Zapier"}
	key := withHeader("Idempotency-Key", "create-source-1")

	first := a.create(body, key)
	r := a.do(http.MethodPost, "/intake-sources", body, key)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	require.Equal(t, "true", r.Header.Get("Idempotent-Replayed"))
	require.Equal(t, "/intake-sources/"+first.ID.String(), r.Header.Get("Location"))
	var again sourceJSON
	r.json(t, &again)
	require.Equal(t, first.ID, again.ID)
	require.Equal(t, *first.SigningSecret, *again.SigningSecret, "the retry learns the secret the first create made")
	require.Equal(t, 1, a.count(`SELECT count(*) FROM intake_sources`))
	require.Equal(t, 1, a.count(`SELECT count(*) FROM events WHERE type = 'intake_source.created'`))

	r = a.do(http.MethodPost, "/intake-sources", map[string]any{"kind": "form", "name": "Zapier"}, key)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Body))
	r = a.do(http.MethodPost, "/intake-sources", body)
	require.Equal(t, http.StatusConflict, r.Status, string(r.Body))
	require.Equal(t, "conflict", r.problem(t).Code)
	require.Equal(t, 1, a.count(`SELECT count(*) FROM intake_sources`))

}
