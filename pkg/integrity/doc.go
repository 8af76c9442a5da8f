// Package integrity is the watchdog over the system's state invariants: checks that find what
// should never be (a won deal without an invoice, a job that references a missing event, …) and
// record each finding as a row of integrity_alerts, one open alert per check and entity until it
// is resolved. This file set holds the alerts and their listing; the checks themselves and the
// check_integrity job that runs them come later.
//
// integrity reads every domain's tables and nothing imports it (STYLE.md §4.5).
package integrity
