package db_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
)

// TestMigrateUpDownUp proves every down migration undoes its up migration: the whole chain runs
// up, all the way down, and up again on a fresh database.
func TestMigrateUpDownUp(t *testing.T) {
	t.Parallel()
	url := dbtest.NewEmptyURL(t)
	latest, err := db.LatestVersion()
	require.NoError(t, err)
	require.Positive(t, latest)

	st, err := db.Migrate(url, "up")
	require.NoError(t, err)
	require.Equal(t, db.MigrationStatus{Version: latest, Latest: latest}, st)

	st, err = db.Migrate(url, "down")
	require.NoError(t, err)
	require.Equal(t, db.MigrationStatus{Latest: latest}, st)

	st, err = db.Migrate(url, "up")
	require.NoError(t, err)
	require.Equal(t, db.MigrationStatus{Version: latest, Latest: latest}, st)

	st, err = db.Migrate(url, "version")
	require.NoError(t, err)
	require.Equal(t, latest, st.Version)

	_, err = db.Migrate(url, "sideways")
	require.Error(t, err)
}

// TestReadyAcceptsNewerSchema proves Ready's rule: a schema at the binary's version or newer
// (migrated ahead of the old replicas during a rolling deploy) is ready; an older or a dirty one
// is not, and the answer names no connection detail.
func TestReadyAcceptsNewerSchema(t *testing.T) {
	t.Parallel()
	d, url := dbtest.NewDB(t)
	super := dbtest.SuperDB(t, url)
	latest, err := db.LatestVersion()
	require.NoError(t, err)
	set := func(version uint, dirty bool) {
		t.Helper()
		_, err := super.Pool.Exec(t.Context(), `UPDATE schema_migrations SET version = $1, dirty = $2`, version, dirty)
		require.NoError(t, err)
	}

	require.NoError(t, d.Ready(t.Context()), "at the binary's version")
	set(latest+1, false)
	require.NoError(t, d.Ready(t.Context()), "a newer schema keeps the older binary ready")
	set(latest+1, true)
	err = d.Ready(t.Context())
	require.True(t, apperr.Is(err, apperr.Unavailable), "%v", err)
	require.Contains(t, err.Error(), "dirty")
	set(latest-1, false)
	err = d.Ready(t.Context())
	require.True(t, apperr.Is(err, apperr.Unavailable), "%v", err)
	require.Contains(t, err.Error(), "needs at least")
}

// TestNoRaisedStatisticsTargets proves that no column or index expression of the schema has a
// statistics target above the server's default. ANALYZE samples 300 rows per unit of a table's
// largest target, and autovacuum analyzes a table after every tenth of it has changed, which one
// sweep of a large org does: a raised target makes each of those ANALYZEs read many times the
// rows, and hold its snapshot, which keeps pages from being pruned, that many times as long
// (migration 000038).
func TestNoRaisedStatisticsTargets(t *testing.T) {
	t.Parallel()
	_, url := dbtest.NewDB(t)
	super := dbtest.SuperDB(t, url)
	rows, err := super.Pool.Query(t.Context(), `
SELECT c.relname || '.' || a.attname || ' ' || a.attstattarget
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped
  AND a.attstattarget > current_setting('default_statistics_target')::int
ORDER BY 1`)
	require.NoError(t, err)
	raised, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Empty(t, raised, "columns and index expressions with a statistics target above the default")
}
