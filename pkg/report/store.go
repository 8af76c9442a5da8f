package report

import (
	"time"

	"github.com/google/uuid"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/page"
)

// reportRow is a row of reportColumns.
type reportRow struct {
	ID          uuid.UUID     `gorm:"column:id"`
	Kind        string        `gorm:"column:kind"`
	PeriodStart time.Time     `gorm:"column:period_start"`
	PeriodEnd   time.Time     `gorm:"column:period_end"`
	Model       string        `gorm:"column:model"`
	Body        db.JSON[Body] `gorm:"column:body"`
	CreatedAt   time.Time     `gorm:"column:created_at"`
}

func (r reportRow) report() Report {
	return Report{ID: r.ID, Kind: r.Kind, PeriodStart: r.PeriodStart.UTC(), PeriodEnd: r.PeriodEnd.UTC(), Model: r.Model,
		Body: r.Body.V, CreatedAt: r.CreatedAt.UTC()}
}

// keyset is the order of List: the latest period first, ties by id.
var keyset = page.Desc(
	page.Time("period_start", "p", func(r Report) time.Time { return r.PeriodStart }),
	page.UUID("id", "i", func(r Report) uuid.UUID { return r.ID }),
)
