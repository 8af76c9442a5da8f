package call

// The queries of the call domain. Each filters org_id itself, under row-level security as a
// second guard, and takes the gorm transaction it is given (a tenant transaction of db.Tx).

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/page"
)

const callColumns = `id, lead_id, status, scheduled_at, duration_minutes, transcript, notes, summary,
	buying_signal_score, signal_phrases, objections, next_steps, analysis_model, analyzed_at, completed_at,
	cancelled_at, no_show_at, version, created_at, updated_at`

// listColumns is callColumns without the transcript (NULL in its place): a page of calls would
// otherwise carry up to 200 hours of talk.
var listColumns = strings.Replace(callColumns, "transcript,", "NULL::text AS transcript,", 1)

func notFound(id uuid.UUID) error { return apperr.Errorf(apperr.NotFound, "call %s not found", id) }

// getCall returns the org's call id; forUpdate locks its row until the transaction ends, so that
// changes of one call serialise. A missing call is apperr.NotFound.
func getCall(tx *gorm.DB, orgID, id uuid.UUID, forUpdate bool) (Call, error) {
	q := `SELECT ` + callColumns + ` FROM calls WHERE org_id = ? AND id = ?`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var out Call
	res := tx.Raw(q, orgID, id).Scan(&out)
	if res.Error != nil {
		return Call{}, fmt.Errorf("get call: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return Call{}, notFound(id)
	}
	out.utc()
	return out, nil
}

// setStatus moves the call to status to, stamping the time column of that status (and storing
// the transcript and notes of a completion), and moves the version on by one.
func setStatus(tx *gorm.DB, orgID, id uuid.UUID, to Status, c *Completion) (Call, error) {
	var transcript, notes *string
	if c != nil {
		transcript, notes = &c.Transcript, nilIfEmpty(c.Notes)
	}
	var out Call
	res := tx.Raw(`UPDATE calls SET status = ?, version = version + 1,
	completed_at = CASE WHEN ? = 'completed' THEN now() ELSE completed_at END,
	no_show_at = CASE WHEN ? = 'no_show' THEN now() ELSE no_show_at END,
	cancelled_at = CASE WHEN ? = 'cancelled' THEN now() ELSE cancelled_at END,
	transcript = coalesce(?, transcript), notes = coalesce(?, notes)
WHERE org_id = ? AND id = ?
RETURNING `+callColumns, string(to), string(to), string(to), string(to), transcript, notes, orgID, id).Scan(&out)
	if res.Error != nil {
		return Call{}, fmt.Errorf("set call status: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return Call{}, notFound(id)
	}
	out.utc()
	return out, nil
}

// storeAnalysis writes an analysis on a call that has none yet and reports whether it did. It
// does not move the version: analysis is derived data, not an edit a client could conflict with.
func storeAnalysis(tx *gorm.DB, orgID, id uuid.UUID, a Analysis) (bool, error) {
	res := tx.Exec(`UPDATE calls SET summary = ?, buying_signal_score = ?, signal_phrases = ?::jsonb,
	objections = ?::jsonb, next_steps = ?::jsonb, analysis_model = ?, analyzed_at = now()
WHERE org_id = ? AND id = ? AND analyzed_at IS NULL`,
		a.Summary, a.BuyingSignalScore, db.JSONOf(a.SignalPhrases), db.JSONOf(a.Objections), db.JSONOf(a.NextSteps), a.Model, orgID, id)
	if res.Error != nil {
		return false, fmt.Errorf("store call analysis: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
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

// listCalls returns up to f.Page.Limit+1 of the org's calls that pass f, after the cursor.
func listCalls(tx *gorm.DB, orgID uuid.UUID, f ListFilter) ([]Call, error) {
	var b strings.Builder
	var args db.Marks
	b.WriteString(`SELECT ` + listColumns + ` FROM calls WHERE org_id = ` + args.Add(orgID))
	if f.LeadID != nil {
		b.WriteString(` AND lead_id = ` + args.Add(*f.LeadID))
	}
	if f.Status != "" {
		b.WriteString(` AND status = ` + args.Add(string(f.Status)))
	}
	if f.From != nil {
		b.WriteString(` AND scheduled_at >= ` + args.Add(f.From.UTC()) + `::timestamptz`)
	}
	if f.To != nil {
		b.WriteString(` AND scheduled_at < ` + args.Add(f.To.UTC()) + `::timestamptz`)
	}
	tail, err := keysets[f.Sort].Tail(f.Page.Cursor, f.Page.Limit, &args)
	if err != nil {
		return nil, err
	}
	b.WriteString(tail)
	var out []Call
	if err := tx.Raw(b.String(), args...).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("list calls: %w", err)
	}
	for i := range out {
		out[i].utc()
	}
	return out, nil
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// insertCallID stores a booked call with the id chosen by the caller.
func insertCallID(tx *gorm.DB, orgID, id uuid.UUID, b Booking) (Call, error) {
	var out Call
	err := tx.Raw(`INSERT INTO calls (org_id, id, lead_id, scheduled_at, duration_minutes) VALUES (?, ?, ?, ?, ?)
RETURNING `+callColumns, orgID, id, b.LeadID, b.ScheduledAt, b.DurationMinutes).Scan(&out).Error
	if err != nil {
		return Call{}, fmt.Errorf("insert call: %w", err)
	}
	out.utc()
	return out, nil
}
