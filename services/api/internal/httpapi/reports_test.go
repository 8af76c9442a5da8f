package httpapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/report"
)

// reportJSON is the part of a report the tests read.
type reportJSON struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	PeriodStart time.Time `json:"periodStart"`
	PeriodEnd   time.Time `json:"periodEnd"`
	Model       string    `json:"model"`
	Body        struct {
		Figures struct {
			Leads struct {
				In int `json:"in"`
			} `json:"leads"`
		} `json:"figures"`
		Narrative struct {
			Summary string `json:"summary"`
		} `json:"narrative"`
	} `json:"body"`
}

// weeklyReport generates the org's weekly report of the week before slot as the worker's
// generate_weekly_report does (report.Service.Generate as the owner, the built-in writer) and
// returns its id.
func weeklyReport(t *testing.T, a *apiTest, slot time.Time) string {
	t.Helper()
	svc := report.NewService(a.owner, workerEmitter(a), nil)
	res, err := svc.Generate(t.Context(), a.org, slot, func(ctx context.Context, fn func(tx *gorm.DB) error) error {
		return a.owner.Tx(ctx, a.org, fn)
	})
	require.NoError(t, err)
	require.Empty(t, res.Skipped)
	return res.Report.ID.String()
}

// TestReportRoutes walks the report routes: the list (latest period first, paged, filtered by
// kind; an unknown kind or cursor is 400), get with the figures and narrative, the stored PDF
// with its SHA-256 ETag and 304, and unknown or malformed ids.
func TestReportRoutes(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	_, err := a.super.Exec(t.Context(), `INSERT INTO leads (org_id, email, fingerprint, created_at)
VALUES ($1, 'week@example.com', 'fp:week', '2026-11-10T09:00:00Z')`, a.org)
	require.NoError(t, err)
	older := weeklyReport(t, a, time.Date(2026, 11, 16, 7, 0, 0, 0, time.UTC))
	newer := weeklyReport(t, a, time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC))

	var pg struct {
		Data       []reportJSON `json:"data"`
		NextCursor *string      `json:"nextCursor"`
	}
	getOK(t, a, "/reports?kind=weekly&limit=1", &pg)
	require.Len(t, pg.Data, 1)
	require.Equal(t, newer, pg.Data[0].ID, "the latest period first")
	require.NotNil(t, pg.NextCursor)
	getOK(t, a, "/reports?kind=weekly&limit=1&cursor="+*pg.NextCursor, &pg)
	require.Len(t, pg.Data, 1)
	require.Equal(t, older, pg.Data[0].ID)
	require.Nil(t, pg.NextCursor)
	requireRefused(t, a.do(http.MethodGet, "/reports?kind=monthly", nil), http.StatusBadRequest, "kind", "unknown kind")
	require.Equal(t, http.StatusBadRequest, a.do(http.MethodGet, "/reports?cursor=nope", nil).Status)

	var r reportJSON
	getOK(t, a, "/reports/"+older, &r)
	require.Equal(t, "weekly", r.Kind)
	require.Equal(t, time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC), r.PeriodStart.UTC())
	require.Equal(t, time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC), r.PeriodEnd.UTC())
	require.Equal(t, "builtin", r.Model)
	require.Equal(t, 1, r.Body.Figures.Leads.In)
	require.Contains(t, r.Body.Narrative.Summary, "1 lead came in")

	doc := a.do(http.MethodGet, "/reports/"+older+"/document", nil)
	require.Equal(t, http.StatusOK, doc.Status, string(doc.Body))
	require.Equal(t, "application/pdf", doc.Header.Get("Content-Type"))
	sum := sha256.Sum256(doc.Body)
	// The compression middleware weakens the ETag of a body it compresses (W/).
	require.Equal(t, `"`+hex.EncodeToString(sum[:])+`"`, strings.TrimPrefix(doc.Header.Get("ETag"), "W/"))
	again := a.do(http.MethodGet, "/reports/"+older+"/document", nil)
	require.Equal(t, doc.Body, again.Body, "the same bytes every time")
	require.Equal(t, http.StatusNotModified, a.do(http.MethodGet, "/reports/"+older+"/document", nil,
		withHeader("If-None-Match", doc.Header.Get("ETag"))).Status)

	require.Equal(t, http.StatusNotFound, a.do(http.MethodGet, "/reports/"+uuid.NewString(), nil).Status)
	require.Equal(t, http.StatusNotFound, a.do(http.MethodGet, "/reports/"+uuid.NewString()+"/document", nil).Status)
	requireRefused(t, a.do(http.MethodGet, "/reports/nope", nil), http.StatusBadRequest, "id", "malformed id")
	requireRefused(t, a.do(http.MethodGet, "/reports/nope/document", nil), http.StatusBadRequest, "id", "malformed id")
}
