package intake

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"example.com/crm/pkg/apperr"
)

// Delivery is one intake delivery as received, for Acceptor.Accept: a webhook or form body, or one CSV
// row. The gateway has checked only its envelope (signature, size, content type, UTF-8,
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

// Accepted is the answer of Acceptor.Accept.
type Accepted struct {
	// IntakeID is the lead_intake_raw row of the delivery, new or the one stored before.
	IntakeID uuid.UUID
	// Duplicate says the delivery key was stored before: nothing was written this time.
	Duplicate bool
}

// ProcessIntakeJob is the payload of the process_intake job that Acceptor.Accept enqueues, built
// from the new raw row (its col tags, jobs.PayloadSQL); its idempotency key is jobs.IntakeKeySQL.
type ProcessIntakeJob struct {
	IntakeID uuid.UUID `json:"intakeId" col:"id"`
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
