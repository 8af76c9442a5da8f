package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
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
func keyOrgs(ctx context.Context, read func(context.Context, uuid.UUID, func(*pgx.Batch)) error, org uuid.UUID) ([]uuid.UUID, error) {
	var out []uuid.UUID
	err := read(ctx, org, func(b *pgx.Batch) {
		// No org filter: only row-level security keeps the other org out.
		b.Queue(`SELECT org_id FROM api_keys ORDER BY org_id`).Query(func(rows pgx.Rows) error {
			ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
			out = ids
			return err
		})
	})
	return out, err
}

// TestReadTxIsATenantTransaction proves a ReadTx is bound by row-level security to its org,
// through the pool (DB.ReadTx) and through the gorm handle (GormReadTx) alike, that its
// statements are one transaction, and that its setting ends with it: the same connection sees
// no org afterwards.
func TestReadTxIsATenantTransaction(t *testing.T) {
	t.Parallel()
	s := newReadSetup(t)
	ctx := t.Context()
	gormRead := func(ctx context.Context, org uuid.UUID, q func(*pgx.Batch)) error {
		return db.GormReadTx(ctx, s.app.Gorm, org, q)
	}
	for name, read := range map[string]func(context.Context, uuid.UUID, func(*pgx.Batch)) error{
		"pool": s.app.ReadTx, "gorm": gormRead,
	} {
		for _, org := range []uuid.UUID{s.orgA, s.orgB} {
			got, err := keyOrgs(ctx, read, org)
			require.NoError(t, err, name)
			require.Equal(t, []uuid.UUID{org}, got, "%s: only the org's own row", name)
		}
	}

	conn, err := s.app.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	require.NoError(t, db.ReadTx(ctx, conn.Conn(), s.orgA, func(b *pgx.Batch) {
		b.Queue(`SELECT current_setting('app.org_id', true)`).QueryRow(func(row pgx.Row) error {
			var got string
			require.NoError(t, row.Scan(&got))
			require.Equal(t, s.orgA.String(), got)
			return nil
		})
	}))
	// One transaction: its start time is the same for every statement of the pipeline.
	var starts [2]time.Time
	require.NoError(t, db.ReadTx(ctx, conn.Conn(), s.orgA, func(b *pgx.Batch) {
		b.Queue(`SELECT now()`).QueryRow(func(row pgx.Row) error { return row.Scan(&starts[0]) })
		b.Queue(`SELECT pg_sleep(0.02)`)
		b.Queue(`SELECT now()`).QueryRow(func(row pgx.Row) error { return row.Scan(&starts[1]) })
	}))
	require.True(t, starts[0].Equal(starts[1]), "one transaction: %v", starts)

	var after string
	require.NoError(t, conn.QueryRow(ctx, `SELECT coalesce(current_setting('app.org_id', true), '')`).Scan(&after))
	require.Empty(t, after, "the setting is transaction-local")
	require.Equal(t, byte('I'), conn.Conn().PgConn().TxStatus())

	_, err = keyOrgs(ctx, s.app.ReadTx, uuid.Nil)
	require.ErrorContains(t, err, "org id is required")
}

// TestReadTxFailures proves a failed read returns its error and leaves its connection idle
// and usable (the aborted transaction is rolled back), that nothing can be written in one,
// and that GormReadTx refuses a gorm transaction.
func TestReadTxFailures(t *testing.T) {
	t.Parallel()
	s := newReadSetup(t)
	ctx := t.Context()
	conn, err := s.app.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()

	err = db.ReadTx(ctx, conn.Conn(), s.orgA, func(b *pgx.Batch) { b.Queue(`SELECT 1 / 0`) })
	require.Equal(t, "22012", db.PgCode(err), "division by zero: %v", err)
	require.Equal(t, byte('I'), conn.Conn().PgConn().TxStatus(), "rolled back")
	var one int
	require.NoError(t, conn.QueryRow(ctx, `SELECT 1`).Scan(&one))

	err = db.ReadTx(ctx, conn.Conn(), s.orgA, func(b *pgx.Batch) {
		b.Queue(`INSERT INTO api_keys (org_id, name, prefix, key_hash) VALUES ($1, 'x', 'crm_y', sha256('y'::bytea))`, s.orgA)
	})
	require.Equal(t, "25006", db.PgCode(err), "read-only transaction: %v", err)
	require.Equal(t, byte('I'), conn.Conn().PgConn().TxStatus())

	err = s.app.Gorm.Transaction(func(tx *gorm.DB) error {
		return db.GormReadTx(ctx, tx, s.orgA, func(b *pgx.Batch) { b.Queue(`SELECT 1`) })
	})
	require.ErrorContains(t, err, "needs the database handle")
}
