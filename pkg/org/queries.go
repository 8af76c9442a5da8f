package org

// The statements of the org package, in PostgreSQL's placeholders (pkg/db). Each names its org
// itself; row-level security is the second guard.

const (
	insertOrgSQL      = `INSERT INTO orgs (id, name) VALUES ($1, $2)`
	insertCronTaskSQL = `INSERT INTO cron_tasks (org_id, name, job_type, cron_expr) VALUES ($1, $2, $3, $4)`

	insertKeySQL = `INSERT INTO api_keys (org_id, id, name, prefix, key_hash) VALUES ($1, $2, $3, $4, $5)`
	revokeKeySQL = `UPDATE api_keys SET revoked_at = now() WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL`
	// keyLookupSQL finds the unrevoked key with the given hash in its org, through the unique
	// index api_keys_org_id_key_hash_key.
	keyLookupSQL = `SELECT id FROM api_keys WHERE org_id = $1 AND key_hash = $2 AND revoked_at IS NULL`

	// getICPSQL answers one row for a missing org too, so that the read can tell it apart.
	getICPSQL     = `SELECT o.icp, o.id IS NOT NULL FROM (SELECT) AS one LEFT JOIN orgs o ON o.id = $1`
	lockICPSQL    = `SELECT icp FROM orgs WHERE id = $1 FOR UPDATE`
	updateICPSQL  = `UPDATE orgs SET icp = $1::jsonb WHERE id = $2`
	currentXIDSQL = `SELECT pg_current_xact_id()::text`
)

// The settings documents (Setting).
const (
	getSettingSQL = `SELECT value FROM org_settings WHERE org_id = $1 AND name = $2`
	putSettingSQL = `INSERT INTO org_settings (org_id, name, value) VALUES ($1, $2, $3::jsonb)
ON CONFLICT (org_id, name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`
)
