package db

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	pgxmigrate "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"example.com/crm/migrations"
)

// MigrationStatus is the schema's position.
type MigrationStatus struct {
	Version uint `json:"version"`
	Dirty   bool `json:"dirty"`
	Latest  uint `json:"latest"`
}

// Migrate runs a migration command ("up", "down" or "version") against url with the embedded
// migrations. golang-migrate holds an advisory lock while it works, so several binaries may run
// "up" at once. "down" reverts every migration.
func Migrate(url, command string) (MigrationStatus, error) {
	conn, err := sql.Open("pgx", url)
	if err != nil {
		return MigrationStatus{}, fmt.Errorf("open database: %w", err)
	}
	defer func() { _ = conn.Close() }()
	driver, err := pgxmigrate.WithInstance(conn, &pgxmigrate.Config{})
	if err != nil {
		return MigrationStatus{}, fmt.Errorf("migration driver: %w", err)
	}
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return MigrationStatus{}, fmt.Errorf("migration source: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", driver)
	if err != nil {
		return MigrationStatus{}, fmt.Errorf("migrator: %w", err)
	}
	defer func() { _, _ = m.Close() }()

	switch command {
	case "up":
		err = m.Up()
	case "down":
		err = m.Down()
	case "version":
	default:
		return MigrationStatus{}, fmt.Errorf("unknown migrate command %q (want up, down or version)", command)
	}
	if err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return MigrationStatus{}, fmt.Errorf("migrate %s: %w", command, err)
	}
	latest, err := LatestVersion()
	if err != nil {
		return MigrationStatus{}, err
	}
	version, dirty, err := m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return MigrationStatus{Latest: latest}, nil
	}
	if err != nil {
		return MigrationStatus{}, fmt.Errorf("read version: %w", err)
	}
	return MigrationStatus{Version: version, Dirty: dirty, Latest: latest}, nil
}

// LatestVersion is the number of the newest embedded migration.
func LatestVersion() (uint, error) {
	entries, err := fs.ReadDir(migrations.FS, ".")
	if err != nil {
		return 0, fmt.Errorf("read migrations: %w", err)
	}
	var latest uint
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		if !ok || !strings.HasSuffix(e.Name(), ".up.sql") {
			continue
		}
		n, err := strconv.ParseUint(num, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("migration %s: bad number: %w", e.Name(), err)
		}
		latest = max(latest, uint(n))
	}
	return latest, nil
}
