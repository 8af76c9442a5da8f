package jobs

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
)

// TenantDeferWakeSQL ($1: the org id) opens a transaction that writes jobs: it scopes the
// transaction to an org (as db.SetOrg does) and makes the jobs it inserts skip the NOTIFY of the
// jobs insert trigger (app.jobs_notify, migration 000010): the transaction then owes the workers
// a Waker.Wake after its commit.
//
// Why: PostgreSQL lets only one transaction that sent NOTIFY commit at a time, holding a
// database-wide lock until its commit record is flushed. Every transaction that enqueues would
// otherwise wait in line behind the others' disk flushes: the worker transactions of the lead
// pipeline spent most of their time in that line.
//
// CompleteInTx sends it right behind BEGIN; intake.Acceptor at the head of its pipeline.
const TenantDeferWakeSQL = "SELECT set_config('app.org_id', $1, true), set_config('app.jobs_notify', 'deferred', true)"

// completeJobSQL completes the attempt fenced on its claim and logs it (migration 000012); it
// raises leaseLostState when the attempt no longer holds the job.
const completeJobSQL = "SELECT complete_job($1, $2, $3, $4, $5)"

// leaseLostState is the SQLSTATE complete_job raises for an attempt that lost its lease.
const leaseLostState = "CJ001"

// pipelinedTx runs fn in a transaction on one connection and completes job in it, in two round
// trips besides fn's own statements:
//
//  1. BEGIN and TenantDeferWakeSQL, as one pipeline;
//  2. fn's statements, through a gorm session on that connection;
//  3. complete_job and COMMIT, as one pipeline. When the attempt has lost its lease,
//     complete_job fails, the server skips the COMMIT queued behind it (after an error it
//     ignores the rest of a pipeline), and the transaction is rolled back: nothing of fn's
//     writes is kept.
//
// gorm's own Transaction would cost two more: BEGIN alone, and the completion alone before
// COMMIT. On every failure the transaction is rolled back before the connection is returned;
// when that fails too, the connection is discarded rather than reused.
func (q *Queue) pipelinedTx(ctx context.Context, job *Job, fn func(tx *gorm.DB) error, elapsed func() time.Duration) error {
	conn, err := q.beginTenantTx(ctx, job.OrgID)
	if err != nil {
		return fmt.Errorf("complete job %d: %w", job.ID, err)
	}
	defer func() { _ = conn.Close() }()
	if err := fn(q.txSession(ctx, conn)); err != nil {
		return rollback(ctx, conn, err)
	}
	err = completeAndCommit(ctx, conn, completeJobSQL, job.OrgID.String(), job.ID, job.LockedBy, job.Attempt, durationMS(elapsed()))
	if err != nil {
		return fmt.Errorf("complete job %d: %w", job.ID, err)
	}
	return nil
}

// beginTenantTx acquires a connection and opens a transaction on it scoped to orgID with the
// workers' wake-up deferred: BEGIN and TenantDeferWakeSQL in one round trip. The caller closes
// the connection; on an error it is closed here, its transaction rolled back.
func (q *Queue) beginTenantTx(ctx context.Context, orgID uuid.UUID) (*sql.Conn, error) {
	sqlDB, err := q.gorm.DB()
	if err != nil {
		return nil, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire connection: %w", err)
	}
	begin := &pgx.Batch{}
	begin.Queue("BEGIN")
	begin.Queue(TenantDeferWakeSQL, orgID.String())
	if err := sendBatch(ctx, conn, begin); err != nil {
		err = rollback(ctx, conn, fmt.Errorf("begin: %w", err))
		_ = conn.Close()
		return nil, err
	}
	return conn, nil
}

// txSession is a gorm session on the transaction open on conn (see connTx), with ctx.
func (q *Queue) txSession(ctx context.Context, conn *sql.Conn) *gorm.DB {
	tx := q.gorm.Session(&gorm.Session{Context: ctx, NewDB: true})
	tx.Statement.ConnPool = connTx{conn}
	return tx
}

// completeAndCommit sends the completion query (complete_job or complete_jobs) and COMMIT on
// conn's transaction as one pipeline. It returns ErrLeaseLost when the completion refused (the
// server then skips the COMMIT), and an error when the COMMIT did not commit; in both cases the
// transaction has been rolled back.
func completeAndCommit(ctx context.Context, conn *sql.Conn, query string, args ...any) error {
	var tag pgconn.CommandTag
	commit := &pgx.Batch{}
	commit.Queue(query, args...)
	commit.Queue("COMMIT").Exec(func(ct pgconn.CommandTag) error { tag = ct; return nil })
	err := sendBatch(ctx, conn, commit)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == leaseLostState:
		return rollback(ctx, conn, ErrLeaseLost)
	case err != nil:
		return rollback(ctx, conn, err)
	case tag.String() != "COMMIT":
		// COMMIT of a transaction that had already failed answers ROLLBACK without an error.
		return fmt.Errorf("transaction rolled back (%s)", tag.String())
	}
	return nil
}

// sendBatch sends b on conn's pgx connection as one pipeline and reads every answer.
func sendBatch(ctx context.Context, conn *sql.Conn, b *pgx.Batch) error {
	return db.WithPgx(conn, func(c *pgx.Conn) error { return c.SendBatch(ctx, b).Close() })
}

// rollback ends the connection's transaction, if one is open, after cause, and returns cause.
// A connection whose ROLLBACK fails is discarded (driver.ErrBadConn) instead of going back to
// the pool.
func rollback(ctx context.Context, conn *sql.Conn, cause error) error {
	var rerr error
	err := db.WithPgx(conn, func(c *pgx.Conn) error {
		if rerr = db.RollbackOpen(ctx, c); rerr != nil {
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

// connTx is the gorm connection pool of a transaction that pipelinedTx opened and will end:
// statements run on its connection, and as a TxCommitter it makes gorm treat the session as a
// transaction (a nested Transaction opens a savepoint instead of a second BEGIN). Commit and
// Rollback are pipelinedTx's own; a handler calling them gets an error.
type connTx struct{ *sql.Conn }

var errManagedTx = errors.New("the job's transaction is committed or rolled back by CompleteInTx")

// Commit refuses: CompleteInTx commits.
func (connTx) Commit() error { return errManagedTx }

// Rollback refuses: returning an error from fn rolls back.
func (connTx) Rollback() error { return errManagedTx }
