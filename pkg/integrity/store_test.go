package integrity_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/integrity"
	"example.com/crm/pkg/page"
)

// bundle is a fresh database with two orgs and alerts in both. db is the owner (bound by the
// forced row-level security of integrity_alerts inside tenant transactions); super sees every
// row and seeds them.
type bundle struct {
	db, super  *db.DB
	org, other uuid.UUID
	// want is org's alerts in the order List must return them, as the database orders them.
	want []uuid.UUID
}

// setup seeds org with seven alerts, four of them detected at the same instant (so that only id
// orders them), mixed severities, two resolved, one org-wide; other gets two.
func setup(t *testing.T) *bundle {
	t.Helper()
	d, url := dbtest.NewDB(t)
	b := &bundle{db: d, super: dbtest.SuperDB(t, url), org: dbtest.NewOrg(t, d, "acme"), other: dbtest.NewOrg(t, d, "other")}
	seed := func(org uuid.UUID, check, severity string, entity bool, detected string, resolved bool) {
		var entityType, entityID any
		if entity {
			entityType, entityID = "lead", uuid.NewString()
		}
		var resolvedAt any
		if resolved {
			resolvedAt = "2026-03-02T00:00:00Z"
		}
		require.NoError(t, b.super.Gorm.Exec(`INSERT INTO integrity_alerts
			(org_id, check_name, severity, entity_type, entity_id, detail, detected_at, resolved_at)
			VALUES (?, ?, ?, ?, ?, ?::jsonb, ?::timestamptz, ?::timestamptz)`,
			org, check, severity, entityType, entityID, `{"check":"`+check+`"}`, detected, resolvedAt).Error)
	}
	same := "2026-03-01T12:00:00.123456Z"
	seed(b.org, "deal_won_without_invoice", integrity.SeverityCritical, true, same, false)
	seed(b.org, "deal_won_without_invoice", integrity.SeverityCritical, true, same, false)
	seed(b.org, "lead_without_event", integrity.SeverityWarning, true, same, true)
	seed(b.org, "lead_without_event", integrity.SeverityInfo, true, same, false)
	seed(b.org, "job_backlog", integrity.SeverityWarning, false, "2026-03-01T13:00:00Z", false)
	seed(b.org, "lead_without_event", integrity.SeverityInfo, true, "2026-03-01T11:00:00Z", true)
	seed(b.org, "lead_without_event", integrity.SeverityWarning, true, "2026-03-01T12:00:00.123457Z", false)
	seed(b.other, "deal_won_without_invoice", integrity.SeverityCritical, true, same, false)
	seed(b.other, "job_backlog", integrity.SeverityWarning, false, "2026-03-01T14:00:00Z", false)
	require.NoError(t, b.super.Gorm.Raw(`SELECT id FROM integrity_alerts WHERE org_id = ? ORDER BY detected_at DESC, id DESC`, b.org).
		Scan(&b.want).Error)
	require.Len(t, b.want, 7)
	return b
}

// list walks List for org with f at page size limit and returns the alerts it saw. On the
// owner it reads in a tenant transaction; on super (bare) with no tenant setting at all.
func (b *bundle) list(t *testing.T, bare bool, org uuid.UUID, f integrity.Filter, limit int) []integrity.Alert {
	t.Helper()
	var out []integrity.Alert
	req := page.Request{Limit: limit}
	for range 100 {
		var p page.Page[integrity.Alert]
		read := func(tx *gorm.DB) error {
			var err error
			p, err = integrity.List(t.Context(), tx, org, f, req)
			return err
		}
		if bare {
			require.NoError(t, read(b.super.Gorm))
		} else {
			require.NoError(t, b.db.Tx(t.Context(), org, read))
		}
		require.LessOrEqual(t, len(p.Data), limit)
		out = append(out, p.Data...)
		if p.NextCursor == nil {
			return out
		}
		require.Len(t, p.Data, limit)
		req.Cursor = *p.NextCursor
	}
	require.FailNow(t, "pagination does not end")
	return nil
}

func ids(alerts []integrity.Alert) []uuid.UUID {
	out := []uuid.UUID{}
	for _, a := range alerts {
		out = append(out, a.ID)
	}
	return out
}

// TestList proves List shows only the caller's org's alerts, newest first with id breaking
// ties of detected_at, and that walking it at any page size (ties split across pages
// included) yields every alert exactly once; the org filter holds without row-level security.
func TestList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, limit := range []int{1, 2, 3, 7, 50} {
		got := b.list(t, false, b.org, integrity.Filter{}, limit)
		require.Equal(t, b.want, ids(got), "limit %d", limit)
		for _, a := range got {
			require.Equal(t, b.org, a.OrgID)
		}
	}
	require.Equal(t, b.want, ids(b.list(t, true, b.org, integrity.Filter{}, 2)), "the explicit org filter")
	other := b.list(t, false, b.other, integrity.Filter{}, 1)
	require.Len(t, other, 2)
	require.Equal(t, "job_backlog", other[0].CheckName)
}

// TestListFilters proves the open/resolved and severity filters, alone and together, and the
// fields of an alert (an org-wide one has no entity).
func TestListFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	open, resolved := true, false
	count := func(f integrity.Filter) int {
		t.Helper()
		return len(b.list(t, false, b.org, f, 1))
	}
	require.Equal(t, 5, count(integrity.Filter{Open: &open}))
	require.Equal(t, 2, count(integrity.Filter{Open: &resolved}))
	require.Equal(t, 2, count(integrity.Filter{Severity: integrity.SeverityCritical}))
	require.Equal(t, 3, count(integrity.Filter{Severity: integrity.SeverityWarning}))
	require.Equal(t, 2, count(integrity.Filter{Severity: integrity.SeverityWarning, Open: &open}))
	require.Equal(t, 1, count(integrity.Filter{Severity: integrity.SeverityInfo, Open: &resolved}))
	for _, a := range b.list(t, false, b.org, integrity.Filter{Open: &open}, 2) {
		require.True(t, a.Open())
	}
	for _, a := range b.list(t, false, b.org, integrity.Filter{Open: &resolved}, 2) {
		require.False(t, a.Open())
		require.True(t, a.ResolvedAt.Equal(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)))
	}

	first := b.list(t, false, b.org, integrity.Filter{}, 50)[0]
	require.Equal(t, "job_backlog", first.CheckName)
	require.Equal(t, integrity.SeverityWarning, first.Severity)
	require.Nil(t, first.EntityType)
	require.Nil(t, first.EntityID)
	require.Nil(t, first.ResolvedAt)
	require.JSONEq(t, `{"check":"job_backlog"}`, string(first.Detail))
	require.True(t, first.DetectedAt.Equal(time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)))
	second := b.list(t, false, b.org, integrity.Filter{}, 50)[1]
	require.Equal(t, "lead_without_event", second.CheckName)
	require.Equal(t, "lead", *second.EntityType)
	require.NotNil(t, second.EntityID)
	require.True(t, second.DetectedAt.Equal(time.Date(2026, 3, 1, 12, 0, 0, 123457000, time.UTC)), "microseconds kept")
}

// TestListBadCursor proves a cursor List did not make is BadRequest on field "cursor".
func TestListBadCursor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, cursor := range []string{"***", page.Encode(map[string]int{"id": 5}), page.Encode(map[string]string{"at": "2026-03-01T00:00:00Z"}),
		page.Encode(map[string]string{"at": "yesterday", "id": uuid.NewString()})} {
		err := b.db.Tx(t.Context(), b.org, func(tx *gorm.DB) error {
			_, err := integrity.List(t.Context(), tx, b.org, integrity.Filter{}, page.Request{Limit: 5, Cursor: cursor})
			return err
		})
		e, ok := apperr.As(err)
		require.True(t, ok, "%s: %v", cursor, err)
		require.Equal(t, apperr.BadRequest, e.Code)
		require.Equal(t, "cursor", e.Fields[0].Field)
	}
}
