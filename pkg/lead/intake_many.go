package lead

// The batch form of ProcessIntakeTx: many raw intake rows of one org in one transaction, with
// one statement per step for the common case (a batch of the process_intake kind).

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
)

// ProcessIntakeMany is ProcessIntakeTx for the raw intake rows ids of orgID at once, inside the
// caller's tenant transaction tx, and returns the result of each id in order. The common case,
// a pending delivery that makes a new lead, takes three statements for the whole batch: one
// locks and reads the rows, one inserts their leads and marks the rows processed, one emits
// every lead.created. Every other row (no longer pending, rejected, or repeating a live lead,
// also one that another delivery of the batch made) then goes through ProcessIntakeTx in the
// same transaction, so it gets exactly what it gets alone. Of two deliveries of one person in a
// batch, the one first in ids makes the lead and the other is its touchpoint, as one at a time in
// that order. Before the first touchpoint, the live leads that the remaining rows repeat are
// locked in the order of their ids (lockLiveLeadsByFingerprint), so that the batch takes its
// locks on leads in the order every batch of the pipeline takes them. A missing raw row is
// apperr.NotFound, as in ProcessIntakeTx; an id named twice is refused.
func (s *Service) ProcessIntakeMany(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, ids []uuid.UUID) ([]IntakeResult, error) {
	seen := make(map[uuid.UUID]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return nil, fmt.Errorf("process intake: raw row %s is named twice", id)
		}
		seen[id] = true
	}
	raws, err := lockRawIntakes(ctx, tx, orgID, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[uuid.UUID]rawIntake, len(raws))
	for _, r := range raws {
		byID[r.ID] = r
	}
	var news []intakeLead
	for _, id := range ids {
		raw, ok := byID[id]
		if !ok || raw.Status != string(IntakePending) {
			continue
		}
		if l, _, reason := buildIntakeLead(raw, raw.FieldMapping); reason == "" {
			news = append(news, intakeLead{lead: l, sourceID: raw.SourceID, intakeID: raw.ID})
		}
	}
	stored, err := insertIntakeLeads(ctx, tx, orgID, news)
	if err != nil {
		return nil, err
	}
	out := make([]IntakeResult, len(ids))
	done := make([]bool, len(ids))
	var evs []events.NewEvent
	for i, id := range ids {
		l, ok := stored[id]
		if !ok {
			continue
		}
		out[i], done[i] = IntakeResult{Status: IntakeProcessed, LeadID: &l.ID}, true
		evs = append(evs, leadEvent(orgID, IntakeActor, EventCreated, l.ID, "lead.created:"+l.ID.String(),
			CreatedPayload{Via: ViaIntake, Lead: l}))
	}
	if _, err := s.emitter.EmitAll(ctx, tx, evs...); err != nil {
		return nil, err
	}
	var repeated []string
	for _, in := range news {
		if _, ok := stored[in.intakeID]; !ok {
			repeated = append(repeated, in.lead.Fingerprint)
		}
	}
	if err := lockLiveLeadsByFingerprint(ctx, tx, orgID, repeated); err != nil {
		return nil, err
	}
	for i, id := range ids {
		if done[i] {
			continue
		}
		if out[i], err = s.ProcessIntakeTx(ctx, tx, orgID, id); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// lockRawIntakesSQL locks and reads raw intake rows of an org ($1) by id ($2), each with its
// source's field mapping, in the order of $2. As lockPipelineLeadsSQL, it looks each id up on
// its own, so the plan is a primary-key probe per row whatever the statistics say, and takes the
// ids through a scalar subquery, so that the plan cache keeps the generic plan.
const lockRawIntakesSQL = `SELECT r.* FROM unnest((SELECT $2::uuid[])) AS k(id)
CROSS JOIN LATERAL (
    SELECT r.id, r.source_id, r.content_type, r.body, r.status, r.lead_id, r.reject_reason, r.received_at,
        s.field_mapping
    FROM lead_intake_raw r LEFT JOIN intake_sources s ON s.org_id = r.org_id AND s.id = r.source_id
    WHERE r.org_id = $1 AND r.id = k.id
    OFFSET 0
    FOR UPDATE OF r
) r`

// lockRawIntakes reads and locks the org's raw intake rows ids that exist, in the order of the
// primary key, each once.
func lockRawIntakes(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, ids []uuid.UUID) ([]rawIntake, error) {
	return queryAll[rawIntake](ctx, tx, "lock raw intake", lockRawIntakesSQL, orgID.String(), keyOrder(ids))
}

// lockLiveLeadsSQL locks the org's ($1) live leads with the fingerprints $2 in the order of
// their ids (LockRows above the Sort, so the rows are locked in that order), each found by a
// probe of leads_org_id_fingerprint_key.
const lockLiveLeadsSQL = `SELECT count(*) FROM (
    SELECT id FROM leads
    WHERE org_id = $1 AND fingerprint = ANY($2::text[]) AND deleted_at IS NULL
    ORDER BY id
    FOR UPDATE
) l`

// lockLiveLeadsByFingerprint locks the org's live leads with the fingerprints fps (FOR UPDATE),
// in the order of their ids, as the batches of the lead pipeline lock theirs
// (lockPipelineLeads). ProcessIntakeMany takes these locks after its new leads are in and before
// it adds any touchpoint: a touchpoint locks its lead (the activity's foreign key, then the
// update of last_activity_at), and a batch that did so lead by lead, in the order of its raw
// rows, deadlocked with batches that lock the same leads in id order — another batch of
// deliveries repeating them, or one of enrich_lead, qualify_lead or route_outreach.
func lockLiveLeadsByFingerprint(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, fps []string) error {
	if len(fps) == 0 {
		return nil
	}
	slices.Sort(fps)
	var n int
	if err := db.Conn(tx).QueryRowContext(ctx, lockLiveLeadsSQL, orgID.String(), slices.Compact(fps)).Scan(&n); err != nil {
		return fmt.Errorf("lock repeated leads: %w", err)
	}
	return nil
}

// intakeLead is a lead to insert from the raw intake row intakeID of the source sourceID.
type intakeLead struct {
	lead     Lead
	sourceID *uuid.UUID
	intakeID uuid.UUID
}

// insertIntakeLeadsSQL inserts leads of an org ($1) from parallel arrays ($2..$18, one element
// per lead), each unless a live lead of the org has its fingerprint (ON CONFLICT on
// leads_org_id_fingerprint_key, R3), and marks the raw row of each lead it inserts processed
// with that lead, in one statement. It returns the inserted leads with their raw row's id and
// the number of raw rows marked. The rows go in in fingerprint order, so two transactions that
// insert overlapping people wait on each other in one order and cannot deadlock; of two rows of
// one fingerprint, the first in $2 goes in. The raw rows are found by a primary-key probe each
// and reached by their tuple ids (see storeLeadWritesSQL).
const insertIntakeLeadsSQL = `WITH input AS (
    SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
        $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
        $17::uuid[], $18::uuid[]) WITH ORDINALITY
    AS i(first_name, last_name, name, email, phone, company, website, domain, title, profile_link, source, notes,
        extra, priority, fingerprint, source_id, intake_id, ord)
), l AS (
    INSERT INTO leads (org_id, first_name, last_name, name, email, phone, company, website,
        domain, title, profile_link, source, notes, extra, priority, fingerprint, source_id, intake_id)
    SELECT $1, first_name, last_name, name, email, phone, company, website,
        domain, title, profile_link, source, notes, extra::jsonb, priority, fingerprint, source_id, intake_id
    FROM input ORDER BY fingerprint, ord
    ON CONFLICT (org_id, fingerprint) WHERE deleted_at IS NULL DO NOTHING
    RETURNING ` + leadColumns + `, intake_id
), r AS (
    UPDATE lead_intake_raw raw SET status = 'processed', lead_id = x.id, fingerprint = x.fingerprint,
        reject_reason = NULL, processed_at = now()
    FROM (
        SELECT l.id, l.fingerprint, t.ct FROM l CROSS JOIN LATERAL (
            SELECT ctid AS ct FROM lead_intake_raw WHERE org_id = $1 AND id = l.intake_id OFFSET 0
        ) t
    ) x
    WHERE raw.ctid = x.ct
    RETURNING 1
)
SELECT l.*, (SELECT count(*) FROM r) AS marked FROM l`

// insertIntakeLeads inserts the leads news (see insertIntakeLeadsSQL) and returns those it
// inserted by their raw row's id. The caller holds the lock of every raw row and has seen them
// pending.
func insertIntakeLeads(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, news []intakeLead) (map[uuid.UUID]Lead, error) {
	out := make(map[uuid.UUID]Lead, len(news))
	if len(news) == 0 {
		return out, nil
	}
	n := len(news)
	type insertedRow struct {
		Lead
		IntakeID uuid.UUID `gorm:"column:intake_id"`
		Marked   int       `gorm:"column:marked"`
	}
	rows, err := queryAll[insertedRow](ctx, tx, fmt.Sprintf("insert %d intake leads", n), insertIntakeLeadsSQL, insertIntakeLeadsArgs(orgID, news)...)
	if err != nil {
		return nil, err
	}
	marked := 0
	for _, row := range rows {
		row.utc()
		out[row.IntakeID], marked = row.Lead, row.Marked
	}
	if marked != len(out) {
		return nil, fmt.Errorf("mark raw intake %s: %d of %d rows found", IntakeProcessed, marked, len(out))
	}
	return out, nil
}

// insertIntakeLeadsArgs returns the parameters of insertIntakeLeadsSQL for news of orgID.
func insertIntakeLeadsArgs(orgID uuid.UUID, news []intakeLead) []any {
	n := len(news)
	cols := make([][]*string, 13)
	for c := range cols {
		cols[c] = make([]*string, n)
	}
	priority, fingerprint, sourceID, intakeID := make([]string, n), make([]string, n), make([]*string, n), make([]string, n)
	for i, in := range news {
		l := in.lead
		for c, v := range []*string{l.FirstName, l.LastName, l.Name, l.Email, l.Phone, l.Company, l.Website,
			l.Domain, l.Title, l.ProfileLink, l.Source, l.Notes} {
			cols[c][i] = v
		}
		if len(l.Extra) > 0 {
			extra := string(l.Extra)
			cols[12][i] = &extra
		}
		priority[i], fingerprint[i], intakeID[i] = string(l.Priority), l.Fingerprint, in.intakeID.String()
		if in.sourceID != nil {
			id := in.sourceID.String()
			sourceID[i] = &id
		}
	}
	args := []any{orgID.String()}
	for _, c := range cols {
		args = append(args, c)
	}
	return append(args, priority, fingerprint, sourceID, intakeID)
}
