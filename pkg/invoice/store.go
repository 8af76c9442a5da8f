package invoice

// The reads and writes of the invoices (their statements are in queries.go), in the transaction
// they are given.

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/page"
)

// invoiceRow is a row of invoiceColumns.
type invoiceRow struct {
	ID               uuid.UUID  `gorm:"column:id"`
	Number           string     `gorm:"column:number"`
	DealID           uuid.UUID  `gorm:"column:deal_id"`
	LeadID           uuid.UUID  `gorm:"column:lead_id"`
	Amount           int64      `gorm:"column:amount"`
	Currency         string     `gorm:"column:currency"`
	Status           string     `gorm:"column:status"`
	IssuedAt         time.Time  `gorm:"column:issued_at"`
	DueAt            *time.Time `gorm:"column:due_at"`
	PaidAt           *time.Time `gorm:"column:paid_at"`
	PaymentReference *string    `gorm:"column:payment_reference"`
	VoidedAt         *time.Time `gorm:"column:voided_at"`
	VoidReason       *string    `gorm:"column:void_reason"`
	CausationEventID *int64     `gorm:"column:causation_event_id"`
	CreatedAt        time.Time  `gorm:"column:created_at"`
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (r invoiceRow) invoice() Invoice {
	return Invoice{
		ID: r.ID, Number: r.Number, DealID: r.DealID, LeadID: r.LeadID, Amount: r.Amount, Currency: r.Currency,
		Status: Status(r.Status), IssuedAt: r.IssuedAt.UTC(), DueAt: utc(r.DueAt), PaidAt: utc(r.PaidAt),
		PaymentReference: r.PaymentReference, VoidedAt: utc(r.VoidedAt), VoidReason: r.VoidReason,
		CausationEventID: r.CausationEventID, CreatedAt: r.CreatedAt.UTC(),
	}
}

func selectInvoices(ctx context.Context, tx *gorm.DB, q string, args ...any) ([]Invoice, error) {
	rows, err := db.Select[invoiceRow](ctx, tx, q, args...)
	if err != nil {
		return nil, err
	}
	out := make([]Invoice, len(rows))
	for i, r := range rows {
		out[i] = r.invoice()
	}
	return out, nil
}

// getInvoice reads the org's invoice id (locked when lock is true); a missing one is NotFound.
func getInvoice(ctx context.Context, tx *gorm.DB, orgID, id uuid.UUID, lock bool) (Invoice, error) {
	q := getInvoiceSQL
	if lock {
		q = lockInvoiceSQL
	}
	rows, err := selectInvoices(ctx, tx, q, orgID, id)
	if err != nil {
		return Invoice{}, fmt.Errorf("read invoice: %w", err)
	}
	if len(rows) == 0 {
		return Invoice{}, notFound(id)
	}
	return rows[0], nil
}

// keyset is the order of List: newest issued first, ties by id.
var keyset = page.Desc(
	page.Time("i.issued_at", "t", func(v Invoice) time.Time { return v.IssuedAt }),
	page.UUID("i.id", "i", func(v Invoice) uuid.UUID { return v.ID }),
)
