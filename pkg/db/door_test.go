package db_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
)

// TestStatementsTakeArraysAndPlaceholdersAsTheyAre proves Exec, Select, Get and Each send
// $n placeholders and Go slices to PostgreSQL untouched (a slice is one array argument, not a
// list gorm spreads into the text), read rows by column name (Select, Get) or position (Each),
// and run inside the caller's tenant transaction.
func TestStatementsTakeArraysAndPlaceholdersAsTheyAre(t *testing.T) {
	t.Parallel()
	s := newReadSetup(t)
	ctx := t.Context()
	names := []string{"b", "c", "d"}
	err := s.app.Tx(ctx, s.orgA, func(tx *gorm.DB) error {
		n, err := db.Exec(ctx, tx, `INSERT INTO api_keys (org_id, name, prefix, key_hash)
SELECT $1, x, 'crm_' || x, sha256(x::bytea) FROM unnest($2::text[]) AS x`, s.orgA, names)
		require.NoError(t, err)
		require.EqualValues(t, 3, n)

		type key struct {
			OrgID uuid.UUID
			Name  string
		}
		// No org filter: row-level security scopes the transaction to org A.
		keys, err := db.Select[key](ctx, tx, `SELECT org_id, name FROM api_keys WHERE name <> ALL($1::text[]) ORDER BY name`, []string{"c"})
		require.NoError(t, err)
		require.Equal(t, []key{{s.orgA, "b"}, {s.orgA, "d"}, {s.orgA, "k"}}, keys)

		count, found, err := db.Get[int](ctx, tx, `SELECT count(*) FROM api_keys WHERE name = ANY($1)`, names)
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, 3, count)
		_, found, err = db.Get[key](ctx, tx, `SELECT org_id, name FROM api_keys WHERE name = $1`, "none")
		require.NoError(t, err)
		require.False(t, found)

		var seen []string
		stop := errors.New("stop")
		err = db.Each(ctx, tx, func(r db.Row) error {
			var name db.Text
			if err := r.Scan(&name); err != nil {
				return err
			}
			seen = append(seen, name.String)
			if len(seen) == 2 {
				return stop
			}
			return nil
		}, `SELECT name FROM api_keys ORDER BY name`)
		require.ErrorIs(t, err, stop)
		require.Equal(t, []string{"b", "c"}, seen)

		_, err = db.Exec(ctx, tx, `SELECT 1 / $1::int`, 0)
		require.Equal(t, "22012", db.PgCode(err))
		return errors.New("roll back")
	})
	require.EqualError(t, err, "roll back")
}

// TestReadAndWritePipelines proves DB.Read and DB.Write run their statements as one
// transaction of the org, bound by row-level security, with Row calling back only for a row
// that exists; that a Read cannot write; and that a failed Write keeps nothing of its batch
// and leaves its connection clean.
func TestReadAndWritePipelines(t *testing.T) {
	t.Parallel()
	s := newReadSetup(t)
	ctx := t.Context()

	var starts [2]time.Time
	var orgs []uuid.UUID
	called := false
	require.NoError(t, s.app.Read(ctx, s.orgA, func(b *db.Batch) {
		b.Row(func(r db.Row) error { return r.Scan(&starts[0]) }, `SELECT now()`)
		b.Exec(`SELECT pg_sleep(0.02)`)
		b.Row(func(r db.Row) error { called = true; return nil }, `SELECT 1 WHERE false`)
		b.Rows(func(r db.Row) error {
			var id db.NullUUID
			err := r.Scan(&id)
			orgs = append(orgs, uuid.UUID(id.Bytes))
			return err
		}, `SELECT org_id FROM api_keys`)
		b.Row(func(r db.Row) error { return r.Scan(&starts[1]) }, `SELECT now()`)
	}))
	require.True(t, starts[0].Equal(starts[1]), "one transaction: %v", starts)
	require.False(t, called, "no row, no callback")
	require.Equal(t, []uuid.UUID{s.orgA}, orgs, "only the org's own rows")

	err := s.app.Read(ctx, s.orgA, func(b *db.Batch) {
		b.Exec(`INSERT INTO api_keys (org_id, name, prefix, key_hash) VALUES ($1, 'x', 'crm_x', sha256('x'::bytea))`, s.orgA)
	})
	require.Equal(t, "25006", db.PgCode(err), "read-only: %v", err)

	insert := `INSERT INTO api_keys (org_id, name, prefix, key_hash) VALUES ($1, $2, 'crm_' || $2, sha256($2::bytea))`
	err = s.app.Write(ctx, s.orgB, func(b *db.Batch) {
		b.Exec(insert, s.orgB, "w1")
		b.Exec(`SELECT 1 / 0`)
	})
	require.Equal(t, "22012", db.PgCode(err))
	require.NoError(t, s.app.Write(ctx, s.orgB, func(b *db.Batch) { b.Exec(insert, s.orgB, "w2") }))
	err = s.app.Write(ctx, s.orgB, func(b *db.Batch) { b.Exec(insert, s.orgA, "w3") })
	require.Equal(t, "42501", db.PgCode(err), "another org's row: %v", err)

	var names []string
	require.NoError(t, s.owner.Tx(ctx, s.orgB, func(tx *gorm.DB) (err error) {
		names, err = db.Select[string](ctx, tx, `SELECT name FROM api_keys ORDER BY name`)
		return err
	}))
	require.Equal(t, []string{"k", "w2"}, names, "the failed batches kept nothing")

	// Settings go with the tenant scope and end with the transaction.
	var org, first, second string
	require.NoError(t, s.app.Write(ctx, s.orgB, func(b *db.Batch) {
		b.Row(func(r db.Row) error { return r.Scan(&org, &first, &second) },
			`SELECT current_setting('app.org_id'), current_setting('app.test_first'), current_setting('app.test_second')`)
	}, db.Setting{Name: "app.test_first", Value: "one"}, db.Setting{Name: "app.test_second", Value: "two"}))
	require.Equal(t, []string{s.orgB.String(), "one", "two"}, []string{org, first, second})
	require.NoError(t, s.app.Read(ctx, s.orgB, func(b *db.Batch) {
		b.Row(func(r db.Row) error { return r.Scan(&first) }, `SELECT coalesce(current_setting('app.test_first', true), '')`)
	}))
	require.Empty(t, first, "a setting ends with its transaction")

	require.ErrorContains(t, s.app.Read(ctx, uuid.Nil, func(*db.Batch) {}), "org id is required")
}
