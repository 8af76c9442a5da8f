package httpapi

import (
	"time"

	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/apperr"
)

// queryAsOf reads the asOf query parameter of GET /leads/{id} and GET /deals/{id}: nil when it
// is absent, else the RFC 3339 instant it names; given but unparsable (or empty) is
// apperr.BadRequest.
func queryAsOf(c echo.Context) (*time.Time, error) {
	vals, ok := c.QueryParams()["asOf"]
	if !ok {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, vals[len(vals)-1])
	if err != nil || len(vals) > 1 {
		return nil, apperr.Errorf(apperr.BadRequest, "asOf must be one RFC 3339 time").
			WithFields(apperr.FieldError{Field: "asOf", Message: "must be one RFC 3339 time such as 2026-01-15T10:00:00Z"})
	}
	return &t, nil
}
