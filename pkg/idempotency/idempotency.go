// Package idempotency stores the outcome of API requests that carry an Idempotency-Key (R12), so
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
	"gorm.io/gorm"

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

type record struct {
	RequestHash    []byte
	State          string
	ResponseStatus *int
	ContentType    *string
	Location       *string
	ResponseBody   []byte
}

// Begin claims key for a request whose method, path and body hash to hash. It returns nil when
// the caller should run the request (and then call Finish or Abandon), the stored response when
// the same request already finished, apperr.Conflict while the same request is still running,
// and apperr.Invalid when the key was used for another request.
func Begin(ctx context.Context, g *gorm.DB, orgID uuid.UUID, key, method, path string, hash []byte) (*Stored, error) {
	var out *Stored
	err := db.Tx(ctx, g, orgID, func(tx *gorm.DB) error {
		// An expired record, or an in-flight one whose request died, frees its key.
		if err := tx.Exec(`DELETE FROM idempotency_records WHERE org_id = ? AND key = ?
			AND (expires_at < now() OR (state = 'in_flight' AND created_at < now() - ? * interval '1 second'))`,
			orgID, key, int(abandonAfter.Seconds())).Error; err != nil {
			return fmt.Errorf("expire idempotency record: %w", err)
		}
		res := tx.Exec(`INSERT INTO idempotency_records (org_id, key, method, path, request_hash, expires_at)
			VALUES (?, ?, ?, ?, ?, now() + ? * interval '1 second') ON CONFLICT (org_id, key) DO NOTHING`,
			orgID, key, method, path, hash, int(Retention.Seconds()))
		if res.Error != nil {
			return fmt.Errorf("claim idempotency key: %w", res.Error)
		}
		if res.RowsAffected == 1 {
			return nil
		}
		var r record
		err := tx.Raw(`SELECT request_hash, state, response_status, response_headers->>'Content-Type' AS content_type,
			response_headers->>'Location' AS location, response_body
			FROM idempotency_records WHERE org_id = ? AND key = ?`, orgID, key).Scan(&r).Error
		if err != nil {
			return fmt.Errorf("read idempotency record: %w", err)
		}
		switch {
		case string(r.RequestHash) != string(hash):
			return apperr.Errorf(apperr.Invalid, "Idempotency-Key %q was already used with a different request", key).
				WithFields(apperr.FieldError{Field: "Idempotency-Key", Message: "was used with a different request"})
		case r.State != "done" || r.ResponseStatus == nil:
			return apperr.Errorf(apperr.Conflict, "a request with Idempotency-Key %q is still being processed; retry later", key)
		}
		out = &Stored{Status: *r.ResponseStatus, Body: r.ResponseBody}
		if r.ContentType != nil {
			out.ContentType = *r.ContentType
		}
		if r.Location != nil {
			out.Location = *r.Location
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("idempotency: %w", err)
	}
	return out, nil
}

// Finish stores the response of the request that claimed key.
func Finish(ctx context.Context, g *gorm.DB, orgID uuid.UUID, key string, resp Stored) error {
	return db.Tx(ctx, g, orgID, func(tx *gorm.DB) error {
		err := tx.Exec(`UPDATE idempotency_records
			SET state = 'done', response_status = ?, response_headers = ?, response_body = ?
			WHERE org_id = ? AND key = ? AND state = 'in_flight'`,
			resp.Status, headersJSON(resp), resp.Body, orgID, key).Error
		if err != nil {
			return fmt.Errorf("store idempotent response: %w", err)
		}
		return nil
	})
}

// Abandon forgets key after its request failed in a way a retry may fix (a 5xx), so the retry
// runs instead of replaying the failure.
func Abandon(ctx context.Context, g *gorm.DB, orgID uuid.UUID, key string) error {
	err := db.Tx(ctx, g, orgID, func(tx *gorm.DB) error {
		return tx.Exec(`DELETE FROM idempotency_records WHERE org_id = ? AND key = ? AND state = 'in_flight'`, orgID, key).Error
	})
	if err != nil {
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
