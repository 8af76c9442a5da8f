package intake

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/jobs"
)

// Acceptor stores deliveries in lead_intake_raw with their process_intake jobs, alone or in
// groups of one org, each transaction in one round trip to PostgreSQL: the gateway's write
// path. Safe for concurrent use.
//
// Its transactions do not notify the workers themselves: PostgreSQL lets only one transaction that
// sent NOTIFY commit at a time, holding a lock across the flush of its commit (migration 000010),
// which would cap the gateway at about one delivery per WAL flush. Instead, after a commit that
// inserted jobs (jobs.InsertedSQL), the Acceptor sends NOTIFY jobs_inserted on its own, off the
// request's path; deliveries committed while one is on its way share the next one. The 202 does not
// wait for it, and a lost one costs at most the workers' poll interval, since the workers poll
// regardless.
type Acceptor struct {
	db          *db.DB
	maxAttempts int32
	waker       *jobs.Waker
	groups      groups
}

// NewAcceptor returns an Acceptor on d whose process_intake jobs get cfg.MaxAttempts
// attempts (JOB_MAX_ATTEMPTS; the jobs.Queue default when zero), as the queue built with the
// same cfg would give them. d should be connected as a member of crm_app, like the gateway.
func NewAcceptor(d *db.DB, cfg jobs.Config) *Acceptor {
	if d == nil {
		panic("intake.NewAcceptor: nil db")
	}
	return &Acceptor{db: d, maxAttempts: int32(cfg.Attempts()), waker: jobs.NewWaker(d.Pool), groups: groups{orgs: map[uuid.UUID]*orgGroups{}}}
}

// Accept stores d in lead_intake_raw and enqueues its process_intake job, in one tenant
// transaction of d.OrgID that writes nothing else (DESIGN.md "Shape"): when Accept returns
// without error, both are committed, and the gateway may answer 202.
//
// A delivery whose (org, source, delivery key), or (org, batch, row), is stored already writes
// nothing: the insert is ON CONFLICT DO NOTHING on the table's unique keys (never
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
// The tenant scope, the deferral of the workers' wake-up, one statement (acceptSQL: the raw row
// and, from what it returned, the job) and the read of jobs.InsertedSQL go to the server as one
// pipeline (db.DB.Write) ending in a single Sync, without BEGIN or COMMIT: everything before a
// Sync is one implicit transaction (PostgreSQL protocol, "Pipelining"), which the Sync commits
// (or rolls back after an error), and its answer arrives only after the commit has been flushed
// (synchronous_commit=on, see db.Open). So a new delivery costs one round trip where a
// transaction on gorm costs five (BEGIN, set_config, two INSERTs, COMMIT). A duplicate costs a
// second one, to read the stored row's id in a new snapshot (the conflicting row may have been
// committed after the first statement's snapshot was taken).
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
	err := a.pipeline(ctx, d.OrgID, func(b *db.Batch) {
		b.Rows(scanID(&ids), acceptSQL, org, source, batch, rowNumber, d.DeliveryKey, d.ContentType, d.Body, string(headers),
			KindProcessIntake, a.maxAttempts)
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
	ids = ids[:0]
	err = a.pipeline(ctx, d.OrgID, func(b *db.Batch) {
		switch {
		case d.BatchID != nil:
			b.Rows(scanID(&ids), storedRowSQL, org, batch, rowNumber, source, d.DeliveryKey)
		case d.SourceID != nil:
			b.Rows(scanID(&ids), storedBySourceSQL, org, source, d.DeliveryKey)
		default:
			b.Rows(scanID(&ids), storedNoSourceSQL, org, d.DeliveryKey)
		}
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

// scanID returns a batch callback that appends each row's uuid to ids.
func scanID(ids *[]uuid.UUID) func(db.Row) error {
	return func(row db.Row) error {
		var id db.NullUUID
		if err := row.Scan(&id); err != nil {
			return fmt.Errorf("scan intake id: %w", err)
		}
		*ids = append(*ids, uuid.UUID(id.Bytes))
		return nil
	}
}

// pipeline runs the statements that queue adds as one write transaction of orgID in one round
// trip (db.DB.Write), with the workers' wake-up deferred (jobs.DeferWake, sent with the tenant
// scope) and read back at the end (jobs.InsertedSQL): the workers are woken after the commit
// when it inserted jobs.
func (a *Acceptor) pipeline(ctx context.Context, orgID uuid.UUID, queue func(b *db.Batch)) error {
	var inserted bool
	err := a.db.Write(ctx, orgID, func(b *db.Batch) {
		queue(b)
		b.Row(func(row db.Row) error { return row.Scan(&inserted) }, jobs.InsertedSQL)
	}, jobs.DeferWake)
	if err != nil {
		return err
	}
	if inserted {
		a.waker.Wake()
	}
	return nil
}
