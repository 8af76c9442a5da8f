package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"example.com/crm/pkg/httpx"
	"example.com/crm/pkg/lead"
)

// floorAppName is the application_name of the floor's connections.
const floorAppName = "apibench-floor"

// floorSQL reads one lead by its primary key, the columns the api shows.
const floorSQL = `SELECT id, first_name, last_name, name, email, phone, company, website, domain, title,
	profile_link, source, notes, extra, stage, stage_reason, score, score_reasons, icp_match,
	recommended_path, priority, ghost_risk, revenue_band, enrichment, version, last_activity_at,
	stage_changed_at, created_at, updated_at
FROM leads WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL`

// floorMain is `apibench floor -addr ADDR -database-url URL -max-conns N`: the yardstick of the
// api. One echo route, GET /leads/:id with the org in X-Org-Id, reads the lead with one pgx
// query on a pool and writes it with echo's JSON, as the api's handler does; no authentication,
// no tenant transaction, no middleware. It serves until SIGTERM.
func floorMain(args []string) error {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:3100", "listen address")
	dbURL := fs.String("database-url", "", "database (a role that reads leads without a tenant transaction)")
	maxConns := fs.Int("max-conns", 20, "pool size")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("parse flags: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	pc, err := pgxpool.ParseConfig(*dbURL)
	if err != nil {
		return fmt.Errorf("parse database url: %w", err)
	}
	pc.MaxConns = int32(*maxConns)
	pc.ConnConfig.RuntimeParams["application_name"] = floorAppName
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return fmt.Errorf("create pool: %w", err)
	}
	defer pool.Close()

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/healthz", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	e.GET("/leads/:id", func(c echo.Context) error {
		orgID, err := uuid.Parse(c.Request().Header.Get("X-Org-Id"))
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "X-Org-Id must be a UUID")
		}
		id, err := uuid.Parse(c.Param("id"))
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "id must be a UUID")
		}
		var l lead.Lead
		err = pool.QueryRow(c.Request().Context(), floorSQL, orgID, id).Scan(&l.ID, &l.FirstName, &l.LastName,
			&l.Name, &l.Email, &l.Phone, &l.Company, &l.Website, &l.Domain, &l.Title, &l.ProfileLink, &l.Source,
			&l.Notes, &l.Extra, &l.Stage, &l.StageReason, &l.Score, &l.ScoreReasons, &l.ICPMatch,
			&l.RecommendedPath, &l.Priority, &l.GhostRisk, &l.RevenueBand, &l.Enrichment, &l.Version,
			&l.LastActivityAt, &l.StageChangedAt, &l.CreatedAt, &l.UpdatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return echo.NewHTTPError(http.StatusNotFound, "lead not found")
		}
		if err != nil {
			return fmt.Errorf("read lead: %w", err)
		}
		l.StageChangedAt, l.CreatedAt, l.UpdatedAt = l.StageChangedAt.UTC(), l.CreatedAt.UTC(), l.UpdatedAt.UTC()
		if l.LastActivityAt != nil {
			t := l.LastActivityAt.UTC()
			l.LastActivityAt = &t
		}
		return c.JSON(http.StatusOK, l)
	})
	return httpx.Serve(ctx, httpx.NewServer(*addr, e), httpx.Shutdown{Grace: 5 * time.Second}, zap.NewNop())
}
