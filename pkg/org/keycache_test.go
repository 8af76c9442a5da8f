package org_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/org"
)

// keyCacheSetup is a fresh database with an org, a second key of it, and the app role's handle
// that the api checks keys through.
type keyCacheSetup struct {
	owner   *db.DB
	app     *db.DB
	created org.Created
	second  org.NewKey
}

func newKeyCacheSetup(t *testing.T) keyCacheSetup {
	t.Helper()
	owner, url := dbtest.NewDB(t)
	app, err := db.Open(t.Context(), db.Options{URL: dbtest.AppURL(t, url), MaxConns: 4, AppName: "keycache-test"})
	require.NoError(t, err)
	t.Cleanup(app.Close)
	c, err := org.Create(t.Context(), owner, "acme")
	require.NoError(t, err)
	k, err := org.CreateKey(t.Context(), owner, c.OrgID, "second")
	require.NoError(t, err)
	return keyCacheSetup{owner: owner, app: app, created: c, second: k}
}

// TestKeyCacheRemembersAcceptedKeys proves a hit: a key accepted once is accepted again from
// the cache within the TTL even after it was revoked, which is the documented trade-off; and
// once the TTL has passed the database is asked again, the revoked key is refused and
// forgotten. The principal is the key's org and id either way.
func TestKeyCacheRemembersAcceptedKeys(t *testing.T) {
	t.Parallel()
	s := newKeyCacheSetup(t)
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	c := org.NewKeyCache(s.app, 5*time.Second)
	c.Now = func() time.Time { return now }

	p, err := c.Authenticate(ctx, s.second.Clear)
	require.NoError(t, err)
	require.Equal(t, org.Principal{OrgID: s.created.OrgID, KeyID: s.second.ID}, p)
	require.Equal(t, 1, c.Len())

	require.NoError(t, org.RevokeKey(ctx, s.owner, s.created.OrgID, s.second.ID))
	now = now.Add(4 * time.Second)
	p, err = c.Authenticate(ctx, s.second.Clear)
	require.NoError(t, err, "within the TTL the revoked key is still remembered")
	require.Equal(t, s.second.ID, p.KeyID)

	now = now.Add(time.Second)
	_, err = c.Authenticate(ctx, s.second.Clear)
	require.Equal(t, apperr.Unauthorized, apperr.CodeOf(err), "after the TTL the database says no: %v", err)
	require.Equal(t, 0, c.Len(), "the refused key is forgotten")

	p, err = c.Authenticate(ctx, s.created.APIKey)
	require.NoError(t, err, "other keys are unaffected")
	require.Equal(t, s.created.OrgID, p.OrgID)
}

// TestKeyCacheDisabled proves a TTL of 0 asks the database on every check: a revoked key is
// refused at once, and nothing is remembered.
func TestKeyCacheDisabled(t *testing.T) {
	t.Parallel()
	s := newKeyCacheSetup(t)
	ctx := t.Context()
	c := org.NewKeyCache(s.app, 0)
	_, err := c.Authenticate(ctx, s.second.Clear)
	require.NoError(t, err)
	require.NoError(t, org.RevokeKey(ctx, s.owner, s.created.OrgID, s.second.ID))
	_, err = c.Authenticate(ctx, s.second.Clear)
	require.Equal(t, apperr.Unauthorized, apperr.CodeOf(err), "%v", err)
	require.Equal(t, 0, c.Len())
}

// TestKeyCacheNeverRemembersFailures proves malformed and unknown keys are refused every time
// and take no room, so guessing cannot fill the cache; and that concurrent checks of one key
// agree (run with -race).
func TestKeyCacheNeverRemembersFailures(t *testing.T) {
	t.Parallel()
	s := newKeyCacheSetup(t)
	ctx := t.Context()
	c := org.NewKeyCache(s.app, time.Minute)
	unknown := s.created.APIKey[:len(s.created.APIKey)-4] + "AAAA"
	for _, bad := range []string{"", "nope", unknown, unknown} {
		_, err := c.Authenticate(ctx, bad)
		require.Equal(t, apperr.Unauthorized, apperr.CodeOf(err), bad)
	}
	require.Equal(t, 0, c.Len())

	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Authenticate(ctx, s.created.APIKey)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 1, c.Len())
}
