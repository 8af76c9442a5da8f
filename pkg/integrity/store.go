package integrity

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/page"
)

// cursor is a position in List: the last alert shown.
type cursor struct {
	At time.Time `json:"at"`
	ID uuid.UUID `json:"id"`
}

// List returns the org's alerts, newest first (detected_at, then id, descending), narrowed by
// f, from the caller's transaction tx. It filters org_id itself besides the row-level security
// of a tenant transaction. A cursor that is not one of this list's is apperr.BadRequest.
func List(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, f Filter, p page.Request) (page.Page[Alert], error) {
	limit := p.Limit
	if limit <= 0 {
		limit = page.DefaultLimit
	}
	limit = min(limit, page.MaxLimit)

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
	if p.Cursor != "" {
		var c cursor
		if err := page.Decode(p.Cursor, &c); err != nil {
			return page.Page[Alert]{}, err
		}
		if c.At.IsZero() || c.ID == uuid.Nil {
			return page.Page[Alert]{}, apperr.Errorf(apperr.BadRequest, "invalid cursor").
				WithFields(apperr.FieldError{Field: "cursor", Message: "is not a cursor returned by this list"})
		}
		// (detected_at, id) < (at, id), spelled so that the index on detected_at bounds the scan.
		q = q.Where("detected_at <= ? AND (detected_at < ? OR id < ?)", c.At, c.At, c.ID)
	}
	rows, err := q.Order("detected_at DESC, id DESC").Limit(limit + 1).Rows()
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
	return page.Finish(out, limit, func(a Alert) any { return cursor{At: a.DetectedAt, ID: a.ID} }), nil
}
