// Package httpx holds what every binary's HTTP side shares, on net/http only: RFC 9457 problem
// documents built from apperr codes, the operational routes (/healthz, /readyz, /metrics) and a
// server that shuts down gracefully. echo stays inside the services, which adapt these.
package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"example.com/crm/pkg/apperr"
)

// ProblemContentType is the media type of problem documents.
const ProblemContentType = "application/problem+json"

// Problem is an RFC 9457 problem document with the fields of API.md.
type Problem struct {
	Type     string              `json:"type"`
	Title    string              `json:"title"`
	Status   int                 `json:"status"`
	Detail   string              `json:"detail,omitempty"`
	Code     string              `json:"code"`
	Instance string              `json:"instance,omitempty"`
	Errors   []apperr.FieldError `json:"errors,omitempty"`
	// Extra members (for example "allowed" next stages) are inlined by MarshalJSON.
	Extra map[string]any `json:"-"`
}

// MarshalJSON inlines Extra beside the standard members.
func (p Problem) MarshalJSON() ([]byte, error) {
	type plain Problem
	b, err := json.Marshal(plain(p))
	if err != nil || len(p.Extra) == 0 {
		return b, err
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range p.Extra {
		if _, taken := m[k]; !taken {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

type codeInfo struct {
	status int
	title  string
}

var codes = map[apperr.Code]codeInfo{
	apperr.Invalid:      {http.StatusUnprocessableEntity, "Validation failed"},
	apperr.BadRequest:   {http.StatusBadRequest, "Bad request"},
	apperr.Unauthorized: {http.StatusUnauthorized, "Unauthorized"},
	apperr.Forbidden:    {http.StatusForbidden, "Forbidden"},
	apperr.NotFound:     {http.StatusNotFound, "Not found"},
	apperr.NotAllowed:   {http.StatusMethodNotAllowed, "Method not allowed"},
	apperr.Conflict:     {http.StatusConflict, "Conflict"},
	apperr.TooLarge:     {http.StatusRequestEntityTooLarge, "Payload too large"},
	apperr.Unsupported:  {http.StatusUnsupportedMediaType, "Unsupported media type"},
	apperr.RateLimited:  {http.StatusTooManyRequests, "Too many requests"},
	apperr.Unavailable:  {http.StatusServiceUnavailable, "Service unavailable"},
	apperr.Internal:     {http.StatusInternalServerError, "Internal error"},
}

// StatusOf returns the HTTP status for an apperr code.
func StatusOf(code apperr.Code) int {
	if c, ok := codes[code]; ok {
		return c.status
	}
	return http.StatusInternalServerError
}

// ProblemFor builds the problem document for err. An error without an apperr code, or with
// Internal, is classified by its cause first (Classify), so that a database fault is never
// shown as a bug; what stays internal has its text hidden (it is the caller's job to log it).
func ProblemFor(err error) Problem {
	e := Classify(err)
	info, known := codes[e.Code]
	if !known {
		info = codes[apperr.Internal]
	}
	detail := e.Message
	if e.Code == apperr.Internal {
		detail = "an internal error occurred"
	}
	return Problem{
		Type:   "https://crm.example.com/problems/" + string(e.Code),
		Title:  info.title,
		Status: info.status,
		Detail: detail,
		Code:   string(e.Code),
		Errors: e.Fields,
		Extra:  e.Extra,
	}
}

// RetryAfter is the wait that every 503 answer suggests (Retry-After) unless its code set
// another: long enough for a database failover or restart to finish, short enough for a
// client to notice the recovery soon.
const RetryAfter = 5 * time.Second

// SetRetryAfter sets Retry-After on a 503 answer that has none, so that every "unavailable"
// tells the client when to try again.
func SetRetryAfter(h http.Header, status int) {
	if status == http.StatusServiceUnavailable && h.Get("Retry-After") == "" {
		h.Set("Retry-After", strconv.Itoa(int(RetryAfter/time.Second)))
	}
}

// sqlStater is what a PostgreSQL server error offers (pgconn.PgError): httpx knows no driver,
// so it recognises the error by this method.
type sqlStater interface{ SQLState() string }

// Classify returns the apperr error that err stands for. An *apperr.Error with a code other
// than Internal is returned as it is. Otherwise the cause decides:
//   - a PostgreSQL data exception (SQLSTATE class 22: bad text encoding, a NUL, a number out of
//     range, an invalid value for a type) comes from a request value and is BadRequest;
//   - a database that cannot be reached or is going away is Unavailable: a connection failure
//     (SQLSTATE class 08, 53300 too many connections, 57P01..57P03 shutdown or starting up), a
//     network error on the way (a refused or reset connection), a connection that ended in the
//     middle of an answer (io.EOF, io.ErrUnexpectedEOF, as pgconn returns them), or a deadline
//     passed while waiting for it (a pool with no free connection);
//   - anything else is Internal.
func Classify(err error) *apperr.Error {
	e, ok := apperr.As(err)
	if ok && e.Code != apperr.Internal {
		return e
	}
	var pg sqlStater
	if errors.As(err, &pg) {
		state := pg.SQLState()
		switch {
		case strings.HasPrefix(state, "22"):
			return apperr.Wrap(err, apperr.BadRequest, "the request holds a value the database cannot take (SQLSTATE "+state+")")
		case strings.HasPrefix(state, "08"), state == "53300", state == "57P01", state == "57P02", state == "57P03":
			return unavailable(err)
		}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) {
		return unavailable(err)
	}
	if ok {
		return e
	}
	return apperr.Wrap(err, apperr.Internal, "an internal error occurred")
}

func unavailable(err error) *apperr.Error {
	return apperr.Wrap(err, apperr.Unavailable, "the service is temporarily unavailable; retry later")
}

// ErrorForStatus is the apperr error for a bare HTTP status that a framework answered on its
// own (no route, wrong method, a middleware's refusal), so that it leaves as a problem document
// like every other failure. Statuses without an apperr code give nil.
func ErrorForStatus(status int) error {
	switch status {
	case http.StatusNotFound:
		return apperr.Errorf(apperr.NotFound, "no such route")
	case http.StatusMethodNotAllowed:
		return apperr.Errorf(apperr.NotAllowed, "method not allowed on this route")
	case http.StatusRequestEntityTooLarge:
		return apperr.Errorf(apperr.TooLarge, "request body is too large")
	case http.StatusUnsupportedMediaType:
		return apperr.Errorf(apperr.Unsupported, "unsupported content type")
	case http.StatusUnauthorized:
		return apperr.Errorf(apperr.Unauthorized, "authentication required")
	case http.StatusForbidden:
		return apperr.Errorf(apperr.Forbidden, "forbidden")
	case http.StatusTooManyRequests:
		return apperr.Errorf(apperr.RateLimited, "too many requests")
	case http.StatusServiceUnavailable:
		return apperr.Errorf(apperr.Unavailable, "service unavailable")
	}
	if status >= 400 && status < 500 {
		return apperr.Errorf(apperr.BadRequest, "bad request")
	}
	return nil
}
