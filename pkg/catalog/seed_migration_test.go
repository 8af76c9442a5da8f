package catalog_test

import (
	"database/sql"
	"fmt"
	"sort"
	"testing"

	"github.com/golang-migrate/migrate/v4"
	pgxmigrate "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/stretchr/testify/require"

	"example.com/crm/migrations"
	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/dbtest"
)

// TestMigrationSeedsScheduledChecks proves migration 000030 against the catalog: an org whose
// seven tasks 000020 disabled has them enabled again with what its operator set kept; an org
// without tasks gets exactly the tasks org.Create seeds new orgs with (catalog.New().CronTasks);
// an org whose task of one of those names is of another kind keeps its own; and the down
// migration disables the seven again.
func TestMigrationSeedsScheduledChecks(t *testing.T) {
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
	require.NoError(t, m.Migrate(29))
	// The rows go in as the superuser: row-level security binds the owner on orgs.
	super, err := sql.Open("pgx", dbtest.SuperURL(t, url))
	require.NoError(t, err)
	t.Cleanup(func() { _ = super.Close() })
	exec := func(q string, args ...any) {
		_, err := super.ExecContext(t.Context(), q, args...)
		require.NoError(t, err)
	}
	const old, empty, own = "00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b", "00000000-0000-0000-0000-00000000000c"
	exec(`INSERT INTO orgs (id, name) VALUES ($1, 'old'), ($2, 'empty'), ($3, 'own')`, old, empty, own)
	seeds := catalog.New().CronTasks
	require.Len(t, seeds, 7)
	for _, s := range seeds {
		// The old org has every task as 000020 left it, one with the operator's own schedule.
		expr := s.Cron
		if s.JobType == "check_deal_decay" {
			expr = "5 * * * *"
		}
		exec(`INSERT INTO cron_tasks (org_id, name, job_type, cron_expr, timezone, enabled) VALUES ($1, $2, $3, $4, 'Europe/London', false)`,
			old, s.Name, s.JobType, expr)
	}
	exec(`INSERT INTO cron_tasks (org_id, name, job_type, cron_expr) VALUES ($1, 'weekly report', 'noop', '* * * * *')`, own)
	exec(`INSERT INTO cron_tasks (org_id, name, job_type, cron_expr, enabled) VALUES ($1, 'paused noop', 'noop', '* * * * *', false)`, old)

	tasks := func(org string) []string {
		rows, err := super.QueryContext(t.Context(), `SELECT name, job_type, cron_expr, timezone, enabled FROM cron_tasks WHERE org_id = $1`, org)
		require.NoError(t, err)
		defer func() { _ = rows.Close() }()
		var out []string
		for rows.Next() {
			var name, job, expr, tz string
			var enabled bool
			require.NoError(t, rows.Scan(&name, &job, &expr, &tz, &enabled))
			out = append(out, fmt.Sprintf("%s|%s|%s|%s|%t", name, job, expr, tz, enabled))
		}
		require.NoError(t, rows.Err())
		sort.Strings(out)
		return out
	}
	want := func(tz string, enabled bool, skip string, exprOf map[string]string) []string {
		var out []string
		for _, s := range seeds {
			if s.Name == skip {
				continue
			}
			expr := s.Cron
			if e, ok := exprOf[s.JobType]; ok {
				expr = e
			}
			out = append(out, fmt.Sprintf("%s|%s|%s|%s|%t", s.Name, s.JobType, expr, tz, enabled))
		}
		return out
	}

	require.NoError(t, m.Migrate(30))
	kept := map[string]string{"check_deal_decay": "5 * * * *"}
	require.Equal(t, sortAll(append(want("Europe/London", true, "", kept), "paused noop|noop|* * * * *|UTC|false")), tasks(old),
		"the seven are enabled again with what the operator set; another disabled task stays so")
	require.Equal(t, sortAll(want("UTC", true, "", nil)), tasks(empty), "an org without tasks gets the catalog's seeds")
	require.Equal(t, sortAll(append(want("UTC", true, "weekly report", nil), "weekly report|noop|* * * * *|UTC|true")), tasks(own),
		"an org's own task of a seed's name is kept")
	var forced bool
	require.NoError(t, super.QueryRowContext(t.Context(), `SELECT relforcerowsecurity FROM pg_class WHERE relname = 'orgs'`).Scan(&forced))
	require.True(t, forced, "orgs forces row-level security again")

	require.NoError(t, m.Migrate(29))
	require.Equal(t, sortAll(append(want("Europe/London", false, "", kept), "paused noop|noop|* * * * *|UTC|false")), tasks(old))
}

func sortAll(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
