// Package events is the append-only history on the events table and the EVENT_JOB_MAP that turns
// events into jobs. Emit writes an event and enqueues its mapped jobs in the caller's
// transaction, so a state change, its event and the work it triggers commit together.
//
// Emit is idempotent on (org, idempotency key): a second emit returns the first event and
// enqueues nothing more. Consumers must not read events in id order as commit order; jobs are
// enqueued by the emitting transaction instead of by a reader of this table.
package events
