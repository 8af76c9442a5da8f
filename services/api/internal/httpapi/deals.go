package httpapi

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/lead"
)

// dealRoutes registers the deal routes (API.md "API": deals and their stage) and the pipeline
// sums of the analytics (GET /analytics/pipeline), which are sums over deals.
func (s *Server) dealRoutes(r router, leads *lead.Service) {
	h := &dealHandlers{svc: deal.NewService(s.DB, s.Emitter, leads), s: s}
	r.GET("/deals", h.list)
	r.POST("/deals", h.create)
	r.GET("/deals/:id", h.get)
	r.PATCH("/deals/:id", h.update)
	r.POST("/deals/:id/stage", h.changeStage)
	r.GET("/analytics/pipeline", h.pipeline)
}

// dealHandlers are the deal routes' handlers: bind and validate, call one deal use case, answer.
// Responses are deal.Deal and deal.Pipeline, whose JSON is the API's.
type dealHandlers struct {
	svc *deal.Service
	s   *Server
}

// jsonNumber is a JSON number kept as its text, so that a probability is read exactly
// (deal.ParseProbability) and never through a float. A string is refused as the wrong type.
type jsonNumber string

// UnmarshalJSON keeps the number's text; anything but a number is the wrong type.
func (n *jsonNumber) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return &json.UnmarshalTypeError{Value: "non-number", Type: reflect.TypeFor[float64]()}
	}
	*n = jsonNumber(b)
	return nil
}

// probability reads n as a deal probability; a number outside 0..1 or with more than four
// decimal places is 422 on the field.
func (n *jsonNumber) probability() (*deal.Probability, error) {
	if n == nil {
		return nil, nil
	}
	p, ok := deal.ParseProbability(string(*n))
	if !ok {
		return nil, apperr.Errorf(apperr.Invalid, "deal is invalid").WithFields(apperr.FieldError{
			Field: "probability", Message: "must be a number from 0 to 1 with at most 4 decimal places",
		})
	}
	return &p, nil
}

// dealCreateRequest is the body of POST /deals. Money is an integer of minor units (int64: a
// fraction or a number beyond int64 is 400); the ranges, the currency and the date are checked
// by the deal service (422).
type dealCreateRequest struct {
	LeadID            string      `json:"leadId" validate:"required,uuid"`
	Title             string      `json:"title" validate:"required,max=300,nocontrol"`
	DealValue         *int64      `json:"dealValue" validate:"required"`
	Currency          string      `json:"currency" validate:"required"`
	Stage             string      `json:"stage" validate:"omitempty,oneof=discovery proposal negotiation"`
	Probability       *jsonNumber `json:"probability"`
	ExpectedCloseDate *string     `json:"expectedCloseDate"`
}

// dealPatchRequest is the body of PATCH /deals/{id}: only the members given change;
// expectedCloseDate "" clears the date; version, when given, must be the deal's version. Stage
// is changed through POST /deals/{id}/stage (an unknown member here is 400).
type dealPatchRequest struct {
	Title             *string     `json:"title" validate:"omitnil,max=300,nocontrol"`
	DealValue         *int64      `json:"dealValue"`
	Currency          *string     `json:"currency"`
	Probability       *jsonNumber `json:"probability"`
	ExpectedCloseDate *string     `json:"expectedCloseDate"`
	Version           *int        `json:"version" validate:"omitnil,min=1"`
}

// dealStageRequest is the body of POST /deals/{id}/stage.
type dealStageRequest struct {
	Stage      string `json:"stage" validate:"required,oneof=discovery proposal negotiation won lost"`
	LostReason string `json:"lostReason" validate:"max=1000,nocontrol"`
}

func (h *dealHandlers) create(c echo.Context) error {
	var req dealCreateRequest
	if err := h.s.bindJSON(c, &req); err != nil {
		return err
	}
	p, err := req.Probability.probability()
	if err != nil {
		return err
	}
	leadID, err := uuid.Parse(req.LeadID)
	if err != nil {
		return apperr.Errorf(apperr.Invalid, "request is invalid").WithFields(apperr.FieldError{Field: "leadId", Message: "must be a UUID"})
	}
	d, err := h.svc.Create(c.Request().Context(), orgOf(c), actorOf(c), deal.NewDeal{
		LeadID: leadID, Title: req.Title, DealValue: *req.DealValue, Currency: req.Currency,
		Stage: deal.Stage(req.Stage), Probability: p, ExpectedCloseDate: req.ExpectedCloseDate,
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/deals/"+d.ID.String())
	return c.JSON(http.StatusCreated, d)
}

func (h *dealHandlers) get(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	at, err := queryAsOf(c)
	if err != nil {
		return err
	}
	var d deal.Deal
	if at != nil {
		d, err = h.svc.AsOf(c.Request().Context(), orgOf(c), id, *at)
	} else {
		d, err = h.svc.Get(c.Request().Context(), orgOf(c), id)
	}
	if err != nil {
		return err
	}
	return writeDeal(c, http.StatusOK, &d)
}

func (h *dealHandlers) update(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	var req dealPatchRequest
	if err := h.s.bindJSON(c, &req); err != nil {
		return err
	}
	p, err := req.Probability.probability()
	if err != nil {
		return err
	}
	d, err := h.svc.Update(c.Request().Context(), orgOf(c), actorOf(c), id, deal.Patch{
		Title: req.Title, DealValue: req.DealValue, Currency: req.Currency, Probability: p,
		ExpectedCloseDate: req.ExpectedCloseDate, Version: req.Version,
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

func (h *dealHandlers) changeStage(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	var req dealStageRequest
	if err := h.s.bindJSON(c, &req); err != nil {
		return err
	}
	d, err := h.svc.ChangeStage(c.Request().Context(), orgOf(c), actorOf(c), id, deal.Stage(req.Stage), req.LostReason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

// list is GET /deals?stage=&leadId=&minValue=&sort=&limit=&cursor=.
func (h *dealHandlers) list(c echo.Context) error {
	p, err := pageRequest(c)
	if err != nil {
		return err
	}
	f := deal.ListFilter{Page: p}
	stages := make([]string, len(deal.Stages))
	for i, st := range deal.Stages {
		stages[i] = string(st)
	}
	stage, err := queryOneOf(c, "stage", stages...)
	if err != nil {
		return err
	}
	f.Stage = deal.Stage(stage)
	sorts := make([]string, len(deal.Sorts))
	for i, so := range deal.Sorts {
		sorts[i] = string(so)
	}
	sort, err := queryOneOf(c, "sort", sorts...)
	if err != nil {
		return err
	}
	f.Sort = deal.Sort(sort)
	if f.LeadID, err = queryUUID(c, "leadId"); err != nil {
		return err
	}
	if raw := c.QueryParam("minValue"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 || n > deal.MaxValue {
			return apperr.Errorf(apperr.BadRequest, "minValue must be an integer from 0 to %d", deal.MaxValue).
				WithFields(apperr.FieldError{Field: "minValue", Message: "must be an integer number of minor units from 0 to " + strconv.FormatInt(deal.MaxValue, 10)})
		}
		f.MinValue = &n
	}
	out, err := h.svc.List(c.Request().Context(), orgOf(c), f)
	if err != nil {
		return err
	}
	return writeDealPage(c, http.StatusOK, &out)
}

// pipeline is GET /analytics/pipeline?from=&to=.
func (h *dealHandlers) pipeline(c echo.Context) error {
	var f deal.PipelineFilter
	for _, q := range []struct {
		name string
		dst  **time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		raw := c.QueryParam(q.name)
		if raw == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, raw)
		if err != nil {
			return apperr.Errorf(apperr.BadRequest, "%s must be an RFC 3339 time", q.name).
				WithFields(apperr.FieldError{Field: q.name, Message: "must be an RFC 3339 time, such as 2026-01-01T00:00:00Z"})
		}
		*q.dst = &t
	}
	out, err := h.svc.Pipeline(c.Request().Context(), orgOf(c), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}
