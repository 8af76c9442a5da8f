package lead

// The queries of the lead domain. Each filters org_id itself, under row-level security as a
// second guard. The writes take the gorm transaction they are given (a tenant transaction of
// db.Tx); the hot reads (one lead, a page of leads) are queued on a db.Batch that db.DB.Read
// sends with its tenant transaction in a single round trip. Statements are plain parameterised
// SQL over explicit column lists.

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

const leadColumns = `id, first_name, last_name, name, email, phone, company, website, domain, title,
	profile_link, source, notes, extra, stage, stage_reason, score, score_reasons, icp_match,
	recommended_path, priority, ghost_risk, revenue_band, enrichment, version, last_activity_at,
	stage_changed_at, created_at, updated_at, fingerprint`

const activityColumns = `id, lead_id, kind, subject, body, payload, occurred_at, created_by, created_at`

func notFound(id uuid.UUID) error { return apperr.Errorf(apperr.NotFound, "lead %s not found", id) }

// leadScan receives rows of leadColumns from pgx. It scans into types that pgx fills without
// reflection (pgtype values, byte arrays and slices) and then builds the Lead, with one
// allocation for all of its nullable strings: scanning into the Lead's own *string, *int and
// uuid.UUID fields cost a reflect.New per column and a detour through database/sql's value
// types, a third of the CPU of reading a page of leads.
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

// getLeadSQL reads the org's live lead by its primary key: the read of GET /leads/{id}.
const getLeadSQL = `SELECT ` + leadColumns + ` FROM leads WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL`

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

// insertLead inserts l unless a live lead of the org has its fingerprint: the unique index
// leads_org_id_fingerprint_key decides (R3), and a concurrent insert of the same fingerprint
// waits for this one. It returns the stored lead and whether it was inserted.
func insertLead(tx *gorm.DB, orgID uuid.UUID, l Lead) (Lead, bool, error) {
	var out Lead
	res := tx.Raw(`INSERT INTO leads (org_id, first_name, last_name, name, email, phone, company, website,
	domain, title, profile_link, source, notes, extra, priority, fingerprint)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?)
ON CONFLICT (org_id, fingerprint) WHERE deleted_at IS NULL DO NOTHING
RETURNING `+leadColumns,
		orgID, l.FirstName, l.LastName, l.Name, l.Email, l.Phone, l.Company, l.Website,
		l.Domain, l.Title, l.ProfileLink, l.Source, l.Notes, l.Extra, string(l.Priority), l.Fingerprint).Scan(&out)
	if res.Error != nil {
		return Lead{}, false, fmt.Errorf("insert lead: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return Lead{}, false, nil
	}
	out.utc()
	return out, true, nil
}

// liveLeadWithFingerprint returns the id of the org's live lead with fingerprint fp.
func liveLeadWithFingerprint(tx *gorm.DB, orgID uuid.UUID, fp string) (uuid.UUID, bool, error) {
	var ids []uuid.UUID
	err := tx.Raw(`SELECT id FROM leads WHERE org_id = ? AND fingerprint = ? AND deleted_at IS NULL`, orgID, fp).
		Scan(&ids).Error
	if err != nil {
		return uuid.Nil, false, fmt.Errorf("find lead by fingerprint: %w", err)
	}
	if len(ids) == 0 {
		return uuid.Nil, false, nil
	}
	return ids[0], true, nil
}

// getLead returns the org's live lead id; forUpdate locks its row until the transaction ends,
// so that changes of one lead serialise. A missing or deleted lead is apperr.NotFound. Like
// liveLeadSQL it finds the row by the primary key alone and checks deletion afterwards, so
// that no partial index is ever a candidate for the plan.
func getLead(tx *gorm.DB, orgID, id uuid.UUID, forUpdate bool) (Lead, error) {
	q := `SELECT ` + leadColumns + `, deleted_at IS NOT NULL AS deleted FROM leads WHERE org_id = ? AND id = ?`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var out struct {
		Lead
		Deleted bool `gorm:"column:deleted"`
	}
	res := tx.Raw(q, orgID, id).Scan(&out)
	if res.Error != nil {
		return Lead{}, fmt.Errorf("get lead: %w", res.Error)
	}
	if res.RowsAffected == 0 || out.Deleted {
		return Lead{}, notFound(id)
	}
	out.utc()
	return out.Lead, nil
}

// leadExists reports whether the org has a lead id, live or soft-deleted.
func leadExists(tx *gorm.DB, orgID, id uuid.UUID) (bool, error) {
	var ok bool
	if err := tx.Raw(`SELECT EXISTS (SELECT 1 FROM leads WHERE org_id = ? AND id = ?)`, orgID, id).Scan(&ok).Error; err != nil {
		return false, fmt.Errorf("find lead: %w", err)
	}
	return ok, nil
}

// updateContact writes the editable fields of l (contact data, extra, priority and the derived
// fingerprint) and moves the version on by one.
func updateContact(tx *gorm.DB, orgID uuid.UUID, l Lead) (Lead, error) {
	var out Lead
	res := tx.Raw(`UPDATE leads SET first_name = ?, last_name = ?, name = ?, email = ?, phone = ?, company = ?,
	website = ?, domain = ?, title = ?, profile_link = ?, source = ?, notes = ?, extra = ?::jsonb, priority = ?,
	fingerprint = ?, version = version + 1
WHERE org_id = ? AND id = ? AND deleted_at IS NULL
RETURNING `+leadColumns,
		l.FirstName, l.LastName, l.Name, l.Email, l.Phone, l.Company,
		l.Website, l.Domain, l.Title, l.ProfileLink, l.Source, l.Notes, l.Extra, string(l.Priority),
		l.Fingerprint, orgID, l.ID).Scan(&out)
	if res.Error != nil {
		return Lead{}, fmt.Errorf("update lead: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return Lead{}, notFound(l.ID)
	}
	out.utc()
	return out, nil
}

// softDelete marks the live lead deleted and returns it as it was; a missing or already deleted
// lead is apperr.NotFound. The row lock of the UPDATE serialises it with other changes.
func softDelete(tx *gorm.DB, orgID, id uuid.UUID) (Lead, error) {
	var out Lead
	res := tx.Raw(`UPDATE leads SET deleted_at = now() WHERE org_id = ? AND id = ? AND deleted_at IS NULL
RETURNING `+leadColumns, orgID, id).Scan(&out)
	if res.Error != nil {
		return Lead{}, fmt.Errorf("delete lead: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return Lead{}, notFound(id)
	}
	out.utc()
	return out, nil
}

// touchActivity moves the live lead's last_activity_at forward to at (never backward), locking
// its row. A missing or deleted lead is apperr.NotFound.
func touchActivity(tx *gorm.DB, orgID, id uuid.UUID, at time.Time) error {
	res := tx.Exec(`UPDATE leads SET last_activity_at = greatest(last_activity_at, ?::timestamptz)
WHERE org_id = ? AND id = ? AND deleted_at IS NULL`, at, orgID, id)
	if res.Error != nil {
		return fmt.Errorf("touch lead activity: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return notFound(id)
	}
	return nil
}

func insertActivity(tx *gorm.DB, orgID uuid.UUID, a Activity) (Activity, error) {
	var out Activity
	err := tx.Raw(`INSERT INTO lead_activities (org_id, lead_id, kind, subject, body, occurred_at, created_by)
VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING `+activityColumns,
		orgID, a.LeadID, string(a.Kind), a.Subject, a.Body, a.OccurredAt, a.CreatedBy).Scan(&out).Error
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

// customPlanSQL makes the searches of the transaction plan for their own words. A search's best
// plan depends on how common its words are (a rare word is read from the full-text index, a
// common one walks the sort order), and a generic plan of the prepared statement (which
// PostgreSQL may switch to after five runs) cannot know that.
const customPlanSQL = `SELECT set_config('plan_cache_mode', 'force_custom_plan', true)`

// searchCondition, followed by the parenthesised search text, is true for the leads that text
// finds: every word of it begins a word of the lead's name, company or email (migration 000007).
// The expression is the index's, so that the org-scoped full-text index answers it.
const searchCondition = `lead_search_document(name, email, company) @@ lead_search_query`

// listLeadsSQL is the statement that reads up to f.Page.Limit+1 live leads after the cursor. It
// reads the lead_list view (migration 000005), through which the search reaches the full-text
// index (000007) despite row-level security; the explicit org filter stays all the same.
func listLeadsSQL(orgID uuid.UUID, f ListFilter) (string, []any, error) {
	ks, ok := keysets[f.Sort]
	if !ok {
		return "", nil, apperr.Errorf(apperr.BadRequest, "unknown sort %q", f.Sort)
	}
	var b strings.Builder
	var a db.Args
	b.WriteString(`SELECT ` + leadColumns + ` FROM lead_list WHERE org_id = ` + a.Add(db.UUID(orgID)))
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
func listActivities(tx *gorm.DB, orgID, leadID uuid.UUID, p page.Request) ([]Activity, error) {
	args := db.Marks{orgID, leadID}
	tail, err := activityKeyset.Tail(p.Cursor, p.Limit, &args)
	if err != nil {
		return nil, err
	}
	q := `SELECT ` + activityColumns + ` FROM lead_activities WHERE org_id = ? AND lead_id = ?` + tail
	var out []Activity
	if err := tx.Raw(q, args...).Scan(&out).Error; err != nil {
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

// listEvents returns up to limit+1 events about the lead, oldest first (events_entity_idx).
func listEvents(tx *gorm.DB, orgID, leadID uuid.UUID, p page.Request) ([]Event, error) {
	args := db.Marks{orgID, EntityType, leadID}
	tail, err := eventKeyset.Tail(p.Cursor, p.Limit, &args)
	if err != nil {
		return nil, err
	}
	var out []Event
	err = tx.Raw(`SELECT id, type, entity_type, entity_id, payload, actor, occurred_at FROM events
WHERE org_id = ? AND entity_type = ? AND entity_id = ?`+tail, args...).Scan(&out).Error
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
// live, by step and returns the new value.
func raiseGhostRisk(tx *gorm.DB, orgID, id uuid.UUID, step int) (int, error) {
	var out int
	if err := tx.Raw(`UPDATE leads SET ghost_risk = ghost_risk + ? WHERE org_id = ? AND id = ? RETURNING ghost_risk`,
		step, orgID, id).Scan(&out).Error; err != nil {
		return 0, fmt.Errorf("raise lead ghost risk: %w", err)
	}
	return out, nil
}
