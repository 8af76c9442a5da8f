package org_test

import (
	"database/sql"
	"testing"

	"github.com/golang-migrate/migrate/v4"
	pgxmigrate "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/stretchr/testify/require"

	"example.com/crm/migrations"
	"example.com/crm/pkg/dbtest"
)

// TestMigrationDisablesUnbuiltCronTasks proves migration 000020: the cron tasks that orgs were
// seeded with for job kinds nothing works stop firing (disabled, kept with what operators set on
// them), every other task is left as it was, and the down migration enables them again.
func TestMigrationDisablesUnbuiltCronTasks(t *testing.T) {
	t.Parallel()
	url := dbtest.NewEmptyURL(t)
	conn, err := sql.Open("pgx", url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	driver, err := pgxmigrate.WithInstance(conn, &pgxmigrate.Config{})
	require.NoError(t, err)
	src, err := iofs.New(migrations.FS, ".")
	require.NoError(t, err)
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", driver)
	require.NoError(t, err)
	require.NoError(t, m.Migrate(19))
	// The rows go in as the superuser: row-level security binds the owner on orgs.
	super, err := sql.Open("pgx", dbtest.SuperURL(t, url))
	require.NoError(t, err)
	t.Cleanup(func() { _ = super.Close() })

	_, err = super.ExecContext(t.Context(), `INSERT INTO orgs (id, name) VALUES ('00000000-0000-0000-0000-00000000000a', 'acme')`)
	require.NoError(t, err)
	_, err = super.ExecContext(t.Context(), `INSERT INTO cron_tasks (org_id, name, job_type, cron_expr, timezone)
VALUES ('00000000-0000-0000-0000-00000000000a', 'deal decay', 'check_deal_decay', '5 * * * *', 'Europe/London'),
       ('00000000-0000-0000-0000-00000000000a', 'weekly report', 'generate_weekly_report', '0 7 * * 1', 'UTC'),
       ('00000000-0000-0000-0000-00000000000a', 'own', 'noop', '* * * * *', 'UTC')`)
	require.NoError(t, err)
	tasks := func() map[string]bool {
		rows, err := super.QueryContext(t.Context(), `SELECT name, enabled FROM cron_tasks`)
		require.NoError(t, err)
		defer func() { _ = rows.Close() }()
		out := map[string]bool{}
		for rows.Next() {
			var name string
			var enabled bool
			require.NoError(t, rows.Scan(&name, &enabled))
			out[name] = enabled
		}
		require.NoError(t, rows.Err())
		return out
	}

	require.NoError(t, m.Migrate(20))
	require.Equal(t, map[string]bool{"deal decay": false, "weekly report": false, "own": true}, tasks())
	var expr, tz string
	require.NoError(t, super.QueryRowContext(t.Context(), `SELECT cron_expr, timezone FROM cron_tasks WHERE name = 'deal decay'`).Scan(&expr, &tz))
	require.Equal(t, []string{"5 * * * *", "Europe/London"}, []string{expr, tz}, "what the operator set is kept")

	require.NoError(t, m.Migrate(19))
	require.Equal(t, map[string]bool{"deal decay": true, "weekly report": true, "own": true}, tasks())
}
