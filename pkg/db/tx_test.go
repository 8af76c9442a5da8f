package db_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
)

// txBundle is a fresh database opened three times: main with the usual pool for fixtures;
// single with a one-connection pool, so that every statement on single runs on the same server
// session and anything a transaction leaves behind is seen by the next one; and super, a
// superuser connection that row-level security does not bind, for checks that must not depend
// on the tenant transaction under test.
type txBundle struct {
	main   *db.DB
	single *db.DB
	super  *db.DB
	orgA   uuid.UUID
	orgB   uuid.UUID
}

func setupTx(t *testing.T) *txBundle {
	t.Helper()
	main, url := dbtest.NewDB(t)
	single, err := db.Open(t.Context(), db.Options{URL: url, MaxConns: 1, AppName: "tx_test"})
	require.NoError(t, err)
	t.Cleanup(single.Close)
	return &txBundle{
		main:   main,
		single: single,
		super:  dbtest.SuperDB(t, url),
		orgA:   dbtest.NewOrg(t, main, "org-a"),
		orgB:   dbtest.NewOrg(t, main, "org-b"),
	}
}

// session reports which server session g runs on and its app.org_id ("" when unset).
func session(t *testing.T, g *gorm.DB) (pid int, org string) {
	t.Helper()
	row := g.Raw(`SELECT pg_backend_pid(), coalesce(current_setting('app.org_id', true), '')`).Row()
	require.NoError(t, row.Scan(&pid, &org))
	return pid, org
}

// orgName reads the committed name of org id through the superuser connection.
func (b *txBundle) orgName(t *testing.T, id uuid.UUID) string {
	t.Helper()
	var name string
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT name FROM orgs WHERE id = $1`, id).Scan(&name))
	return name
}

// TestTxScopesOrgToTheTransaction proves the org setting is local to its transaction: inside db.Tx
// and (*DB).Tx app.org_id is the transaction's org, and after commit or rollback the same pooled
// connection (same backend pid) carries no org into the next transaction or the next plain
// statement, through gorm or pgx.
func TestTxScopesOrgToTheTransaction(t *testing.T) {
	t.Parallel()
	b := setupTx(t)
	ctx := t.Context()

	pid, org := session(t, b.single.Gorm)
	require.Empty(t, org)

	requireClean := func(when string) {
		t.Helper()
		gotPID, org := session(t, b.single.Gorm)
		require.Equal(t, pid, gotPID, "%s: the pool has one connection", when)
		require.Empty(t, org, "%s: the org leaked out of the transaction", when)
		var raw *string
		require.NoError(t, b.single.Pool.QueryRow(ctx, `SELECT nullif(current_setting('app.org_id', true), '')`).Scan(&raw))
		require.Nil(t, raw, "%s: the org leaked to a pgx statement", when)
	}

	calls := 0
	err := b.single.Tx(ctx, b.orgA, func(tx *gorm.DB) error {
		calls++
		gotPID, org := session(t, tx)
		require.Equal(t, pid, gotPID)
		require.Equal(t, b.orgA.String(), org)
		return tx.Exec(`UPDATE orgs SET name = 'a-renamed' WHERE id = ?`, b.orgA).Error
	})
	require.NoError(t, err)
	require.Equal(t, 1, calls)
	require.Equal(t, "a-renamed", b.orgName(t, b.orgA), "the method form commits")
	requireClean("after commit")

	// The next transaction on the same connection starts without the previous org…
	err = db.Tx(ctx, b.single.Gorm, b.orgB, func(tx *gorm.DB) error {
		var before string
		require.NoError(t, tx.Raw(`SELECT current_setting('app.org_id', true)`).Scan(&before).Error)
		require.Equal(t, b.orgB.String(), before, "the new transaction sees only its own org")
		return nil
	})
	require.NoError(t, err)
	requireClean("after a second commit")

	// …and a plain transaction with no org sees none.
	err = b.single.Gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		_, org := session(t, tx)
		require.Empty(t, org)
		return nil
	})
	require.NoError(t, err)

	boom := errors.New("boom")
	err = db.Tx(ctx, b.single.Gorm, b.orgB, func(tx *gorm.DB) error {
		_, org := session(t, tx)
		require.Equal(t, b.orgB.String(), org)
		if err := tx.Exec(`UPDATE orgs SET name = 'b-renamed' WHERE id = ?`, b.orgB).Error; err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Equal(t, "org-b", b.orgName(t, b.orgB), "fn's error rolls the transaction back")
	requireClean("after rollback")
}

// TestTxRefusesNilOrg proves a tenant transaction without an org is refused before it begins:
// fn never runs, in either form.
func TestTxRefusesNilOrg(t *testing.T) {
	t.Parallel()
	b := setupTx(t)
	called := false
	fn := func(*gorm.DB) error { called = true; return nil }

	require.Error(t, db.Tx(t.Context(), b.single.Gorm, uuid.Nil, fn))
	require.Error(t, b.single.Tx(t.Context(), uuid.Nil, fn))
	require.False(t, called)
}

// TestTxNestedIsASavepoint proves db.Tx on a transaction opens a savepoint: the inner failure
// rolls back only the inner writes and restores the outer org, and the outer transaction still
// commits its own writes.
func TestTxNestedIsASavepoint(t *testing.T) {
	t.Parallel()
	b := setupTx(t)
	ctx := t.Context()
	boom := errors.New("inner failed")

	err := b.single.Tx(ctx, b.orgA, func(tx *gorm.DB) error {
		if err := tx.Exec(`UPDATE orgs SET name = 'outer' WHERE id = ?`, b.orgA).Error; err != nil {
			return err
		}
		inner := db.Tx(ctx, tx, b.orgB, func(tx *gorm.DB) error {
			_, org := session(t, tx)
			require.Equal(t, b.orgB.String(), org)
			if err := tx.Exec(`UPDATE orgs SET name = 'inner' WHERE id = ?`, b.orgB).Error; err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, inner, boom)
		_, org := session(t, tx)
		require.Equal(t, b.orgA.String(), org, "rolling back the savepoint restores the outer org")
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, "outer", b.orgName(t, b.orgA))
	require.Equal(t, "org-b", b.orgName(t, b.orgB))
	_, org := session(t, b.single.Gorm)
	require.Empty(t, org)
}

// TestTxSettlesTheDeferralAfterCommit proves the handle's Deferral: DB.Tx sends its setting with
// the tenant scope, and calls Then once after a commit whose transaction owes the work, never for
// one that owes nothing, returned an error, committed nothing (a failed statement that fn let
// pass) or panicked; each of those leaves the one connection clean for the next user.
func TestTxSettlesTheDeferralAfterCommit(t *testing.T) {
	t.Parallel()
	b := setupTx(t)
	ctx := t.Context()
	paid := 0
	b.single.Defer(db.Deferral{
		Setting: db.Setting{Name: "app.test_deferred", Value: "on"},
		Owed:    "coalesce(current_setting('app.test_owed', true), '') = 'on'",
		Then:    func() { paid++ },
	})
	owe := func(tx *gorm.DB) error {
		return tx.Exec(`SELECT set_config('app.test_owed', 'on', true)`).Error
	}
	rename := func(tx *gorm.DB, name string) error {
		return tx.Exec(`UPDATE orgs SET name = ? WHERE id = ?`, name, b.orgA).Error
	}

	var setting string
	require.NoError(t, b.single.Tx(ctx, b.orgA, func(tx *gorm.DB) error {
		if err := tx.Raw(`SELECT current_setting('app.test_deferred', true)`).Scan(&setting).Error; err != nil {
			return err
		}
		return owe(tx)
	}))
	require.Equal(t, "on", setting, "the setting goes with the tenant scope")
	require.Equal(t, 1, paid, "a commit that owes the work settles it")

	require.NoError(t, b.single.Tx(ctx, b.orgA, func(tx *gorm.DB) error { return rename(tx, "owes-nothing") }))
	require.Equal(t, 1, paid, "a commit that owes nothing settles nothing")
	require.Equal(t, "owes-nothing", b.orgName(t, b.orgA))

	boom := errors.New("boom")
	err := b.single.Tx(ctx, b.orgA, func(tx *gorm.DB) error {
		if err := owe(tx); err != nil {
			return err
		}
		if err := rename(tx, "rolled-back"); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)

	// A failed statement that fn lets pass aborts the transaction: nothing commits.
	err = b.single.Tx(ctx, b.orgA, func(tx *gorm.DB) error {
		if err := owe(tx); err != nil {
			return err
		}
		_ = tx.Exec(`SELECT 1/0`).Error
		return nil
	})
	require.Error(t, err)

	require.Panics(t, func() {
		_ = b.single.Tx(ctx, b.orgA, func(tx *gorm.DB) error {
			if err := rename(tx, "panicked"); err != nil {
				return err
			}
			panic("handler bug")
		})
	})
	require.Equal(t, 1, paid, "nothing committed, nothing settled")
	require.Equal(t, "owes-nothing", b.orgName(t, b.orgA))

	// Committing from fn is refused: DB.Tx ends the transaction.
	err = b.single.Tx(ctx, b.orgA, func(tx *gorm.DB) error { return tx.Commit().Error })
	require.Error(t, err)

	_, org := session(t, b.single.Gorm)
	require.Empty(t, org, "the connection went back to the pool outside any transaction")
	var status string
	require.NoError(t, b.single.Gorm.Raw(`SELECT current_setting('app.test_deferred', true)`).Scan(&status).Error)
	require.Empty(t, status, "the setting ends with its transaction")
}
