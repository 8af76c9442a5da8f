package intake

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/jobs"
)

// Delivery is one intake delivery as received, for Accept: a webhook or form body, or one CSV
// row. The gateway has checked only its envelope (R14: signature, size, content type, UTF-8,
// framing); every business rule runs later in process_intake.
type Delivery struct {
	OrgID uuid.UUID
	// SourceID is the intake source; nil for a CSV upload that names none.
	SourceID *uuid.UUID
	// BatchID and RowNumber (from 1) place a CSV row in its upload; both or neither.
	BatchID   *uuid.UUID
	RowNumber int
	// DeliveryKey identifies the delivery within its source (1..512 bytes): for a webhook
	// WebhookDeliveryKey, for a form a random value per request. For a CSV row it may be left
	// empty and is then "<batch id>:<row number>".
	DeliveryKey string
	ContentType string
	// Body is the raw body (or CSV row), stored byte for byte.
	Body []byte
	// Headers are request headers kept for audit and debugging. Credentials (Authorization,
	// Cookie, Proxy-Authorization, X-Api-Key) are dropped whatever the caller passes.
	Headers map[string]string
}

// Accepted is the answer of Accept.
type Accepted struct {
	// IntakeID is the lead_intake_raw row of the delivery, new or the one stored before.
	IntakeID uuid.UUID
	// Duplicate says the delivery key was stored before: nothing was written this time.
	Duplicate bool
}

// ProcessIntakeJob is the payload of the process_intake job that Accept enqueues; its
// idempotency key is "intake:<intake id>".
type ProcessIntakeJob struct {
	IntakeID uuid.UUID `json:"intakeId"`
}

// Limits of a delivery's envelope as stored.
const (
	maxDeliveryKeyLen = 512
	maxContentTypeLen = 255
	maxHeaders        = 50
	maxHeaderLen      = 1024
)

// droppedHeaders are never stored, even when passed.
var droppedHeaders = []string{"authorization", "cookie", "proxy-authorization", "x-api-key"}

// Accept stores d in lead_intake_raw and enqueues its process_intake job, in one tenant
// transaction of d.OrgID that writes nothing else (R2, DESIGN.md "Shape"): when Accept returns
// without error, both are committed, and the gateway may answer 202. g is the gateway's handle.
//
// A delivery whose (org, source, delivery key), or (org, batch, row), is stored already writes
// nothing: the insert is ON CONFLICT DO NOTHING on the table's unique keys (R3, never
// check-then-insert), and Accept returns the stored row's id with Duplicate set. So a replayed
// webhook or a re-sent CSV row adds no raw row and no job, also when both copies arrive at
// once: the second insert waits for the first to commit, then finds its row.
//
// An envelope that breaks the table's rules (no org, a bad key, content type or CSV position, an
// empty body) is apperr.BadRequest and writes nothing.
//
// Accept runs in db.Tx on gorm (five round trips for a new delivery), so it composes with a
// caller's transaction; the gateway's hot path is Acceptor.Accept, the same write in one round
// trip.
func Accept(ctx context.Context, g *gorm.DB, queue *jobs.Queue, d Delivery) (Accepted, error) {
	if queue == nil {
		return Accepted{}, fmt.Errorf("accept intake: nil queue")
	}
	headers, err := checkDelivery(&d)
	if err != nil {
		return Accepted{}, err
	}
	var rowNumber *int
	if d.BatchID != nil {
		rowNumber = &d.RowNumber
	}
	var out Accepted
	err = db.Tx(ctx, g, d.OrgID, func(tx *gorm.DB) error {
		id, inserted, err := insertRaw(tx, d, rowNumber, headers)
		if db.IsForeignKeyViolation(err) {
			return sourceNotFound()
		}
		if err != nil {
			return err
		}
		if !inserted {
			// Stored before: a new statement sees the committed first row (READ COMMITTED).
			out.Duplicate = true
			out.IntakeID, err = storedDelivery(tx, d, rowNumber)
			return err
		}
		out.IntakeID = id
		_, err = queue.Enqueue(ctx, tx, jobs.NewJob{
			OrgID: d.OrgID, Type: jobs.TypeProcessIntake, Payload: ProcessIntakeJob{IntakeID: out.IntakeID},
			IdempotencyKey: "intake:" + out.IntakeID.String(),
		})
		return err
	})
	if err != nil {
		return Accepted{}, fmt.Errorf("accept intake: %w", err)
	}
	return out, nil
}

// checkDelivery checks d's envelope against the table's rules, fills in a CSV row's key, and
// returns the headers to store as a JSON object.
func checkDelivery(d *Delivery) ([]byte, error) {
	bad := func(msg string) error { return apperr.Errorf(apperr.BadRequest, "intake delivery: %s", msg) }
	if d.OrgID == uuid.Nil {
		return nil, bad("org is required")
	}
	if d.BatchID != nil {
		if *d.BatchID == uuid.Nil || d.RowNumber < 1 {
			return nil, bad("a CSV row needs its batch and a row number from 1")
		}
		if d.DeliveryKey == "" {
			d.DeliveryKey = d.BatchID.String() + ":" + strconv.Itoa(d.RowNumber)
		}
	} else if d.RowNumber != 0 {
		return nil, bad("a row number needs a batch")
	}
	if d.DeliveryKey == "" || len(d.DeliveryKey) > maxDeliveryKeyLen {
		return nil, bad(fmt.Sprintf("delivery key must have 1 to %d bytes", maxDeliveryKeyLen))
	}
	if d.ContentType == "" || len(d.ContentType) > maxContentTypeLen {
		return nil, bad("content type is required")
	}
	if len(d.Body) == 0 {
		return nil, bad("body is empty")
	}
	kept := make(map[string]string, min(len(d.Headers), maxHeaders))
	for _, k := range slices.Sorted(maps.Keys(d.Headers)) {
		name := clean(strings.ToLower(strings.TrimSpace(k)))
		if name == "" || slices.Contains(droppedHeaders, name) || len(kept) == maxHeaders {
			continue
		}
		kept[name] = clean(d.Headers[k])
	}
	b, err := json.Marshal(kept)
	if err != nil {
		return nil, fmt.Errorf("accept intake: encode headers: %w", err)
	}
	return b, nil
}

// clean makes s storable in jsonb: at most maxHeaderLen bytes of valid UTF-8 without NUL
// (which jsonb refuses).
func clean(s string) string {
	if len(s) > maxHeaderLen {
		s = s[:maxHeaderLen]
	}
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}
