package main

import (
	"context"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/org"
)

// appRole is the login role the gateway runs as: a member of crm_app.
const appRole = "crm_gatewaybench"

// benchEnv is the prepared database.
type benchEnv struct {
	admin    *pgx.Conn
	super    *db.DB
	dbName   string
	superURL string
	appURL   string
	// ownerURL connects as the database's owner role (setupDB's owner); superURL when none.
	ownerURL string
	created  org.Created
	hook     intake.Created
	csv      intake.Created
}

func withDB(raw, name, user string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("parse database url: %w", err)
	}
	u.Path = "/" + name
	if user != "" {
		u.User = url.UserPassword(user, user)
	}
	return u.String(), nil
}

// setup prepares o.dbName, owned and migrated by the superuser.
func setup(ctx context.Context, o options) (*benchEnv, error) { return setupDB(ctx, o, "") }

// setupDB prepares o.dbName. With owner set, that login role (created when missing, with the
// rights of dbtest's owner: NOSUPERUSER CREATEDB CREATEROLE) owns the database and runs the
// migrations, so that the forced row-level security of the business tables binds it as it
// binds the production owner; otherwise the superuser does.
func setupDB(ctx context.Context, o options, owner string) (*benchEnv, error) {
	admin, err := pgx.Connect(ctx, o.serverURL)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	e := &benchEnv{admin: admin, dbName: o.dbName}
	roles := []string{
		`CREATE ROLE crm_app NOLOGIN NOSUPERUSER NOBYPASSRLS`,
		`CREATE ROLE ` + appRole + ` LOGIN PASSWORD '` + appRole + `' NOSUPERUSER NOBYPASSRLS IN ROLE crm_app`,
	}
	if owner != "" {
		roles = append(roles, `CREATE ROLE `+owner+` LOGIN PASSWORD '`+owner+`' NOSUPERUSER NOBYPASSRLS CREATEDB CREATEROLE`)
	}
	for _, create := range roles {
		if _, err := admin.Exec(ctx, `DO $$ BEGIN `+create+`; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`); err != nil {
			return nil, fmt.Errorf("create roles: %w", err)
		}
	}
	ident := pgx.Identifier{o.dbName}.Sanitize()
	create := "CREATE DATABASE " + ident
	if owner != "" {
		create += " OWNER " + pgx.Identifier{owner}.Sanitize()
	}
	for _, stmt := range []string{"DROP DATABASE IF EXISTS " + ident + " WITH (FORCE)", create} {
		if _, err := admin.Exec(ctx, stmt); err != nil {
			return nil, fmt.Errorf("%s: %w", stmt, err)
		}
	}
	if e.superURL, err = withDB(o.serverURL, o.dbName, ""); err != nil {
		return nil, err
	}
	e.ownerURL = e.superURL
	if owner != "" {
		if e.ownerURL, err = withDB(o.serverURL, o.dbName, owner); err != nil {
			return nil, err
		}
	}
	if _, err := db.Migrate(e.ownerURL, "up"); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if e.appURL, err = withDB(o.serverURL, o.dbName, appRole); err != nil {
		return nil, err
	}
	if e.super, err = db.Open(ctx, db.Options{URL: e.superURL, MaxConns: 4, AppName: "gatewaybench"}); err != nil {
		return nil, err
	}
	if e.created, err = org.Create(ctx, e.super, "bench"); err != nil {
		return nil, err
	}
	svc := intake.NewService(e.super, events.NewEmitter(jobs.New(e.super, jobs.Config{}), nil))
	if e.hook, err = svc.Create(ctx, e.created.OrgID, "bench", intake.NewSource{
		Kind: intake.KindWebhook, Name: "bench webhook", RateLimitPerMinute: intake.MaxRateLimit,
	}); err != nil {
		return nil, err
	}
	if e.csv, err = svc.Create(ctx, e.created.OrgID, "bench", intake.NewSource{
		Kind: intake.KindCSV, Name: "bench csv", RateLimitPerMinute: intake.MaxRateLimit,
	}); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *benchEnv) close(ctx context.Context, keep bool) {
	e.super.Close()
	if !keep {
		_, _ = e.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{e.dbName}.Sanitize()+" WITH (FORCE)")
	}
	_ = e.admin.Close(ctx)
}

// count runs a counting query as the superuser.
func (e *benchEnv) count(ctx context.Context, q string, args ...any) (int, error) {
	var n int
	err := e.super.Pool.QueryRow(ctx, q, args...).Scan(&n)
	return n, err
}
