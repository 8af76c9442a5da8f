package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/invoice"
)

// invoiceRoutes registers the invoice routes and the invoicing settings (API.md "Money, clients
// and onboarding"). Invoices are created by the worker (create_invoice on deal.won), never here,
// so the API's service renders nothing.
func (s *Server) invoiceRoutes(r router) {
	h := &invoiceHandlers{svc: invoice.NewService(s.DB, s.Emitter, nil), s: s}
	r.GET("/invoices", h.list)
	r.GET("/invoices/:id", h.get)
	r.POST("/invoices/:id/pay", h.pay)
	r.POST("/invoices/:id/void", h.void)
	r.GET("/invoices/:id/document", documentRoute(h.svc.Document))
	settingRoutes(s, r, "/settings/invoicing", invoice.Invoicing, invoicingRequest.settings)
}

// invoiceHandlers are the invoice routes' handlers: bind and validate, call one invoice use case,
// answer with invoice.Invoice, whose JSON is the API's.
type invoiceHandlers struct {
	svc *invoice.Service
	s   *Server
}

// invoicePayRequest is the body of POST /invoices/{id}/pay: when the money arrived (RFC 3339,
// default now) and the payment's reference. The body may be empty.
type invoicePayRequest struct {
	PaidAt    *string `json:"paidAt"`
	Reference *string `json:"reference" validate:"omitnil,max=200,nocontrol"`
}

// invoiceVoidRequest is the body of POST /invoices/{id}/void.
type invoiceVoidRequest struct {
	Reason string `json:"reason" validate:"required,max=1000"`
}

// invoicingRequest is the body of PUT /settings/invoicing: the whole settings, replacing the
// stored ones (invoice.Settings.Check's rules, 422).
type invoicingRequest struct {
	Prefix           *string       `json:"prefix" validate:"required"`
	PaymentTermsDays *int          `json:"paymentTermsDays" validate:"required"`
	Seller           sellerRequest `json:"seller"`
}

type sellerRequest struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	TaxID   string `json:"taxId"`
	Email   string `json:"email"`
}

func (h *invoiceHandlers) get(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	inv, err := h.svc.Get(c.Request().Context(), orgOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, inv)
}

// list is GET /invoices?status=&dealId=&limit=&cursor=.
func (h *invoiceHandlers) list(c echo.Context) error {
	p, err := pageRequest(c)
	if err != nil {
		return err
	}
	f := invoice.ListFilter{Page: p}
	status, err := queryOneOf(c, "status", string(invoice.StatusIssued), string(invoice.StatusPaid), string(invoice.StatusVoid))
	if err != nil {
		return err
	}
	f.Status = invoice.Status(status)
	if f.DealID, err = queryUUID(c, "dealId"); err != nil {
		return err
	}
	out, err := h.svc.List(c.Request().Context(), orgOf(c), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (h *invoiceHandlers) pay(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	var req invoicePayRequest
	if err := h.s.bindJSONWith(c, &req, bindOpts{optional: true}); err != nil {
		return err
	}
	var in invoice.Payment
	if req.PaidAt != nil {
		t, err := time.Parse(time.RFC3339Nano, *req.PaidAt)
		if err != nil {
			return apperr.Errorf(apperr.Invalid, "invoice input is invalid").
				WithFields(apperr.FieldError{Field: "paidAt", Message: "must be an RFC 3339 time, such as 2026-01-01T00:00:00Z"})
		}
		in.PaidAt = &t
	}
	in.Reference = req.Reference
	inv, err := h.svc.Pay(c.Request().Context(), orgOf(c), actorOf(c), id, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, inv)
}

func (h *invoiceHandlers) void(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	var req invoiceVoidRequest
	if err := h.s.bindJSON(c, &req); err != nil {
		return err
	}
	inv, err := h.svc.Void(c.Request().Context(), orgOf(c), actorOf(c), id, req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, inv)
}

// settings is the request as the settings it replaces the stored ones with.
func (req invoicingRequest) settings() invoice.Settings {
	return invoice.Settings{
		Prefix: *req.Prefix, PaymentTermsDays: *req.PaymentTermsDays,
		Seller: invoice.Seller{Name: req.Seller.Name, Address: req.Seller.Address, TaxID: req.Seller.TaxID, Email: req.Seller.Email},
	}
}
