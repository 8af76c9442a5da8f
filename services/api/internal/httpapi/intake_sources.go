package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/intake"
)

// intakeSourceRoutes registers the intake source routes (issue 4, item 1): the lead sources the
// UI team configures for the intake gateway.
func (s *Server) intakeSourceRoutes(r router) {
	h := &intakeSourceHandlers{svc: intake.NewService(s.DB, s.Emitter), s: s}
	r.GET("/intake-sources", h.list)
	r.POST("/intake-sources", h.create)
	r.GET("/intake-sources/:id", h.get)
	r.PATCH("/intake-sources/:id", h.update)
	r.DELETE("/intake-sources/:id", h.delete)
	r.POST("/intake-sources/:id/rotate-secret", h.rotateSecret)
}

// intakeSourceHandlers are the intake source routes' handlers: bind and validate, call one
// intake use case, answer. Responses are intake.Source, whose JSON never holds a secret, and
// intake.Created (the source plus signingSecret) for a create and a rotation, the only answers
// that show a secret.
type intakeSourceHandlers struct {
	svc *intake.Service
	s   *Server
}

// intakeSourceCreateRequest is the body of POST /intake-sources. The service checks the rules
// that depend on the kind (redirect URL and origins only for forms) and the formats of URLs,
// origins and mapping targets.
type intakeSourceCreateRequest struct {
	Kind               string            `json:"kind" validate:"required,oneof=webhook form csv"`
	Name               string            `json:"name" validate:"required,max=200,nocontrol"`
	RedirectURL        string            `json:"redirectUrl" validate:"max=2048"`
	AllowedOrigins     []string          `json:"allowedOrigins" validate:"max=20,dive,max=300"`
	FieldMapping       map[string]string `json:"fieldMapping" validate:"max=100"`
	RateLimitPerMinute *int              `json:"rateLimitPerMinute" validate:"omitnil,min=1,max=100000"`
}

// intakeSourcePatchRequest is the body of PATCH /intake-sources/{id}: only the members given
// change; null leaves a member as it is; redirectUrl "" clears it; allowedOrigins and
// fieldMapping replace the whole list or object. kind may be sent, but only as it is.
type intakeSourcePatchRequest struct {
	Kind               *string           `json:"kind" validate:"omitnil,oneof=webhook form csv"`
	Name               *string           `json:"name" validate:"omitnil,max=200,nocontrol"`
	RedirectURL        *string           `json:"redirectUrl" validate:"omitnil,max=2048"`
	AllowedOrigins     *[]string         `json:"allowedOrigins" validate:"omitnil,max=20,dive,max=300"`
	FieldMapping       map[string]string `json:"fieldMapping" validate:"max=100"`
	RateLimitPerMinute *int              `json:"rateLimitPerMinute" validate:"omitnil,min=1,max=100000"`
}

// intakeSourceRotateRequest is the optional body of POST /intake-sources/{id}/rotate-secret.
type intakeSourceRotateRequest struct {
	GraceSeconds *int64 `json:"graceSeconds" validate:"omitnil,min=0,max=604800"`
}

func (h *intakeSourceHandlers) create(c echo.Context) error {
	var req intakeSourceCreateRequest
	if err := h.s.bindJSON(c, &req); err != nil {
		return err
	}
	in := intake.NewSource{
		Kind: intake.Kind(req.Kind), Name: req.Name, RedirectURL: req.RedirectURL, AllowedOrigins: req.AllowedOrigins,
		FieldMapping: intake.FieldMapping(req.FieldMapping),
	}
	if req.RateLimitPerMinute != nil {
		in.RateLimitPerMinute = *req.RateLimitPerMinute
	}
	out, err := h.svc.Create(c.Request().Context(), orgOf(c), actorOf(c), in)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/intake-sources/"+out.ID.String())
	return c.JSON(http.StatusCreated, out)
}

func (h *intakeSourceHandlers) get(c echo.Context) error {
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

// list is GET /intake-sources?kind=&limit=&cursor=.
func (h *intakeSourceHandlers) list(c echo.Context) error {
	p, err := pageRequest(c)
	if err != nil {
		return err
	}
	kind, err := queryOneOf(c, "kind", string(intake.KindWebhook), string(intake.KindForm), string(intake.KindCSV))
	if err != nil {
		return err
	}
	out, err := h.svc.List(c.Request().Context(), orgOf(c), intake.Kind(kind), p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (h *intakeSourceHandlers) update(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	var req intakeSourcePatchRequest
	if err := h.s.bindJSON(c, &req); err != nil {
		return err
	}
	p := intake.Patch{
		Name: req.Name, RedirectURL: req.RedirectURL, AllowedOrigins: req.AllowedOrigins,
		FieldMapping: intake.FieldMapping(req.FieldMapping), RateLimitPerMinute: req.RateLimitPerMinute,
	}
	if req.Kind != nil {
		k := intake.Kind(*req.Kind)
		p.Kind = &k
	}
	out, err := h.svc.Update(c.Request().Context(), orgOf(c), actorOf(c), id, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (h *intakeSourceHandlers) delete(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	if err := h.svc.Delete(c.Request().Context(), orgOf(c), actorOf(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// rotateSecret is POST /intake-sources/{id}/rotate-secret with an optional body
// {"graceSeconds": 0..604800}; no body is the default grace period (24 h).
func (h *intakeSourceHandlers) rotateSecret(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	var req intakeSourceRotateRequest
	if err := h.bindOptionalJSON(c, &req); err != nil {
		return err
	}
	var grace *time.Duration
	if req.GraceSeconds != nil {
		g := time.Duration(*req.GraceSeconds) * time.Second
		grace = &g
	}
	out, err := h.svc.RotateSecret(c.Request().Context(), orgOf(c), actorOf(c), id, grace)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// bindOptionalJSON is bindJSON for a body that may be left out: an empty body leaves dst as it
// is; anything else must be JSON, as everywhere.
func (h *intakeSourceHandlers) bindOptionalJSON(c echo.Context, dst any) error {
	return h.s.bindJSONWith(c, dst, bindOpts{optional: true})
}
