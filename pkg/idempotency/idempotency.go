// Package idempotency stores the outcome of API requests that carry an Idempotency-Key, so
// that a client's retry returns the first response instead of doing the work twice. Records are
// scoped to (org, key), remember a hash of the request, and live 24 hours: a repeat of the same
// request gets the stored response, the same key with another request is refused, and a repeat
// that arrives while the first is still running is told to wait.
package idempotency

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
)

// Retention is how long a key is remembered.
const Retention = 24 * time.Hour

// abandonAfter is how long an in-flight record may wait for its response before a retry may
// take the key over (the first request's process died between the two writes).
const abandonAfter = 5 * time.Minute

// Stored is the response of a finished request: its status, body and the headers a client
// acts on (Content-Type, Location).
type Stored struct {
	Status      int
	ContentType string
	Location    string
	Body        []byte
}

// ValidKey reports whether key is acceptable: 1..255 printable ASCII characters.
func ValidKey(key string) bool {
	if len(key) == 0 || len(key) > 255 {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return false
		}
	}
	return true
}

// The statements of Begin, Finish and Abandon. Begin sends its three in one pipeline: the
// delete frees an expired key, the insert claims it (and reports whether it did), and the
// select reads the record the key holds, which is a new statement's snapshot, so it sees a
// claim that a concurrent request committed while the insert waited for it.
const (
	expireSQL = `DELETE FROM idempotency_records WHERE org_id = $1 AND key = $2
	AND (expires_at < now() OR (state = 'in_flight' AND created_at < now() - $3 * interval '1 second'))`
	claimSQL = `INSERT INTO idempotency_records (org_id, key, method, path, request_hash, expires_at)
	VALUES ($1, $2, $3, $4, $5, now() + $6 * interval '1 second') ON CONFLICT (org_id, key) DO NOTHING
	RETURNING true`
	recordSQL = `SELECT request_hash, state, response_status, response_headers->>'Content-Type',
	response_headers->>'Location', response_body
	FROM idempotency_records WHERE org_id = $1 AND key = $2`
	finishSQL = `UPDATE idempotency_records
	SET state = 'done', response_status = $1, response_headers = $2, response_body = $3
	WHERE org_id = $4 AND key = $5 AND state = 'in_flight'`
	abandonSQL = `DELETE FROM idempotency_records WHERE org_id = $1 AND key = $2 AND state = 'in_flight'`
)

// record is the row recordSQL reads.
type record struct {
	requestHash    []byte
	state          string
	responseStatus db.Int4
	contentType    db.Text
	location       db.Text
	responseBody   []byte
}

// Begin claims key for a request whose method, path and body hash to hash. It returns nil when
// the caller should run the request (and then call Finish or Abandon), the stored response when
// the same request already finished, apperr.Conflict while the same request is still running,
// and apperr.Invalid when the key was used for another request. It costs one round trip.
func Begin(ctx context.Context, d *db.DB, orgID uuid.UUID, key, method, path string, hash []byte) (*Stored, error) {
	var claimed bool
	var r record
	err := d.Write(ctx, orgID, func(b *db.Batch) {
		b.Exec(expireSQL, orgID, key, int(abandonAfter.Seconds()))
		b.Row(func(row db.Row) error { return row.Scan(&claimed) },
			claimSQL, orgID, key, method, path, hash, int(Retention.Seconds()))
		b.Row(func(row db.Row) error {
			return row.Scan(&r.requestHash, &r.state, &r.responseStatus, &r.contentType, &r.location, &r.responseBody)
		}, recordSQL, orgID, key)
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("idempotency: claim key: %w", err)
	case claimed:
		return nil, nil
	case string(r.requestHash) != string(hash):
		return nil, apperr.Errorf(apperr.Invalid, "Idempotency-Key %q was already used with a different request", key).
			WithFields(apperr.FieldError{Field: "Idempotency-Key", Message: "was used with a different request"})
	case r.state != "done" || !r.responseStatus.Valid:
		return nil, apperr.Errorf(apperr.Conflict, "a request with Idempotency-Key %q is still being processed; retry later", key)
	}
	return &Stored{Status: int(r.responseStatus.Int32), Body: r.responseBody, ContentType: r.contentType.String, Location: r.location.String}, nil
}

// Finish stores the response of the request that claimed key.
func Finish(ctx context.Context, d *db.DB, orgID uuid.UUID, key string, resp Stored) error {
	err := d.Write(ctx, orgID, func(b *db.Batch) {
		b.Exec(finishSQL, resp.Status, headersJSON(resp), resp.Body, orgID, key)
	})
	if err != nil {
		return fmt.Errorf("store idempotent response: %w", err)
	}
	return nil
}

// Abandon forgets key after its request failed in a way a retry may fix (a 5xx), so the retry
// runs instead of replaying the failure.
func Abandon(ctx context.Context, d *db.DB, orgID uuid.UUID, key string) error {
	if err := d.Write(ctx, orgID, func(b *db.Batch) { b.Exec(abandonSQL, orgID, key) }); err != nil {
		return fmt.Errorf("abandon idempotency key: %w", err)
	}
	return nil
}

func headersJSON(resp Stored) string {
	h := map[string]string{"Content-Type": resp.ContentType}
	if resp.Location != "" {
		h["Location"] = resp.Location
	}
	b, _ := json.Marshal(h) // a map of strings always marshals
	return string(b)
}
