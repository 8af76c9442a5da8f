// Package db is the one door to PostgreSQL. It opens the process's handle (one pgx pool, with
// gorm on the same connections), scopes every transaction to one org, runs the embedded
// migrations, and classifies PostgreSQL's errors. This comment is the rule for how each layer
// goes through it.
//
// # Services
//
// Each binary opens one *DB (Open, through pkg/cli) and hands it to the domain services it
// wires. Services hold no SQL; they turn HTTP requests and jobs into use-case calls.
//
// # Domain packages
//
// A domain package (org, intake, lead, pipeline, call, deal, ...) reaches PostgreSQL only
// through this package, and never imports the driver (depguard: "no domain imports pgx").
//
//   - One transaction type: a *gorm.DB with a tenant transaction open on it. The caller opens
//     it — DB.Tx for a request, the worker runtime for a batch of jobs — and use cases take it
//     as a parameter, (ctx, tx, ...), and never open one of their own when given one. Use cases
//     that jobs and other domains call take a slice: one item is a batch of one, so a batch
//     costs one statement per step however many items it holds.
//     A use case that makes a slow call (a network API, a model) before it writes takes the
//     caller's transaction as a function that opens it on first use (the worker's
//     jobs.Batch.Exec; pipeline.Commit), so that no transaction is open across the call.
//   - One statement style: SQL text with PostgreSQL's placeholders ($1, $2, ...), kept in the
//     package's queries.go, run with Exec, Select, Get or Each. Arguments reach the driver as
//     they are, so a Go slice is one PostgreSQL array: set-based statements take their rows as
//     parallel arrays and unnest them. gorm's query builder and its "?" placeholders are not
//     used; gorm stays as the transaction's connection and as the reader of rows into structs
//     by column name (Select, Get).
//   - Hot paths that know every statement up front send them in one round trip: DB.Read (a
//     read-only transaction: one lead, a page of leads) and DB.Write (a write transaction: the
//     intake gateway's accept), each a Batch of Exec, Row and Rows. Nullable columns scan into
//     the driver's value types through the names here (Text, Int4, Timestamptz, NullUUID ...).
//     A request's Get of one row is ReadByID (ReadOne, QueueOne on a shared Batch) and a page of
//     a list ReadPage (ReadAll, QueueAll): the rows read into the package's row struct by column
//     name, as Select reads them, in one round trip.
//   - A sweep over an org's rows (the scheduler's checks) goes through Chunks, or KeyRanges on
//     it: one short transaction per chunk, sized, bounded by a hard budget and paced by the
//     handle's Pace, so no sweep holds the locks of its writes longer than the budget. A sweep
//     never opens its own long transaction for writes.
//   - Every statement still filters org_id itself; row-level security (app.org_id, set
//     transaction-locally by Tx, Read and Write) is the second guard, never the only one.
//   - Errors keep their cause (%w). PgCode and the Is* helpers classify PostgreSQL's; a domain
//     turns the ones it expects (a unique or foreign-key violation) into apperr errors, and
//     pkg/httpx maps the rest at the edge.
//
// # The engine
//
// pkg/jobs and pkg/events are the engine: claims, completions, the transactional enqueue and
// LISTEN/NOTIFY are tuned statement by statement, so they talk pgx directly behind their own
// API (as river's driver does), and they alone write the jobs and events tables.
//
// This package sits below the engine and does not import it. What the engine needs of every
// request transaction, the wake-up of the workers after the commit rather than a NOTIFY inside it,
// it installs on the handle as a Deferral (DB.Defer, jobs.WakeAfterCommit, wired by pkg/cli.OpenDB
// and the worker): DB.Tx sends the Deferral's setting with its tenant scope, reads whether the
// transaction owes the work with its COMMIT, and does it after the commit, at no round trip more.
package db
