package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/lead"
)

// leadRoutes registers the lead routes (API.md "API": leads, stage, activities, events).
func (s *Server) leadRoutes(r router, leads *lead.Service) {
	h := &leadHandlers{svc: leads, s: s}
	r.GET("/leads", h.list)
	r.POST("/leads", h.create)
	r.GET("/leads/:id", h.get)
	r.PATCH("/leads/:id", h.update)
	r.DELETE("/leads/:id", h.delete)
	r.POST("/leads/:id/stage", h.changeStage)
	r.GET("/leads/:id/activities", h.listActivities)
	r.POST("/leads/:id/activities", h.addActivity)
	r.GET("/leads/:id/events", h.events)
}

// leadHandlers are the lead routes' handlers: bind and validate, call one lead use case, answer.
// Responses are lead.Lead, lead.Activity and lead.Event, whose JSON is the API's.
type leadHandlers struct {
	svc *lead.Service
	s   *Server
}

// leadCreateRequest is the body of POST /leads. A lead needs one of email, phone or
// profileLink; the service checks that after normalising.
type leadCreateRequest struct {
	FirstName   string                     `json:"firstName" validate:"max=200,nocontrol"`
	LastName    string                     `json:"lastName" validate:"max=200,nocontrol"`
	Name        string                     `json:"name" validate:"max=401,nocontrol"`
	Email       string                     `json:"email" validate:"omitempty,max=320,email"`
	Phone       string                     `json:"phone" validate:"max=50,nocontrol"`
	Company     string                     `json:"company" validate:"max=200,nocontrol"`
	Website     string                     `json:"website" validate:"omitempty,max=2048,http_url"`
	Domain      string                     `json:"domain" validate:"max=253,nocontrol"`
	Title       string                     `json:"title" validate:"max=200,nocontrol"`
	ProfileLink string                     `json:"profileLink" validate:"omitempty,max=2048,http_url"`
	Source      string                     `json:"source" validate:"max=200,nocontrol"`
	Notes       string                     `json:"notes" validate:"max=10000,nocontrol"`
	Extra       map[string]json.RawMessage `json:"extra" validate:"max=50,dive,keys,min=1,max=100,nocontrol,endkeys"`
	Priority    string                     `json:"priority" validate:"omitempty,oneof=low normal high urgent"`
}

// leadPatchRequest is the body of PATCH /leads/{id}: only the fields given change; "" clears a
// field; extra replaces the whole object; version, when given, must be the lead's version.
// Stage and the qualification fields are not editable here (unknown fields are 400). The
// formats of email, website and profileLink are checked by check, since "" must pass.
type leadPatchRequest struct {
	FirstName   *string                    `json:"firstName" validate:"omitnil,max=200,nocontrol"`
	LastName    *string                    `json:"lastName" validate:"omitnil,max=200,nocontrol"`
	Name        *string                    `json:"name" validate:"omitnil,max=401,nocontrol"`
	Email       *string                    `json:"email" validate:"omitnil,max=320"`
	Phone       *string                    `json:"phone" validate:"omitnil,max=50,nocontrol"`
	Company     *string                    `json:"company" validate:"omitnil,max=200,nocontrol"`
	Website     *string                    `json:"website" validate:"omitnil,max=2048"`
	Domain      *string                    `json:"domain" validate:"omitnil,max=253,nocontrol"`
	Title       *string                    `json:"title" validate:"omitnil,max=200,nocontrol"`
	ProfileLink *string                    `json:"profileLink" validate:"omitnil,max=2048"`
	Source      *string                    `json:"source" validate:"omitnil,max=200,nocontrol"`
	Notes       *string                    `json:"notes" validate:"omitnil,max=10000,nocontrol"`
	Extra       map[string]json.RawMessage `json:"extra" validate:"max=50,dive,keys,min=1,max=100,nocontrol,endkeys"`
	Priority    *string                    `json:"priority" validate:"omitnil,oneof=low normal high urgent"`
	Version     *int                       `json:"version" validate:"omitnil,min=1"`
}

// check validates the formats that a patch may also clear with "".
func (r *leadPatchRequest) check(s *Server) error {
	var fields []apperr.FieldError
	for _, f := range []struct {
		name, rule, message string
		value               *string
	}{
		{"email", "email", "must be an email address", r.Email},
		{"website", "http_url", "must be an http(s) URL", r.Website},
		{"profileLink", "http_url", "must be an http(s) URL", r.ProfileLink},
	} {
		if f.value != nil && *f.value != "" && s.validate.Var(*f.value, f.rule) != nil {
			fields = append(fields, apperr.FieldError{Field: f.name, Message: f.message})
		}
	}
	if len(fields) > 0 {
		return apperr.Errorf(apperr.Invalid, "request is invalid").WithFields(fields...)
	}
	return nil
}

// leadStageRequest is the body of POST /leads/{id}/stage.
type leadStageRequest struct {
	Stage  string `json:"stage" validate:"required,oneof=new qualified nurture contacted call_booked converted lost disqualified"`
	Reason string `json:"reason" validate:"max=1000,nocontrol"`
}

// leadActivityRequest is the body of POST /leads/{id}/activities: a kind a person may log, a
// subject and/or a body, and when it happened (RFC 3339; default now).
type leadActivityRequest struct {
	Kind       string     `json:"kind" validate:"required,oneof=note touchpoint call email meeting task"`
	Subject    string     `json:"subject" validate:"max=300,nocontrol"`
	Body       string     `json:"body" validate:"max=10000,nocontrol"`
	OccurredAt *time.Time `json:"occurredAt"`
}

func (h *leadHandlers) create(c echo.Context) error {
	var req leadCreateRequest
	if err := h.bind(c, &req); err != nil {
		return err
	}
	l, err := h.svc.Create(c.Request().Context(), orgOf(c), actorOf(c), lead.NewLead{
		Contact: lead.Contact{
			FirstName: req.FirstName, LastName: req.LastName, Name: req.Name, Email: req.Email, Phone: req.Phone,
			Company: req.Company, Website: req.Website, Domain: req.Domain, Title: req.Title,
			ProfileLink: req.ProfileLink, Source: req.Source, Notes: req.Notes,
		},
		Extra:    req.Extra,
		Priority: lead.Priority(req.Priority),
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/leads/"+l.ID.String())
	return c.JSON(http.StatusCreated, l)
}

func (h *leadHandlers) get(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	at, err := queryAsOf(c)
	if err != nil {
		return err
	}
	var l lead.Lead
	if at != nil {
		l, err = h.svc.AsOf(c.Request().Context(), orgOf(c), id, *at)
	} else {
		l, err = h.svc.Get(c.Request().Context(), orgOf(c), id)
	}
	if err != nil {
		return err
	}
	return writeLead(c, http.StatusOK, &l)
}

func (h *leadHandlers) update(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	var req leadPatchRequest
	if err := h.bind(c, &req); err != nil {
		return err
	}
	if err := req.check(h.s); err != nil {
		return err
	}
	p := lead.Patch{
		FirstName: req.FirstName, LastName: req.LastName, Name: req.Name, Email: req.Email, Phone: req.Phone,
		Company: req.Company, Website: req.Website, Domain: req.Domain, Title: req.Title,
		ProfileLink: req.ProfileLink, Source: req.Source, Notes: req.Notes, Extra: req.Extra, Version: req.Version,
	}
	if req.Priority != nil {
		pr := lead.Priority(*req.Priority)
		p.Priority = &pr
	}
	l, err := h.svc.Update(c.Request().Context(), orgOf(c), actorOf(c), id, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, l)
}

func (h *leadHandlers) delete(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	if err := h.svc.Delete(c.Request().Context(), orgOf(c), actorOf(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *leadHandlers) changeStage(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	var req leadStageRequest
	if err := h.bind(c, &req); err != nil {
		return err
	}
	l, err := h.svc.ChangeStage(c.Request().Context(), orgOf(c), actorOf(c), id, lead.Stage(req.Stage), req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, l)
}

func (h *leadHandlers) addActivity(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	var req leadActivityRequest
	if err := h.bind(c, &req); err != nil {
		return err
	}
	a, err := h.svc.AddActivity(c.Request().Context(), orgOf(c), actorOf(c), id, lead.NewActivity{
		Kind: lead.ActivityKind(req.Kind), Subject: req.Subject, Body: req.Body, OccurredAt: req.OccurredAt,
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, a)
}

func (h *leadHandlers) listActivities(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	p, err := pageRequest(c)
	if err != nil {
		return err
	}
	out, err := h.svc.ListActivities(c.Request().Context(), orgOf(c), id, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (h *leadHandlers) events(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	p, err := pageRequest(c)
	if err != nil {
		return err
	}
	out, err := h.svc.History(c.Request().Context(), orgOf(c), id, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// list is GET /leads?stage=&q=&minScore=&sort=&limit=&cursor=.
func (h *leadHandlers) list(c echo.Context) error {
	p, err := pageRequest(c)
	if err != nil {
		return err
	}
	f := lead.ListFilter{Page: p, Q: c.QueryParam("q")}
	stages := make([]string, len(lead.Stages))
	for i, st := range lead.Stages {
		stages[i] = string(st)
	}
	stage, err := queryOneOf(c, "stage", stages...)
	if err != nil {
		return err
	}
	f.Stage = lead.Stage(stage)
	sorts := make([]string, len(lead.Sorts))
	for i, so := range lead.Sorts {
		sorts[i] = string(so)
	}
	sort, err := queryOneOf(c, "sort", sorts...)
	if err != nil {
		return err
	}
	f.Sort = lead.Sort(sort)
	if raw := c.QueryParam("minScore"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 || n > 100 {
			return apperr.Errorf(apperr.BadRequest, "minScore must be an integer from 0 to 100").
				WithFields(apperr.FieldError{Field: "minScore", Message: "must be an integer from 0 to 100"})
		}
		f.MinScore = &n
	}
	out, err := h.svc.List(c.Request().Context(), orgOf(c), f)
	if err != nil {
		return err
	}
	return writeLeadPage(c, http.StatusOK, &out)
}

// bind is bindJSON with one step more: the request's string members are trimmed between
// decoding and validation. The lead use cases normalise (trim) their input anyway, so
// " Ada@Example.com " is taken as the email it plainly is rather than refused.
func (h *leadHandlers) bind(c echo.Context, dst any) error {
	return h.s.bindJSONWith(c, dst, bindOpts{trim: true})
}
