// Package dbtest gives tests a real, freshly migrated PostgreSQL database: NewDB clones a
// template database that is migrated once per set of migrations (pgtestdb), so each test gets
// its own database in tens of milliseconds. It is for tests only (depguard forbids it elsewhere).
//
// The server comes from TEST_DATABASE_URL (falling back to DATABASE_URL) and must be a role that
// may create databases and roles and mark templates (a superuser; `make test` starts a throwaway
// cluster under .data/ and passes its superuser URL). Without one, tests fail loudly rather than
// skip.
package dbtest

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/peterldowns/pgtestdb"
	"github.com/peterldowns/pgtestdb/migrators/golangmigrator"
	"github.com/stretchr/testify/require"

	"example.com/crm/migrations"
	"example.com/crm/pkg/db"
)

// ownerRole owns the test databases and runs the migrations, as the owner role does in
// production: no superuser rights.
var ownerRole = pgtestdb.Role{
	Username:     "crm_test_owner",
	Password:     "crm_test_owner",
	Capabilities: "NOSUPERUSER CREATEDB CREATEROLE",
}

// ServerURL returns the URL of the test server, failing the test when none is configured.
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_DATABASE_URL")
	if u == "" {
		u = os.Getenv("DATABASE_URL")
	}
	if u == "" {
		t.Fatal("dbtest: set TEST_DATABASE_URL (a superuser URL) or run the tests through `make test`, which starts PostgreSQL")
	}
	return u
}

func config(t testing.TB) pgtestdb.Config {
	t.Helper()
	u, err := url.Parse(ServerURL(t))
	require.NoError(t, err, "parse TEST_DATABASE_URL")
	pass, _ := u.User.Password()
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "5432"
	}
	q := u.Query()
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
	}
	return pgtestdb.Config{
		DriverName:                "pgx",
		Host:                      host,
		Port:                      port,
		User:                      u.User.Username(),
		Password:                  pass,
		Database:                  strings.TrimPrefix(u.Path, "/"),
		Options:                   q.Encode(),
		TestRole:                  &ownerRole,
		ForceTerminateConnections: true,
	}
}

// NewURL creates a fresh migrated database for the test and returns its URL (as the owner
// role). The database is dropped when the test passes and kept for inspection when it fails.
func NewURL(t testing.TB) string {
	t.Helper()
	migrator := golangmigrator.New(".", golangmigrator.WithFS(migrations.FS))
	return pgtestdb.Custom(t, config(t), migrator).URL()
}

// NewDB creates a fresh migrated database and opens it like a service does.
func NewDB(t testing.TB) (*db.DB, string) {
	t.Helper()
	u := NewURL(t)
	d, err := db.Open(context.Background(), db.Options{URL: u, MaxConns: 20, AppName: "dbtest"})
	require.NoError(t, err)
	t.Cleanup(d.Close)
	return d, u
}

// SuperURL returns a superuser URL on the same server for database of dbURL, for tests that
// must act as an administrator.
func SuperURL(t testing.TB, dbURL string) string {
	t.Helper()
	admin, err := url.Parse(ServerURL(t))
	require.NoError(t, err)
	target, err := url.Parse(dbURL)
	require.NoError(t, err)
	admin.Path = target.Path
	return admin.String()
}

// NewEmptyURL creates a fresh database with no migrations applied and returns its URL (as the
// owner role), for tests of the migrations themselves.
func NewEmptyURL(t testing.TB) string {
	t.Helper()
	return pgtestdb.Custom(t, config(t), pgtestdb.NoopMigrator{}).URL()
}

// AppRole is the login role that tests use to act as the api and the intake-gateway do: a member
// of crm_app, neither owner nor superuser, so row-level security binds it.
const AppRole = "crm_app_test"

// AppURL returns a URL for the database of dbURL as AppRole, creating the role (and crm_app, when
// no migration has made it yet) on first use.
func AppURL(t testing.TB, dbURL string) string {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, ServerURL(t))
	require.NoError(t, err)
	defer func() { _ = admin.Close(ctx) }()
	// Two blocks: a racing creator of the first role must not stop the creation of the second.
	for _, create := range []string{
		`CREATE ROLE crm_app NOLOGIN NOSUPERUSER NOBYPASSRLS`,
		`CREATE ROLE ` + AppRole + ` LOGIN PASSWORD '` + AppRole + `' NOSUPERUSER NOBYPASSRLS IN ROLE crm_app`,
	} {
		_, err = admin.Exec(ctx, `DO $$ BEGIN `+create+`; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`)
		require.NoError(t, err, "create the app test roles")
	}
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	u.User = url.UserPassword(AppRole, AppRole)
	return u.String()
}

// SuperDB opens the database of dbURL as the server's superuser, for tests' own assertions:
// a superuser bypasses row-level security, so it sees every org's rows without a tenant
// transaction and independently of the code under test. Closed when the test ends.
func SuperDB(t testing.TB, dbURL string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), db.Options{URL: SuperURL(t, dbURL), MaxConns: 4, AppName: "dbtest-super"})
	require.NoError(t, err)
	t.Cleanup(d.Close)
	return d
}
