package httpapi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/invoice"
)

// invoiceJSON is the part of an invoice the tests read.
type invoiceJSON struct {
	ID               string  `json:"id"`
	Number           string  `json:"number"`
	DealID           string  `json:"dealId"`
	Status           string  `json:"status"`
	Amount           int64   `json:"amount"`
	PaidAt           *string `json:"paidAt"`
	PaymentReference *string `json:"paymentReference"`
	VoidReason       *string `json:"voidReason"`
	CausationEventID *int64  `json:"causationEventId"`
}

// wonInvoice wins a new deal through the API and invoices it as the worker's create_invoice
// does (invoice.Service.Create in a tenant transaction of the owner), rendering its document
// with render (nil: none). It returns the invoice as GET /invoices/{id} shows it.
func wonInvoice(t *testing.T, a *apiTest, email string, render invoice.Renderer) invoiceJSON {
	t.Helper()
	dealID, eventID := winDeal(t, a, email)
	svc := invoice.NewService(a.owner, workerEmitter(a), render)
	res := dbtest.Batch(t, a.owner, a.org, svc.Create, invoice.Won{EventID: eventID, DealID: dealID})
	var inv invoiceJSON
	getOK(t, a, "/invoices/"+res[0].Invoice.ID.String(), &inv)
	require.Equal(t, eventID, *inv.CausationEventID)
	return inv
}

// TestInvoiceRoutes walks the invoice routes: list with its filters, get, the stored document
// with its SHA-256 ETag and 304, every status transition allowed and refused (409 with the
// current status), bad input (a bad date, a future date, no reason, a bad status filter) writing
// nothing, and the invoicing settings.
func TestInvoiceRoutes(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	first := wonInvoice(t, a, "first@buyer.example", invoice.TextRenderer{})
	second := wonInvoice(t, a, "second@buyer.example", nil)
	require.Equal(t, "issued", first.Status)
	require.Equal(t, int64(1_000_000), first.Amount)
	require.NotEqual(t, first.Number, second.Number)

	var pg struct {
		Data       []invoiceJSON `json:"data"`
		NextCursor *string       `json:"nextCursor"`
	}
	getOK(t, a, "/invoices?limit=1", &pg)
	require.Len(t, pg.Data, 1)
	require.NotNil(t, pg.NextCursor)
	r := a.do(http.MethodGet, "/invoices?limit=1&cursor="+*pg.NextCursor, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	getOK(t, a, "/invoices?dealId="+first.DealID, &pg)
	require.Len(t, pg.Data, 1)
	require.Equal(t, first.ID, pg.Data[0].ID)
	require.Equal(t, http.StatusBadRequest, a.do(http.MethodGet, "/invoices?status=draft", nil).Status)

	// The document: stored bytes, ETag their SHA-256; none stored is 404.
	doc := a.do(http.MethodGet, "/invoices/"+first.ID+"/document", nil)
	require.Equal(t, http.StatusOK, doc.Status, string(doc.Body))
	require.Equal(t, "application/pdf", doc.Header.Get("Content-Type"))
	sum := sha256.Sum256(doc.Body)
	require.Equal(t, `"`+hex.EncodeToString(sum[:])+`"`, doc.Header.Get("ETag"))
	require.Contains(t, string(doc.Body), first.Number)
	again := a.do(http.MethodGet, "/invoices/"+first.ID+"/document", nil)
	require.Equal(t, doc.Body, again.Body, "the same bytes every time")
	require.Equal(t, http.StatusNotModified, a.do(http.MethodGet, "/invoices/"+first.ID+"/document", nil,
		withHeader("If-None-Match", doc.Header.Get("ETag"))).Status)
	require.Equal(t, http.StatusNotFound, a.do(http.MethodGet, "/invoices/"+second.ID+"/document", nil).Status)

	// Bad input writes nothing.
	events := a.count(`SELECT count(*) FROM events`)
	pay := "/invoices/" + first.ID + "/pay"
	for _, body := range []map[string]any{{"paidAt": "yesterday"}, {"paidAt": "2999-01-01T00:00:00Z"}, {"paidAt": "2026-13-01T00:00:00Z"}} {
		r = a.do(http.MethodPost, pay, body)
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%v: %s", body, r.Body)
	}
	require.Equal(t, http.StatusBadRequest, a.do(http.MethodPost, pay, map[string]any{"paidAt": 5}).Status)
	require.Equal(t, http.StatusUnprocessableEntity, a.do(http.MethodPost, "/invoices/"+second.ID+"/void", map[string]any{}).Status)
	require.Equal(t, http.StatusNotFound, a.do(http.MethodPost, "/invoices/"+uuid.NewString()+"/pay", nil).Status)
	require.Equal(t, http.StatusBadRequest, a.do(http.MethodPost, "/invoices/x/pay", nil).Status)
	require.Zero(t, a.count(`SELECT count(*) FROM invoices WHERE status <> 'issued'`))
	require.Equal(t, events, a.count(`SELECT count(*) FROM events`))

	// issued -> paid; then paid refuses pay and void.
	r = a.do(http.MethodPost, pay, map[string]any{"paidAt": "2026-01-02T03:04:05Z", "reference": "BANK-1"}, withHeader("Idempotency-Key", "pay-first"))
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var paid invoiceJSON
	r.json(t, &paid)
	require.Equal(t, "paid", paid.Status)
	require.Equal(t, "2026-01-02T03:04:05Z", *paid.PaidAt)
	require.Equal(t, "BANK-1", *paid.PaymentReference)
	replay := a.do(http.MethodPost, pay, map[string]any{"paidAt": "2026-01-02T03:04:05Z", "reference": "BANK-1"}, withHeader("Idempotency-Key", "pay-first"))
	require.Equal(t, http.StatusOK, replay.Status, string(replay.Body))
	require.Equal(t, "true", replay.Header.Get("Idempotent-Replayed"))
	for _, p := range []string{pay, "/invoices/" + first.ID + "/void"} {
		r = a.do(http.MethodPost, p, map[string]any{"reason": "too late"})
		if p == pay {
			r = a.do(http.MethodPost, p, nil)
		}
		require.Equal(t, http.StatusConflict, r.Status, "%s: %s", p, r.Body)
		require.Contains(t, string(r.Body), `"currentStatus":"paid"`)
	}

	// issued -> void keeps the number; then void refuses pay and void.
	r = a.do(http.MethodPost, "/invoices/"+second.ID+"/void", map[string]any{"reason": "duplicate order"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var void invoiceJSON
	r.json(t, &void)
	require.Equal(t, "void", void.Status)
	require.Equal(t, second.Number, void.Number)
	require.Equal(t, "duplicate order", *void.VoidReason)
	require.Equal(t, http.StatusConflict, a.do(http.MethodPost, "/invoices/"+second.ID+"/pay", nil).Status)
	require.Equal(t, http.StatusConflict, a.do(http.MethodPost, "/invoices/"+second.ID+"/void", map[string]any{"reason": "again"}).Status)
	getOK(t, a, "/invoices?status=void", &pg)
	require.Len(t, pg.Data, 1)
	require.Equal(t, 1, a.count(`SELECT count(*) FROM events WHERE type = 'invoice.paid'`))
	require.Equal(t, 1, a.count(`SELECT count(*) FROM events WHERE type = 'invoice.voided'`))

	// Settings: defaults, refusals (nothing stored), a round trip.
	r = a.do(http.MethodGet, "/settings/invoicing", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.JSONEq(t, `{"prefix":"INV-","paymentTermsDays":14,"seller":{"name":"","address":"","taxId":"","email":""}}`, string(r.Body))
	for _, body := range []map[string]any{
		{"prefix": "IN V", "paymentTermsDays": 14},
		{"prefix": "INV-", "paymentTermsDays": 400},
		{"prefix": "INV-", "paymentTermsDays": 14, "seller": map[string]any{"email": "nope"}},
	} {
		r = a.do(http.MethodPut, "/settings/invoicing", body)
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%v: %s", body, r.Body)
	}
	require.Zero(t, a.count(`SELECT count(*) FROM org_settings WHERE name = 'invoicing'`))
	set := map[string]any{"prefix": "ACME-", "paymentTermsDays": 30, "seller": map[string]any{
		"name": "Acme GmbH", "address": "Hauptstr. 1\n10115 Berlin", "taxId": "DE123", "email": "billing@acme.example"}}
	r = a.do(http.MethodPut, "/settings/invoicing", set)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	got := a.do(http.MethodGet, "/settings/invoicing", nil)
	require.JSONEq(t, string(r.Body), string(got.Body))
	third := wonInvoice(t, a, "third@buyer.example", nil)
	require.Regexp(t, `^ACME-\d{4}-00003$`, third.Number, "the new prefix, the same counter")
}

// TestInvoiceConcurrentPays proves two concurrent pays of one invoice: one 200, one 409.
func TestInvoiceConcurrentPays(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	inv := wonInvoice(t, a, "race@buyer.example", nil)
	statuses := make([]int, 2)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Go(func() {
			statuses[i] = a.do(http.MethodPost, "/invoices/"+inv.ID+"/pay", map[string]any{"reference": "R"}).Status
		})
	}
	wg.Wait()
	require.ElementsMatch(t, []int{http.StatusOK, http.StatusConflict}, statuses)
	require.Equal(t, 1, a.count(`SELECT count(*) FROM events WHERE type = 'invoice.paid'`))
}
