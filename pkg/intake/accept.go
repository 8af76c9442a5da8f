package intake

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/jobs"
)

// acceptSQL stores a delivery and enqueues its process_intake job in one statement. The raw row
// is inserted ON CONFLICT DO NOTHING on the table's unique keys (R3), and the job is inserted
// from what that insert returned, so a delivery stored before inserts neither; a delivery
// whose copy is being stored by another transaction waits for it and then inserts neither. The
// job is processIntakeJob: payload ProcessIntakeJob, run at once, $10 attempts (the queue's
// JOB_MAX_ATTEMPTS). It returns the new row's id, or no row for a delivery stored before.
var acceptSQL = `
WITH raw AS (
	INSERT INTO lead_intake_raw (org_id, source_id, batch_id, row_number, delivery_key, content_type, body, headers)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
	ON CONFLICT DO NOTHING
	RETURNING org_id, id
), job AS (` + processIntakeJob("$9", "$10") + `
)
SELECT id FROM raw`

// processIntakeJob inserts the process_intake job (type jobType, maxAttempts attempts) of each
// new raw row of the WITH item raw: payload ProcessIntakeJob, keyed jobs.IntakeKeySQL.
func processIntakeJob(jobType, maxAttempts string) string {
	return jobs.Insert{
		OrgID: "raw.org_id", JobType: jobType, Payload: jobs.PayloadSQL(ProcessIntakeJob{}, "raw"),
		Key: jobs.IntakeKeySQL("raw.id"), MaxAttempts: maxAttempts, From: "raw",
	}.SQL()
}

// The lookups of the row a duplicate delivery conflicted with, one per shape of delivery so that
// each is an index scan of one of the table's unique keys.
const (
	storedBySourceSQL = `SELECT id FROM lead_intake_raw WHERE org_id = $1 AND source_id = $2 AND delivery_key = $3`
	storedNoSourceSQL = `SELECT id FROM lead_intake_raw WHERE org_id = $1 AND source_id IS NULL AND delivery_key = $2`
	storedRowSQL      = `SELECT id FROM lead_intake_raw WHERE org_id = $1 AND batch_id = $2 AND row_number = $3
UNION ALL
SELECT id FROM lead_intake_raw WHERE org_id = $1 AND source_id IS NOT DISTINCT FROM $4 AND delivery_key = $5
LIMIT 1`
)

// Acceptor stores deliveries in lead_intake_raw with their process_intake jobs, alone or in
// groups of one org, each transaction in one round trip to PostgreSQL: the gateway's write
// path. Safe for concurrent use.
//
// Its transactions do not notify the workers themselves: PostgreSQL lets only one transaction
// that sent NOTIFY commit at a time, holding a lock across the flush of its commit (migration
// 000010), which capped the gateway at about one delivery per WAL flush. Instead, after a commit
// that inserted jobs (jobs.InsertedSQL), the Acceptor sends NOTIFY jobs_inserted on its own, off the
// request's path; deliveries committed while one is on its way share the next one. The 202 does
// not wait for it, and a lost one costs at most the workers' poll interval (R11).
type Acceptor struct {
	pool        *pgxpool.Pool
	maxAttempts int32
	waker       *jobs.Waker
	groups      groups
}

// NewAcceptor returns an Acceptor on d's pgx pool whose process_intake jobs get cfg.MaxAttempts
// attempts (JOB_MAX_ATTEMPTS; the jobs.Queue default when zero), as the queue built with the
// same cfg would give them. d should be connected as a member of crm_app, like the gateway.
func NewAcceptor(d *db.DB, cfg jobs.Config) *Acceptor {
	if d == nil {
		panic("intake.NewAcceptor: nil db")
	}
	return &Acceptor{pool: d.Pool, maxAttempts: int32(cfg.Attempts()), waker: jobs.NewWaker(d.Pool), groups: groups{orgs: map[uuid.UUID]*orgGroups{}}}
}

// Accept stores d in lead_intake_raw and enqueues its process_intake job, in one tenant
// transaction of d.OrgID that writes nothing else (R2, DESIGN.md "Shape"): when Accept returns
// without error, both are committed, and the gateway may answer 202.
//
// A delivery whose (org, source, delivery key), or (org, batch, row), is stored already writes
// nothing: the insert is ON CONFLICT DO NOTHING on the table's unique keys (R3, never
// check-then-insert), and Accept returns the stored row's id with Duplicate set. So a replayed
// webhook or a re-sent CSV row adds no raw row and no job, also when both copies arrive at
// once: the second insert waits for the first to commit, then finds its row. An unknown source
// is apperr.NotFound; an envelope that breaks the table's rules (no org, a bad key, content type
// or CSV position, an empty body) is apperr.BadRequest and writes nothing.
//
// Deliveries of one org that arrive while its transactions are busy share the next one (see
// group.go): under load, one commit stores many, and at rest each goes alone at once. Either
// way a delivery's raw row and its job commit together, and Accept returns only after that
// commit. A CSV row (d.BatchID set) always goes alone.
func (a *Acceptor) Accept(ctx context.Context, d Delivery) (Accepted, error) {
	headers, err := checkDelivery(&d)
	if err != nil {
		return Accepted{}, err
	}
	if d.BatchID != nil {
		return a.acceptOne(ctx, d, headers)
	}
	p := &waiting{d: d, headers: headers, done: make(chan outcome, 1)}
	a.enqueue(ctx, p)
	select {
	case o := <-p.done:
		if o.alone {
			return a.acceptOne(ctx, d, headers)
		}
		return o.acc, o.err
	case <-ctx.Done():
		// The delivery may still be stored: a retry of it is then a duplicate.
		return Accepted{}, fmt.Errorf("accept intake: %w", ctx.Err())
	}
}

// acceptOne stores one checked delivery (headers: its kept headers' JSON) in a transaction of
// its own.
//
// set_config('app.org_id') and one statement (acceptSQL: the raw row and, from what it
// returned, the job) go to the server as one pipeline ending in a single Sync, without BEGIN or
// COMMIT: everything before a Sync is one implicit transaction (PostgreSQL protocol,
// "Pipelining"), which the Sync commits (or rolls back after an error), and its answer arrives
// only after the commit has been flushed (synchronous_commit=on, see db.Open). So a new
// delivery costs one round trip where a transaction on gorm costs five (BEGIN, set_config, two
// INSERTs, COMMIT). A duplicate costs a second one, to read the stored row's id in a new
// snapshot (the conflicting row may have been committed after the first statement's snapshot
// was taken).
func (a *Acceptor) acceptOne(ctx context.Context, d Delivery, headers []byte) (Accepted, error) {
	var source, batch db.NullUUID
	if d.SourceID != nil {
		source = db.UUID(*d.SourceID)
	}
	var rowNumber db.Int4
	if d.BatchID != nil {
		batch = db.UUID(*d.BatchID)
		rowNumber = db.Int4{Int32: int32(d.RowNumber), Valid: true}
	}
	org := db.UUID(d.OrgID)
	var ids []uuid.UUID
	err := a.pipeline(ctx, d.OrgID, func(b *pgx.Batch) {
		b.Queue(acceptSQL, org, source, batch, rowNumber, d.DeliveryKey, d.ContentType, d.Body, string(headers),
			KindProcessIntake, a.maxAttempts).Query(scanIDs(&ids))
	})
	if db.IsForeignKeyViolation(err) {
		return Accepted{}, fmt.Errorf("accept intake: %w", sourceNotFound())
	}
	if err != nil {
		return Accepted{}, fmt.Errorf("accept intake: %w", err)
	}
	if len(ids) == 1 {
		return Accepted{IntakeID: ids[0]}, nil
	}
	err = a.pipeline(ctx, d.OrgID, func(b *pgx.Batch) {
		var q *pgx.QueuedQuery
		switch {
		case d.BatchID != nil:
			q = b.Queue(storedRowSQL, org, batch, rowNumber, source, d.DeliveryKey)
		case d.SourceID != nil:
			q = b.Queue(storedBySourceSQL, org, source, d.DeliveryKey)
		default:
			q = b.Queue(storedNoSourceSQL, org, d.DeliveryKey)
		}
		q.Query(scanIDs(&ids))
	})
	if err != nil {
		return Accepted{}, fmt.Errorf("accept intake: find stored intake row: %w", err)
	}
	if len(ids) == 0 {
		// The conflicting row was pruned between the two statements: vanishingly rare, and a
		// retry of the whole delivery inserts it anew.
		return Accepted{}, apperr.Errorf(apperr.Conflict, "the delivery conflicted with a row that is gone; retry")
	}
	return Accepted{IntakeID: ids[0], Duplicate: true}, nil
}

// scanIDs returns a batch callback that collects the uuid of each row into ids.
func scanIDs(ids *[]uuid.UUID) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		*ids = (*ids)[:0]
		for rows.Next() {
			var id db.NullUUID
			if err := rows.Scan(&id); err != nil {
				return fmt.Errorf("scan intake id: %w", err)
			}
			*ids = append(*ids, uuid.UUID(id.Bytes))
		}
		return rows.Err()
	}
}

// pipeline scopes a transaction to orgID with the workers' wake-up deferred
// (jobs.TenantDeferWakeSQL) and runs it with and the statements that queue adds as one pipeline,
// i.e. one transaction committed by its Sync, in one round trip. The pipeline ends in
// jobs.InsertedSQL, and the workers are woken after the commit when it inserted jobs. A connection left inside a
// transaction by a failure is rolled back before it goes back to the pool.
func (a *Acceptor) pipeline(ctx context.Context, orgID uuid.UUID, queue func(b *pgx.Batch)) error {
	c, err := a.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", err)
	}
	defer c.Release()
	b := &pgx.Batch{}
	b.Queue(jobs.TenantDeferWakeSQL, orgID.String())
	queue(b)
	var inserted bool
	b.Queue(jobs.InsertedSQL).QueryRow(func(row pgx.Row) error { return row.Scan(&inserted) })
	conn := c.Conn()
	err = conn.SendBatch(ctx, b).Close()
	if err == nil {
		if inserted {
			a.waker.Wake()
		}
		return nil
	}
	if rerr := db.RollbackOpen(ctx, conn); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}
