package db_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
)

// readSetup is a fresh database with two orgs holding one api key row each, the owner's
// handle, and a connection as the app role (bound by row-level security).
type readSetup struct {
	owner      *db.DB
	app        *db.DB
	orgA, orgB uuid.UUID
}

func newReadSetup(t *testing.T) readSetup {
	t.Helper()
	owner, url := dbtest.NewDB(t)
	app, err := db.Open(t.Context(), db.Options{URL: dbtest.AppURL(t, url), MaxConns: 4, AppName: "read-test"})
	require.NoError(t, err)
	t.Cleanup(app.Close)
	s := readSetup{owner: owner, app: app, orgA: dbtest.NewOrg(t, owner, "a"), orgB: dbtest.NewOrg(t, owner, "b")}
	for _, org := range []uuid.UUID{s.orgA, s.orgB} {
		require.NoError(t, owner.Tx(t.Context(), org, func(tx *gorm.DB) error {
			return tx.Exec(`INSERT INTO api_keys (org_id, name, prefix, key_hash) VALUES (?, 'k', 'crm_x', sha256(?::bytea))`,
				org, org.String()).Error
		}))
	}
	return s
}

// keyOrgs reads the org ids of the api_keys rows visible in a tenant read of org.
func keyOrgs(ctx context.Context, read func(context.Context, uuid.UUID, func(*db.Batch)) error, org uuid.UUID) ([]uuid.UUID, error) {
	var out []uuid.UUID
	err := read(ctx, org, func(b *db.Batch) {
		// No org filter: only row-level security keeps the other org out.
		b.Rows(func(r db.Row) error {
			var id uuid.UUID
			err := r.Scan(&id)
			out = append(out, id)
			return err
		}, `SELECT org_id FROM api_keys ORDER BY org_id`)
	})
	return out, err
}

// TestReadIsATenantTransaction proves a pipelined read (DB.Read) is bound by row-level security
// to its org, and that its setting ends with it: the same connection sees no org afterwards.
func TestReadIsATenantTransaction(t *testing.T) {
	t.Parallel()
	s := newReadSetup(t)
	ctx := t.Context()
	for _, org := range []uuid.UUID{s.orgA, s.orgB} {
		got, err := keyOrgs(ctx, s.app.Read, org)
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{org}, got, "only the org's own row")
	}

	one := singleConn(t, s)
	var during string
	require.NoError(t, one.Read(ctx, s.orgA, func(b *db.Batch) {
		b.Row(func(r db.Row) error { return r.Scan(&during) }, `SELECT current_setting('app.org_id', true)`)
	}))
	require.Equal(t, s.orgA.String(), during)
	var after string
	require.NoError(t, one.Pool.QueryRow(ctx, `SELECT coalesce(current_setting('app.org_id', true), '')`).Scan(&after))
	require.Empty(t, after, "the setting is transaction-local")

	_, err := keyOrgs(ctx, s.app.Read, uuid.Nil)
	require.ErrorContains(t, err, "org id is required")
}

// singleConn opens the app role on a pool of one connection, so that consecutive uses share it.
func singleConn(t *testing.T, s readSetup) *db.DB {
	t.Helper()
	d, err := db.Open(t.Context(), db.Options{URL: s.app.URL(), MaxConns: 1, AppName: "read-test-one"})
	require.NoError(t, err)
	t.Cleanup(d.Close)
	return d
}

// TestReadFailures proves a failed read returns its error and leaves its connection idle and
// usable (the aborted transaction is rolled back).
func TestReadFailures(t *testing.T) {
	t.Parallel()
	s := newReadSetup(t)
	ctx := t.Context()
	one := singleConn(t, s)

	err := one.Read(ctx, s.orgA, func(b *db.Batch) { b.Exec(`SELECT 1 / 0`) })
	require.Equal(t, "22012", db.PgCode(err), "division by zero: %v", err)
	var status string
	require.NoError(t, one.Pool.QueryRow(ctx, `SELECT coalesce(current_setting('app.org_id', true), 'none')`).Scan(&status))
	require.Contains(t, []string{"", "none"}, status, "rolled back: no transaction is left open")
}
