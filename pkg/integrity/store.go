package integrity

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/page"
)

// keyset is the order of List: newest first. It is Bounded, so that the index on detected_at
// bounds the scan.
var keyset = page.Desc(
	page.Time("detected_at", "at", func(a Alert) time.Time { return a.DetectedAt }),
	page.UUID("id", "id", func(a Alert) uuid.UUID { return a.ID })).Bounded()

// List returns the org's alerts, newest first (detected_at, then id, descending), narrowed by
// f, from the caller's transaction tx. It filters org_id itself besides the row-level security
// of a tenant transaction. A cursor that is not one of this list's is apperr.BadRequest.
func List(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, f Filter, p page.Request) (page.Page[Alert], error) {
	limit := p.Clamped()
	pos, err := keyset.Position(p.Cursor)
	if err != nil {
		return page.Page[Alert]{}, err
	}

	q := tx.WithContext(ctx).Table("integrity_alerts").
		Select("org_id, id, check_name, severity, entity_type, entity_id, detail, detected_at, resolved_at").
		Where("org_id = ?", orgID)
	if f.Open != nil {
		if *f.Open {
			q = q.Where("resolved_at IS NULL")
		} else {
			q = q.Where("resolved_at IS NOT NULL")
		}
	}
	if f.Severity != "" {
		q = q.Where("severity = ?", f.Severity)
	}
	var args db.Marks
	if after := pos.After(&args); after != "" {
		q = q.Where(after, args...)
	}
	rows, err := q.Order(keyset.Order()).Limit(limit + 1).Rows()
	if err != nil {
		return page.Page[Alert]{}, fmt.Errorf("list integrity alerts: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []Alert
	for rows.Next() {
		var a Alert
		var detail []byte
		if err := rows.Scan(&a.OrgID, &a.ID, &a.CheckName, &a.Severity, &a.EntityType, &a.EntityID, &detail, &a.DetectedAt, &a.ResolvedAt); err != nil {
			return page.Page[Alert]{}, fmt.Errorf("list integrity alerts: scan: %w", err)
		}
		a.Detail = detail
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return page.Page[Alert]{}, fmt.Errorf("list integrity alerts: %w", err)
	}
	return keyset.Page(out, limit), nil
}
