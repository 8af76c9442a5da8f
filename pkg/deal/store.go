package deal

// The reads and writes of the deals table (their statements are in queries.go). The writes run
// in the transaction they are given (db.Each); the hot reads (one deal, a page of deals, the
// pipeline sums) are queued on a db.Batch that db.DB.Read sends with its tenant transaction in
// a single round trip. Both scan the same columns into the same db value types, which both
// drivers fill without reflection.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/page"
)

func notFound(id uuid.UUID) error { return apperr.Errorf(apperr.NotFound, "deal %s not found", id) }

// dealScan receives rows of dealColumns.
type dealScan struct {
	id, leadID            db.NullUUID
	d                     Deal
	stage                 string
	prob                  int32
	closeDate, lostReason db.Text
	wonAt, lostAt         db.Timestamptz
	stageChanged, created time.Time
	updated               time.Time
	dest                  []any
}

func newDealScan() *dealScan {
	s := &dealScan{}
	s.dest = []any{&s.id, &s.leadID, &s.d.Title, &s.d.DealValue, &s.d.Currency, &s.stage, &s.prob,
		&s.closeDate, &s.lostReason, &s.stageChanged, &s.wonAt, &s.lostAt, &s.d.Version, &s.created, &s.updated}
	return s
}

// scan reads the current row into a new Deal, with its times in UTC and its weighted value.
func (s *dealScan) scan(row db.Row) (Deal, error) {
	s.d = Deal{}
	if err := row.Scan(s.dest...); err != nil {
		return Deal{}, err // the callers say what they were reading
	}
	d := s.d
	d.ID, d.LeadID = s.id.Bytes, s.leadID.Bytes
	d.Stage, d.Probability = Stage(s.stage), Probability(s.prob)
	d.WeightedValue = WeightedValue(d.DealValue, d.Probability)
	if s.closeDate.Valid {
		v := s.closeDate.String
		d.ExpectedCloseDate = &v
	}
	if s.lostReason.Valid {
		v := s.lostReason.String
		d.LostReason = &v
	}
	if s.wonAt.Valid {
		t := s.wonAt.Time.UTC()
		d.WonAt = &t
	}
	if s.lostAt.Valid {
		t := s.lostAt.Time.UTC()
		d.LostAt = &t
	}
	d.StageChangedAt, d.CreatedAt, d.UpdatedAt = s.stageChanged.UTC(), s.created.UTC(), s.updated.UTC()
	return d, nil
}

// queryDeal runs a statement that returns at most one deal in tx; found is false when it
// returned none.
func queryDeal(ctx context.Context, tx *gorm.DB, q string, args ...any) (Deal, bool, error) {
	var d Deal
	found := false
	s := newDealScan()
	err := db.Each(ctx, tx, func(row db.Row) error {
		var err error
		d, err = s.scan(row)
		found = err == nil
		return err
	}, q, args...)
	if err != nil {
		return Deal{}, false, err
	}
	return d, found, nil
}

// queueGetDeal queues the read of the org's deal id into out; found reports whether there is
// one. A missing deal is not an error of the batch.
func queueGetDeal(b *db.Batch, orgID, id uuid.UUID, out *Deal, found *bool) {
	b.Row(func(row db.Row) error {
		d, err := newDealScan().scan(row)
		if err != nil {
			return fmt.Errorf("get deal: %w", err)
		}
		*out, *found = d, true
		return nil
	}, getDealSQL, db.UUID(orgID), db.UUID(id))
}

// lockDeal returns the org's deal id with its row locked until the transaction ends, so that
// changes of one deal serialise. A missing deal is apperr.NotFound.
func lockDeal(ctx context.Context, tx *gorm.DB, orgID, id uuid.UUID) (Deal, error) {
	d, found, err := queryDeal(ctx, tx, lockDealSQL, orgID, id)
	if err != nil {
		return Deal{}, fmt.Errorf("lock deal: %w", err)
	}
	if !found {
		return Deal{}, notFound(id)
	}
	return d, nil
}

// lockDeals returns the org's deals of ids that exist, by id, with their rows locked until the
// transaction ends, in one statement.
func lockDeals(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]Deal, error) {
	out := make(map[uuid.UUID]Deal, len(ids))
	s := newDealScan()
	err := db.Each(ctx, tx, func(row db.Row) error {
		d, err := s.scan(row)
		if err != nil {
			return err
		}
		out[d.ID] = d
		return nil
	}, lockDealsSQL, orgID, db.UUIDs(ids))
	if err != nil {
		return nil, fmt.Errorf("lock deals: %w", err)
	}
	return out, nil
}

// insertDeal inserts d (with its id) and returns it as stored.
func insertDeal(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, d Deal) (Deal, error) {
	out, _, err := queryDeal(ctx, tx, insertDealSQL,
		orgID, d.ID, d.LeadID, d.Title, d.DealValue, d.Currency, string(d.Stage), int32(d.Probability), d.ExpectedCloseDate)
	if err != nil {
		return Deal{}, fmt.Errorf("insert deal: %w", err)
	}
	return out, nil
}

// updateFields writes the editable fields of d and moves the version on by one.
func updateFields(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, d Deal) (Deal, error) {
	out, found, err := queryDeal(ctx, tx, updateDealSQL,
		orgID, d.ID, d.Title, d.DealValue, d.Currency, int32(d.Probability), d.ExpectedCloseDate)
	if err != nil {
		return Deal{}, fmt.Errorf("update deal: %w", err)
	}
	if !found {
		return Deal{}, notFound(d.ID)
	}
	return out, nil
}

// setStage moves the deal to stage to with its default probability, stamps stage_changed_at
// (and won_at or lost_at when it closes), records the lost reason and moves the version on.
func setStage(ctx context.Context, tx *gorm.DB, orgID, id uuid.UUID, to Stage, lostReason *string) (Deal, error) {
	out, found, err := queryDeal(ctx, tx, setStageSQL,
		orgID, id, string(to), int32(DefaultProbability(to)), lostReason)
	if err != nil {
		return Deal{}, fmt.Errorf("set deal stage: %w", err)
	}
	if !found {
		return Deal{}, notFound(id)
	}
	return out, nil
}

// keysets are the orders of List, by sort.
var keysets = func() map[Sort]page.Keyset[Deal] {
	id := page.UUID("id", "i", func(d Deal) uuid.UUID { return d.ID })
	created := page.Time("created_at", "t", func(d Deal) time.Time { return d.CreatedAt })
	updated := page.Time("updated_at", "t", func(d Deal) time.Time { return d.UpdatedAt })
	value := page.Int64("deal_value", "v", func(d Deal) int64 { return d.DealValue })
	return page.Sorts(map[Sort]page.Keyset[Deal]{
		SortCreatedAsc:  page.Asc(created, id),
		SortCreatedDesc: page.Desc(created, id),
		SortUpdatedAsc:  page.Asc(updated, id),
		SortUpdatedDesc: page.Desc(updated, id),
		SortValueAsc:    page.Asc(value, id),
		SortValueDesc:   page.Desc(value, id),
	})
}()

// listDeals builds the statement that reads up to f.Page.Limit+1 deals after the cursor.
func listDeals(orgID uuid.UUID, f ListFilter) (string, []any, error) {
	ks := keysets[f.Sort]
	var b strings.Builder
	var a db.Args
	b.WriteString(listDealsSQL + a.Add(db.UUID(orgID)))
	if f.Stage != "" {
		b.WriteString(stageIsSQL + a.Add(string(f.Stage)))
	}
	if f.LeadID != nil {
		b.WriteString(leadIsSQL + a.Add(db.UUID(*f.LeadID)))
	}
	if f.MinValue != nil {
		b.WriteString(minValueSQL + a.Add(*f.MinValue))
	}
	tail, err := ks.Tail(f.Page.Cursor, f.Page.Limit, &a)
	if err != nil {
		return "", nil, err
	}
	return b.String() + tail, a, nil
}

// queueListDeals queues the read of a page of deals (listDeals) into out.
func queueListDeals(b *db.Batch, q string, args []any, out *[]Deal) {
	s := newDealScan()
	b.Rows(func(row db.Row) error {
		d, err := s.scan(row)
		if err != nil {
			return fmt.Errorf("list deals: %w", err)
		}
		*out = append(*out, d)
		return nil
	}, q, args...)
}
