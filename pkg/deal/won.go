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
}

// Won is a won deal to make a record of (an invoice, a contract): the deal and the deal.won
// event that reported it, the record's causation.
type Won struct {
	EventID int64
	DealID  uuid.UUID
}

// Lock is how LockWon locks the won deals. Every mode keeps the deals from being deleted until
// the caller's transaction ends; they differ in whom else they let in.
type Lock string

const (
	// LockAlone (FOR NO KEY UPDATE) lets one caller of this mode at a time hold a deal: a repeat
	// of one deal's job waits for the first to commit and then finds its record. For records
	// that must never be attempted twice at once, such as an invoice, which takes a number.
	LockAlone Lock = "FOR NO KEY UPDATE OF d"
	// LockShared (FOR KEY SHARE) lets any other caller in, LockAlone's included, so the records of
	// one win are made side by side. A repeat of one deal's job that runs at the same moment as
	// the first is refused by the record's unique key (its batch fails and is retried, and then
	// finds the record): for records without a number, such as a contract.
	LockShared Lock = "FOR KEY SHARE OF d"
)

// LockWon locks the deals of wons (in mode lock) inside the caller's tenant transaction tx, in
// the order of their ids (two batches with overlapping deals wait for each other instead of
// deadlocking), and returns, per won in order, the
// deal with its lead, and todo: the indexes of wons to make the caller's record of. For every
// other won, skip is called with its index and why nothing is to be made of it (retrying would
// change nothing): the deal is gone, is not won, has the caller's record already (madeSQL, run
// after the lock so that it sees what a concurrent first run committed, selects the deal_id of
// the org $1's records of the deals $2; madeReason is the reason), or repeats an earlier won.
func LockWon(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, wons []Won, lock Lock, madeSQL, madeReason string,
	skip func(i int, reason string)) (deals []WonDeal, todo []int, err error) {
	if len(wons) == 0 {
		return nil, nil, nil
	}
	ids := make([]uuid.UUID, len(wons))
	for i, w := range wons {
		ids[i] = w.DealID
	}
	rows, err := db.Select[WonDeal](ctx, tx, lockWonDealsSQL+string(lock), orgID, db.UUIDs(ids))
	if err != nil {
		return nil, nil, fmt.Errorf("lock won deals: %w", err)
	}
	byID := make(map[uuid.UUID]WonDeal, len(rows))
	for _, d := range rows {
		byID[d.ID] = d
	}
	had, err := db.Select[uuid.UUID](ctx, tx, madeSQL, orgID, db.UUIDs(ids))
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
			skip(i, "deal not found")
		case d.Stage != StageWon:
			skip(i, fmt.Sprintf("deal is %s, not won", d.Stage))
		case done[id]:
			skip(i, madeReason)
		default:
			done[id] = true
			todo = append(todo, i)
		}
		deals[i] = d
	}
	return deals, todo, nil
}
