package call

// The reads and writes of the calls table (their statements are in queries.go). The writes and
// locks run in the tenant transaction they are given (db.Each, db.Exec); the reads of Get and
// List are queued on a db.Batch that db.DB.Read sends in one round trip. Both scan the same
// columns into the same db value types (callScan), which both drivers fill without reflection.

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

func notFound(id uuid.UUID) error { return apperr.Errorf(apperr.NotFound, "call %s not found", id) }

// callScan receives rows of callColumns (or listColumns).
type callScan struct {
	c                                      Call
	id, leadID                             db.NullUUID
	status                                 string
	transcript, notes, summary, model      db.Text
	score                                  db.Int4
	analyzed, completed, cancelled, noShow db.Timestamptz
	dest                                   []any
}

func newCallScan() *callScan {
	s := &callScan{}
	s.dest = []any{&s.id, &s.leadID, &s.status, &s.c.ScheduledAt, &s.c.DurationMinutes, &s.transcript, &s.notes,
		&s.summary, &s.score, &s.c.SignalPhrases, &s.c.Objections, &s.c.NextSteps, &s.model, &s.analyzed,
		&s.completed, &s.cancelled, &s.noShow, &s.c.Version, &s.c.CreatedAt, &s.c.UpdatedAt}
	return s
}

// scan reads the current row into a new Call, with its times in UTC.
func (s *callScan) scan(row db.Row) (Call, error) {
	s.c = Call{}
	if err := row.Scan(s.dest...); err != nil {
		return Call{}, err // the callers say what they were reading
	}
	c := s.c
	c.ID, c.LeadID, c.Status = s.id.Bytes, s.leadID.Bytes, Status(s.status)
	c.Transcript, c.Notes, c.Summary, c.AnalysisModel = text(s.transcript), text(s.notes), text(s.summary), text(s.model)
	if s.score.Valid {
		v := int(s.score.Int32)
		c.BuyingSignalScore = &v
	}
	c.AnalyzedAt, c.CompletedAt, c.CancelledAt, c.NoShowAt = at(s.analyzed), at(s.completed), at(s.cancelled), at(s.noShow)
	c.utc()
	return c, nil
}

func text(t db.Text) *string {
	if !t.Valid {
		return nil
	}
	v := t.String
	return &v
}

func at(t db.Timestamptz) *time.Time {
	if !t.Valid {
		return nil
	}
	v := t.Time
	return &v
}

// queryCall runs a statement that returns at most one call in tx; a statement that returns
// none is apperr.NotFound for id.
func queryCall(ctx context.Context, tx *gorm.DB, id uuid.UUID, q string, args ...any) (Call, error) {
	var out Call
	found := false
	s := newCallScan()
	err := db.Each(ctx, tx, func(row db.Row) error {
		var err error
		out, err = s.scan(row)
		found = err == nil
		return err
	}, q, args...)
	if err != nil {
		return Call{}, err
	}
	if !found {
		return Call{}, notFound(id)
	}
	return out, nil
}

// queueGetCall queues the read of the org's call id into out; found reports whether there is
// one. A missing call is not an error of the batch.
func queueGetCall(b *db.Batch, orgID, id uuid.UUID, out *Call, found *bool) {
	b.Row(func(row db.Row) error {
		c, err := newCallScan().scan(row)
		if err != nil {
			return fmt.Errorf("get call: %w", err)
		}
		*out, *found = c, true
		return nil
	}, getCallSQL, db.UUID(orgID), db.UUID(id))
}

// lockCall returns the org's call id with its row locked until the transaction ends, so that
// changes of one call serialise. A missing call is apperr.NotFound.
func lockCall(ctx context.Context, tx *gorm.DB, orgID, id uuid.UUID) (Call, error) {
	c, err := queryCall(ctx, tx, id, lockCallSQL, orgID, id)
	if err != nil {
		return Call{}, fmt.Errorf("lock call: %w", err)
	}
	return c, nil
}

// getCalls returns the org's calls of ids that exist, by id, without their transcripts, in one
// statement.
func getCalls(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]Call, error) {
	out := make(map[uuid.UUID]Call, len(ids))
	s := newCallScan()
	err := db.Each(ctx, tx, func(row db.Row) error {
		c, err := s.scan(row)
		if err != nil {
			return err
		}
		out[c.ID] = c
		return nil
	}, getCallsSQL, orgID, db.UUIDs(ids))
	if err != nil {
		return nil, fmt.Errorf("get calls: %w", err)
	}
	return out, nil
}

// setStatus moves the call to status to, stamping the time column of that status (and storing
// the transcript and notes of a completion), and moves the version on by one.
func setStatus(ctx context.Context, tx *gorm.DB, orgID, id uuid.UUID, to Status, c *Completion) (Call, error) {
	var transcript, notes *string
	if c != nil {
		transcript, notes = &c.Transcript, nilIfEmpty(c.Notes)
	}
	out, err := queryCall(ctx, tx, id, setStatusSQL, orgID, id, string(to), transcript, notes)
	if err != nil {
		return Call{}, fmt.Errorf("set call status: %w", err)
	}
	return out, nil
}

// storeAnalysis writes an analysis on a call that has none yet and reports whether it did. It
// does not move the version: analysis is derived data, not an edit a client could conflict with.
func storeAnalysis(ctx context.Context, tx *gorm.DB, orgID, id uuid.UUID, a Analysis) (bool, error) {
	n, err := db.Exec(ctx, tx, storeAnalysisSQL, orgID, id, a.Summary, a.BuyingSignalScore,
		db.JSONOf(a.SignalPhrases), db.JSONOf(a.Objections), db.JSONOf(a.NextSteps), a.Model)
	if err != nil {
		return false, fmt.Errorf("store call analysis: %w", err)
	}
	return n == 1, nil
}

// keysets are the orders of List, by sort.
var keysets = func() map[Sort]page.Keyset[Call] {
	at := page.Time("scheduled_at", "t", func(c Call) time.Time { return c.ScheduledAt })
	id := page.UUID("id", "i", func(c Call) uuid.UUID { return c.ID })
	return page.Sorts(map[Sort]page.Keyset[Call]{
		SortScheduledAsc:  page.Asc(at, id),
		SortScheduledDesc: page.Desc(at, id),
	})
}()

// listCalls builds the statement that reads up to f.Page.Limit+1 of the org's calls that pass
// f, after the cursor.
func listCalls(orgID uuid.UUID, f ListFilter) (string, []any, error) {
	var b strings.Builder
	var args db.Args
	b.WriteString(listCallsSQL + args.Add(db.UUID(orgID)))
	if f.LeadID != nil {
		b.WriteString(leadIsSQL + args.Add(db.UUID(*f.LeadID)))
	}
	if f.Status != "" {
		b.WriteString(statusIsSQL + args.Add(string(f.Status)))
	}
	if f.From != nil {
		b.WriteString(scheduledFromSQL + args.Add(f.From.UTC()) + timestamptzCast)
	}
	if f.To != nil {
		b.WriteString(scheduledBeforeSQL + args.Add(f.To.UTC()) + timestamptzCast)
	}
	tail, err := keysets[f.Sort].Tail(f.Page.Cursor, f.Page.Limit, &args)
	if err != nil {
		return "", nil, err
	}
	return b.String() + tail, args, nil
}

// queueListCalls queues the read of a page of calls (listCalls) into out.
func queueListCalls(b *db.Batch, q string, args []any, out *[]Call) {
	s := newCallScan()
	b.Rows(func(row db.Row) error {
		c, err := s.scan(row)
		if err != nil {
			return fmt.Errorf("list calls: %w", err)
		}
		*out = append(*out, c)
		return nil
	}, q, args...)
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// insertCall stores a booked call with the id chosen by the caller.
func insertCall(ctx context.Context, tx *gorm.DB, orgID, id uuid.UUID, b Booking) (Call, error) {
	out, err := queryCall(ctx, tx, id, insertCallSQL, orgID, id, b.LeadID, b.ScheduledAt, b.DurationMinutes)
	if err != nil {
		return Call{}, fmt.Errorf("insert call: %w", err)
	}
	return out, nil
}
