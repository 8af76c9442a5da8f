package intake

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/jobs"
)

// Row is one CSV row of an upload, for AcceptRows.
type Row struct {
	// Number is the row's line number in the file (from 1); it is the row's row_number, and
	// its delivery key is "<batch id>:<number>".
	Number int
	// Body is the row as stored, byte for byte.
	Body []byte
	// Headers are kept for audit as Delivery.Headers are (the same rules apply).
	Headers map[string]string
}

// Rows are rows of one CSV upload, for AcceptRows.
type Rows struct {
	OrgID uuid.UUID
	// SourceID is the csv source the upload names; nil when it names none.
	SourceID    *uuid.UUID
	BatchID     uuid.UUID
	ContentType string
	Rows        []Row
}

// AcceptRows stores the rows of a CSV upload in lead_intake_raw and enqueues a process_intake
// job for each new one, all in one tenant transaction of r.OrgID that writes nothing else: it
// is Acceptor.Accept for many rows at once (one statement for the rows, one for their jobs), so that an
// upload of a million rows takes a thousand transactions, not a million. It returns how many
// rows were new; rows stored before (a retried batch) are skipped and enqueue nothing.
//
// Envelopes that break the table's rules (no org or batch, a row number below 1, an empty
// body) are apperr.BadRequest and write nothing; an unknown source is apperr.NotFound.
func AcceptRows(ctx context.Context, d *db.DB, queue *jobs.Queue, r Rows) (int, error) {
	if queue == nil {
		return 0, fmt.Errorf("accept intake rows: nil queue")
	}
	if len(r.Rows) == 0 {
		return 0, nil
	}
	if r.BatchID == uuid.Nil {
		return 0, apperr.Errorf(apperr.BadRequest, "intake delivery: a CSV row needs its batch")
	}
	n := len(r.Rows)
	numbers, keys, bodies, headers := make([]int32, n), make([]string, n), make([][]byte, n), make([]string, n)
	for i, row := range r.Rows {
		d := Delivery{
			OrgID: r.OrgID, SourceID: r.SourceID, BatchID: &r.BatchID, RowNumber: row.Number,
			ContentType: r.ContentType, Body: row.Body, Headers: row.Headers,
		}
		h, err := checkDelivery(&d)
		if err != nil {
			return 0, err
		}
		numbers[i], keys[i], bodies[i], headers[i] = int32(row.Number), d.DeliveryKey, row.Body, string(h)
	}
	var source *string
	if r.SourceID != nil {
		s := r.SourceID.String()
		source = &s
	}
	inserted := 0
	err := d.Tx(ctx, r.OrgID, func(tx *gorm.DB) error {
		ids, err := db.Select[uuid.UUID](ctx, tx, insertRowsSQL,
			r.OrgID.String(), source, r.BatchID.String(), r.ContentType, numbers, keys, bodies, headers)
		if db.IsForeignKeyViolation(err) {
			return sourceNotFound()
		}
		if err != nil {
			return fmt.Errorf("insert intake rows: %w", err)
		}
		newJobs := make([]jobs.NewJob, len(ids))
		for i, id := range ids {
			newJobs[i] = jobs.NewJob{
				OrgID: r.OrgID, Type: KindProcessIntake, Payload: ProcessIntakeJob{IntakeID: id},
				IdempotencyKey: "intake:" + id.String(),
			}
		}
		inserted = len(newJobs)
		_, err = queue.Enqueue(ctx, tx, newJobs...)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("accept intake rows: %w", err)
	}
	return inserted, nil
}
