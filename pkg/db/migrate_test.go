package db_test

import (
	"testing"

	"github.com/stretchr/testify/require"

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
