package invoice_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/document/pdftest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/invoice"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/page"
)

// bundle is a fresh database with the invoice service (rendering text) on the owner's handle,
// one org, and a superuser handle for the tests' fixtures and reads.
type bundle struct {
	d     *db.DB
	svc   *invoice.Service
	super *db.DB
	org   uuid.UUID
}

func setup(t *testing.T) *bundle {
	t.Helper()
	d, url := dbtest.NewDB(t)
	em := events.NewEmitter(jobs.New(d, jobs.Config{}), catalog.New().EventJobs)
	return &bundle{d: d, svc: invoice.NewService(d, em, invoice.TextRenderer{}), super: dbtest.SuperDB(t, url),
		org: dbtest.NewOrg(t, d, "acme")}
}

func (b *bundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	return dbtest.Count(t, b.super, sql, args...)
}

// wonDeal inserts a deal in stage of a converted lead of org and returns its id.
func (b *bundle) wonDeal(t *testing.T, org uuid.UUID, stage string, value int64) uuid.UUID {
	t.Helper()
	return dbtest.WonDeal(t, b.super, org, "", stage, value)
}

// create runs Create for wons in one tenant transaction of the org.
func (b *bundle) create(t *testing.T, wons ...invoice.Won) []invoice.CreateResult {
	t.Helper()
	return dbtest.Batch(t, b.d, b.org, b.svc.Create, wons...)
}

// numbers are the org's invoice numbers, sorted.
func (b *bundle) numbers(t *testing.T) []string {
	t.Helper()
	rows, err := b.super.Pool.Query(t.Context(), `SELECT number FROM invoices WHERE org_id = $1 ORDER BY number`, b.org)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

func want(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = invoice.Number(prefix, time.Now().UTC().Year(), int64(i+1))
	}
	return out
}

// TestCreateInvoicesAWonDeal proves the invoice's fields: the deal's amount and currency, due
// after the default 14 days, numbered INV-<year>-00001, its causation the deal.won event, its
// document rendered from the deal, its lead and the seller, and one invoice.created carrying
// the event id; a repeat of the same deal creates nothing.
func TestCreateInvoicesAWonDeal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.wonDeal(t, b.org, "won", 125_000)
	res := b.create(t, invoice.Won{EventID: 42, DealID: id})
	require.Empty(t, res[0].Skipped)
	inv := res[0].Invoice
	require.Equal(t, want("INV-", 1)[0], inv.Number)
	require.Equal(t, int64(125_000), inv.Amount)
	require.Equal(t, "EUR", inv.Currency)
	require.Equal(t, invoice.StatusIssued, inv.Status)
	require.Equal(t, inv.IssuedAt.AddDate(0, 0, 14), *inv.DueAt)
	require.Equal(t, int64(42), *inv.CausationEventID)

	got, err := b.svc.Get(t.Context(), b.org, inv.ID)
	require.NoError(t, err)
	require.Equal(t, inv, got)
	doc, err := b.svc.Document(t.Context(), b.org, inv.ID)
	require.NoError(t, err)
	require.Contains(t, string(doc), "Invoice "+inv.Number)
	require.Contains(t, string(doc), "Buyer Buyer Ltd, Ada Buyer")
	require.Contains(t, string(doc), "Website rebuild\n125000 EUR")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE type = 'invoice.created' AND entity_id = $1
	AND (payload->>'causationEventId')::bigint = 42`, inv.ID))

	again := b.create(t, invoice.Won{EventID: 42, DealID: id})
	require.Equal(t, "deal is invoiced already", again[0].Skipped)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM invoices`))
	require.Equal(t, 1, b.count(t, `SELECT last FROM invoice_counters WHERE org_id = $1`, b.org), "a repeat takes no number")
}

// TestCreateSkips proves that a deal not won, gone, or another org's is skipped without taking
// a number, and that the settings' prefix and terms apply to the next invoice.
func TestCreateSkips(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := dbtest.NewOrg(t, b.d, "other")
	res := b.create(t, invoice.Won{EventID: 1, DealID: b.wonDeal(t, b.org, "negotiation", 1)},
		invoice.Won{EventID: 2, DealID: uuid.New()}, invoice.Won{EventID: 3, DealID: b.wonDeal(t, other, "won", 1)})
	require.Equal(t, "deal is negotiation, not won", res[0].Skipped)
	require.Equal(t, "deal not found", res[1].Skipped)
	require.Equal(t, "deal not found", res[2].Skipped)
	require.Zero(t, b.count(t, `SELECT count(*) FROM invoice_counters`))

	_, err := invoice.Invoicing.Save(t.Context(), b.d, b.org, invoice.Settings{Prefix: "ACME/", PaymentTermsDays: 30,
		Seller: invoice.Seller{Name: "Acme GmbH", Address: "Main St 1\n10115 Berlin", TaxID: "DE123", Email: "billing@acme.test"}})
	require.NoError(t, err)
	inv := b.create(t, invoice.Won{EventID: 4, DealID: b.wonDeal(t, b.org, "won", 1)})[0].Invoice
	require.Equal(t, want("ACME/", 1)[0], inv.Number)
	require.Equal(t, inv.IssuedAt.AddDate(0, 0, 30), *inv.DueAt)
	doc, err := b.svc.Document(t.Context(), b.org, inv.ID)
	require.NoError(t, err)
	require.Contains(t, string(doc), "Seller Acme GmbH, Main St 1\n10115 Berlin, DE123, billing@acme.test")
}

// TestCreateNumbersAreGaplessUnderConcurrency proves the numbering under contention: 60 won
// deals invoiced by 30 goroutines at once, each in its own transaction (batches of one and of
// three), get the numbers 1..60, none skipped or doubled; and a transaction that takes numbers
// and then rolls back (here: its caller fails after Create) gives them back, so the next
// invoice continues without a gap.
func TestCreateNumbersAreGaplessUnderConcurrency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const n = 60
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = b.wonDeal(t, b.org, "won", int64(i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for g := range 30 {
		batch := []invoice.Won{{EventID: int64(g), DealID: ids[g]}}
		if g%2 == 1 { // every other goroutine also takes two of the last 30 deals
			k := 30 + (g/2)*2
			batch = append(batch, invoice.Won{EventID: int64(k), DealID: ids[k]}, invoice.Won{EventID: int64(k + 1), DealID: ids[k+1]})
		}
		wg.Go(func() {
			errs <- b.d.Tx(t.Context(), b.org, func(tx *gorm.DB) error {
				_, err := b.svc.Create(t.Context(), tx, b.org, batch)
				return err
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, want("INV-", n), b.numbers(t))

	// A transaction that takes a number and rolls back leaves no gap.
	extra := []uuid.UUID{b.wonDeal(t, b.org, "won", 1), b.wonDeal(t, b.org, "won", 1)}
	boom := errors.New("boom after the number was taken")
	err := b.d.Tx(t.Context(), b.org, func(tx *gorm.DB) error {
		res, err := b.svc.Create(t.Context(), tx, b.org, []invoice.Won{{EventID: 100, DealID: extra[0]}})
		require.NoError(t, err)
		require.Equal(t, want("INV-", n+1)[n], res[0].Invoice.Number, "the rolled-back transaction held number 61")
		return boom
	})
	require.ErrorIs(t, err, boom)
	b.create(t, invoice.Won{EventID: 101, DealID: extra[1]}, invoice.Won{EventID: 100, DealID: extra[0]})
	require.Equal(t, want("INV-", n+2), b.numbers(t))
}

// TestPayAndVoid proves the status machine: issued -> paid and issued -> void are allowed,
// each emitting its event once; paid -> paid, paid -> void, void -> paid, void -> void are
// 409 with the current status; a void invoice keeps its number; bad input writes nothing.
func TestPayAndVoid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res := b.create(t, invoice.Won{EventID: 1, DealID: b.wonDeal(t, b.org, "won", 10)},
		invoice.Won{EventID: 2, DealID: b.wonDeal(t, b.org, "won", 20)})
	paid, void := res[0].Invoice, res[1].Invoice

	future := time.Now().Add(time.Hour)
	_, err := b.svc.Pay(t.Context(), b.org, "user:test", paid.ID, invoice.Payment{PaidAt: &future})
	require.True(t, apperr.Is(err, apperr.Invalid), "%v", err)
	_, err = b.svc.Void(t.Context(), b.org, "user:test", void.ID, "  ")
	require.True(t, apperr.Is(err, apperr.Invalid), "%v", err)
	_, err = b.svc.Pay(t.Context(), b.org, "user:test", uuid.New(), invoice.Payment{})
	require.True(t, apperr.Is(err, apperr.NotFound), "%v", err)
	require.Zero(t, b.count(t, `SELECT count(*) FROM invoices WHERE status <> 'issued'`))

	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ref := "BANK-1"
	got, err := b.svc.Pay(t.Context(), b.org, "user:test", paid.ID, invoice.Payment{PaidAt: &at, Reference: &ref})
	require.NoError(t, err)
	require.Equal(t, invoice.StatusPaid, got.Status)
	require.Equal(t, at, *got.PaidAt)
	require.Equal(t, ref, *got.PaymentReference)

	got, err = b.svc.Void(t.Context(), b.org, "user:test", void.ID, "duplicate order")
	require.NoError(t, err)
	require.Equal(t, invoice.StatusVoid, got.Status)
	require.Equal(t, void.Number, got.Number)
	require.Equal(t, "duplicate order", *got.VoidReason)
	require.NotNil(t, got.VoidedAt)

	for _, id := range []uuid.UUID{paid.ID, void.ID} {
		_, err = b.svc.Pay(t.Context(), b.org, "user:test", id, invoice.Payment{})
		require.True(t, apperr.Is(err, apperr.Conflict), "%v", err)
		_, err = b.svc.Void(t.Context(), b.org, "user:test", id, "again")
		require.True(t, apperr.Is(err, apperr.Conflict), "%v", err)
	}
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE type = 'invoice.paid'`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE type = 'invoice.voided'`))

	pg, err := b.svc.List(t.Context(), b.org, invoice.ListFilter{Status: invoice.StatusVoid, Page: page.Request{Limit: 10}})
	require.NoError(t, err)
	require.Len(t, pg.Data, 1)
	require.Equal(t, void.ID, pg.Data[0].ID)
	pg, err = b.svc.List(t.Context(), b.org, invoice.ListFilter{DealID: &paid.DealID, Page: page.Request{Limit: 10}})
	require.NoError(t, err)
	require.Len(t, pg.Data, 1)
	require.Equal(t, paid.ID, pg.Data[0].ID)
}

// TestConcurrentPays proves that of ten concurrent pays of one invoice exactly one succeeds and
// the others are 409, with one invoice.paid.
func TestConcurrentPays(t *testing.T) {
	t.Parallel()
	b := setup(t)
	inv := b.create(t, invoice.Won{EventID: 1, DealID: b.wonDeal(t, b.org, "won", 10)})[0].Invoice
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() {
			_, err := b.svc.Pay(t.Context(), b.org, "user:test", inv.ID, invoice.Payment{})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	var ok, conflicts int
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case apperr.Is(err, apperr.Conflict):
			conflicts++
		default:
			require.NoError(t, err)
		}
	}
	require.Equal(t, [2]int{1, 9}, [2]int{ok, conflicts})
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE type = 'invoice.paid'`))
}

// TestInvoicingSettings proves the defaults, a round trip, and the field rules (nothing written
// on a refusal).
func TestInvoicingSettings(t *testing.T) {
	t.Parallel()
	b := setup(t)
	got, err := invoice.Invoicing.Read(t.Context(), b.d, b.org)
	require.NoError(t, err)
	require.Equal(t, invoice.DefaultSettings(), got)

	for name, s := range map[string]invoice.Settings{
		"prefix":                 {Prefix: "INV 1", PaymentTermsDays: 1},
		"paymentTermsDays":       {Prefix: "X", PaymentTermsDays: 366},
		"seller.email":           {Seller: invoice.Seller{Email: "not an email"}},
		"seller.name":            {Seller: invoice.Seller{Name: strings.Repeat("x", 300)}},
		"seller.taxId":           {Seller: invoice.Seller{TaxID: "a\x00b"}},
		"prefix too long":        {Prefix: "ABCDEFGHIJKLMNOPQRSTU"},
		"negative payment terms": {PaymentTermsDays: -1},
	} {
		_, err := invoice.Invoicing.Save(t.Context(), b.d, b.org, s)
		e, ok := apperr.As(err)
		require.True(t, ok && e.Code == apperr.Invalid, "%s: %v", name, err)
		require.NotEmpty(t, e.Fields, name)
	}
	require.Zero(t, b.count(t, `SELECT count(*) FROM org_settings WHERE name = 'invoicing'`))

	in := invoice.Settings{Prefix: "", PaymentTermsDays: 0, Seller: invoice.Seller{Name: " Acme ", Email: "a@acme.test"}}
	put, err := invoice.Invoicing.Save(t.Context(), b.d, b.org, in)
	require.NoError(t, err)
	require.Equal(t, "Acme", put.Seller.Name)
	got, err = invoice.Invoicing.Read(t.Context(), b.d, b.org)
	require.NoError(t, err)
	require.Equal(t, put, got)
	require.True(t, slices.Equal(want("", 1), []string{invoice.Number("", time.Now().UTC().Year(), 1)}))
}

// TestStatusMachine proves the machine as data.
func TestStatusMachine(t *testing.T) {
	t.Parallel()
	all := []invoice.Status{invoice.StatusIssued, invoice.StatusPaid, invoice.StatusVoid}
	allowed := map[[2]invoice.Status]bool{{invoice.StatusIssued, invoice.StatusPaid}: true, {invoice.StatusIssued, invoice.StatusVoid}: true}
	for _, from := range all {
		for _, to := range all {
			require.Equal(t, allowed[[2]invoice.Status{from, to}], invoice.CanMove(from, to), "%s -> %s", from, to)
		}
	}
	require.False(t, invoice.Status("draft").Valid())
}

// TestCreateStoresThePDF proves the invoice's stored document is the PDF of document.Invoice
// (through invoice.PDF): its text shows the number, both dates, the seller, the buyer, the line
// and the amount in its currency; and a second read gives the same bytes. The text is read back
// with pdftotext (Debian's poppler-utils, which scripts/test.sh installs) where it is present;
// elsewhere from the PDF's content streams, which document.Invoice leaves uncompressed.
func TestCreateStoresThePDF(t *testing.T) {
	t.Parallel()
	d, url := dbtest.NewDB(t)
	em := events.NewEmitter(jobs.New(d, jobs.Config{}), catalog.New().EventJobs)
	b := &bundle{d: d, svc: invoice.NewService(d, em, invoice.PDF{}), super: dbtest.SuperDB(t, url), org: dbtest.NewOrg(t, d, "acme")}
	_, err := invoice.Invoicing.Save(t.Context(), b.d, b.org, invoice.Settings{Prefix: "ACME-", PaymentTermsDays: 30,
		Seller: invoice.Seller{Name: "Acme Studio", Address: "1 Main Street", TaxID: "DE123456789", Email: "billing@acme.example"}})
	require.NoError(t, err)
	id := b.wonDeal(t, b.org, "won", 1_234_550)
	inv := b.create(t, invoice.Won{EventID: 7, DealID: id})[0].Invoice

	doc, err := b.svc.Document(t.Context(), b.org, inv.ID)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(doc, []byte("%PDF-")), "a PDF")
	again, err := b.svc.Document(t.Context(), b.org, inv.ID)
	require.NoError(t, err)
	require.Equal(t, doc, again)

	text := pdftest.Text(t, doc)
	for _, s := range []string{inv.Number, inv.IssuedAt.Format(time.DateOnly), inv.DueAt.Format(time.DateOnly),
		"Acme Studio", "1 Main Street", "DE123456789", "billing@acme.example",
		"Buyer Ltd", "Ada Buyer", "Website rebuild", "12,345.50"} {
		require.Contains(t, text, s)
	}
}
