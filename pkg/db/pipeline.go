package db

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Batch collects the statements of one pipelined transaction (DB.Read, DB.Write): they go to
// the server together and their results are read back in order, in one round trip.
//
// Each result callback reports expected outcomes (no row, a conflict that inserted nothing)
// through its closure and returns an error only for a failure: an error ends the transaction,
// and pgx forgets the prepared statements of a batch that failed.
type Batch struct{ b pgx.Batch }

// Exec queues a statement whose rows, if any, are not read.
func (b *Batch) Exec(query string, args ...any) { b.b.Queue(query, args...) }

// Row queues a statement of at most one row and calls fn with that row when there is one;
// with no row, fn is not called.
func (b *Batch) Row(fn func(Row) error, query string, args ...any) {
	b.b.Queue(query, args...).Query(func(rows pgx.Rows) error {
		if rows.Next() {
			if err := fn(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// Rows queues a statement and calls fn with each of its rows, in order.
func (b *Batch) Rows(fn func(Row) error, query string, args ...any) {
	b.b.Queue(query, args...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			if err := fn(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// readSetOrgSQL starts every pipelined read (Read): it scopes the transaction to the org and
// makes it read-only. Turning read-only mode on is allowed at any point of a transaction.
const readSetOrgSQL = "SELECT set_config('app.org_id', $1, true), set_config('transaction_read_only', 'on', true)"

// writeSetOrgSQL starts every pipelined write (Write) and every DB.Tx: it scopes the transaction
// to the org; a set_config per Setting is appended to it.
const writeSetOrgSQL = "SELECT set_config('app.org_id', $1, true)"

// Setting is a transaction-local setting (set_config(Name, Value, true)) that Write (and DB.Tx,
// for its Deferral) sends in the statement that scopes its transaction, so that it costs no
// statement of its own: the engine's deferral of the workers' wake-up (jobs.DeferWake) is one.
type Setting struct{ Name, Value string }

// Read runs the statements that queue adds as one read-only transaction scoped to orgID, in a
// single round trip on a connection of the pool: the form of the hot reads (one lead, a page
// of leads), where a gorm transaction costs four round trips for one SELECT (BEGIN, the tenant
// scope, the SELECT, COMMIT). Nothing can be written in it.
func (d *DB) Read(ctx context.Context, orgID uuid.UUID, queue func(b *Batch)) error {
	return d.pipeline(ctx, orgID, queue, readSetOrgSQL, orgID.String())
}

// Write runs the statements that queue adds as one transaction scoped to orgID, with the
// settings, in a single round trip, and returns once it has committed (or failed and been
// rolled back): the form of writes that know every statement up front, such as the intake
// gateway's accept, where a gorm transaction costs BEGIN, the tenant scope, each statement and
// COMMIT. A statement may feed the next through SQL (a WITH that inserts from what another
// inserted) but never through Go: nothing is read back before the whole batch has run.
func (d *DB) Write(ctx context.Context, orgID uuid.UUID, queue func(b *Batch), settings ...Setting) error {
	scope, args := writeScope(orgID, settings)
	return d.pipeline(ctx, orgID, queue, scope, args...)
}

// writeScope is the statement that scopes a write transaction to orgID with the settings, and its
// arguments.
func writeScope(orgID uuid.UUID, settings []Setting) (string, []any) {
	if len(settings) == 0 {
		return writeSetOrgSQL, []any{orgID.String()}
	}
	var q strings.Builder
	q.WriteString(writeSetOrgSQL)
	args := []any{orgID.String()}
	for _, st := range settings {
		fmt.Fprintf(&q, ", set_config($%d, $%d, true)", len(args)+1, len(args)+2)
		args = append(args, st.Name, st.Value)
	}
	return q.String(), args
}

// pipeline sends scope (the statement that scopes the transaction to orgID, with its args) and
// the statements queue adds as one pipeline ending in a single Sync, on a connection of the
// pool. Everything before a Sync is one transaction (PostgreSQL protocol, "Pipelining": without
// an explicit BEGIN the Sync commits it, or rolls it back after an error), so row-level security
// binds the statements exactly as in Tx, the settings end with the transaction, and the answer
// arrives after the commit is flushed. The first error, a callback's or the server's, is
// returned; a connection left inside a transaction by a failure is rolled back before it is
// reused.
func (d *DB) pipeline(ctx context.Context, orgID uuid.UUID, queue func(b *Batch), scope string, args ...any) error {
	if orgID == uuid.Nil {
		return errors.New("tenant pipeline: org id is required")
	}
	c, err := d.Pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("tenant pipeline: acquire connection: %w", err)
	}
	defer c.Release()
	conn := c.Conn()
	b := &Batch{}
	b.Exec(scope, args...)
	queue(b)
	err = conn.SendBatch(ctx, &b.b).Close()
	if err == nil {
		return nil
	}
	if rerr := RollbackOpen(ctx, conn); rerr != nil {
		return errors.Join(fmt.Errorf("tenant pipeline: %w", err), rerr)
	}
	return fmt.Errorf("tenant pipeline: %w", err)
}

// The driver's value types for scanning nullable columns in Each and Batch callbacks: pgx
// fills them without reflection or database/sql's value conversions, which matters on the hot
// reads. Domain packages use them through these names and never import the driver.
type (
	Text        = pgtype.Text
	Int4        = pgtype.Int4
	Int8        = pgtype.Int8
	Bool        = pgtype.Bool
	Timestamptz = pgtype.Timestamptz
	// NullUUID is a nullable uuid column or argument; UUID(id) makes a set one.
	NullUUID = pgtype.UUID
)
