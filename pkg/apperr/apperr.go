// Package apperr is the error model of the whole system: an error carries a stable code that the
// HTTP edge maps to a status and an RFC 9457 problem document, and that job handlers map to retry
// or dead-letter decisions. Code below the edge wraps errors with %w and never picks statuses.
package apperr

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error class.
type Code string

// The error codes. Their HTTP statuses live in pkg/httpx.
const (
	Invalid      Code = "invalid"            // the input breaks a rule (422)
	BadRequest   Code = "bad_request"        // the input cannot be parsed (400)
	Unauthorized Code = "unauthorized"       // no or bad credentials (401)
	Forbidden    Code = "forbidden"          // credentials do not grant this (403)
	NotFound     Code = "not_found"          // no such thing in this org (404)
	NotAllowed   Code = "method_not_allowed" // the route exists, the method does not (405)
	Conflict     Code = "conflict"           // the current state forbids it (409)
	TooLarge     Code = "too_large"          // the body is over its limit (413)
	Unsupported  Code = "unsupported"        // wrong content type (415)
	RateLimited  Code = "rate_limited"       // slow down (429)
	Unavailable  Code = "unavailable"        // shedding load or not ready (503)
	Internal     Code = "internal"           // a bug or an outage; details are logged, not shown (500)
)

// FieldError is one validation failure of one input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is an error with a code, a message safe to show to a client, and optional field errors.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	// Extra holds machine-readable details for the client (for example the allowed next stages
	// of a refused transition). Keys are camelCase.
	Extra map[string]any
	err   error
}

// Error implements error.
func (e *Error) Error() string {
	if e.err != nil {
		return e.Message + ": " + e.err.Error()
	}
	return e.Message
}

// Unwrap returns the wrapped cause, if any.
func (e *Error) Unwrap() error { return e.err }

// Errorf returns an *Error with the code and a formatted client-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with the code and message that wraps err (kept for logs, not shown).
func Wrap(err error, code Code, message string) *Error {
	return &Error{Code: code, Message: message, err: err}
}

// WithFields returns the error with field-level details added.
func (e *Error) WithFields(fields ...FieldError) *Error {
	e.Fields = append(e.Fields, fields...)
	return e
}

// With returns the error with one machine-readable detail added.
func (e *Error) With(key string, value any) *Error {
	if e.Extra == nil {
		e.Extra = map[string]any{}
	}
	e.Extra[key] = value
	return e
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// As returns the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Is reports whether err carries the code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }
