// Package page is the cursor pagination that every list of the system shares: a limit of 1..200
// (default 50) and an opaque cursor that names the last row of the previous page. A cursor is
// base64url of a small JSON document that only the list that made it understands; clients pass
// it back untouched. Keyset pagination, not offsets: a page costs the same however deep it is,
// and rows inserted meanwhile neither repeat nor vanish. Keyset (keyset.go) writes each list's
// ORDER BY, its condition after a cursor and its cursors, so that no list spells them itself.
package page

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"example.com/crm/pkg/apperr"
)

// Limits of a page.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// maxCursorLen bounds what is decoded from a client.
const maxCursorLen = 1024

// Request is a page request: Limit rows after the row named by Cursor ("" = the first page).
type Request struct {
	Limit  int
	Cursor string
}

// Page is one page of a list.
type Page[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"nextCursor"`
}

// Encode makes the cursor for key (a JSON-encodable position).
func Encode(key any) string {
	b, err := json.Marshal(key)
	if err != nil {
		// Keys are plain structs of strings, numbers and times: this cannot fail.
		panic(fmt.Sprintf("page: encode cursor: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// BadCursor is the error of a cursor that this list did not make: apperr.BadRequest on field
// "cursor". Decode returns it, and lists return it for a cursor of another sort or shape.
func BadCursor() error {
	return apperr.Errorf(apperr.BadRequest, "invalid cursor").
		WithFields(apperr.FieldError{Field: "cursor", Message: "is not a cursor returned by this list"})
}

// Decode reads a cursor made by Encode into key. A cursor that is not one is BadCursor.
func Decode(cursor string, key any) error {
	bad := BadCursor()
	if len(cursor) > maxCursorLen {
		return bad
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return bad
	}
	if err := json.Unmarshal(b, key); err != nil {
		return bad
	}
	return nil
}

// Finish turns rows fetched with Limit+1 into a page: when the extra row exists there is a next
// page, and its cursor names the last row kept.
func Finish[T any](rows []T, limit int, key func(T) any) Page[T] {
	if rows == nil {
		rows = []T{}
	}
	if len(rows) <= limit {
		return Page[T]{Data: rows}
	}
	rows = rows[:limit]
	c := Encode(key(rows[len(rows)-1]))
	return Page[T]{Data: rows, NextCursor: &c}
}

// Check refuses a limit outside 1..MaxLimit, for a list that refuses rather than clamps: it is
// BadLimit.
func (r Request) Check() error {
	if r.Limit < 1 || r.Limit > MaxLimit {
		return BadLimit()
	}
	return nil
}

// BadLimit is the error of a limit outside 1..MaxLimit: apperr.BadRequest on field "limit".
func BadLimit() error {
	msg := fmt.Sprintf("must be an integer from 1 to %d", MaxLimit)
	return apperr.Errorf(apperr.BadRequest, "limit %s", msg).WithFields(apperr.FieldError{Field: "limit", Message: msg})
}

// Clamped is the request's limit for a list that clamps rather than refuses: DefaultLimit for
// none (0 or less), MaxLimit at the most.
func (r Request) Clamped() int {
	if r.Limit <= 0 {
		return DefaultLimit
	}
	return min(r.Limit, MaxLimit)
}
