// Package schedule turns the two schedule tables into jobs: cron_tasks (recurring, one job per
// cron slot) and scheduled_tasks (one-off, at run_at). The scheduler binary calls Tick on a
// timer; this package holds the rules so they can be tested without the binary.
//
// # Exactly one job per slot, whatever the replica count
//
// A cron fire is enqueued with idempotency key "cron:<task id>:<slot unix seconds>", where the
// slot is computed from the cron expression and the task's last_slot_at, never from a local
// clock; the jobs table's unique (org_id, job_type, idempotency_key) makes a second enqueue of
// the same slot a no-op. Each task stores next_slot_at, the instant before which none of its
// slots is due (NULL until computed). A tick takes FOR UPDATE SKIP LOCKED only the enabled tasks
// whose next_slot_at has come or is NULL, through a partial index, decides on the locked rows,
// and writes each one back with its next slot: two schedulers ticking at once split the tasks
// between them instead of both firing them, and a tick between slots reads no task and writes
// nothing, however many daily or weekly tasks there are. next_slot_at is only a lower bound: too
// early costs a read, never a slot, so whatever changes a schedule without computing it clears
// it (a trigger), and the next tick computes it. There is no leader and no lock to configure. All
// times come from the database clock, so a replica whose own clock is off fires the same slots.
//
// # Catch-up
//
// After downtime, a task fires once for the latest slot it missed, not once per missed slot:
// the recurring checks are idempotent sweeps, and a burst of identical sweeps does no good.
// Slots older than 31 days are not looked for.
//
// # Changes people make
//
// Service holds the use cases behind the API's /cron-tasks and /scheduled-tasks: it lives here
// because what it shows and changes must follow the rules above exactly. nextSlotAt is NextSlot,
// computed with the parser (ParseExpr, ParseZone) and the catch-up rule that Tick applies, not
// read from next_slot_at: the column is a lower bound (NULL, or past while a slot is due, or an
// hour on for a broken schedule); of a valid schedule, a value ahead of now equals NextSlot. A
// change of expression or zone, or enabling a task, takes effect from the change on: the task's
// last_slot_at moves to the latest slot of the new schedule that has already passed, so that no
// slot from before the change fires; the same statement stores its next slot. A task whose job
// kind the worker does not have is neither enabled nor run by hand, since its jobs would only be
// dead-lettered.
//
// It imports core packages only (db, jobs, events, page, apperr).
package schedule
