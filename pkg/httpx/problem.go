// Package httpx holds what every binary's HTTP side shares, on net/http only: RFC 9457 problem
// documents built from apperr codes, the operational routes (/healthz, /readyz, /metrics) and a
// server that shuts down gracefully. echo stays inside the services, which adapt these.
package httpx

import (
	"encoding/json"
	"net/http"

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

// ProblemFor builds the problem document for err. Errors without an apperr code are internal:
// their text is not shown (it is the caller's job to log it).
func ProblemFor(err error) Problem {
	e, ok := apperr.As(err)
	if !ok {
		e = apperr.Errorf(apperr.Internal, "an internal error occurred")
	}
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

// WriteProblem writes p as the response.
func WriteProblem(w http.ResponseWriter, p Problem) {
	w.Header().Set("Content-Type", ProblemContentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
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
