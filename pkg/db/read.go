package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// readSetOrgSQL starts every tenant read (ReadTx): it scopes the transaction to the org and
// makes it read-only. Turning read-only mode on is allowed at any point of a transaction.
const readSetOrgSQL = "SELECT set_config('app.org_id', $1, true), set_config('transaction_read_only', 'on', true)"

// UUID is id as a query argument in the form pgx encodes fastest. A uuid.UUID reaches pgx as a
// driver.Valuer, whose text pgx then parses back into the 16 bytes it sends.
func UUID(id uuid.UUID) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: true} }

// rollbackTimeout bounds the ROLLBACK that cleans up after a failed transaction (RollbackOpen).
const rollbackTimeout = 5 * time.Second

// ReadTx runs read-only queries in one transaction scoped to orgID, in a single round trip:
// set_config('app.org_id', orgID, true) and the queries that queue adds to the batch go to the
// server as one pipeline (pgx batch) that ends with a single Sync. Everything before a Sync is
// one transaction (PostgreSQL protocol, "Pipelining": without an explicit BEGIN the Sync commits
// it, or rolls it back after an error), so row-level security binds the queries exactly as in
// Tx and the setting ends with the transaction, while the read costs one round trip instead of
// one per statement (Tx on gorm needs four for a single SELECT) and no BEGIN or COMMIT
// statement. The transaction is read-only: nothing can be written in it.
//
// queue adds the queries with their result callbacks (pgx.QueuedQuery.QueryRow, Query or Exec);
// they run in order while the answers are read, and the first error, a callback's or the
// server's, is returned (wrapped). Callbacks should report expected outcomes such as "no row"
// through their closures and return errors only for failures: pgx forgets the prepared
// statements of a batch that failed. A connection left inside a transaction by a failure is
// rolled back before it is reused.
func ReadTx(ctx context.Context, conn *pgx.Conn, orgID uuid.UUID, queue func(b *pgx.Batch)) error {
	if orgID == uuid.Nil {
		return errors.New("tenant read: org id is required")
	}
	b := &pgx.Batch{}
	b.Queue(readSetOrgSQL, orgID.String())
	queue(b)
	err := conn.SendBatch(ctx, b).Close()
	if err == nil {
		return nil
	}
	if rerr := RollbackOpen(ctx, conn); rerr != nil {
		return errors.Join(fmt.Errorf("tenant read: %w", err), rerr)
	}
	return fmt.Errorf("tenant read: %w", err)
}

// RollbackOpen rolls back the transaction that a failed pipeline or statement left open on
// conn, if there is one, so that the connection goes back to its pool clean. The ROLLBACK runs
// even when ctx is done (for at most rollbackTimeout). When it fails, the connection is
// unusable, and the pool drops it on release (pgxpool and database/sql both discard a
// connection that is still inside a transaction).
func RollbackOpen(ctx context.Context, conn *pgx.Conn) error {
	if conn.IsClosed() || conn.PgConn().TxStatus() == 'I' {
		return nil
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	if _, err := conn.Exec(rctx, "ROLLBACK"); err != nil {
		return fmt.Errorf("roll back: %w", err)
	}
	return nil
}

// ReadTx is ReadTx on a connection of the handle's pgx pool.
func (d *DB) ReadTx(ctx context.Context, orgID uuid.UUID, queue func(b *pgx.Batch)) error {
	c, err := d.Pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("tenant read: acquire connection: %w", err)
	}
	defer c.Release()
	return ReadTx(ctx, c.Conn(), orgID, queue)
}

// GormReadTx is ReadTx for callers that hold only the gorm handle: it borrows a connection of
// g's database/sql pool (which runs on the same pgx pool, see Open) and runs ReadTx on its pgx
// connection. g must be the handle itself, not a transaction; (*DB).ReadTx saves the
// database/sql layer where the *DB is at hand.
func GormReadTx(ctx context.Context, g *gorm.DB, orgID uuid.UUID, queue func(b *pgx.Batch)) error {
	sqlDB, ok := g.Statement.ConnPool.(*sql.DB)
	if !ok {
		return fmt.Errorf("tenant read: needs the database handle, not %T", g.Statement.ConnPool)
	}
	c, err := sqlDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("tenant read: acquire connection: %w", err)
	}
	defer func() { _ = c.Close() }()
	return WithPgx(c, func(conn *pgx.Conn) error { return ReadTx(ctx, conn, orgID, queue) })
}

// WithPgx runs fn on the pgx connection underneath conn, a connection of the database/sql pool
// that Open builds on pgx, and returns fn's error. fn must not keep the *pgx.Conn; returning
// driver.ErrBadConn makes database/sql discard the connection instead of reusing it.
func WithPgx(conn *sql.Conn, fn func(c *pgx.Conn) error) error {
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("database/sql driver connection is %T, not pgx", dc)
		}
		return fn(sc.Conn())
	})
}
