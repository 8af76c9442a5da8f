package httpapi

import (
	"net/http"
	"regexp"
	"time"

	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/analytics"
	"example.com/crm/pkg/apperr"
)

// analyticsRoutes registers the figures of API.md "Analytics (definitions)": the funnel, the
// velocity and the dashboard (the pipeline, a sum over deals, is in deals.go).
func (s *Server) analyticsRoutes(r router) {
	h := &analyticsHandlers{svc: analytics.NewService(s.DB)}
	r.GET("/analytics/funnel", h.funnel)
	r.GET("/analytics/velocity", h.velocity)
	r.GET("/analytics/dashboard", h.dashboard)
}

// analyticsHandlers bind the window (and the velocity's currency), call one analytics read and
// answer its figures, whose JSON is the API's.
type analyticsHandlers struct {
	svc *analytics.Service
}

// currencyPattern is an ISO 4217 code as the deals store it.
var currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)

// window reads ?from=&to=: an unparsable time is 400, from after to 422 (analytics.NewWindow).
func window(c echo.Context) (analytics.Window, error) {
	var from, to *time.Time
	for _, q := range []struct {
		name string
		dst  **time.Time
	}{{"from", &from}, {"to", &to}} {
		raw := c.QueryParam(q.name)
		if raw == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, raw)
		if err != nil {
			return analytics.Window{}, apperr.Errorf(apperr.BadRequest, "%s must be an RFC 3339 time", q.name).
				WithFields(apperr.FieldError{Field: q.name, Message: "must be an RFC 3339 time, such as 2026-01-01T00:00:00Z"})
		}
		*q.dst = &t
	}
	return analytics.NewWindow(from, to, time.Now())
}

// funnel is GET /analytics/funnel?from=&to=.
func (h *analyticsHandlers) funnel(c echo.Context) error {
	w, err := window(c)
	if err != nil {
		return err
	}
	out, err := h.svc.Funnel(c.Request().Context(), orgOf(c), w)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// velocity is GET /analytics/velocity?currency=&from=&to=; the currency is required.
func (h *analyticsHandlers) velocity(c echo.Context) error {
	w, err := window(c)
	if err != nil {
		return err
	}
	currency := c.QueryParam("currency")
	if !currencyPattern.MatchString(currency) {
		return apperr.Errorf(apperr.Invalid, "currency must be an ISO 4217 code").
			WithFields(apperr.FieldError{Field: "currency", Message: "is required: three capital letters, such as EUR"})
	}
	out, err := h.svc.Velocity(c.Request().Context(), orgOf(c), w, currency)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// dashboard is GET /analytics/dashboard?from=&to=.
func (h *analyticsHandlers) dashboard(c echo.Context) error {
	w, err := window(c)
	if err != nil {
		return err
	}
	out, err := h.svc.Dashboard(c.Request().Context(), orgOf(c), w)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}
