package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// Deferral is work that a write transaction of the handle may owe once it has committed and
// must not do before: the jobs engine's wake-up of the workers is one (jobs.WakeAfterCommit),
// since a NOTIFY sent inside a transaction makes its commit wait behind every other notifying
// commit of the database. The handle knows nothing of the work: DB.Tx sends Setting with the
// transaction's tenant scope, reads Owed in the round trip of its COMMIT, and calls Then after a
// commit for which Owed was true.
type Deferral struct {
	// Setting tells the transaction's statements to leave the work to after the commit.
	Setting Setting
	// Owed is an SQL boolean expression: whether the transaction owes the work.
	Owed string
	// Then does the work, or starts it, after the commit; it runs on the caller's path and must
	// return at once.
	Then func()
}

// Defer installs def on the handle: every transaction that DB.Tx opens from then on defers the
// work and settles it after its commit. The binaries' wiring calls it once, right after Open and
// before the handle is shared (pkg/cli.OpenDB); a second call replaces the first.
func (d *DB) Defer(def Deferral) { d.deferral = &def }

// Tx runs fn in a transaction scoped to orgID, as the package function Tx does, on a connection
// of its own and in one round trip fewer than a gorm transaction: BEGIN goes with the tenant
// scope and the setting of the handle's Deferral, and the read of what the transaction owes with
// COMMIT. fn's error, or its panic, rolls back; fn must not commit or roll back tx itself, and
// tx.Transaction inside it opens a savepoint. After the commit it calls the Deferral's Then when
// the transaction owes it.
func (d *DB) Tx(ctx context.Context, orgID uuid.UUID, fn func(tx *gorm.DB) error) error {
	return d.tx(ctx, orgID, nil, fn)
}

// tx is Tx with more transaction-local settings sent with the tenant scope (a sweep chunk's
// statement_timeout).
func (d *DB) tx(ctx context.Context, orgID uuid.UUID, extra []Setting, fn func(tx *gorm.DB) error) error {
	if orgID == uuid.Nil {
		return fmt.Errorf("tenant transaction: org id is required")
	}
	conn, err := d.sql.Conn(ctx)
	if err != nil {
		return fmt.Errorf("tenant transaction: acquire connection: %w", err)
	}
	defer func() { _ = conn.Close() }()

	settings := extra
	if d.deferral != nil {
		settings = append(settings[:len(settings):len(settings)], d.deferral.Setting)
	}
	scope, args := writeScope(orgID, settings)
	begin := &pgx.Batch{}
	begin.Queue("BEGIN")
	begin.Queue(scope, args...)
	if err := SendBatch(ctx, conn, begin); err != nil {
		return RollbackConn(ctx, conn, fmt.Errorf("tenant transaction: begin: %w", err))
	}

	panicked := true
	defer func() {
		if panicked {
			_ = RollbackConn(ctx, conn, nil)
		}
	}()
	err = fn(ConnSession(ctx, d.Gorm, conn))
	panicked = false
	if err != nil {
		return RollbackConn(ctx, conn, err)
	}

	owed, err := d.commit(ctx, conn)
	if err != nil {
		return err
	}
	if owed {
		d.deferral.Then()
	}
	return nil
}

// commit sends COMMIT on conn's transaction, preceded by the read of the handle's Deferral.Owed
// when it has one, as one round trip, and reports what the read answered. A transaction that does
// not commit (one that failed earlier answers COMMIT with ROLLBACK) is an error, and has been
// rolled back.
func (d *DB) commit(ctx context.Context, conn *sql.Conn) (owed bool, err error) {
	b := &pgx.Batch{}
	if d.deferral != nil {
		b.Queue("SELECT " + d.deferral.Owed).QueryRow(func(row pgx.Row) error { return row.Scan(&owed) })
	}
	var tag pgconn.CommandTag
	b.Queue("COMMIT").Exec(func(ct pgconn.CommandTag) error { tag = ct; return nil })
	if err := SendBatch(ctx, conn, b); err != nil {
		return false, RollbackConn(ctx, conn, fmt.Errorf("tenant transaction: commit: %w", err))
	}
	if tag.String() != "COMMIT" {
		return false, fmt.Errorf("tenant transaction: not committed: the server answered %s", tag.String())
	}
	return owed, nil
}

// SendBatch sends b on conn's pgx connection as one pipeline and reads every answer.
func SendBatch(ctx context.Context, conn *sql.Conn, b *pgx.Batch) error {
	return WithPgx(conn, func(c *pgx.Conn) error { return c.SendBatch(ctx, b).Close() })
}

// RollbackConn ends conn's transaction, if one is open, after cause, and returns cause. A
// connection whose ROLLBACK fails is discarded (driver.ErrBadConn) instead of going back to the
// pool.
func RollbackConn(ctx context.Context, conn *sql.Conn, cause error) error {
	var rerr error
	err := WithPgx(conn, func(c *pgx.Conn) error {
		if rerr = RollbackOpen(ctx, c); rerr != nil {
			return driver.ErrBadConn
		}
		return nil
	})
	if rerr != nil {
		return errors.Join(cause, rerr)
	}
	if err != nil {
		return errors.Join(cause, fmt.Errorf("roll back: %w", err))
	}
	return cause
}

// ConnSession is a gorm session of g, with ctx, on the transaction its caller opened on conn and
// will end (DB.Tx, the jobs engine's batches): statements run on the connection, and gorm treats
// the session as a transaction (a nested Transaction opens a savepoint instead of a second BEGIN).
func ConnSession(ctx context.Context, g *gorm.DB, conn *sql.Conn) *gorm.DB {
	tx := g.Session(&gorm.Session{Context: ctx, NewDB: true})
	tx.Statement.ConnPool = &connTx{conn}
	return tx
}

// connTx is ConnSession's connection pool. As a gorm.TxCommitter it makes gorm treat the session
// as a transaction; Commit and Rollback belong to whoever opened it, so code given the session
// that calls them gets an error. It is used as a pointer, which gorm's Commit and Rollback
// require of a committer.
type connTx struct{ *sql.Conn }

var errManagedTx = errors.New("the transaction is committed or rolled back by whoever opened it, not by the code it was given to")

// Commit refuses: the opener commits.
func (*connTx) Commit() error { return errManagedTx }

// Rollback refuses: returning an error to the opener rolls back.
func (*connTx) Rollback() error { return errManagedTx }
