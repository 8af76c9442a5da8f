package org_test

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/golang-migrate/migrate/v4"
	pgxmigrate "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/migrations"
	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/org"
)

// testSetting is a settings document of the shape the domains keep: a value that normalises and
// checks itself.
type testSetting struct {
	Title string `json:"title"`
	Days  int    `json:"days"`
}

func (s testSetting) Normalize() testSetting { s.Title = strings.TrimSpace(s.Title); return s }

func (s testSetting) Check() []apperr.FieldError {
	if s.Days < 0 {
		return []apperr.FieldError{{Field: "days", Message: "must not be negative"}}
	}
	return nil
}

var rules = org.Setting[testSetting]{
	Name:    "rules",
	Default: func() testSetting { return testSetting{Title: "default", Days: 7} },
	Check:   org.CheckFields[testSetting]("rules are invalid"),
}

// TestSetting proves an org's setting: the default until saved, a check that refuses (422 with
// its fields) writing nothing, Save normalising and the read forms (Read, Get in a tenant
// transaction) answering what was stored, Put in the caller's transaction, and another org and
// another name of the same org untouched; and a stored value that lacks a member has that
// member's default.
func TestSetting(t *testing.T) {
	t.Parallel()
	d, url := dbtest.NewDB(t)
	super := dbtest.SuperDB(t, url)
	acme, other := dbtest.NewOrg(t, d, "acme"), dbtest.NewOrg(t, d, "other")
	count := func() int {
		var n int
		require.NoError(t, super.Pool.QueryRow(t.Context(), `SELECT count(*) FROM org_settings`).Scan(&n))
		return n
	}

	got, err := rules.Read(t.Context(), d, acme)
	require.NoError(t, err)
	require.Equal(t, testSetting{Title: "default", Days: 7}, got)

	_, err = rules.Save(t.Context(), d, acme, testSetting{Days: -1})
	e, ok := apperr.As(err)
	require.True(t, ok && e.Code == apperr.Invalid, "%v", err)
	require.Equal(t, "days", e.Fields[0].Field)
	require.Zero(t, count())

	saved, err := rules.Save(t.Context(), d, acme, testSetting{Title: " mine ", Days: 0})
	require.NoError(t, err)
	require.Equal(t, testSetting{Title: "mine"}, saved)
	got, err = rules.Read(t.Context(), d, acme)
	require.NoError(t, err)
	require.Equal(t, saved, got)
	require.NoError(t, d.Tx(t.Context(), acme, func(tx *gorm.DB) error {
		got, err := rules.Get(t.Context(), tx, acme)
		require.Equal(t, saved, got)
		return err
	}))

	got, err = rules.Read(t.Context(), d, other)
	require.NoError(t, err)
	require.Equal(t, rules.Default(), got, "another org keeps its default")
	onboarding := org.Setting[testSetting]{Name: "onboarding", Default: func() testSetting { return testSetting{} }}
	got, err = onboarding.Read(t.Context(), d, acme)
	require.NoError(t, err)
	require.Equal(t, testSetting{}, got, "another name of the org keeps its default")

	require.NoError(t, d.Tx(t.Context(), acme, func(tx *gorm.DB) error {
		_, err := rules.Put(t.Context(), tx, acme, testSetting{Title: "again", Days: 3})
		return err
	}))
	got, err = rules.Read(t.Context(), d, acme)
	require.NoError(t, err)
	require.Equal(t, testSetting{Title: "again", Days: 3}, got)
	require.Equal(t, 1, count(), "a save replaces the org's row of the name")

	_, err = super.Pool.Exec(t.Context(), `INSERT INTO org_settings (org_id, name, value) VALUES ($1, 'rules', '{"title": "old"}')`, other)
	require.NoError(t, err)
	got, err = rules.Read(t.Context(), d, other)
	require.NoError(t, err)
	require.Equal(t, testSetting{Title: "old", Days: 7}, got, "a member the stored value lacks has its default")
}

// TestMigrationOrgSettings proves migration 000024: the rows of invoice_settings,
// contract_settings and onboarding_settings become the org's "invoicing", "contract-template"
// and "onboarding" rows of org_settings, and the down migration puts them back.
func TestMigrationOrgSettings(t *testing.T) {
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
	require.NoError(t, m.Migrate(23))
	super, err := sql.Open("pgx", dbtest.SuperURL(t, url))
	require.NoError(t, err)
	t.Cleanup(func() { _ = super.Close() })
	exec := func(q string) {
		_, err := super.ExecContext(t.Context(), q)
		require.NoError(t, err, q)
	}
	const acme = "00000000-0000-0000-0000-00000000000a"
	exec(`INSERT INTO orgs (id, name) VALUES ('` + acme + `', 'acme')`)
	exec(`INSERT INTO invoice_settings (org_id, settings) VALUES ('` + acme + `', '{"prefix": "A-"}')`)
	exec(`INSERT INTO contract_settings (org_id, settings) VALUES ('` + acme + `', '{"title": "T", "body": "B"}')`)
	exec(`INSERT INTO onboarding_settings (org_id, settings) VALUES ('` + acme + `', '{"tasks": []}')`)
	read := func(q string) map[string]string {
		rows, err := super.QueryContext(t.Context(), q)
		require.NoError(t, err)
		defer func() { _ = rows.Close() }()
		out := map[string]string{}
		for rows.Next() {
			var k, v string
			require.NoError(t, rows.Scan(&k, &v))
			out[k] = v
		}
		require.NoError(t, rows.Err())
		return out
	}
	const old = `SELECT 'invoicing', settings::text FROM invoice_settings
UNION ALL SELECT 'contract-template', settings::text FROM contract_settings
UNION ALL SELECT 'onboarding', settings::text FROM onboarding_settings`
	want := map[string]string{
		"invoicing": `{"prefix": "A-"}`, "contract-template": `{"body": "B", "title": "T"}`, "onboarding": `{"tasks": []}`,
	}
	require.Equal(t, want, read(old))

	require.NoError(t, m.Migrate(24))
	require.Equal(t, want, read(`SELECT name, value::text FROM org_settings WHERE org_id = '`+acme+`'`))
	var forced bool
	require.NoError(t, super.QueryRowContext(t.Context(),
		`SELECT relforcerowsecurity FROM pg_class WHERE relname = 'org_settings'`).Scan(&forced))
	require.True(t, forced)

	require.NoError(t, m.Migrate(23))
	require.Equal(t, want, read(old))
}
