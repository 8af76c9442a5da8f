package httpapi

import (
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/call"
	"example.com/crm/pkg/lead"
)

// callRoutes registers the call routes (API.md "API": calls).
func (s *Server) callRoutes(r router, leads *lead.Service) {
	h := &callHandlers{svc: call.NewService(s.DB, s.Emitter, leads, call.Options{}), s: s}
	r.GET("/calls", h.list)
	r.POST("/calls", h.book)
	r.GET("/calls/:id", h.get)
	r.POST("/calls/:id/complete", h.complete)
	r.POST("/calls/:id/no-show", h.noShow)
	r.POST("/calls/:id/cancel", h.cancel)
}

// callHandlers are the call routes' handlers: bind and validate, call one call use case, answer.
// Responses are call.Call, whose JSON is the API's.
type callHandlers struct {
	svc *call.Service
	s   *Server
}

// callBookRequest is the body of POST /calls.
type callBookRequest struct {
	LeadID          string     `json:"leadId" validate:"required"`
	ScheduledAt     *time.Time `json:"scheduledAt" validate:"required"`
	DurationMinutes *int       `json:"durationMinutes" validate:"omitnil,min=1,max=1440"`
}

// callCompleteRequest is the body of POST /calls/{id}/complete.
type callCompleteRequest struct {
	Transcript string `json:"transcript" validate:"required,max=500000,nocontrol"`
	Notes      string `json:"notes" validate:"max=10000,nocontrol"`
}

// callCancelRequest is the optional body of POST /calls/{id}/cancel.
type callCancelRequest struct {
	Reason string `json:"reason" validate:"max=1000,nocontrol"`
}

func (h *callHandlers) bind(c echo.Context, dst any, optional bool) error {
	return h.s.bindJSONWith(c, dst, bindOpts{trim: true, optional: optional})
}

func (h *callHandlers) book(c echo.Context) error {
	var req callBookRequest
	if err := h.bind(c, &req, false); err != nil {
		return err
	}
	leadID, err := uuid.Parse(req.LeadID)
	if err != nil || len(req.LeadID) != 36 {
		return apperr.Errorf(apperr.Invalid, "request is invalid").
			WithFields(apperr.FieldError{Field: "leadId", Message: "must be a UUID"})
	}
	b := call.Booking{LeadID: leadID, ScheduledAt: *req.ScheduledAt}
	if req.DurationMinutes != nil {
		b.DurationMinutes = *req.DurationMinutes
	}
	out, err := h.svc.Book(c.Request().Context(), orgOf(c), actorOf(c), b)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/calls/"+out.ID.String())
	return c.JSON(http.StatusCreated, out)
}

func (h *callHandlers) get(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	out, err := h.svc.Get(c.Request().Context(), orgOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (h *callHandlers) complete(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	var req callCompleteRequest
	if err := h.bind(c, &req, false); err != nil {
		return err
	}
	out, err := h.svc.Complete(c.Request().Context(), orgOf(c), actorOf(c), id, call.Completion{Transcript: req.Transcript, Notes: req.Notes})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (h *callHandlers) noShow(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	out, err := h.svc.NoShow(c.Request().Context(), orgOf(c), actorOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (h *callHandlers) cancel(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	var req callCancelRequest
	if err := h.bind(c, &req, true); err != nil {
		return err
	}
	out, err := h.svc.Cancel(c.Request().Context(), orgOf(c), actorOf(c), id, req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// list is GET /calls?leadId=&status=&from=&to=&sort=&limit=&cursor=.
func (h *callHandlers) list(c echo.Context) error {
	p, err := pageRequest(c)
	if err != nil {
		return err
	}
	f := call.ListFilter{Page: p}
	if f.LeadID, err = queryUUID(c, "leadId"); err != nil {
		return err
	}
	statuses := make([]string, len(call.Statuses))
	for i, st := range call.Statuses {
		statuses[i] = string(st)
	}
	status, err := queryOneOf(c, "status", statuses...)
	if err != nil {
		return err
	}
	f.Status = call.Status(status)
	sort, err := queryOneOf(c, "sort", string(call.SortScheduledDesc), string(call.SortScheduledAsc))
	if err != nil {
		return err
	}
	f.Sort = call.Sort(sort)
	if f.From, err = callQueryTime(c, "from"); err != nil {
		return err
	}
	if f.To, err = callQueryTime(c, "to"); err != nil {
		return err
	}
	out, err := h.svc.List(c.Request().Context(), orgOf(c), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// callQueryTime reads an optional RFC 3339 time query parameter.
func callQueryTime(c echo.Context, name string) (*time.Time, error) {
	raw := c.QueryParam(name)
	if raw == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return nil, apperr.Errorf(apperr.BadRequest, "%s must be an RFC 3339 time", name).
			WithFields(apperr.FieldError{Field: name, Message: "must be an RFC 3339 time such as 2026-01-15T10:00:00Z"})
	}
	return &t, nil
}
