// Package timeline is a lead's whole story read back from the events table: the events about the
// lead itself and about every record that grew from it, its calls, deals, the deals' invoices and
// contracts, its client and the client's onboarding tasks, merged into one list in time order,
// each entry with a one-line summary for people.
//
// The derived records point back to the lead through lead_id columns (calls, deals, clients) or
// through a record that does (invoices and contracts through their deal, onboarding tasks
// through their client); a page finds them with one small read per table by those keys. Each
// entity's events are then one range of events_entity_time_idx (org_id, entity_type, entity_id,
// occurred_at, id) after the cursor, at most a page long, and the ranges are merged by time: a
// page costs the lead's few records and a page of index entries per record, however many events
// the lead or its org has.
//
// The order is occurred_at (the event's transaction time), ties broken by the event id: events
// of one transaction share their time and keep the order they were written in. Summaries read
// only the payload fields they show, tolerating any other shape, since the timeline reads events
// written by every past version.
package timeline
