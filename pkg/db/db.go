package db

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"go.uber.org/zap"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
)

// Options configures Open.
type Options struct {
	URL      string
	MaxConns int32
	// AppName shows up in pg_stat_activity.application_name.
	AppName string
	Logger  *zap.Logger
}

// DB is the process's handle on PostgreSQL.
type DB struct {
	// Pool is the pgx pool, for hot paths and LISTEN.
	Pool *pgxpool.Pool
	// Gorm runs on Pool's connections.
	Gorm *gorm.DB
	sql  *sql.DB
	url  string
	// deferral is what the handle's write transactions leave to after their commit (Defer).
	deferral *Deferral
	// pace bounds and paces the handle's sweeps (SetPace).
	pace Pace
	log  *zap.Logger
}

// idleInTxTimeout ends sessions that sit idle inside a transaction (a hung process holding row
// locks), so that nothing a crashed client began can block others for long.
const idleInTxTimeout = 60 * time.Second

// Open connects, checks the connection and returns the handle.
func Open(ctx context.Context, opts Options) (*DB, error) {
	pc, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if opts.MaxConns > 0 {
		pc.MaxConns = opts.MaxConns
	}
	rp := pc.ConnConfig.RuntimeParams
	if opts.AppName != "" {
		rp["application_name"] = opts.AppName
	}
	rp["idle_in_transaction_session_timeout"] = strconv.FormatInt(idleInTxTimeout.Milliseconds(), 10)
	// Durability of every acknowledged write is a promise: never let a session turn it off.
	rp["synchronous_commit"] = "on"
	// A sweep's chunk cancels its statement by a cancel request when its budget ends (Chunks);
	// every other context keeps pgx's default.
	pc.ConnConfig.BuildContextWatcherHandler = newWatchHandler
	pc.MaxConnIdleTime = 5 * time.Minute
	pc.HealthCheckPeriod = 30 * time.Second

	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("create pool: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	sqlDB := stdlib.OpenDBFromPool(pool)
	logger := opts.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	g, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), &gorm.Config{
		Logger:                 newGormLogger(logger.Named("gorm")),
		TranslateError:         true,
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	})
	if err != nil {
		_ = sqlDB.Close()
		pool.Close()
		return nil, fmt.Errorf("open gorm: %w", err)
	}
	return &DB{Pool: pool, Gorm: g, sql: sqlDB, url: opts.URL, log: logger}, nil
}

// URL returns the connection string the handle was opened with.
func (d *DB) URL() string { return d.url }

// Close releases every connection.
func (d *DB) Close() {
	_ = d.sql.Close()
	d.Pool.Close()
}

// Tx runs fn in a transaction scoped to orgID: it sets app.org_id with set_config(..., true), so
// the setting lives exactly as long as the transaction and never leaks into the next user of a
// pooled connection, and row-level security policies can rely on it. fn's error rolls back.
// Called on a *gorm.DB that is already a transaction, it opens a savepoint. A request or a use
// case opens its transaction with the method DB.Tx instead, which also settles the handle's
// Deferral.
func Tx(ctx context.Context, g *gorm.DB, orgID uuid.UUID, fn func(tx *gorm.DB) error) error {
	if orgID == uuid.Nil {
		return fmt.Errorf("tenant transaction: org id is required")
	}
	return g.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := SetOrg(tx, orgID); err != nil {
			return err
		}
		return fn(tx)
	})
}

// SetOrg scopes the current transaction to orgID (transaction-local).
func SetOrg(tx *gorm.DB, orgID uuid.UUID) error {
	if err := tx.Exec("SELECT set_config('app.org_id', ?, true)", orgID.String()).Error; err != nil {
		return fmt.Errorf("set tenant: %w", err)
	}
	return nil
}

// Ready reports whether the database answers and its schema can serve this binary: clean and
// at least at the embedded version. A newer schema is ready, because migrations only add what
// the running older replicas can ignore, and a rolling deploy migrates before it replaces them;
// a dirty one (a migration that failed halfway) is not. The errors are apperr Unavailable with a
// client-safe message; the cause they wrap (connection details included) is for the log only.
func (d *DB) Ready(ctx context.Context) error {
	if err := d.Pool.Ping(ctx); err != nil {
		return apperr.Wrap(fmt.Errorf("ping database: %w", err), apperr.Unavailable, "database unreachable")
	}
	var version int64
	var dirty bool
	err := d.Pool.QueryRow(ctx, "SELECT version, dirty FROM schema_migrations LIMIT 1").Scan(&version, &dirty)
	if err != nil {
		return apperr.Wrap(fmt.Errorf("read schema version: %w", err), apperr.Unavailable, "database schema version unreadable")
	}
	want, err := LatestVersion()
	if err != nil {
		return err
	}
	return schemaReady(version, dirty, want)
}

// schemaReady applies Ready's rule to a schema position.
func schemaReady(version int64, dirty bool, want uint) error {
	switch {
	case dirty:
		return apperr.Errorf(apperr.Unavailable, "database schema is dirty at version %d", version)
	case version < int64(want):
		return apperr.Errorf(apperr.Unavailable, "database schema at version %d, this binary needs at least %d", version, want)
	}
	return nil
}

// CheckAppRole reports an error when the connection's role escapes row-level security: a
// superuser, a role with BYPASSRLS, or the owner of the tables. The api and the intake-gateway
// call it at start and warn (README: connect them as a member of crm_app).
func (d *DB) CheckAppRole(ctx context.Context) error {
	var super, bypass, owner bool
	err := d.Pool.QueryRow(ctx, `
SELECT r.rolsuper, r.rolbypassrls,
       EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = 'leads'
               AND pg_has_role(current_user, tableowner, 'USAGE'))
FROM pg_roles r WHERE r.rolname = current_user`).Scan(&super, &bypass, &owner)
	if err != nil {
		return fmt.Errorf("read connection role: %w", err)
	}
	switch {
	case super:
		return fmt.Errorf("connected as a superuser")
	case bypass:
		return fmt.Errorf("connected as a role with BYPASSRLS")
	case owner:
		return fmt.Errorf("connected as the owner of the tables or a member of the owner role")
	}
	return nil
}
