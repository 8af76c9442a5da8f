// Package pipeline is the lead pipeline: enrich -> qualify -> route. A lead that comes in
// (lead.created) is enriched (enrich_lead) and scored against the org's ICP (qualify_lead), which
// moves a new lead to the stage of its recommended path and emits lead.qualified; routing
// (route_outreach) then acts on that path: a call to book, a nurture follow-up
// (follow_up_lead), or a disqualification.
//
// Every use case takes the caller's transaction, or the job's commit where it calls out of the
// database first (the enrichment API, a model), and a slice of leads: one lead is a batch of
// one. It reads and changes leads only through pkg/lead's store (lead.LockLive,
// lead.StoreWrites, lead.AddActivities), and emits the lead's events with lead.NewEvent, so that
// the lead's history reads the same whoever changed it.
package pipeline
