package deal

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
)

// WonDeal is a won deal as the records its win makes (an invoice, a contract) read it: the deal
// and its lead's company, name and email (empty when the lead has none).
type WonDeal struct {
	ID        uuid.UUID `gorm:"column:id"`
	LeadID    uuid.UUID `gorm:"column:lead_id"`
	Title     string    `gorm:"column:title"`
	DealValue int64     `gorm:"column:deal_value"`
	Currency  string    `gorm:"column:currency"`
	Stage     Stage     `gorm:"column:stage"`
	Company   string    `gorm:"column:company"`
	Name      string    `gorm:"column:name"`
	Email     string    `gorm:"column:email"`
	// Skipped says why nothing is to be made of this deal (LockWon); empty when something is.
	Skipped string `gorm:"-"`
}

// LockWon locks the org's deals ids inside the caller's tenant transaction tx, in the order of
// their ids (two batches with overlapping deals wait for each other instead of deadlocking, and
// a repeat of one deal's job waits for the first to commit), and returns, per id in order, the
// deal with its lead, and todo: the indexes of ids to make the caller's record of. Every other
// id has Skipped set, since retrying would change nothing: the deal is gone, is not won, is among
// the deals that made lists (those with the caller's record already; made runs after the lock,
// so it sees what a concurrent first run committed) with skipped madeReason, or repeats an
// earlier id.
func LockWon(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, ids []uuid.UUID, madeReason string,
	made func() ([]uuid.UUID, error)) (deals []WonDeal, todo []int, err error) {
	rows, err := db.Select[WonDeal](ctx, tx, lockWonDealsSQL, orgID, db.UUIDs(ids))
	if err != nil {
		return nil, nil, fmt.Errorf("lock won deals: %w", err)
	}
	byID := make(map[uuid.UUID]WonDeal, len(rows))
	for _, d := range rows {
		byID[d.ID] = d
	}
	had, err := made()
	if err != nil {
		return nil, nil, fmt.Errorf("read the deals with their record: %w", err)
	}
	done := make(map[uuid.UUID]bool, len(had))
	for _, id := range had {
		done[id] = true
	}
	deals = make([]WonDeal, len(ids))
	for i, id := range ids {
		d, ok := byID[id]
		switch {
		case !ok:
			d.Skipped = "deal not found"
		case d.Stage != StageWon:
			d.Skipped = fmt.Sprintf("deal is %s, not won", d.Stage)
		case done[id]:
			d.Skipped = madeReason
		default:
			done[id] = true
			todo = append(todo, i)
		}
		deals[i] = d
	}
	return deals, todo, nil
}
