package pipeline

// The statements of the pipeline package, in PostgreSQL's placeholders (pkg/db); the leads'
// own statements are pkg/lead's. Each filters org_id itself; row-level security is the second
// guard.

// scheduleFollowUpsSQL schedules follow_up_lead jobs ($2: the job type; $3.. parallel arrays) in
// scheduled_tasks for the org's ($1) leads, each once per dedup key, and returns the ones it
// scheduled.
const scheduleFollowUpsSQL = `
INSERT INTO scheduled_tasks (org_id, job_type, payload, run_at, entity_type, entity_id, dedup_key)
SELECT $1, $2, f.payload::jsonb, now() + f.after_ms * interval '1 millisecond', $3, f.lead_id, f.dedup_key
FROM unnest($4::uuid[], $5::text[], $6::bigint[], $7::text[]) WITH ORDINALITY AS f(lead_id, payload, after_ms, dedup_key, ord)
ORDER BY f.ord
ON CONFLICT (org_id, dedup_key) DO NOTHING
RETURNING dedup_key, id, run_at`
