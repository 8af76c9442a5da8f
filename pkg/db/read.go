package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
)

// UUID is id as a query argument in the form pgx encodes fastest. A uuid.UUID reaches pgx as a
// driver.Valuer, whose text pgx then parses back into the 16 bytes it sends.
func UUID(id uuid.UUID) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: true} }

// rollbackTimeout bounds the ROLLBACK that cleans up after a failed transaction (RollbackOpen).
const rollbackTimeout = 5 * time.Second

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
