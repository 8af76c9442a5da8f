// Package integrity is the watchdog over the invariants of the lifecycle chain: checks that find
// what should never be and record each finding as a row of integrity_alerts, one open alert per
// check and entity (the unique index integrity_alerts_open_key) until it is resolved. It holds the
// checks (Service.Check, the work of the check_integrity cron task), the alerts' listing (List)
// and their resolution by hand (Service.Resolve).
//
// The checks (check.go names them): a deal won longer than the grace ago without an invoice or
// without a contract, an invoice paid longer than the grace ago without a client, a client created
// longer than the grace ago without onboarding tasks, a number missing from (or above) an org's
// invoice counter of one year, and deal_pipeline_totals, summed over its rows, differing from a
// fresh aggregate of the open deals. The grace (DefaultGrace, 15 minutes) is the time the job
// that makes the next record is given before its absence is an alert.
//
// A run first re-checks the open alerts and resolves those whose condition is gone, then scans
// in chunks, each a short transaction of its own (db.DB.Chunks), and opens alerts for what it
// finds. Every alert opened emits system.integrity_alert once (keyed on the alert), every alert
// resolved system.integrity_alert_resolved, in the transaction that wrote the alert. An alert a
// person resolved while its condition still holds is opened again, as a new alert, by the next
// run.
//
// integrity reads every domain's tables and nothing but the catalog and the services import it
// (STYLE.md §4.5).
package integrity
