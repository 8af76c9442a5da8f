package invoice

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/page"
)

// Service holds the invoice use cases. Each change runs in one tenant transaction of the org it
// is given and emits its event there.
type Service struct {
	d      *db.DB
	emit   events.EmitFunc
	render Renderer
	now    func() time.Time
}

// NewService returns the use cases on d, emitting through emitter; d and emitter are required.
// render renders each invoice's document at creation; nil leaves the documents NULL (GET
// /invoices/{id}/document is then 404).
func NewService(d *db.DB, emitter *events.Emitter, render Renderer) *Service {
	if d == nil || emitter == nil {
		panic("invoice.NewService: nil dependency")
	}
	return &Service{d: d, emit: emitter.About(EntityType), render: render, now: time.Now}
}

// Get returns the org's invoice id, read in one round trip (db.DB.Read); a missing or other org's
// invoice is apperr.NotFound.
func (s *Service) Get(ctx context.Context, orgID, id uuid.UUID) (Invoice, error) {
	r, err := db.ReadByID[invoiceRow](ctx, s.d, orgID, EntityType, id, getInvoiceSQL)
	return r.invoice(), err
}

// Document returns the org's invoice's stored document; an invoice the org lacks, or one without
// a document, is apperr.NotFound. It reads in one round trip (db.DB.Read): the document route is hot.
func (s *Service) Document(ctx context.Context, orgID, id uuid.UUID) ([]byte, error) {
	return s.d.ReadDocument(ctx, orgID, EntityType, id, getDocumentSQL)
}

// List returns a page of the org's invoices that pass f, newest issued first. An unknown status
// is apperr.BadRequest, as is a cursor of another list.
func (s *Service) List(ctx context.Context, orgID uuid.UUID, f ListFilter) (page.Page[Invoice], error) {
	if f.Status != "" && !f.Status.Valid() {
		return page.Page[Invoice]{}, apperr.Errorf(apperr.BadRequest, "status must be one of: issued, paid, void").
			WithFields(apperr.FieldError{Field: "status", Message: "must be one of: issued, paid, void"})
	}
	var a db.Args
	q := listInvoicesSQL + a.Add(db.UUID(orgID))
	if f.Status != "" {
		q += statusIsSQL + a.Add(string(f.Status))
	}
	if f.DealID != nil {
		q += dealIsSQL + a.Add(db.UUID(*f.DealID))
	}
	out, err := db.ReadPage(ctx, s.d, orgID, keyset, f.Page, q, a, invoiceRow.invoice)
	if err != nil {
		return out, fmt.Errorf("list invoices: %w", err)
	}
	return out, nil
}

// Pay records a person's confirmation that the invoice id was paid: issued -> paid with paidAt
// (default now; a time in the future is apperr.Invalid) and the reference (at most
// MaxReferenceLen characters, no control characters), emitting invoice.paid. The row is locked
// first, so of two concurrent pays one succeeds and the other sees paid: apperr.Conflict with
// Extra "currentStatus" and "allowed", as is paying a void invoice.
func (s *Service) Pay(ctx context.Context, orgID uuid.UUID, actor string, id uuid.UUID, p Payment) (Invoice, error) {
	now := s.now().UTC()
	paidAt := now
	var fields []apperr.FieldError
	if p.PaidAt != nil {
		paidAt = p.PaidAt.UTC()
		if paidAt.After(now.Add(time.Minute)) {
			fields = append(fields, apperr.FieldError{Field: "paidAt", Message: "must not be in the future"})
		}
	}
	if p.Reference != nil {
		ref := strings.TrimSpace(*p.Reference)
		p.Reference = &ref
		if ref == "" {
			p.Reference = nil
		} else if utf8.RuneCountInString(ref) > MaxReferenceLen || hasControl(ref) {
			fields = append(fields, apperr.FieldError{Field: "reference", Message: fmt.Sprintf("must be at most %d characters of text", MaxReferenceLen)})
		}
	}
	if len(fields) > 0 {
		return Invoice{}, invalid(fields...)
	}
	paidAt = paidAt.Truncate(time.Microsecond)
	out, err := s.move(ctx, orgID, id, StatusPaid, func(tx *gorm.DB, cur Invoice) error {
		if _, err := db.Exec(ctx, tx, payInvoiceSQL, orgID, id, paidAt, p.Reference); err != nil {
			return fmt.Errorf("pay invoice: %w", err)
		}
		return s.emit(ctx, tx, orgID, actor, EventPaid, id, "invoice.paid:"+id.String(),
			PaidPayload{Number: cur.Number, Amount: cur.Amount, Currency: cur.Currency, PaidAt: paidAt, Reference: p.Reference})
	})
	if err != nil {
		return Invoice{}, fmt.Errorf("pay invoice: %w", err)
	}
	return out, nil
}

// Void voids the invoice id with a reason (required, at most MaxVoidReasonLen characters):
// issued -> void, emitting invoice.voided. The invoice keeps its number, which is never reused.
// A paid or void invoice is apperr.Conflict.
func (s *Service) Void(ctx context.Context, orgID uuid.UUID, actor string, id uuid.UUID, reason string) (Invoice, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return Invoice{}, invalid(apperr.FieldError{Field: "reason", Message: "is required"})
	case utf8.RuneCountInString(reason) > MaxVoidReasonLen || hasControl(strings.NewReplacer("\n", "", "\r", "", "\t", "").Replace(reason)):
		return Invoice{}, invalid(apperr.FieldError{Field: "reason", Message: fmt.Sprintf("must be at most %d characters of text", MaxVoidReasonLen)})
	}
	out, err := s.move(ctx, orgID, id, StatusVoid, func(tx *gorm.DB, cur Invoice) error {
		if _, err := db.Exec(ctx, tx, voidInvoiceSQL, orgID, id, reason); err != nil {
			return fmt.Errorf("void invoice: %w", err)
		}
		return s.emit(ctx, tx, orgID, actor, EventVoided, id, "invoice.voided:"+id.String(),
			VoidedPayload{Number: cur.Number, Reason: reason})
	})
	if err != nil {
		return Invoice{}, fmt.Errorf("void invoice: %w", err)
	}
	return out, nil
}

// move locks the invoice id, checks the status machine allows to, runs write and reads the
// invoice back, in one transaction.
func (s *Service) move(ctx context.Context, orgID, id uuid.UUID, to Status, write func(tx *gorm.DB, cur Invoice) error) (Invoice, error) {
	var out Invoice
	err := s.d.Tx(ctx, orgID, func(tx *gorm.DB) error {
		cur, err := getInvoice(ctx, tx, orgID, id, true)
		if err != nil {
			return err
		}
		if err := transitions.Check("an invoice", cur.Status, to); err != nil {
			return err
		}
		if err := write(tx, cur); err != nil {
			return err
		}
		out, err = getInvoice(ctx, tx, orgID, id, false)
		return err
	})
	return out, err
}
