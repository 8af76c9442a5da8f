package document_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/document"
)

func sampleInvoice() document.InvoiceInput {
	issued := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	return document.InvoiceInput{
		Number:   "INV-2026-00042",
		IssuedAt: issued,
		DueAt:    issued.AddDate(0, 0, 14),
		Seller: document.Seller{Name: "Acme Consulting GmbH", Address: "Hauptstraße 1\n10115 Berlin",
			TaxID: "DE123456789", Email: "billing@acme.example"},
		Buyer:    document.Buyer{Company: "Globex (Europe) Ltd", Name: "Zoë O'Brien", Email: "zoe@globex.example"},
		Line:     "Website relaunch \\ phase 1",
		Amount:   1_234_550,
		Currency: "EUR",
	}
}

// TestInvoiceShowsFields reads every invoice back with each extractor and finds its number,
// dates, seller, buyer, line and the amount formatted at its currency's scale; text outside
// Windows-1252 shows as its base letter or "?".
func TestInvoiceShowsFields(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		edit func(*document.InvoiceInput)
		want []string
	}{
		"EUR, Latin-1 names and PDF string escapes": {
			edit: func(*document.InvoiceInput) {},
			want: []string{"Invoice number: INV-2026-00042", "Issue date: 2026-03-14", "Due date: 2026-03-28",
				"Acme Consulting GmbH", "Hauptstraße 1 10115 Berlin", "Tax ID: DE123456789", "billing@acme.example",
				"Globex (Europe) Ltd", "Zoë O'Brien", "zoe@globex.example", "Website relaunch \\ phase 1",
				"EUR 12,345.50", "Total EUR 12,345.50"},
		},
		"JPY has no decimals": {
			edit: func(in *document.InvoiceInput) { in.Amount, in.Currency = 1_234_567, "JPY" },
			want: []string{"JPY 1,234,567"},
		},
		"KWD has three decimals": {
			edit: func(in *document.InvoiceInput) { in.Amount, in.Currency = 1_500, "KWD" },
			want: []string{"KWD 1.500"},
		},
		"text outside Windows-1252": {
			edit: func(in *document.InvoiceInput) {
				in.Buyer.Name, in.Buyer.Company, in.Line = "Łukasz Żółć", "Иван и партнёры", "Übersetzung – 日本"
			},
			want: []string{"?ukasz Zó?c", "???? ? ???????", "Übersetzung – ??"},
		},
	}
	for name, tc := range cases {
		in := sampleInvoice()
		tc.edit(&in)
		pdf, err := document.Invoice(in)
		require.NoError(t, err, name)
		require.True(t, bytes.HasPrefix(pdf, []byte("%PDF-")), name)
		for how, extract := range extractors() {
			text := extract(t, pdf)
			for _, w := range tc.want {
				require.Contains(t, text, w, "%s, read with %s: %q", name, how, text)
			}
		}
	}
}

// TestInvoiceIsDeterministic renders the same input twice (and concurrently) to the same bytes,
// dated by IssuedAt rather than the clock; another issue date gives other bytes.
func TestInvoiceIsDeterministic(t *testing.T) {
	t.Parallel()
	in := sampleInvoice()
	first, err := document.Invoice(in)
	require.NoError(t, err)
	require.Contains(t, string(first), "/CreationDate (D:20260314093000)")
	done := make(chan []byte, 8)
	for range cap(done) {
		go func() {
			again, err := document.Invoice(in)
			if err != nil {
				again = nil
			}
			done <- again
		}()
	}
	for range cap(done) {
		require.Equal(t, first, <-done)
	}
	in.IssuedAt = in.IssuedAt.Add(time.Second)
	other, err := document.Invoice(in)
	require.NoError(t, err)
	require.NotEqual(t, first, other)
}

// TestInvoiceRefusesBadInput names the field of each input that cannot be rendered.
func TestInvoiceRefusesBadInput(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		edit  func(*document.InvoiceInput)
		field string
	}{
		"no number":        {func(in *document.InvoiceInput) { in.Number = " " }, "number"},
		"no issue date":    {func(in *document.InvoiceInput) { in.IssuedAt = time.Time{} }, "issuedAt"},
		"due before issue": {func(in *document.InvoiceInput) { in.DueAt = in.IssuedAt.Add(-time.Hour) }, "dueAt"},
		"negative amount":  {func(in *document.InvoiceInput) { in.Amount = -1 }, "amount"},
		"amount over max":  {func(in *document.InvoiceInput) { in.Amount = document.MaxAmount + 1 }, "amount"},
		"unknown currency": {func(in *document.InvoiceInput) { in.Currency = "ABC" }, "currency"},
		"lower-case code":  {func(in *document.InvoiceInput) { in.Currency = "eur" }, "currency"},
		"no currency":      {func(in *document.InvoiceInput) { in.Currency = "" }, "currency"},
	}
	for name, tc := range cases {
		in := sampleInvoice()
		tc.edit(&in)
		pdf, err := document.Invoice(in)
		require.Nil(t, pdf, name)
		e, ok := apperr.As(err)
		require.True(t, ok, name)
		require.Equal(t, apperr.Invalid, e.Code, name)
		require.Len(t, e.Fields, 1, name)
		require.Equal(t, tc.field, e.Fields[0].Field, name)
	}
	in := sampleInvoice()
	in.Amount = document.MaxAmount
	_, err := document.Invoice(in)
	require.NoError(t, err)
}

// BenchmarkInvoice renders one invoice per iteration.
func BenchmarkInvoice(b *testing.B) {
	in := sampleInvoice()
	for b.Loop() {
		if _, err := document.Invoice(in); err != nil {
			b.Fatal(err)
		}
	}
}
