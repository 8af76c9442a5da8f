// Package invoice is the invoice domain: the Invoice of a won deal, its status machine (issued ->
// paid | void), its gapless per-org, per-year numbering, the org's invoicing settings, and the
// use cases the API and the worker call (service.go, create.go).
//
// create_invoice (kinds.go) runs on deal.won: Create makes one invoice per won deal in the job
// batch's transaction, numbering them from a counter row per (org, series, year) taken with
// INSERT ... ON CONFLICT DO UPDATE ... RETURNING in that same transaction, so the number, the
// invoice, its invoice.created event and the job's completion commit or roll back together:
// numbers are never skipped nor reused (migration 000021). The rendered document is stored at
// creation through a Renderer (render.go), so every download serves the same bytes.
//
// Paying is a person's confirmation (Pay); voiding keeps the number (Void). Every change emits
// its event in its transaction. It knows no transport: errors are apperr errors.
package invoice
