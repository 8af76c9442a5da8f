package db_test

import (
	"crypto/sha256"
	"errors"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
)

// rlsBundle is a fresh database with two orgs, A and B, each with one lead, one event, one job
// and one API key, opened three ways: owner as the migrations' owner role (the worker and the
// scheduler connect like this), app as the login role of the api and the intake-gateway (a
// member of crm_app, one pooled connection, so consecutive transactions share a server
// session), and super as a superuser, which row-level security does not bind, for fixtures and
// checks of what is really stored.
type rlsBundle struct {
	owner *db.DB
	app   *db.DB
	super *db.DB
	orgA  uuid.UUID
	orgB  uuid.UUID
	leadA uuid.UUID
	leadB uuid.UUID
}

// seededTables are the tables that setupRLS fills with exactly one row per org, with the column
// that names a row's org.
var seededTables = []struct{ name, orgCol string }{
	{"leads", "org_id"},
	{"events", "org_id"},
	{"jobs", "org_id"},
	{"api_keys", "org_id"},
	{"orgs", "id"},
}

// forcedTables are the tables whose policies bind their owner too (FORCE ROW LEVEL SECURITY).
// leads is not among them since migration 000005 (its lead_list view must read past the policy),
// nor intake_sources since 000006 (the gateway's SECURITY DEFINER lookups must).
var forcedTables = []string{
	"api_keys", "calls", "clients", "contracts", "deal_closed_days", "deal_pipeline_totals", "deals", "events", "integrity_alerts",
	"invoice_counters", "invoices", "lead_activities", "lead_intake_raw", "onboarding_tasks", "org_settings", "orgs", "reports",
}

func setupRLS(t *testing.T) *rlsBundle {
	t.Helper()
	owner, url := dbtest.NewDB(t)
	app, err := db.Open(t.Context(), db.Options{URL: dbtest.AppURL(t, url), MaxConns: 1, AppName: "rls_test"})
	require.NoError(t, err)
	t.Cleanup(app.Close)
	b := &rlsBundle{
		owner: owner,
		app:   app,
		super: dbtest.SuperDB(t, url),
		orgA:  dbtest.NewOrg(t, owner, "org-a"),
		orgB:  dbtest.NewOrg(t, owner, "org-b"),
	}
	b.leadA = seedOrg(t, owner, b.orgA)
	b.leadB = seedOrg(t, owner, b.orgB)
	for _, tbl := range seededTables {
		require.ElementsMatch(t, []uuid.UUID{b.orgA, b.orgB}, visibleOrgs(t, b.super.Gorm, tbl.name, tbl.orgCol),
			"%s: both orgs have a row", tbl.name)
	}
	return b
}

// seedOrg writes a lead, an event about it, a job caused by the event and an API key for org,
// as the owner in a tenant transaction of org, the way production code writes. It returns the
// lead's id.
func seedOrg(t *testing.T, owner *db.DB, org uuid.UUID) uuid.UUID {
	t.Helper()
	var lead uuid.UUID
	hash := sha256.Sum256(org[:])
	require.NoError(t, owner.Tx(t.Context(), org, func(tx *gorm.DB) error {
		if err := tx.Raw(`INSERT INTO leads (org_id, email, fingerprint) VALUES (?, 'ada@example.com', 'fp-ada') RETURNING id`,
			org).Row().Scan(&lead); err != nil {
			return err
		}
		var event int64
		if err := tx.Raw(`
INSERT INTO events (org_id, type, entity_type, entity_id, idempotency_key)
VALUES (?, 'lead.created', 'lead', ?, 'seed') RETURNING id`, org, lead).Scan(&event).Error; err != nil {
			return err
		}
		if err := tx.Exec(`INSERT INTO jobs (org_id, job_type, idempotency_key, event_id) VALUES (?, 'noop', 'seed', ?)`,
			org, event).Error; err != nil {
			return err
		}
		return tx.Exec(`INSERT INTO api_keys (org_id, prefix, key_hash) VALUES (?, 'crm_seed', ?)`, org, hash[:]).Error
	}))
	require.NotEqual(t, uuid.Nil, lead)
	return lead
}

// visibleOrgs runs SELECT orgCol FROM table, with no filter, on g and returns the org of every
// row it sees.
func visibleOrgs(t *testing.T, g *gorm.DB, table, orgCol string) []uuid.UUID {
	t.Helper()
	rows, err := g.Raw(`SELECT ` + orgCol + ` FROM ` + table).Rows()
	require.NoError(t, err, table)
	defer func() { _ = rows.Close() }()
	orgs := []uuid.UUID{}
	for rows.Next() {
		var org uuid.UUID
		require.NoError(t, rows.Scan(&org), table)
		orgs = append(orgs, org)
	}
	require.NoError(t, rows.Err(), table)
	return orgs
}

// requireSeesOnly requires that g sees, in every seeded table, exactly the one row of org.
func requireSeesOnly(t *testing.T, g *gorm.DB, org uuid.UUID, when string) {
	t.Helper()
	for _, tbl := range seededTables {
		require.Equal(t, []uuid.UUID{org}, visibleOrgs(t, g, tbl.name, tbl.orgCol), "%s: %s", when, tbl.name)
	}
}

// requireSeesNothing requires that g sees no row of any seeded table.
func requireSeesNothing(t *testing.T, g *gorm.DB, when string) {
	t.Helper()
	for _, tbl := range seededTables {
		require.Empty(t, visibleOrgs(t, g, tbl.name, tbl.orgCol), "%s: %s", when, tbl.name)
	}
}

func backendPID(t *testing.T, g *gorm.DB) int {
	t.Helper()
	var pid int
	require.NoError(t, g.Raw(`SELECT pg_backend_pid()`).Scan(&pid).Error)
	require.Positive(t, pid)
	return pid
}

// requireRefused requires err to be a PostgreSQL insufficient_privilege error (42501) whose
// message contains what.
func requireRefused(t *testing.T, err error, what, stmt string) {
	t.Helper()
	require.Error(t, err, stmt)
	require.Equal(t, db.CodeInsufficientPriv, db.PgCode(err), "%s: %v", stmt, err)
	require.ErrorContains(t, err, what, stmt)
}

const (
	policyViolation  = "violates row-level security policy"
	permissionDenied = "permission denied"
)

// TestRLSAppRoleSeesOnlyItsOrg proves row-level security for reads: inside a tenant transaction of
// org A the app role's unfiltered SELECTs on leads, events, jobs, api_keys and orgs return org A's
// rows only, though org B has rows in each; asking for org B's rows by org or by id finds nothing;
// and a transaction of org B sees only B's.
func TestRLSAppRoleSeesOnlyItsOrg(t *testing.T) {
	t.Parallel()
	b := setupRLS(t)
	ctx := t.Context()

	require.NoError(t, b.app.Tx(ctx, b.orgA, func(tx *gorm.DB) error {
		requireSeesOnly(t, tx, b.orgA, "org A's transaction")
		for _, tbl := range seededTables {
			var n int
			require.NoError(t, tx.Raw(`SELECT count(*) FROM `+tbl.name+` WHERE `+tbl.orgCol+` = ?`, b.orgB).Scan(&n).Error)
			require.Zero(t, n, "%s: org B's rows asked for by org", tbl.name)
		}
		var n int
		require.NoError(t, tx.Raw(`SELECT count(*) FROM leads WHERE id = ?`, b.leadB).Scan(&n).Error)
		require.Zero(t, n, "org B's lead asked for by id")
		return nil
	}))
	require.NoError(t, b.app.Tx(ctx, b.orgB, func(tx *gorm.DB) error {
		requireSeesOnly(t, tx, b.orgB, "org B's transaction")
		return nil
	}))
}

// TestRLSPooledConnectionCarriesNoOrg proves the org setting ends with its transaction on a reused
// pooled connection: after a tenant transaction of org A commits, and after one rolls back, a
// transaction on the same server session (same backend pid) that sets no org sees no row of A or B,
// and a transaction of org B on that session sees only B's rows.
func TestRLSPooledConnectionCarriesNoOrg(t *testing.T) {
	t.Parallel()
	b := setupRLS(t)
	ctx := t.Context()
	pid := backendPID(t, b.app.Gorm)

	requireNoTenant := func(when string) {
		t.Helper()
		require.NoError(t, b.app.Gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			require.Equal(t, pid, backendPID(t, tx), "%s: the pool has one connection", when)
			requireSeesNothing(t, tx, when)
			return nil
		}))
	}

	require.NoError(t, b.app.Tx(ctx, b.orgA, func(tx *gorm.DB) error {
		require.Equal(t, pid, backendPID(t, tx))
		requireSeesOnly(t, tx, b.orgA, "org A's transaction")
		return nil
	}))
	requireNoTenant("after org A's transaction committed")

	boom := errors.New("boom")
	err := b.app.Tx(ctx, b.orgA, func(tx *gorm.DB) error {
		require.Equal(t, pid, backendPID(t, tx))
		requireSeesOnly(t, tx, b.orgA, "org A's second transaction")
		return boom
	})
	require.ErrorIs(t, err, boom)
	requireNoTenant("after org A's transaction rolled back")

	require.NoError(t, b.app.Tx(ctx, b.orgB, func(tx *gorm.DB) error {
		require.Equal(t, pid, backendPID(t, tx))
		requireSeesOnly(t, tx, b.orgB, "org B's transaction after org A's")
		return nil
	}))
	requireNoTenant("after org B's transaction committed")
}

// TestRLSAppRoleSeesNothingOutsideATenantTx proves that row-level security denies by default:
// outside a tenant transaction (autocommit through gorm or pgx, a plain transaction, or one that
// sets app.org_id to empty) the app role sees no row of any tenant table, and cannot write one
// either.
func TestRLSAppRoleSeesNothingOutsideATenantTx(t *testing.T) {
	t.Parallel()
	b := setupRLS(t)
	ctx := t.Context()

	requireSeesNothing(t, b.app.Gorm.WithContext(ctx), "autocommit through gorm")
	for _, tbl := range seededTables {
		var n int
		require.NoError(t, b.app.Pool.QueryRow(ctx, `SELECT count(*) FROM `+tbl.name).Scan(&n))
		require.Zero(t, n, "autocommit through pgx: %s", tbl.name)
	}
	require.NoError(t, b.app.Gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		requireSeesNothing(t, tx, "a plain transaction")
		return nil
	}))
	require.NoError(t, b.app.Gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		require.NoError(t, tx.Exec(`SELECT set_config('app.org_id', '', true)`).Error)
		requireSeesNothing(t, tx, "a transaction with an empty org")
		return nil
	}))

	stmt := `INSERT INTO leads (org_id, email, fingerprint) VALUES ($1, 'eve@example.com', 'fp-eve')`
	_, err := b.app.Pool.Exec(ctx, stmt, b.orgA)
	requireRefused(t, err, policyViolation, stmt)
	var n int
	require.NoError(t, b.super.Pool.QueryRow(ctx, `SELECT count(*) FROM leads`).Scan(&n))
	require.Equal(t, 2, n, "nothing was written")
}

// TestRLSWithCheckKeepsWritesInTheOrg proves the policies' WITH CHECK and the grants: inside
// org A's tenant transaction the app role cannot insert a lead, an event or a job of org B nor
// move a lead of A to B (42501, row-level security); it can neither update nor delete events
// and can neither create nor delete orgs (42501, privilege), not even in a tenant transaction
// of the new org; while it can write rows of its own org. Nothing refused is stored.
func TestRLSWithCheckKeepsWritesInTheOrg(t *testing.T) {
	t.Parallel()
	b := setupRLS(t)
	ctx := t.Context()

	refused := []struct {
		org  uuid.UUID
		stmt string
		args []any
		what string
	}{
		{b.orgA, `INSERT INTO leads (org_id, email, fingerprint) VALUES (?, 'eve@example.com', 'fp-eve')`, []any{b.orgB}, policyViolation},
		{b.orgA, `INSERT INTO events (org_id, type, entity_type, idempotency_key) VALUES (?, 'lead.created', 'lead', 'forged')`, []any{b.orgB}, policyViolation},
		{b.orgA, `INSERT INTO jobs (org_id, job_type, idempotency_key) VALUES (?, 'noop', 'forged')`, []any{b.orgB}, policyViolation},
		{b.orgA, `UPDATE leads SET org_id = ? WHERE id = ?`, []any{b.orgB, b.leadA}, policyViolation},
		{b.orgA, `UPDATE events SET actor = 'mallory'`, nil, permissionDenied},
		{b.orgA, `DELETE FROM events`, nil, permissionDenied},
		{b.orgA, `DELETE FROM orgs`, nil, permissionDenied},
	}
	for _, r := range refused {
		err := b.app.Tx(ctx, r.org, func(tx *gorm.DB) error { return tx.Exec(r.stmt, r.args...).Error })
		requireRefused(t, err, r.what, r.stmt)
	}
	newOrg := uuid.New()
	stmt := `INSERT INTO orgs (id, name) VALUES (?, 'new')`
	err := b.app.Tx(ctx, newOrg, func(tx *gorm.DB) error { return tx.Exec(stmt, newOrg).Error })
	requireRefused(t, err, permissionDenied, stmt+" in the new org's transaction")

	// Nothing refused was stored: every seeded table still holds one row of each org, and A's
	// lead is still A's.
	for _, tbl := range seededTables {
		require.ElementsMatch(t, []uuid.UUID{b.orgA, b.orgB}, visibleOrgs(t, b.super.Gorm, tbl.name, tbl.orgCol), tbl.name)
	}
	var leadOrg uuid.UUID
	require.NoError(t, b.super.Gorm.Raw(`SELECT org_id FROM leads WHERE id = ?`, b.leadA).Row().Scan(&leadOrg))
	require.Equal(t, b.orgA, leadOrg)

	// The refusals are about the org, not the statements: the same writes in A's own org pass.
	require.NoError(t, b.app.Tx(ctx, b.orgA, func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO leads (org_id, email, fingerprint) VALUES (?, 'bob@example.com', 'fp-bob')`, b.orgA).Error; err != nil {
			return err
		}
		if err := tx.Exec(`INSERT INTO events (org_id, type, entity_type, idempotency_key) VALUES (?, 'lead.created', 'lead', 'own')`, b.orgA).Error; err != nil {
			return err
		}
		res := tx.Exec(`UPDATE leads SET notes = 'seen' WHERE id = ?`, b.leadA)
		if res.Error != nil {
			return res.Error
		}
		require.EqualValues(t, 1, res.RowsAffected)
		return nil
	}))
	var n int
	require.NoError(t, b.super.Gorm.Raw(`SELECT count(*) FROM leads WHERE org_id = ?`, b.orgA).Scan(&n).Error)
	require.Equal(t, 2, n)
}

// TestRLSAppRoleIsUnprivileged proves the role cannot bypass row-level security: the app role (and
// every role it is a member of, crm_app included) has neither SUPERUSER nor BYPASSRLS, it owns no
// table and is no member of a table's owner, and row-level security is active for it on every
// tenant table.
func TestRLSAppRoleIsUnprivileged(t *testing.T) {
	t.Parallel()
	b := setupRLS(t)
	g := b.app.Gorm.WithContext(t.Context())

	var me string
	require.NoError(t, g.Raw(`SELECT current_user`).Scan(&me).Error)
	require.Equal(t, dbtest.AppRole, me)

	var role struct{ Super, Bypass bool }
	require.NoError(t, g.Raw(`SELECT rolsuper AS super, rolbypassrls AS bypass FROM pg_roles WHERE rolname = current_user`).
		Scan(&role).Error)
	require.False(t, role.Super, "rolsuper")
	require.False(t, role.Bypass, "rolbypassrls")

	var memberOf []string
	require.NoError(t, g.Raw(`
SELECT rolname FROM pg_roles
WHERE pg_has_role(current_user, oid, 'MEMBER') AND (rolsuper OR rolbypassrls)`).Scan(&memberOf).Error)
	require.Empty(t, memberOf, "no role the app role acts as may bypass row-level security")
	var inApp bool
	require.NoError(t, g.Raw(`SELECT pg_has_role(current_user, 'crm_app', 'MEMBER')`).Scan(&inApp).Error)
	require.True(t, inApp, "the app role is a member of crm_app")

	var tables, owned int
	require.NoError(t, g.Raw(`SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables).Error)
	require.Positive(t, tables)
	require.NoError(t, g.Raw(`
SELECT count(*) FROM pg_tables
WHERE schemaname = 'public' AND (tableowner = current_user OR pg_has_role(current_user, tableowner, 'MEMBER'))`).
		Scan(&owned).Error)
	require.Zero(t, owned, "the app role owns no table")

	for _, tbl := range seededTables {
		var active bool
		require.NoError(t, g.Raw(`SELECT row_security_active(?::regclass)`, tbl.name).Scan(&active).Error)
		require.True(t, active, "row-level security is active for the app role on %s", tbl.name)
	}
}

// TestRLSCoversEveryTenantTable proves row-level security covers the whole schema: every table of
// the public schema but golang-migrate's bookkeeping has row-level security enabled and a
// tenant_isolation policy, and exactly the tables that are only touched in tenant transactions are
// FORCEd (the queue tables are not, by design: the worker and the scheduler work across orgs as the
// owner). A table added without a policy fails here.
func TestRLSCoversEveryTenantTable(t *testing.T) {
	t.Parallel()
	b := setupRLS(t)
	var rows []struct {
		Name    string
		Enabled bool
		Forced  bool
		Policy  bool
	}
	require.NoError(t, b.super.Gorm.WithContext(t.Context()).Raw(`
SELECT c.relname AS name, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
       EXISTS (SELECT 1 FROM pg_policies p WHERE p.schemaname = 'public' AND p.tablename = c.relname
                                             AND p.policyname = 'tenant_isolation') AS policy
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'schema_migrations'
ORDER BY c.relname`).Scan(&rows).Error)
	require.NotEmpty(t, rows)
	var forced []string
	for _, r := range rows {
		require.True(t, r.Enabled, "%s: row-level security enabled", r.Name)
		require.True(t, r.Policy, "%s: tenant_isolation policy", r.Name)
		if r.Forced {
			forced = append(forced, r.Name)
		}
	}
	require.Equal(t, slices.Sorted(slices.Values(forcedTables)), forced)
}

// TestRLSOwnerBoundOnForcedTables proves the documented split for the owner role (no superuser,
// no BYPASSRLS): outside a tenant transaction it sees no row of the FORCEd tables (events,
// api_keys, orgs) and cannot write one, inside org A's it sees only A's rows, while it
// sees the queue table jobs across orgs, which the worker and the scheduler rely on.
func TestRLSOwnerBoundOnForcedTables(t *testing.T) {
	t.Parallel()
	b := setupRLS(t)
	ctx := t.Context()
	g := b.owner.Gorm.WithContext(ctx)

	var role struct{ Super, Bypass bool }
	require.NoError(t, g.Raw(`SELECT rolsuper AS super, rolbypassrls AS bypass FROM pg_roles WHERE rolname = current_user`).
		Scan(&role).Error)
	require.False(t, role.Super, "rolsuper")
	require.False(t, role.Bypass, "rolbypassrls")
	var owned []string
	require.NoError(t, g.Raw(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user`).
		Scan(&owned).Error)
	for _, tbl := range seededTables {
		require.Contains(t, owned, tbl.name, "the owner role owns %s", tbl.name)
	}

	forcedSeeded := []struct{ name, orgCol string }{}
	for _, tbl := range seededTables {
		if slices.Contains(forcedTables, tbl.name) {
			forcedSeeded = append(forcedSeeded, tbl)
		}
	}
	require.Len(t, forcedSeeded, 3, "events, api_keys and orgs are forced")
	for _, tbl := range forcedSeeded {
		require.Empty(t, visibleOrgs(t, g, tbl.name, tbl.orgCol), "owner outside a tenant transaction: %s", tbl.name)
	}
	require.ElementsMatch(t, []uuid.UUID{b.orgA, b.orgB}, visibleOrgs(t, g, "jobs", "org_id"),
		"the owner sees the queue of every org")

	stmt := `INSERT INTO events (org_id, type, entity_type, idempotency_key) VALUES ($1, 'lead.created', 'lead', 'no-tenant')`
	_, err := b.owner.Pool.Exec(ctx, stmt, b.orgA)
	requireRefused(t, err, policyViolation, stmt)

	require.NoError(t, b.owner.Tx(ctx, b.orgA, func(tx *gorm.DB) error {
		for _, tbl := range forcedSeeded {
			require.Equal(t, []uuid.UUID{b.orgA}, visibleOrgs(t, tx, tbl.name, tbl.orgCol), "owner in org A's transaction: %s", tbl.name)
		}
		return nil
	}))
}

// TestCheckAppRole proves the start-up check of the api and the intake-gateway tells the app
// role, which row-level security binds, from the roles that escape it: the tables' owner and a
// superuser.
func TestCheckAppRole(t *testing.T) {
	t.Parallel()
	b := setupRLS(t)
	ctx := t.Context()
	require.NoError(t, b.app.CheckAppRole(ctx))
	require.ErrorContains(t, b.owner.CheckAppRole(ctx), "owner")
	require.ErrorContains(t, b.super.CheckAppRole(ctx), "superuser")
}

// TestRLSLeadListView proves the lead_list view (migration 000005), which reads past the policy
// so that search can use its indexes, still shows each role only the transaction's org: the app
// role and the owner see A's live leads inside A's transaction, B's inside B's, and none outside
// a tenant transaction; the app role cannot write through it.
func TestRLSLeadListView(t *testing.T) {
	t.Parallel()
	b := setupRLS(t)
	ctx := t.Context()
	for name, h := range map[string]*db.DB{"app": b.app, "owner": b.owner} {
		require.Empty(t, visibleOrgs(t, h.Gorm.WithContext(ctx), "lead_list", "org_id"), "%s outside a tenant transaction", name)
		for _, o := range []uuid.UUID{b.orgA, b.orgB} {
			require.NoError(t, h.Tx(ctx, o, func(tx *gorm.DB) error {
				require.Equal(t, []uuid.UUID{o}, visibleOrgs(t, tx, "lead_list", "org_id"), "%s in its org's transaction", name)
				return nil
			}))
		}
	}
	err := b.app.Tx(ctx, b.orgA, func(tx *gorm.DB) error {
		return tx.Exec(`DELETE FROM lead_list`).Error
	})
	require.Equal(t, "42501", db.PgCode(err), "the view is read-only for the app role: %v", err)
}

// TestRLSIntakeLookupFunctions proves the gateway's two SECURITY DEFINER lookups (migration
// 000006): the app role, outside any tenant transaction and still seeing no source row itself,
// gets from intake_webhook_source_org the org of a live webhook source and from
// intake_form_source the org and id of a live form source, and nothing else: no column but
// those, nothing for a deleted source, a source of the other kind, an unknown id or token. It
// also proves what makes them safe: definer rights with a pinned search_path, read-only,
// executable by crm_app and not by PUBLIC, the only definer-rights functions crm_app may call;
// and that crm_app has no write path around the policy of intake_sources, which is ENABLEd and
// no longer FORCEd.
func TestRLSIntakeLookupFunctions(t *testing.T) {
	t.Parallel()
	b := setupRLS(t)
	ctx := t.Context()

	source := func(org uuid.UUID, kind, name string, token any, deleted bool) uuid.UUID {
		t.Helper()
		var id uuid.UUID
		require.NoError(t, b.owner.Tx(ctx, org, func(tx *gorm.DB) error {
			return tx.Raw(`INSERT INTO intake_sources (org_id, kind, name, public_token, signing_secret, deleted_at)
VALUES (?, ?, ?, ?, 'whsec_test', CASE WHEN ? THEN now() END) RETURNING id`, org, kind, name, token, deleted).Row().Scan(&id)
		}))
		return id
	}
	webhookA := source(b.orgA, "webhook", "webhook A", "frm_on_a_webhook", false)
	formA := source(b.orgA, "form", "form A", "frm_a", false)
	deletedB := source(b.orgB, "webhook", "deleted webhook B", nil, true)
	source(b.orgB, "form", "deleted form B", "frm_deleted", true)
	csvB := source(b.orgB, "csv", "csv B", "frm_on_a_csv", false)

	app := b.app.Gorm.WithContext(ctx)
	require.Empty(t, visibleOrgs(t, app, "intake_sources", "org_id"), "the app role sees no source row itself")

	webhookOrg := func(id any) *uuid.UUID {
		t.Helper()
		var org *uuid.UUID
		require.NoError(t, app.Raw(`SELECT intake_webhook_source_org(?)`, id).Row().Scan(&org))
		return org
	}
	require.Equal(t, &b.orgA, webhookOrg(webhookA))
	for name, id := range map[string]any{"a form": formA, "a csv": csvB, "deleted": deletedB, "unknown": uuid.New(), "null": nil} {
		require.Nil(t, webhookOrg(id), name)
	}

	rows, err := app.Raw(`SELECT * FROM intake_form_source(?)`, "frm_a").Rows()
	require.NoError(t, err)
	cols, err := rows.Columns()
	require.NoError(t, err)
	require.Equal(t, []string{"org_id", "id"}, cols, "ids only")
	var found []uuid.UUID
	for rows.Next() {
		var org, id uuid.UUID
		require.NoError(t, rows.Scan(&org, &id))
		found = append(found, org, id)
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	require.Equal(t, []uuid.UUID{b.orgA, formA}, found)
	for _, token := range []string{"frm_deleted", "frm_on_a_webhook", "frm_on_a_csv", "frm_unknown", ""} {
		var n int
		require.NoError(t, app.Raw(`SELECT count(*) FROM intake_form_source(?)`, token).Scan(&n).Error)
		require.Zero(t, n, token)
	}

	// What makes them safe, read from the catalog.
	var fns []struct {
		Name     string
		Definer  bool
		Volatile string
		Config   string
		Owner    string
		Public   bool
		App      bool
	}
	require.NoError(t, b.super.Gorm.WithContext(ctx).Raw(`
SELECT p.proname AS name, p.prosecdef AS definer, p.provolatile AS volatile, array_to_string(p.proconfig, ';') AS config,
       pg_get_userbyid(p.proowner) AS owner,
       p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0) AS public,
       has_function_privilege('crm_app', p.oid, 'EXECUTE') AS app
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.proname IN ('intake_webhook_source_org', 'intake_form_source')
ORDER BY p.proname`).Scan(&fns).Error)
	require.Len(t, fns, 2)
	var tableOwner string
	require.NoError(t, b.super.Gorm.Raw(`SELECT tableowner FROM pg_tables WHERE tablename = 'intake_sources'`).Scan(&tableOwner).Error)
	for _, f := range fns {
		require.True(t, f.Definer, "%s: SECURITY DEFINER", f.Name)
		require.Equal(t, "s", f.Volatile, "%s: STABLE, so it cannot write", f.Name)
		require.Equal(t, "search_path=pg_catalog, public", f.Config, f.Name)
		require.Equal(t, tableOwner, f.Owner, "%s: owned by the tables' owner", f.Name)
		require.False(t, f.Public, "%s: not executable by PUBLIC", f.Name)
		require.True(t, f.App, "%s: executable by crm_app", f.Name)
	}
	var definers []string
	require.NoError(t, b.super.Gorm.Raw(`
SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.prosecdef AND has_function_privilege('crm_app', p.oid, 'EXECUTE')
ORDER BY p.proname`).Scan(&definers).Error)
	require.Equal(t, []string{"intake_form_source", "intake_webhook_source_org"}, definers,
		"the only definer-rights functions the app role can call")

	// No write path around the policy: no view over the table, no privilege that skips
	// policies (TRUNCATE) or acts as the owner (TRIGGER, REFERENCES), and the policy binds the
	// app role's writes as before.
	var views int
	require.NoError(t, b.super.Gorm.Raw(`SELECT count(*) FROM information_schema.view_table_usage WHERE table_name = 'intake_sources'`).
		Scan(&views).Error)
	require.Zero(t, views)
	for _, priv := range []string{"TRUNCATE", "TRIGGER", "REFERENCES"} {
		var has bool
		require.NoError(t, b.super.Gorm.Raw(`SELECT has_table_privilege('crm_app', 'intake_sources', ?)`, priv).Scan(&has).Error)
		require.False(t, has, priv)
	}
	var active bool
	require.NoError(t, app.Raw(`SELECT row_security_active('intake_sources')`).Scan(&active).Error)
	require.True(t, active, "row-level security binds the app role on intake_sources")
	for _, stmt := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO intake_sources (org_id, kind, name) VALUES (?, 'webhook', 'forged')`, []any{b.orgB}},
		{`UPDATE intake_sources SET org_id = ? WHERE id = ?`, []any{b.orgB, webhookA}},
	} {
		err := b.app.Tx(ctx, b.orgA, func(tx *gorm.DB) error { return tx.Exec(stmt.sql, stmt.args...).Error })
		requireRefused(t, err, policyViolation, stmt.sql)
	}
	require.NoError(t, b.app.Tx(ctx, b.orgA, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE intake_sources SET name = name || '!' WHERE id = ?`, csvB)
		require.Zero(t, res.RowsAffected, "org B's source is invisible to an update in A's transaction")
		return res.Error
	}))
	require.ElementsMatch(t, []uuid.UUID{b.orgA, b.orgA, b.orgB, b.orgB, b.orgB},
		visibleOrgs(t, b.owner.Gorm.WithContext(ctx), "intake_sources", "org_id"),
		"the owner, not FORCEd on intake_sources, sees every org's sources (system work, as on jobs)")
}
