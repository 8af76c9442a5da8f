package invoice

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/deal"
)

// CreateActor is the actor of what Create writes.
const CreateActor = "job:" + KindCreateInvoice

// Series is the counter series of invoice numbers (invoice_counters.series).
const Series = "invoice"

// Won is a won deal to invoice: the deal and the deal.won event that reported it.
type Won = deal.Won

// CreateResult is what Create did for one Won.
type CreateResult struct {
	// Invoice is the invoice created (zero when none was).
	Invoice Invoice
	// Skipped says why no invoice was created: the deal has one already (a repeat), is gone, or
	// is not won. Retrying would change nothing, so these are outcomes, not errors.
	Skipped string
}

// Number formats an invoice number: "<prefix><year>-<n>", n zero-padded to 5 digits.
func Number(prefix string, year int, n int64) string {
	return fmt.Sprintf("%s%d-%05d", prefix, year, n)
}

// Create invoices each won deal inside the caller's tenant transaction tx (the create_invoice
// jobs' batch transaction) and returns the result of each in order. Each deal gets one invoice
// (unique per org and deal: a deal invoiced already is skipped), with the deal's amount and
// currency, issued now, due after the org's payment terms, its causation the deal.won event, and
// its document rendered and stored; each emits invoice.created carrying that event's id.
//
// Numbers are gapless per org and calendar year (UTC) of the issue: the deals' rows are locked
// first (in id order, deal.LockAlone, so a repeat of a deal's job waits for the first), then the batch's n numbers are taken in one statement from the counter
// row of (org, Series, year), which stays locked until tx ends. Whatever fails later in tx rolls
// the counter back with the invoices and the jobs' completions, so no number is lost; and no two
// transactions can hold the same number. Nothing is taken when there is nothing to invoice.
func (s *Service) Create(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, wons []Won) ([]CreateResult, error) {
	out := make([]CreateResult, len(wons))
	deals, todo, err := deal.LockWon(ctx, tx, orgID, wons, deal.LockAlone, invoicedDealsSQL, "deal is invoiced already", func(i int, why string) { out[i].Skipped = why })
	if err != nil || len(todo) == 0 {
		return out, err
	}
	set, err := Invoicing.Get(ctx, tx, orgID)
	if err != nil {
		return nil, err
	}
	issued := s.now().UTC().Truncate(time.Microsecond)
	due := issued.AddDate(0, 0, set.PaymentTermsDays)
	n := int64(len(todo))
	last, ok, err := db.Get[int64](ctx, tx, takeNumbersSQL, orgID, Series, issued.Year(), n)
	if err != nil || !ok {
		return nil, fmt.Errorf("take %d invoice numbers: %w", n, err)
	}
	var (
		invIDs, dealIDs = make([]uuid.UUID, n), make([]uuid.UUID, n)
		numbers, curs   = make([]string, n), make([]string, n)
		amounts, causes = make([]int64, n), make([]int64, n)
		docs            = make([][]byte, n)
		invoices        = make([]Invoice, n)
	)
	for j, i := range todo {
		d := deals[i]
		cause := wons[i].EventID
		inv := Invoice{
			ID: uuid.New(), Number: Number(set.Prefix, issued.Year(), last-n+1+int64(j)), DealID: d.ID, LeadID: d.LeadID,
			Amount: d.DealValue, Currency: d.Currency, Status: StatusIssued, IssuedAt: issued, DueAt: &due,
			CausationEventID: &cause, CreatedAt: issued,
		}
		if s.render != nil {
			doc, err := s.render.RenderInvoice(Document{
				Number: inv.Number, IssuedAt: issued, DueAt: due, Seller: set.Seller,
				Buyer: Buyer{Company: d.Company, Name: d.Name, Email: d.Email}, Line: d.Title,
				Amount: d.DealValue, Currency: d.Currency,
			})
			if err != nil {
				return nil, fmt.Errorf("render invoice %s: %w", inv.Number, err)
			}
			docs[j] = doc
		}
		invoices[j] = inv
		invIDs[j], dealIDs[j], numbers[j], amounts[j], curs[j], causes[j] = inv.ID, d.ID, inv.Number, d.DealValue, d.Currency, cause
	}
	if _, err := db.Exec(ctx, tx, insertInvoicesSQL, orgID, db.UUIDs(invIDs), db.UUIDs(dealIDs), numbers, amounts, curs,
		docs, issued, due, causes); err != nil {
		return nil, fmt.Errorf("insert %d invoices: %w", n, err)
	}
	for j, i := range todo {
		inv := invoices[j]
		if err := s.emit(ctx, tx, orgID, CreateActor, EventCreated, inv.ID, "invoice.created:"+inv.ID.String(),
			CreatedPayload{Invoice: inv, CausationEventID: wons[i].EventID}); err != nil {
			return nil, fmt.Errorf("emit invoice.created: %w", err)
		}
		out[i].Invoice = inv
	}
	return out, nil
}
