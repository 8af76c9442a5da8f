// Package deal is the deal domain: the Deal of a converted lead, its enforced stage machine with
// per-stage default probabilities (stage.go), money and the weighted value computed on read
// (money.go), its statements (queries.go) and their reads and writes (store.go), the pipeline sums of
// GET /analytics/pipeline (pipeline.go; without a window they are read from
// deal_pipeline_totals, which triggers on deals keep exact in every writing transaction,
// migration 000011, each group spread over a few rows so that concurrent transactions of one
// org never wait for each other, migrations 000025 and 000036) and the use cases the API and the worker
// call (service.go, nudge.go).
//
// Every use case that changes state runs in one tenant transaction (db.Tx) that also emits the
// change's events, so the change, its history and the jobs it triggers commit together:
// creating a deal converts its lead (through the lead stage machine) and emits deal.created;
// a stage change emits deal.stage_changed and, when final, deal.won (which enqueues nothing
// until invoices and contracts are built, see kinds.go) or deal.lost.
//
// Money is an int64 in minor units of an ISO 4217 currency (DESIGN.md "Data"); a
// probability is held as an integer number of basis points (1/10,000), exactly the
// numeric(5,4) column, so no value ever goes through a float. weightedValue is never stored.
//
// It knows no transport: errors are apperr errors, which the services map to HTTP statuses or
// job outcomes.
package deal
