package lead

// The store of the lead domain: each function runs its statement (queries.go) in the tenant
// transaction it is given; the hot reads (one lead, a page of leads) are queued on a db.Batch
// that db.DB.Read sends with its tenant transaction in a single round trip.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/page"
)

func notFound(id uuid.UUID) error { return apperr.Errorf(apperr.NotFound, "lead %s not found", id) }

// leadScan receives rows of leadColumns from pgx. It scans into types that pgx fills without
// reflection (pgtype values, byte arrays and slices) and then builds the Lead, with one
// allocation for all of its nullable strings: scanning into the Lead's own *string, *int and
// uuid.UUID fields would cost a reflect.New per column and a detour through database/sql's value
// types, a large share of the CPU of reading a page of leads.
type leadScan struct {
	l            Lead
	text         [15]db.Text // the nullable text columns, in leadColumns order
	score        db.Int4
	icpMatch     db.Bool
	lastActivity db.Timestamptz
	dest         []any
}

func newLeadScan() *leadScan {
	s := &leadScan{}
	t, l := &s.text, &s.l
	s.dest = []any{(*[16]byte)(&l.ID), &t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &t[6], &t[7], &t[8], &t[9], &t[10],
		&t[11], (*[]byte)(&l.Extra), (*string)(&l.Stage), &t[12], &s.score, (*[]byte)(&l.ScoreReasons), &s.icpMatch,
		&t[13], (*string)(&l.Priority), &l.GhostRisk, &t[14], (*[]byte)(&l.Enrichment), &l.Version, &s.lastActivity,
		&l.StageChangedAt, &l.CreatedAt, &l.UpdatedAt, &l.Fingerprint}
	return s
}

// scan reads the current row into a new Lead, with its times in UTC. extra receives the row's
// columns after leadColumns, if the query has more.
func (s *leadScan) scan(row db.Row, extra ...any) (Lead, error) {
	s.l = Lead{}
	dest := s.dest
	if len(extra) > 0 {
		dest = append(dest[:len(dest):len(dest)], extra...)
	}
	if err := row.Scan(dest...); err != nil {
		return Lead{}, err // the callers say what they were reading
	}
	l := s.l
	strs := new([len(s.text)]string)
	for i, p := range [len(s.text)]**string{&l.FirstName, &l.LastName, &l.Name, &l.Email, &l.Phone, &l.Company,
		&l.Website, &l.Domain, &l.Title, &l.ProfileLink, &l.Source, &l.Notes, &l.StageReason, &l.RecommendedPath,
		&l.RevenueBand} {
		if s.text[i].Valid {
			strs[i] = s.text[i].String
			*p = &strs[i]
		}
	}
	if s.score.Valid {
		n := int(s.score.Int32)
		l.Score = &n
	}
	if s.icpMatch.Valid {
		b := s.icpMatch.Bool
		l.ICPMatch = &b
	}
	if s.lastActivity.Valid {
		t := s.lastActivity.Time
		l.LastActivityAt = &t
	}
	l.utc()
	return l, nil
}

// queueGetLead queues the read of the org's live lead id into out; found reports whether there
// is one. A missing lead is not an error of the batch (pgx would forget the batch's prepared
// statements after one).
func queueGetLead(b *db.Batch, orgID, id uuid.UUID, out *Lead, found *bool) {
	b.Row(func(row db.Row) error {
		l, err := newLeadScan().scan(row)
		if err != nil {
			return fmt.Errorf("get lead: %w", err)
		}
		*out, *found = l, true
		return nil
	}, getLeadSQL, db.UUID(orgID), db.UUID(id))
}

// insertLead inserts l unless a live lead of the org has its fingerprint (insertLeadSQL) and
// returns the stored lead and whether it was inserted.
func insertLead(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, l Lead) (Lead, bool, error) {
	out, ok, err := db.Get[Lead](ctx, tx, insertLeadSQL,
		orgID, l.FirstName, l.LastName, l.Name, l.Email, l.Phone, l.Company, l.Website,
		l.Domain, l.Title, l.ProfileLink, l.Source, l.Notes, l.Extra, string(l.Priority), l.Fingerprint)
	if err != nil {
		return Lead{}, false, fmt.Errorf("insert lead: %w", err)
	}
	if !ok {
		return Lead{}, false, nil
	}
	out.utc()
	return out, true, nil
}

// liveLeadWithFingerprint returns the id of the org's live lead with fingerprint fp.
func liveLeadWithFingerprint(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, fp string) (uuid.UUID, bool, error) {
	id, ok, err := db.Get[uuid.UUID](ctx, tx, liveLeadByFingerprintSQL, orgID, fp)
	if err != nil {
		return uuid.Nil, false, fmt.Errorf("find lead by fingerprint: %w", err)
	}
	return id, ok, nil
}

// getLead returns the org's live lead id; forUpdate locks its row until the transaction ends,
// so that changes of one lead serialise. A missing or deleted lead is apperr.NotFound.
func getLead(ctx context.Context, tx *gorm.DB, orgID, id uuid.UUID, forUpdate bool) (Lead, error) {
	q := getLeadAnySQL
	if forUpdate {
		q = getLeadForUpdateSQL
	}
	type row struct {
		Lead
		Deleted bool `gorm:"column:deleted"`
	}
	out, ok, err := db.Get[row](ctx, tx, q, orgID, id)
	if err != nil {
		return Lead{}, fmt.Errorf("get lead: %w", err)
	}
	if !ok || out.Deleted {
		return Lead{}, notFound(id)
	}
	out.utc()
	return out.Lead, nil
}

// leadExists reports whether the org has a lead id, live or soft-deleted.
func leadExists(ctx context.Context, tx *gorm.DB, orgID, id uuid.UUID) (bool, error) {
	ok, _, err := db.Get[bool](ctx, tx, leadExistsSQL, orgID, id)
	if err != nil {
		return false, fmt.Errorf("find lead: %w", err)
	}
	return ok, nil
}

// updateContact writes the editable fields of l (contact data, extra, priority and the derived
// fingerprint) and moves the version on by one.
func updateContact(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, l Lead) (Lead, error) {
	out, ok, err := db.Get[Lead](ctx, tx, updateContactSQL, orgID, l.ID,
		l.FirstName, l.LastName, l.Name, l.Email, l.Phone, l.Company,
		l.Website, l.Domain, l.Title, l.ProfileLink, l.Source, l.Notes, l.Extra, string(l.Priority),
		l.Fingerprint)
	if err != nil {
		return Lead{}, fmt.Errorf("update lead: %w", err)
	}
	if !ok {
		return Lead{}, notFound(l.ID)
	}
	out.utc()
	return out, nil
}

// softDelete marks the live lead deleted and returns it as it was; a missing or already deleted
// lead is apperr.NotFound. The row lock of the UPDATE serialises it with other changes.
func softDelete(ctx context.Context, tx *gorm.DB, orgID, id uuid.UUID) (Lead, error) {
	out, ok, err := db.Get[Lead](ctx, tx, softDeleteSQL, orgID, id)
	if err != nil {
		return Lead{}, fmt.Errorf("delete lead: %w", err)
	}
	if !ok {
		return Lead{}, notFound(id)
	}
	out.utc()
	return out, nil
}

// touchActivity moves the live lead's last_activity_at forward to at (never backward), locking
// its row, and returns the row record of the change (the lead's last_activity_at after it). A
// missing or deleted lead is apperr.NotFound.
func touchActivity(ctx context.Context, tx *gorm.DB, orgID, id uuid.UUID, at time.Time) (Row, error) {
	last, ok, err := db.Get[time.Time](ctx, tx, touchActivitySQL, orgID, id, at)
	if err != nil {
		return Row{}, fmt.Errorf("touch lead activity: %w", err)
	}
	if !ok {
		return Row{}, notFound(id)
	}
	return rowSet(map[string]any{"lastActivityAt": last.UTC()})
}

func insertActivity(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, a Activity) (Activity, error) {
	out, _, err := db.Get[Activity](ctx, tx, insertActivitySQL,
		orgID, a.LeadID, string(a.Kind), a.Subject, a.Body, a.OccurredAt, a.CreatedBy)
	if err != nil {
		return Activity{}, fmt.Errorf("insert lead activity: %w", err)
	}
	out.utc()
	return out, nil
}

// keysets are the orders of List, by sort. The score orders put NULL (unscored) below every
// score: NULLS FIRST ascending, NULLS LAST descending.
var keysets = func() map[Sort]page.Keyset[Lead] {
	id := page.UUID("id", "i", func(l Lead) uuid.UUID { return l.ID })
	created := page.Time("created_at", "t", func(l Lead) time.Time { return l.CreatedAt })
	updated := page.Time("updated_at", "t", func(l Lead) time.Time { return l.UpdatedAt })
	score := page.NullInt("score", "n", func(l Lead) *int { return l.Score })
	return page.Sorts(map[Sort]page.Keyset[Lead]{
		SortCreatedAsc:  page.Asc(created, id),
		SortCreatedDesc: page.Desc(created, id),
		SortUpdatedAsc:  page.Asc(updated, id),
		SortUpdatedDesc: page.Desc(updated, id),
		SortScoreAsc:    page.Asc(score, id),
		SortScoreDesc:   page.Desc(score, id),
	})
}()

// listLeadsSQL is the statement that reads up to f.Page.Limit+1 live leads after the cursor:
// listLeadsHead and f's filters.
func listLeadsSQL(orgID uuid.UUID, f ListFilter) (string, []any, error) {
	ks, ok := keysets[f.Sort]
	if !ok {
		return "", nil, apperr.Errorf(apperr.BadRequest, "unknown sort %q", f.Sort)
	}
	var b strings.Builder
	a := db.Args{db.UUID(orgID)}
	b.WriteString(listLeadsHead)
	if f.Stage != "" {
		b.WriteString(` AND stage = ` + a.Add(string(f.Stage)))
	}
	if f.Q != "" {
		b.WriteString(` AND ` + searchCondition + `(` + a.Add(f.Q) + `::text)`)
	}
	if f.MinScore != nil {
		b.WriteString(` AND score >= ` + a.Add(*f.MinScore))
	}
	tail, err := ks.Tail(f.Page.Cursor, f.Page.Limit, &a)
	if err != nil {
		return "", nil, err
	}
	return b.String() + tail, a, nil
}

// queueListLeads queues the read of a page of leads (listLeadsSQL) into out.
func queueListLeads(b *db.Batch, q string, args []any, search bool, out *[]Lead) {
	if search {
		b.Exec(customPlanSQL)
	}
	ls := newLeadScan()
	b.Rows(func(row db.Row) error {
		l, err := ls.scan(row)
		if err != nil {
			return fmt.Errorf("list leads: %w", err)
		}
		*out = append(*out, l)
		return nil
	}, q, args...)
}

// activityKeyset is the order of a lead's activities: newest first.
var activityKeyset = page.Desc(
	page.Time("occurred_at", "t", func(a Activity) time.Time { return a.OccurredAt }),
	page.UUID("id", "i", func(a Activity) uuid.UUID { return a.ID }))

// listActivities returns up to limit+1 activities of the lead, newest first.
func listActivities(ctx context.Context, tx *gorm.DB, orgID, leadID uuid.UUID, p page.Request) ([]Activity, error) {
	args := db.Args{orgID, leadID}
	tail, err := activityKeyset.Tail(p.Cursor, p.Limit, &args)
	if err != nil {
		return nil, err
	}
	out, err := db.Select[Activity](ctx, tx, listActivitiesHead+tail, args...)
	if err != nil {
		return nil, fmt.Errorf("list lead activities: %w", err)
	}
	for i := range out {
		out[i].utc()
	}
	return out, nil
}

// Event is one entry of a lead's history: an events row about the lead.
type Event struct {
	ID         int64     `json:"id" gorm:"column:id"`
	Type       string    `json:"type" gorm:"column:type"`
	EntityType string    `json:"entityType" gorm:"column:entity_type"`
	EntityID   uuid.UUID `json:"entityId" gorm:"column:entity_id"`
	Payload    Doc       `json:"payload" gorm:"column:payload"`
	Actor      string    `json:"actor" gorm:"column:actor"`
	OccurredAt time.Time `json:"occurredAt" gorm:"column:occurred_at"`
}

// eventKeyset is the order of a lead's history: oldest first.
var eventKeyset = page.Asc(page.Serial("id", "i", func(e Event) int64 { return e.ID }))

// listEvents returns up to limit+1 events about the lead, oldest first.
func listEvents(ctx context.Context, tx *gorm.DB, orgID, leadID uuid.UUID, p page.Request) ([]Event, error) {
	args := db.Args{orgID, EntityType, leadID}
	tail, err := eventKeyset.Tail(p.Cursor, p.Limit, &args)
	if err != nil {
		return nil, err
	}
	out, err := db.Select[Event](ctx, tx, listEventsHead+tail, args...)
	if err != nil {
		return nil, fmt.Errorf("list lead events: %w", err)
	}
	for i := range out {
		out[i].OccurredAt = out[i].OccurredAt.UTC()
	}
	return out, nil
}

// addActivity adds one system activity (AddActivities of one); nil when its dedup key existed.
func addActivity(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, a SystemActivity) (*Activity, error) {
	added, err := AddActivities(ctx, tx, orgID, []SystemActivity{a})
	if err != nil {
		return nil, err
	}
	return added[0], nil
}

// raiseGhostRisk raises the ghost risk of the lead id, which the transaction has locked and seen
// live, by step and returns the new value and the lead's updated_at after the write.
func raiseGhostRisk(ctx context.Context, tx *gorm.DB, orgID, id uuid.UUID, step int) (int, time.Time, error) {
	type raised struct {
		GhostRisk int       `gorm:"column:ghost_risk"`
		UpdatedAt time.Time `gorm:"column:updated_at"`
	}
	out, _, err := db.Get[raised](ctx, tx, raiseGhostRiskSQL, orgID, id, step)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("raise lead ghost risk: %w", err)
	}
	return out.GhostRisk, out.UpdatedAt.UTC(), nil
}

// inSavepoint runs fn after a savepoint of tx and rolls back to it when fn fails, so that a
// failed statement (a unique violation, say) leaves the transaction usable.
func inSavepoint(ctx context.Context, tx *gorm.DB, fn func() error) error {
	if _, err := db.Exec(ctx, tx, savepointSQL); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	err := fn()
	if err == nil {
		return nil
	}
	if _, rerr := db.Exec(ctx, tx, rollbackToSavepointSQL); rerr != nil {
		return errors.Join(err, fmt.Errorf("roll back to savepoint: %w", rerr))
	}
	return err
}
