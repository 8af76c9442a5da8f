package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
// otherwise wait in line behind the others' disk flushes, and a busy worker's transactions would
// spend most of their time in that line.
//
// CompleteInTx sends it right behind BEGIN; intake.Acceptor sends DeferWake with the tenant scope
// of its pipeline (db.DB.Write), and db.DB.Tx on a handle wired by WakeAfterCommit with its own.
// Each learns from InsertedSQL whether the workers are owed a wake-up.
const TenantDeferWakeSQL = "SELECT set_config('app.org_id', $1, true), set_config('app.jobs_notify', 'deferred', true)"

// DeferWake is the setting of TenantDeferWakeSQL without the tenant scope, for a pipelined
// write (db.DB.Write) that scopes its transaction itself.
var DeferWake = db.Setting{Name: "app.jobs_notify", Value: "deferred"}

// completeSQL is the one completion of attempts ($1..$5: parallel arrays of org ids, job ids,
// claims, attempt numbers and run times in ms), for every path: each row is fenced on its claim
// (status, locked_by, attempts), so an attempt that lost its lease completes nothing, and a log
// row is written for exactly the attempts that did complete. With $6 true it fails
// (jobs_lease_lost, migration 000019: leaseLostState) unless every attempt still held its job. It
// returns the ids completed and whether the transaction inserted jobs while it deferred their
// wake-up (InsertedSQL).
//
// The log row takes its duration from the UPDATE's RETURNING (which may name the FROM items), so
// the statement joins the input once. It is a plain statement, planned with its arrays
// (CompleteMany) or prepared (the pipelined commit), rather than a plpgsql function, whose cached
// plan of the same join slows as the jobs table grows.
const completeSQL = `
WITH done AS (
    UPDATE jobs j
    SET status = 'completed', completed_at = now(), locked_at = NULL, last_error = NULL
    FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::int[], $5::int[]) AS c(org_id, id, locked_by, attempt, duration_ms)
    WHERE j.org_id = c.org_id AND j.id = c.id
      AND j.status = 'running' AND j.locked_by = c.locked_by AND j.attempts = c.attempt
    RETURNING j.org_id, j.id, j.job_type, j.attempts, j.locked_by, c.duration_ms
), logged AS (
    INSERT INTO job_logs (org_id, job_id, job_type, attempt, worker, outcome, duration_ms)
    SELECT org_id, id, job_type, attempts, locked_by, 'completed', duration_ms FROM done
    RETURNING job_id
)
SELECT coalesce(array_agg(job_id), '{}'::bigint[]), ` + insertedExpr + `,
       CASE WHEN $6::boolean AND count(*) <> cardinality($2::bigint[])
            THEN jobs_lease_lost(cardinality($2::bigint[]) - count(*), cardinality($2::bigint[])) END
FROM logged`

// leaseLostState is the SQLSTATE of jobs_lease_lost: an attempt of an all-or-none completion
// lost its lease.
const leaseLostState = "CJ001"

// completion is completeSQL's arguments for attempts; allOrNone is its $6.
func completion(runs []Completion, allOrNone bool) []any {
	n := len(runs)
	// Org ids go as [16]byte: pgx encodes them as binary uuids (strings would first fail a binary
	// encoding of the whole array, format the error, and only then fall back to text).
	orgs, ids, lockedBy, attempts, durs := make([][16]byte, n), make([]int64, n), make([]string, n), make([]int32, n), make([]int32, n)
	for i, c := range runs {
		orgs[i], ids[i], lockedBy[i], attempts[i] = c.Job.OrgID, c.Job.ID, c.Job.LockedBy, int32(c.Job.Attempt)
		durs[i] = durationMS(c.Duration)
	}
	return []any{orgs, ids, lockedBy, attempts, durs, allOrNone}
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
	if err := db.SendBatch(ctx, conn, begin); err != nil {
		err = db.RollbackConn(ctx, conn, fmt.Errorf("begin: %w", err))
		_ = conn.Close()
		return nil, err
	}
	return conn, nil
}

// txSession is a gorm session on the transaction open on conn (db.ConnSession), with ctx.
func (q *Queue) txSession(ctx context.Context, conn *sql.Conn) *gorm.DB {
	return db.ConnSession(ctx, q.gorm, conn)
}

// completeAndCommit sends completeSQL for every attempt of done (all or none) and COMMIT on
// conn's transaction as one pipeline, and reports whether the transaction inserted jobs whose
// wake-up it deferred. It returns ErrLeaseLost when the completion refused (the server then
// skips the COMMIT), and an error when the COMMIT did not commit; in both cases the transaction
// has been rolled back.
func completeAndCommit(ctx context.Context, conn *sql.Conn, done []Completion) (inserted bool, err error) {
	var tag pgconn.CommandTag
	commit := &pgx.Batch{}
	commit.Queue(completeSQL, completion(done, true)...).QueryRow(func(row pgx.Row) error {
		var ids []int64
		var failed *bool
		return row.Scan(&ids, &inserted, &failed)
	})
	commit.Queue("COMMIT").Exec(func(ct pgconn.CommandTag) error { tag = ct; return nil })
	err = db.SendBatch(ctx, conn, commit)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == leaseLostState:
		return false, db.RollbackConn(ctx, conn, ErrLeaseLost)
	case err != nil:
		return false, db.RollbackConn(ctx, conn, err)
	case tag.String() != "COMMIT":
		// COMMIT of a transaction that had already failed answers ROLLBACK without an error.
		return false, fmt.Errorf("transaction rolled back (%s)", tag.String())
	}
	return inserted, nil
}
