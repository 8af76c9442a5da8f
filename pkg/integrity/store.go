package integrity

import (
	"context"
	"fmt"
	"strings"
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
	var b strings.Builder
	var args db.Args
	b.WriteString(listAlertsSQL + args.Add(orgID))
	if f.Open != nil {
		if *f.Open {
			b.WriteString(openOnlySQL)
		} else {
			b.WriteString(resolvedOnlySQL)
		}
	}
	if f.Severity != "" {
		b.WriteString(severitySQL + args.Add(f.Severity))
	}
	if f.CheckName != "" {
		b.WriteString(checkNameSQL + args.Add(f.CheckName))
	}
	tail, err := keyset.Tail(p.Cursor, limit, &args)
	if err != nil {
		return page.Page[Alert]{}, err
	}
	b.WriteString(tail)
	var out []Alert
	err = db.Each(ctx, tx, func(row db.Row) error {
		a, err := scanAlert(row)
		if err != nil {
			return err
		}
		out = append(out, a)
		return nil
	}, b.String(), args...)
	if err != nil {
		return page.Page[Alert]{}, fmt.Errorf("list integrity alerts: %w", err)
	}
	return keyset.Page(out, limit), nil
}

// scanAlert reads the alertColumns of row.
func scanAlert(row db.Row) (Alert, error) {
	var a Alert
	var detail []byte
	if err := row.Scan(&a.OrgID, &a.ID, &a.CheckName, &a.Severity, &a.EntityType, &a.EntityID, &detail, &a.DetectedAt, &a.ResolvedAt); err != nil {
		return Alert{}, fmt.Errorf("scan alert: %w", err)
	}
	a.Detail = detail
	return a, nil
}
