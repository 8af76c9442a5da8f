package httpapi

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/invoice"
	"example.com/crm/pkg/page"
)

// invoiceRoutes registers the invoice routes and the invoicing settings (API.md "Money, clients
// and onboarding"): bind and validate, call one invoice use case, answer with invoice.Invoice,
// whose JSON is the API's. Invoices are created by the worker (create_invoice on deal.won), never
// here, so the API's service renders nothing.
func (s *Server) invoiceRoutes(r router) {
	svc := invoice.NewService(s.DB, s.Emitter, nil)
	r.GET("/invoices", listRoute(invoiceFilter, svc.List))
	r.GET("/invoices/:id", getRoute(svc.Get))
	r.POST("/invoices/:id/pay", actionRoute(s, bindOpts{optional: true},
		func(ctx context.Context, orgID uuid.UUID, actor string, id uuid.UUID, req invoicePayRequest) (invoice.Invoice, error) {
			in, err := req.payment()
			if err != nil {
				return invoice.Invoice{}, err
			}
			return svc.Pay(ctx, orgID, actor, id, in)
		}))
	r.POST("/invoices/:id/void", actionRoute(s, bindOpts{},
		func(ctx context.Context, orgID uuid.UUID, actor string, id uuid.UUID, req invoiceVoidRequest) (invoice.Invoice, error) {
			return svc.Void(ctx, orgID, actor, id, req.Reason)
		}))
	r.GET("/invoices/:id/document", documentRoute(svc.Document))
	settingRoutes(s, r, "/settings/invoicing", invoice.Invoicing, invoicingRequest.settings)
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

// invoiceFilter is GET /invoices?status=&dealId=&limit=&cursor=.
func invoiceFilter(c echo.Context, p page.Request) (invoice.ListFilter, error) {
	f := invoice.ListFilter{Page: p}
	status, err := queryOneOf(c, "status", string(invoice.StatusIssued), string(invoice.StatusPaid), string(invoice.StatusVoid))
	if err != nil {
		return f, err
	}
	f.Status = invoice.Status(status)
	f.DealID, err = queryUUID(c, "dealId")
	return f, err
}

// payment is the request as Pay's input; a paidAt that is no RFC 3339 time is 422.
func (req invoicePayRequest) payment() (invoice.Payment, error) {
	in := invoice.Payment{Reference: req.Reference}
	if req.PaidAt != nil {
		t, err := time.Parse(time.RFC3339Nano, *req.PaidAt)
		if err != nil {
			return in, apperr.Errorf(apperr.Invalid, "invoice input is invalid").
				WithFields(apperr.FieldError{Field: "paidAt", Message: "must be an RFC 3339 time, such as 2026-01-01T00:00:00Z"})
		}
		in.PaidAt = &t
	}
	return in, nil
}

// settings is the request as the settings it replaces the stored ones with.
func (req invoicingRequest) settings() invoice.Settings {
	return invoice.Settings{
		Prefix: *req.Prefix, PaymentTermsDays: *req.PaymentTermsDays,
		Seller: invoice.Seller{Name: req.Seller.Name, Address: req.Seller.Address, TaxID: req.Seller.TaxID, Email: req.Seller.Email},
	}
}
