// Package lead is the lead domain: the Lead and its activities, its contact identity (the
// normalisation of submitted contact data and the fingerprint that deduplicates leads,
// contact.go), the enforced stage machine (stage.go), the queries on the leads and
// lead_activities tables (store.go, and the set-based ones in store_many.go) and the use cases:
//
//   - those the API calls (service.go: Create, Get, Update, Delete, ChangeStage, AddActivity,
//     List, ListActivities, History), each in its own tenant transaction (db.Tx);
//   - the lead side of the other domains, which take the caller's transaction and a slice (one is
//     a batch of one): what a call does to its lead (BookCalls, RecordCallActivities, Escalate),
//     what a deal does (Convert), a stalled deal's nudge (Nudge) and an intake submission
//     (Admit). They live here because each changes the lead aggregate: its stage through the
//     stage machine, its priority, ghost risk and timeline, with the lead's own events;
//   - the recurring sweeps of an org (sweep.go, job kinds in kinds.go): RecalcGhostRisk counts
//     a silence period on contacted and call_booked leads silent for the org's silence days,
//     once per period, a touchpoint (anything that moves last_activity_at on) starting the
//     silence afresh; RecalcAutoPriority sets each lead's priority by the rule table of
//     PriorityRules (priority_rules.go), leaving a priority set otherwise within the hold. They
//     live here, not in pkg/pipeline, because they write the lead's columns, version and events
//     with set-based statements of their own, which pkg/pipeline, going through the store's
//     exported functions, does not do.
//
// Every change of a lead's stage, priority, enrichment or score goes through one write path
// (StoreWrites), which pkg/pipeline uses too. Every use case that changes state emits the
// change's event in the same transaction, so the change, its history and the jobs it triggers
// commit together.
//
// It knows no transport: errors are apperr errors, which the services map to HTTP statuses or
// job outcomes.
package lead
