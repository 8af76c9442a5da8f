package invoice

import (
	"fmt"
	"time"
)

// Renderer renders an invoice's document (a PDF) once, when the invoice is created; the bytes
// are stored and served as they are. It runs inside the creating transaction, so it must not
// make slow calls.
type Renderer interface {
	RenderInvoice(Document) ([]byte, error)
}

// Document is what an invoice's document shows.
type Document struct {
	Number   string
	IssuedAt time.Time
	DueAt    time.Time
	Seller   Seller
	Buyer    Buyer
	// Line is the one line of the invoice: the deal's title.
	Line string
	// Amount is in minor units of Currency.
	Amount   int64
	Currency string
}

// Buyer is the lead the invoice is addressed to.
type Buyer struct {
	Company string
	Name    string
	Email   string
}

// TextRenderer is a Renderer of plain text, one field a line: for tests and for deployments
// without a PDF renderer wired.
type TextRenderer struct{}

// RenderInvoice writes d as lines of text.
func (TextRenderer) RenderInvoice(d Document) ([]byte, error) {
	return fmt.Appendf(nil, "Invoice %s\nIssued %s\nDue %s\nSeller %s, %s, %s, %s\nBuyer %s, %s, %s\n%s\n%d %s\n",
		d.Number, d.IssuedAt.Format(time.DateOnly), d.DueAt.Format(time.DateOnly),
		d.Seller.Name, d.Seller.Address, d.Seller.TaxID, d.Seller.Email,
		d.Buyer.Company, d.Buyer.Name, d.Buyer.Email, d.Line, d.Amount, d.Currency), nil
}

// RendererFunc is a function that is a Renderer.
type RendererFunc func(Document) ([]byte, error)

// RenderInvoice calls f.
func (f RendererFunc) RenderInvoice(d Document) ([]byte, error) { return f(d) }
