package intake_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/page"
)

// requireNoSecret requires that v's JSON holds neither secret nor anything that looks like one.
func requireNoSecret(t *testing.T, v any, secret string, what string) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	require.NotContains(t, string(b), secret, what)
	require.NotContains(t, string(b), "whsec_", what)
}

// TestCreateRoundTrip proves what Create stores and shows for each kind: a webhook source gets
// a "whsec_" secret of 32 random bytes, in the answer only, and stored as given; a form source a
// public token, its redirect URL and its origins (normalised); a csv source neither; defaults
// and the field mapping round-trip through Get; each create emits intake_source.created without
// the secret.
func TestCreateRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()

	wh, err := b.svc.Create(ctx, b.org, actor, intake.NewSource{
		Kind: intake.KindWebhook, Name: "  Zapier  ", FieldMapping: intake.FieldMapping{"e-mail": "email", "Full Name": "name"},
		RateLimitPerMinute: 120,
	})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(wh.SigningSecret, "whsec_"), wh.SigningSecret)
	require.Len(t, wh.SigningSecret, len("whsec_")+44, "32 bytes, standard padded base64")
	key, err := base64.StdEncoding.Strict().DecodeString(strings.TrimPrefix(wh.SigningSecret, "whsec_"))
	require.NoError(t, err, "the Standard Webhooks libraries decode the part after whsec_ as standard padded base64")
	require.Len(t, key, 32)
	require.Equal(t, "Zapier", wh.Name)
	require.Nil(t, wh.PublicToken)
	require.Nil(t, wh.RedirectURL)
	require.Equal(t, []string{}, wh.AllowedOrigins)
	require.Equal(t, intake.FieldMapping{"e-mail": "email", "Full Name": "name"}, wh.FieldMapping)
	require.Equal(t, 120, wh.RateLimitPerMinute)
	require.False(t, wh.HasPreviousSecret)
	require.Nil(t, wh.PreviousSecretExpiresAt)
	require.Equal(t, b.org, wh.OrgID)
	require.WithinDuration(t, time.Now(), wh.CreatedAt, time.Minute)
	requireNoSecret(t, wh.Source, wh.SigningSecret, "the source part of the answer")
	var stored string
	require.NoError(t, b.super.Pool.QueryRow(ctx, `SELECT signing_secret FROM intake_sources WHERE id = $1`, wh.ID).Scan(&stored))
	require.Equal(t, wh.SigningSecret, stored)

	got, err := b.svc.Get(ctx, b.org, wh.ID)
	require.NoError(t, err)
	require.Equal(t, wh.ID, got.ID)
	require.Equal(t, wh.FieldMapping, got.FieldMapping)
	require.Equal(t, wh.CreatedAt, got.CreatedAt)
	requireNoSecret(t, got, wh.SigningSecret, "Get")

	fm, err := b.svc.Create(ctx, b.org, actor, intake.NewSource{
		Kind: intake.KindForm, Name: "Website", RedirectURL: "https://example.com/thanks?from=form",
		AllowedOrigins: []string{"https://Example.com:443", "https://example.com", "http://localhost:3000", "https://shop.example.com:8443"},
	})
	require.NoError(t, err)
	require.Empty(t, fm.SigningSecret)
	require.NotNil(t, fm.PublicToken)
	require.True(t, strings.HasPrefix(*fm.PublicToken, "frm_"), *fm.PublicToken)
	require.Equal(t, "https://example.com/thanks?from=form", *fm.RedirectURL)
	require.Equal(t, []string{"https://example.com", "http://localhost:3000", "https://shop.example.com:8443"}, fm.AllowedOrigins)
	require.Equal(t, intake.DefaultRateLimit, fm.RateLimitPerMinute)
	fm2 := b.form(t, b.org, "Second form")
	require.NotEqual(t, *fm.PublicToken, *fm2.PublicToken)

	csv, err := b.svc.Create(ctx, b.org, actor, intake.NewSource{Kind: intake.KindCSV, Name: "Trade fair export"})
	require.NoError(t, err)
	require.Empty(t, csv.SigningSecret)
	require.Nil(t, csv.PublicToken)
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM intake_sources WHERE id = $1 AND (signing_secret IS NOT NULL OR public_token IS NOT NULL)`, csv.ID))

	require.Equal(t, 4, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1 AND type = 'intake_source.created' AND entity_type = 'intake_source'`, b.org))
	require.Zero(t, b.count(t, `SELECT count(*) FROM events WHERE payload::text LIKE '%whsec_%'`), "no event holds a secret")
	require.Zero(t, b.count(t, `SELECT count(*) FROM jobs`), "source changes trigger no job")
}

// TestCreateRefusesBadSettings proves each rule of a source's settings is apperr.Invalid with
// its field, and that nothing is written for a refused create.
func TestCreateRefusesBadSettings(t *testing.T) {
	t.Parallel()
	b := setup(t)
	form := func(mod func(*intake.NewSource)) intake.NewSource {
		in := intake.NewSource{Kind: intake.KindForm, Name: "Form"}
		mod(&in)
		return in
	}
	cases := []struct {
		name  string
		in    intake.NewSource
		field string
	}{
		{"unknown kind", intake.NewSource{Kind: "email", Name: "x"}, "kind"},
		{"no kind", intake.NewSource{Name: "x"}, "kind"},
		{"blank name", form(func(s *intake.NewSource) { s.Name = "   " }), "name"},
		{"long name", form(func(s *intake.NewSource) { s.Name = strings.Repeat("n", 201) }), "name"},
		{"control character in name", form(func(s *intake.NewSource) { s.Name = "a\x07b" }), "name"},
		{"http redirect", form(func(s *intake.NewSource) { s.RedirectURL = "http://example.com/thanks" }), "redirectUrl"},
		{"javascript redirect", form(func(s *intake.NewSource) { s.RedirectURL = "javascript:alert(1)" }), "redirectUrl"},
		{"relative redirect", form(func(s *intake.NewSource) { s.RedirectURL = "/thanks" }), "redirectUrl"},
		{"redirect with user info", form(func(s *intake.NewSource) { s.RedirectURL = "https://user:pw@example.com/" }), "redirectUrl"},
		{"redirect with fragment", form(func(s *intake.NewSource) { s.RedirectURL = "https://example.com/#x" }), "redirectUrl"},
		{"redirect with bad port", form(func(s *intake.NewSource) { s.RedirectURL = "https://example.com:99999/" }), "redirectUrl"},
		{"redirect too long", form(func(s *intake.NewSource) { s.RedirectURL = "https://example.com/" + strings.Repeat("a", 2048) }), "redirectUrl"},
		{"redirect on a webhook", intake.NewSource{Kind: intake.KindWebhook, Name: "w", RedirectURL: "https://example.com"}, "redirectUrl"},
		{"origins on a webhook", intake.NewSource{Kind: intake.KindWebhook, Name: "w", AllowedOrigins: []string{"https://example.com"}}, "allowedOrigins"},
		{"origins on a csv", intake.NewSource{Kind: intake.KindCSV, Name: "c", AllowedOrigins: []string{"https://example.com"}}, "allowedOrigins"},
		{"origin with path", form(func(s *intake.NewSource) { s.AllowedOrigins = []string{"https://example.com/form"} }), "allowedOrigins[0]"},
		{"origin with slash", form(func(s *intake.NewSource) { s.AllowedOrigins = []string{"https://example.com/"} }), "allowedOrigins[0]"},
		{"origin with query", form(func(s *intake.NewSource) { s.AllowedOrigins = []string{"https://example.com?x"} }), "allowedOrigins[0]"},
		{"origin without scheme", form(func(s *intake.NewSource) { s.AllowedOrigins = []string{"example.com"} }), "allowedOrigins[0]"},
		{"wildcard origin", form(func(s *intake.NewSource) { s.AllowedOrigins = []string{"*"} }), "allowedOrigins[0]"},
		{"wildcard host", form(func(s *intake.NewSource) { s.AllowedOrigins = []string{"https://*.example.com"} }), "allowedOrigins[0]"},
		{"http origin", form(func(s *intake.NewSource) { s.AllowedOrigins = []string{"https://ok.example.com", "http://example.com"} }), "allowedOrigins[1]"},
		{"ftp origin", form(func(s *intake.NewSource) { s.AllowedOrigins = []string{"ftp://example.com"} }), "allowedOrigins[0]"},
		{"too many origins", form(func(s *intake.NewSource) {
			for i := range 21 {
				s.AllowedOrigins = append(s.AllowedOrigins, "https://"+strings.Repeat("a", i+1)+".example.com")
			}
		}), "allowedOrigins"},
		{"mapping to an unknown field", form(func(s *intake.NewSource) { s.FieldMapping = intake.FieldMapping{"mail": "e-mail"} }), "fieldMapping.mail"},
		{"mapping to stage", form(func(s *intake.NewSource) { s.FieldMapping = intake.FieldMapping{"x": "stage"} }), "fieldMapping.x"},
		{"empty sender name", form(func(s *intake.NewSource) { s.FieldMapping = intake.FieldMapping{"": "email"} }), "fieldMapping"},
		{"long sender name", form(func(s *intake.NewSource) { s.FieldMapping = intake.FieldMapping{strings.Repeat("k", 101): "email"} }), "fieldMapping"},
		{"control character in sender name", form(func(s *intake.NewSource) { s.FieldMapping = intake.FieldMapping{"a\nb": "email"} }), "fieldMapping"},
		{"rate limit too high", form(func(s *intake.NewSource) { s.RateLimitPerMinute = 100001 }), "rateLimitPerMinute"},
		{"negative rate limit", form(func(s *intake.NewSource) { s.RateLimitPerMinute = -1 }), "rateLimitPerMinute"},
	}
	for _, tc := range cases {
		_, err := b.svc.Create(t.Context(), b.org, actor, tc.in)
		require.Equal(t, apperr.Invalid, apperr.CodeOf(err), "%s: %v", tc.name, err)
		e, _ := apperr.As(err)
		var fields []string
		for _, f := range e.Fields {
			fields = append(fields, f.Field)
		}
		require.Contains(t, fields, tc.field, tc.name)
	}
	require.Zero(t, b.count(t, `SELECT count(*) FROM intake_sources`))
	require.Zero(t, b.count(t, `SELECT count(*) FROM events`))

	// The limits themselves pass.
	_, err := b.svc.Create(t.Context(), b.org, actor, form(func(s *intake.NewSource) {
		s.Name, s.RateLimitPerMinute = strings.Repeat("n", 200), 100000
		s.RedirectURL = "http://127.0.0.1:8080/done"
	}))
	require.NoError(t, err)
}

// TestNamesUniqueAmongLiveSources proves a name is unique per org among live sources
// (apperr.Conflict, nothing written), free in another org, and free again once its source is
// deleted; a rename onto a taken name is a conflict too.
func TestNamesUniqueAmongLiveSources(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	first := b.webhook(t, b.org, "Zapier")

	_, err := b.svc.Create(ctx, b.org, actor, intake.NewSource{Kind: intake.KindForm, Name: "Zapier"})
	require.Equal(t, apperr.Conflict, apperr.CodeOf(err), "%v", err)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM intake_sources`))
	b.webhook(t, b.other, "Zapier")

	second := b.webhook(t, b.org, "Make")
	_, err = b.svc.Update(ctx, b.org, actor, second.ID, intake.Patch{Name: new("Zapier")})
	require.Equal(t, apperr.Conflict, apperr.CodeOf(err), "%v", err)

	require.NoError(t, b.svc.Delete(ctx, b.org, actor, first.ID))
	b.webhook(t, b.org, "Zapier")
	_, err = b.svc.Update(ctx, b.org, actor, second.ID, intake.Patch{Name: new("Zapier")})
	require.Equal(t, apperr.Conflict, apperr.CodeOf(err), "taken again by the new source")
}

// TestUpdate proves a patch changes only what it names, keeps the kind's rules, emits
// intake_source.updated with the changes, writes nothing when nothing changes, and that
// another org's source is not found.
func TestUpdate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	f := b.form(t, b.org, "Website")
	wh := b.webhook(t, b.org, "Zapier")

	origins := []string{"https://www.example.com", "https://example.com"}
	got, err := b.svc.Update(ctx, b.org, actor, f.ID, intake.Patch{
		Name: new("Website form"), AllowedOrigins: &origins, FieldMapping: intake.FieldMapping{"mail": "email"},
		RateLimitPerMinute: new(30),
	})
	require.NoError(t, err)
	require.Equal(t, "Website form", got.Name)
	require.Equal(t, origins, got.AllowedOrigins)
	require.Equal(t, intake.FieldMapping{"mail": "email"}, got.FieldMapping)
	require.Equal(t, 30, got.RateLimitPerMinute)
	require.Equal(t, *f.RedirectURL, *got.RedirectURL, "not named, not changed")
	require.Equal(t, *f.PublicToken, *got.PublicToken)
	require.Equal(t, f.Kind, got.Kind)
	reread, err := b.svc.Get(ctx, b.org, f.ID)
	require.NoError(t, err)
	require.Equal(t, got, reread)

	var payload string
	require.NoError(t, b.super.Pool.QueryRow(ctx, `SELECT payload::text FROM events WHERE type = 'intake_source.updated' AND entity_id = $1`, f.ID).Scan(&payload))
	require.JSONEq(t, `{"changes": {
		"name": {"from": "Website", "to": "Website form"},
		"allowedOrigins": {"from": ["https://example.com"], "to": ["https://www.example.com", "https://example.com"]},
		"fieldMapping": {"from": {}, "to": {"mail": "email"}},
		"rateLimitPerMinute": {"from": 600, "to": 30}}}`, payload)

	// Clearing, and a patch that changes nothing.
	empty := []string{}
	got, err = b.svc.Update(ctx, b.org, actor, f.ID, intake.Patch{RedirectURL: new(""), AllowedOrigins: &empty, FieldMapping: intake.FieldMapping{}})
	require.NoError(t, err)
	require.Nil(t, got.RedirectURL)
	require.Empty(t, got.AllowedOrigins)
	require.Empty(t, got.FieldMapping)
	events := b.count(t, `SELECT count(*) FROM events WHERE entity_id = $1`, f.ID)
	same, err := b.svc.Update(ctx, b.org, actor, f.ID, intake.Patch{Name: new(" Website form "), RateLimitPerMinute: new(30)})
	require.NoError(t, err)
	require.Equal(t, got.UpdatedAt, same.UpdatedAt, "nothing written")
	require.Equal(t, events, b.count(t, `SELECT count(*) FROM events WHERE entity_id = $1`, f.ID), "no event for no change")

	// The kind's rules hold on update too, and a refused patch changes nothing.
	_, err = b.svc.Update(ctx, b.org, actor, wh.ID, intake.Patch{AllowedOrigins: &origins})
	require.Equal(t, apperr.Invalid, apperr.CodeOf(err), "%v", err)
	_, err = b.svc.Update(ctx, b.org, actor, f.ID, intake.Patch{RedirectURL: new("http://example.com"), Name: new("changed")})
	require.Equal(t, apperr.Invalid, apperr.CodeOf(err), "%v", err)
	_, err = b.svc.Update(ctx, b.org, actor, f.ID, intake.Patch{RateLimitPerMinute: new(0)})
	require.Equal(t, apperr.Invalid, apperr.CodeOf(err), "%v", err)
	_, err = b.svc.Update(ctx, b.org, actor, f.ID, intake.Patch{Kind: new(intake.KindWebhook), Name: new("changed")})
	require.Equal(t, apperr.Invalid, apperr.CodeOf(err), "the kind cannot change: %v", err)
	_, err = b.svc.Update(ctx, b.org, actor, f.ID, intake.Patch{Kind: new(intake.KindForm)})
	require.NoError(t, err, "naming the kind it has is no change")
	reread, err = b.svc.Get(ctx, b.org, f.ID)
	require.NoError(t, err)
	require.Equal(t, "Website form", reread.Name)

	for name, id := range map[string]uuid.UUID{"another org's source": f.ID, "no source": uuid.New()} {
		org := b.other
		if name == "no source" {
			org = b.org
		}
		_, err = b.svc.Update(ctx, org, actor, id, intake.Patch{Name: new("stolen")})
		require.Equal(t, apperr.NotFound, apperr.CodeOf(err), name)
		_, err = b.svc.Get(ctx, org, id)
		require.Equal(t, apperr.NotFound, apperr.CodeOf(err), name)
		require.Equal(t, apperr.NotFound, apperr.CodeOf(b.svc.Delete(ctx, org, actor, id)), name)
		_, err = b.svc.RotateSecret(ctx, org, actor, id, nil)
		require.Equal(t, apperr.NotFound, apperr.CodeOf(err), name)
	}
}

// TestDelete proves a delete is soft, forgets the secrets, hides the source from Get, List and
// the gateway's lookups, emits intake_source.deleted, and is not found a second time.
func TestDelete(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	wh := b.webhook(t, b.org, "Zapier")
	_, err := b.svc.RotateSecret(ctx, b.org, actor, wh.ID, nil)
	require.NoError(t, err)

	require.NoError(t, b.svc.Delete(ctx, b.org, actor, wh.ID))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM intake_sources WHERE id = $1 AND deleted_at IS NOT NULL
		AND signing_secret IS NULL AND previous_signing_secret IS NULL AND previous_secret_expires_at IS NULL`, wh.ID))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE type = 'intake_source.deleted' AND entity_id = $1`, wh.ID))
	_, err = b.svc.Get(ctx, b.org, wh.ID)
	require.Equal(t, apperr.NotFound, apperr.CodeOf(err))
	list, err := b.svc.List(ctx, b.org, "", page.Request{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, list.Data)
	_, err = intake.SourceForWebhook(ctx, b.app, wh.ID)
	require.Equal(t, apperr.NotFound, apperr.CodeOf(err))
	require.Equal(t, apperr.NotFound, apperr.CodeOf(b.svc.Delete(ctx, b.org, actor, wh.ID)))
}

// TestList proves the list pages newest first through its cursor without skipping or
// repeating, filters by kind, shows no secret, and refuses a bad limit, kind or cursor.
func TestList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	var made []uuid.UUID
	var secrets []string
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		c := b.webhook(t, b.org, name)
		made = append(made, c.ID)
		secrets = append(secrets, c.SigningSecret)
	}
	made = append(made, b.form(t, b.org, "f").ID)
	b.webhook(t, b.other, "other org")

	var seen []uuid.UUID
	p := page.Request{Limit: 2}
	for range 10 {
		pg, err := b.svc.List(ctx, b.org, "", p)
		require.NoError(t, err)
		for i, s := range pg.Data {
			seen = append(seen, s.ID)
			for _, secret := range secrets {
				requireNoSecret(t, pg.Data[i], secret, "List")
			}
		}
		if pg.NextCursor == nil {
			break
		}
		p.Cursor = *pg.NextCursor
	}
	require.Len(t, seen, len(made))
	for i := range made {
		require.Equal(t, made[len(made)-1-i], seen[i], "newest first")
	}

	forms, err := b.svc.List(ctx, b.org, intake.KindForm, page.Request{Limit: 50})
	require.NoError(t, err)
	require.Len(t, forms.Data, 1)
	require.Nil(t, forms.NextCursor)

	for name, tc := range map[string]struct {
		k intake.Kind
		p page.Request
	}{
		"limit 0":       {"", page.Request{Limit: 0}},
		"limit 201":     {"", page.Request{Limit: 201}},
		"bad kind":      {"email", page.Request{Limit: 1}},
		"bad cursor":    {"", page.Request{Limit: 1, Cursor: "nope"}},
		"empty cursor":  {"", page.Request{Limit: 1, Cursor: page.Encode(map[string]any{})}},
		"foreign shape": {"", page.Request{Limit: 1, Cursor: page.Encode(map[string]any{"t": 5})}},
	} {
		_, err := b.svc.List(ctx, b.org, tc.k, tc.p)
		require.Equal(t, apperr.BadRequest, apperr.CodeOf(err), "%s: %v", name, err)
	}
}

// TestRotateSecret proves a rotation gives a new secret, keeps the old one valid for the grace
// period (default 24 h, or as asked, on the database clock) and refuses it after its expiry,
// drops an older previous secret, drops the old one at once with grace 0, answers only for
// webhook sources, and refuses a grace period out of range.
func TestRotateSecret(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	wh := b.webhook(t, b.org, "Zapier")
	body := []byte(`{"email":"ada@example.com"}`)
	verify := func(secret string, now time.Time) error {
		t.Helper()
		src, err := intake.SourceForWebhook(ctx, b.app, wh.ID)
		require.NoError(t, err)
		return intake.VerifyWebhook(intake.Sign(secret, now, body), body, now, src.Secrets()...)
	}

	rot, err := b.svc.RotateSecret(ctx, b.org, actor, wh.ID, nil)
	require.NoError(t, err)
	require.NotEqual(t, wh.SigningSecret, rot.SigningSecret)
	require.True(t, strings.HasPrefix(rot.SigningSecret, "whsec_"))
	key, err := base64.StdEncoding.Strict().DecodeString(strings.TrimPrefix(rot.SigningSecret, "whsec_"))
	require.NoError(t, err, "a rotation issues a secret of the new format too")
	require.Len(t, key, 32)
	require.True(t, rot.HasPreviousSecret)
	require.NotNil(t, rot.PreviousSecretExpiresAt)
	require.WithinDuration(t, time.Now().Add(24*time.Hour), *rot.PreviousSecretExpiresAt, time.Minute)
	requireNoSecret(t, rot.Source, rot.SigningSecret, "the source part of the answer")
	got, err := b.svc.Get(ctx, b.org, wh.ID)
	require.NoError(t, err)
	require.True(t, got.HasPreviousSecret)
	require.Equal(t, rot.PreviousSecretExpiresAt, got.PreviousSecretExpiresAt)

	now := time.Now()
	require.NoError(t, verify(rot.SigningSecret, now), "the new secret")
	require.NoError(t, verify(wh.SigningSecret, now), "the old secret in its grace period")
	require.ErrorIs(t, verify("whsec_never", now), intake.ErrSignatureMismatch)

	// The grace period ends: set in the past on the database, instead of waiting.
	b.exec(t, `UPDATE intake_sources SET previous_secret_expires_at = now() - interval '1 second' WHERE id = $1`, wh.ID)
	require.ErrorIs(t, verify(wh.SigningSecret, now), intake.ErrSignatureMismatch, "the old secret after its grace period")
	require.NoError(t, verify(rot.SigningSecret, now))
	got, err = b.svc.Get(ctx, b.org, wh.ID)
	require.NoError(t, err)
	require.False(t, got.HasPreviousSecret, "an expired previous secret is not shown")
	require.Nil(t, got.PreviousSecretExpiresAt)

	// Another rotation with a grace of one hour replaces the previous secret.
	hour := time.Hour
	rot2, err := b.svc.RotateSecret(ctx, b.org, actor, wh.ID, &hour)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(time.Hour), *rot2.PreviousSecretExpiresAt, time.Minute)
	require.NoError(t, verify(rot.SigningSecret, now), "the secret it replaced, in its grace period")
	require.NoError(t, verify(rot2.SigningSecret, now))
	require.ErrorIs(t, verify(wh.SigningSecret, now), intake.ErrSignatureMismatch, "two rotations ago")

	// Grace 0: the replaced secret stops at once.
	zero := time.Duration(0)
	rot3, err := b.svc.RotateSecret(ctx, b.org, actor, wh.ID, &zero)
	require.NoError(t, err)
	require.False(t, rot3.HasPreviousSecret)
	require.Nil(t, rot3.PreviousSecretExpiresAt)
	require.ErrorIs(t, verify(rot2.SigningSecret, now), intake.ErrSignatureMismatch)
	require.NoError(t, verify(rot3.SigningSecret, now))

	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM events WHERE type = 'intake_source.secret_rotated' AND entity_id = $1`, wh.ID))
	require.Zero(t, b.count(t, `SELECT count(*) FROM events WHERE payload::text LIKE '%whsec_%'`))

	for name, g := range map[string]time.Duration{"negative": -time.Second, "over a week": 7*24*time.Hour + time.Second, "fractional": 1500 * time.Millisecond} {
		_, err := b.svc.RotateSecret(ctx, b.org, actor, wh.ID, &g)
		require.Equal(t, apperr.Invalid, apperr.CodeOf(err), name)
	}
	week := 7 * 24 * time.Hour
	_, err = b.svc.RotateSecret(ctx, b.org, actor, wh.ID, &week)
	require.NoError(t, err, "a week is the maximum")

	f := b.form(t, b.org, "Website")
	_, err = b.svc.RotateSecret(ctx, b.org, actor, f.ID, nil)
	require.Equal(t, apperr.Conflict, apperr.CodeOf(err), "%v", err)
	require.Zero(t, b.count(t, `SELECT count(*) FROM intake_sources WHERE id = $1 AND signing_secret IS NOT NULL`, f.ID))
}

// TestSourceLookups proves the gateway's lookups as the app role, outside any tenant
// transaction: a webhook source by id and a form source by token are found with their org and
// settings (the webhook with its secret), while a deleted source, one of the other kind, an
// unknown id or token, and a token that matches two live sources are not found; a csv source
// is found in its own org only.
func TestSourceLookups(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	wh := b.webhook(t, b.other, "Zapier")
	f := b.form(t, b.org, "Website")

	got, err := intake.SourceForWebhook(ctx, b.app, wh.ID)
	require.NoError(t, err)
	require.Equal(t, b.other, got.OrgID)
	require.Equal(t, wh.ID, got.ID)
	require.Equal(t, []intake.Secret{{Value: wh.SigningSecret}}, got.Secrets())

	gotForm, err := intake.SourceForForm(ctx, b.app, *f.PublicToken)
	require.NoError(t, err)
	require.Equal(t, b.org, gotForm.OrgID)
	require.Equal(t, f.ID, gotForm.ID)
	require.Equal(t, f.AllowedOrigins, gotForm.AllowedOrigins)
	require.Empty(t, gotForm.Secrets())

	notFound := func(err error, what string) {
		t.Helper()
		require.Equal(t, apperr.NotFound, apperr.CodeOf(err), "%s: %v", what, err)
	}
	_, err = intake.SourceForWebhook(ctx, b.app, f.ID)
	notFound(err, "a form source by id")
	_, err = intake.SourceForWebhook(ctx, b.app, uuid.New())
	notFound(err, "an unknown id")
	_, err = intake.SourceForWebhook(ctx, b.app, uuid.Nil)
	notFound(err, "the nil id")
	_, err = intake.SourceForForm(ctx, b.app, "frm_unknown")
	notFound(err, "an unknown token")
	_, err = intake.SourceForForm(ctx, b.app, "")
	notFound(err, "an empty token")
	_, err = intake.SourceForForm(ctx, b.app, strings.Repeat("x", 10000))
	notFound(err, "a huge token")

	// A webhook given a form's token by hand is still no form.
	b.exec(t, `UPDATE intake_sources SET public_token = 'frm_shared' WHERE id = $1`, wh.ID)
	_, err = intake.SourceForForm(ctx, b.app, "frm_shared")
	notFound(err, "a webhook source's token")
	// Two live forms with one token (not possible through the service): neither org is chosen.
	f2 := b.form(t, b.other, "Other website")
	b.exec(t, `UPDATE intake_sources SET public_token = $1 WHERE id = $2`, *f.PublicToken, f2.ID)
	_, err = intake.SourceForForm(ctx, b.app, *f.PublicToken)
	notFound(err, "an ambiguous token")

	csv, err := b.svc.Create(ctx, b.org, actor, intake.NewSource{Kind: intake.KindCSV, Name: "Fair export"})
	require.NoError(t, err)
	gotCSV, err := intake.SourceForCSV(ctx, b.app, b.org, csv.ID)
	require.NoError(t, err)
	require.Equal(t, csv.ID, gotCSV.ID)
	_, err = intake.SourceForCSV(ctx, b.app, b.other, csv.ID)
	notFound(err, "a csv source asked for by another org")
	_, err = intake.SourceForCSV(ctx, b.app, b.org, f.ID)
	notFound(err, "a form source as csv")

	b.exec(t, `UPDATE intake_sources SET public_token = 'frm_f2' WHERE id = $1`, f2.ID)
	require.NoError(t, b.svc.Delete(ctx, b.org, actor, f.ID))
	_, err = intake.SourceForForm(ctx, b.app, *f.PublicToken)
	notFound(err, "a deleted form")
}
