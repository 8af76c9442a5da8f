package document

import (
	"strings"
	"time"

	"example.com/crm/pkg/apperr"
)

// Seller is the issuer of an invoice, from the org's invoicing settings.
type Seller struct {
	Name    string
	Address string // may hold several lines
	TaxID   string
	Email   string
}

// Buyer is the invoiced party, from the won deal's lead.
type Buyer struct {
	Company string
	Name    string
	Email   string
}

// InvoiceInput is everything an invoice PDF shows. Amount is in minor units of Currency (ISO
// 4217). The dates are shown as calendar dates in their own location, so the caller passes them
// in the org's time zone.
type InvoiceInput struct {
	Number   string
	IssuedAt time.Time
	DueAt    time.Time
	Seller   Seller
	Buyer    Buyer
	Line     string // the deal's title: the invoice's one line
	Amount   int64
	Currency string
}

// dateLayout is how documents show a calendar date: ISO 8601, unambiguous in every locale.
const dateLayout = "2006-01-02"

// Check returns an apperr.Invalid naming every field of in that cannot be rendered: no number,
// a zero issue date, a due date before the issue date, an unknown currency or an amount outside
// 0..MaxAmount.
func (in InvoiceInput) Check() error {
	var fields []apperr.FieldError
	if strings.TrimSpace(in.Number) == "" {
		fields = append(fields, apperr.FieldError{Field: "number", Message: "is required"})
	}
	if in.IssuedAt.IsZero() {
		fields = append(fields, apperr.FieldError{Field: "issuedAt", Message: "is required"})
	}
	if in.DueAt.IsZero() || in.DueAt.Before(in.IssuedAt) {
		fields = append(fields, apperr.FieldError{Field: "dueAt", Message: "is required and not before issuedAt"})
	}
	if in.Amount < 0 {
		fields = append(fields, apperr.FieldError{Field: "amount", Message: "must not be negative"})
	} else if _, err := FormatAmount(in.Amount, in.Currency); err != nil {
		if e, ok := apperr.As(err); ok {
			fields = append(fields, e.Fields...)
		}
	}
	if len(fields) > 0 {
		return apperr.Errorf(apperr.Invalid, "the invoice cannot be rendered").WithFields(fields...)
	}
	return nil
}

// Invoice renders in as a one-page PDF: the number, issue and due dates, the seller, the buyer,
// the one line and its amount formatted for its currency, and the total. Equal input gives equal
// bytes (the PDF's creation date is IssuedAt). Input that Check refuses is an apperr.Invalid.
func Invoice(in InvoiceInput) ([]byte, error) {
	if err := in.Check(); err != nil {
		return nil, err
	}
	amount, err := FormatAmount(in.Amount, in.Currency)
	if err != nil {
		return nil, err
	}
	issued, due := in.IssuedAt.Format(dateLayout), in.DueAt.Format(dateLayout)

	p := newPDF("Invoice "+in.Number, in.IssuedAt)
	heading(p, "Invoice "+in.Number, 20)
	p.SetFont("Helvetica", "", 11)
	for _, kv := range [][2]string{{"Invoice number", in.Number}, {"Issue date", issued}, {"Due date", due}} {
		p.SetFont("Helvetica", "B", 11)
		p.CellFormat(40, lineH, winText(kv[0]+":"), "", 0, "L", false, 0, "")
		p.SetFont("Helvetica", "", 11)
		p.CellFormat(bodyWidth-40, lineH, winLine(kv[1]), "", 1, "L", false, 0, "")
	}
	p.Ln(6)

	label(p, "From")
	para(p, in.Seller.Name)
	para(p, in.Seller.Address)
	if in.Seller.TaxID != "" {
		para(p, "Tax ID: "+in.Seller.TaxID)
	}
	para(p, in.Seller.Email)
	p.Ln(6)

	label(p, "Bill to")
	para(p, in.Buyer.Company)
	para(p, in.Buyer.Name)
	para(p, in.Buyer.Email)
	p.Ln(8)

	// The one line and the total, as a two-column table.
	amountW := 55.0
	p.SetFont("Helvetica", "B", 11)
	p.SetFillColor(235, 235, 235)
	p.CellFormat(bodyWidth-amountW, 8, "Description", "B", 0, "L", true, 0, "")
	p.CellFormat(amountW, 8, "Amount", "B", 1, "R", true, 0, "")
	p.SetFont("Helvetica", "", 11)
	y := p.GetY()
	p.MultiCell(bodyWidth-amountW, 7, winText(in.Line), "", "L", false)
	end := p.GetY()
	p.SetXY(margin+bodyWidth-amountW, y)
	p.CellFormat(amountW, 7, winText(amount), "", 1, "R", false, 0, "")
	p.SetY(end)
	p.SetFont("Helvetica", "B", 12)
	p.CellFormat(bodyWidth-amountW, 9, "Total", "T", 0, "L", false, 0, "")
	p.CellFormat(amountW, 9, winText(amount), "T", 1, "R", false, 0, "")
	p.Ln(10)

	p.SetFont("Helvetica", "", 10)
	p.MultiCell(bodyWidth, lineH, winText("Please pay by "+due+" and quote "+in.Number+" as the payment reference."), "", "L", false)
	return output(p)
}
