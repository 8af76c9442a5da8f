package lead

// The lead side of intake (pkg/intake turns stored deliveries into submissions): a submission
// becomes a new lead, or a touchpoint on the live lead of the org it repeats.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
)

// ViaIntake marks, in lead.created's payload, a lead created from an intake delivery.
const ViaIntake = "intake"

// TouchpointSubject is the subject of the touchpoint activity a repeated submission adds.
const TouchpointSubject = "Submitted again through intake"

// Submission is a lead submitted through intake: its contact data, normalised (Normalize) and
// checked (CheckContact) by the caller, its extra fields (EncodeExtra), and where it came from.
type Submission struct {
	Contact    Contact
	Extra      Doc
	SourceID   *uuid.UUID
	IntakeID   uuid.UUID
	ReceivedAt time.Time
}

// Admitted is what Admit made of a Submission.
type Admitted struct {
	// LeadID is the lead created (Created) or repeated.
	LeadID uuid.UUID
	// Created is true for a new lead, false for a touchpoint on the live lead LeadID.
	Created bool
	// Fingerprint is the submission's dedup key.
	Fingerprint string
}

// TouchpointPayload is the payload of the touchpoint activity that a repeated submission adds to
// the lead it repeats: where it came from and the contact data it carried (normalised, empty
// fields left out).
type TouchpointPayload struct {
	IntakeID  uuid.UUID         `json:"intakeId"`
	SourceID  *uuid.UUID        `json:"sourceId"`
	Submitted map[string]string `json:"submitted"`
}

// intakeLead is a lead to insert from the submission of the raw intake row intakeID.
type intakeLead struct {
	lead       Lead
	contact    Contact
	sourceID   *uuid.UUID
	intakeID   uuid.UUID
	receivedAt time.Time
}

// Admit makes a lead of each submission of orgID, in the caller's tenant transaction tx, with
// actor as the events' actor, and returns what it made of each, in order:
//
//   - a submission whose fingerprint (FingerprintOf) no live lead of the org has becomes a lead
//     (priority normal, with its source and raw row), and lead.created ("lead.created:<lead id>",
//     Via ViaIntake) is emitted, which enqueues enrich_lead and qualify_lead;
//   - one that repeats a live lead adds a touchpoint activity to it (dedup key
//     "intake:<intake id>", so a rerun adds none), moves its last_activity_at on to the
//     submission's time and emits lead.activity_added.
//
// The common case takes two statements for all the submissions: one inserts every new lead
// (INSERT ... ON CONFLICT on leads_org_id_fingerprint_key decides, so concurrent submissions of
// one person make one lead), one emits every lead.created. Of two submissions of one person the
// first makes the lead and the second is its touchpoint. Before the first touchpoint, the live
// leads that the remaining submissions repeat are locked in the order of their ids, as every
// batch of the pipeline locks its leads (LockLive). Two submissions of one raw row are refused.
func (s *Service) Admit(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, actor string, subs []Submission) ([]Admitted, error) {
	news := make([]intakeLead, len(subs))
	seen := make(map[uuid.UUID]bool, len(subs))
	for i, sub := range subs {
		if seen[sub.IntakeID] {
			return nil, fmt.Errorf("admit: raw row %s is named twice", sub.IntakeID)
		}
		seen[sub.IntakeID] = true
		l := Lead{Extra: sub.Extra, Priority: PriorityNormal, Fingerprint: FingerprintOf(sub.Contact)}
		l.setContact(sub.Contact)
		news[i] = intakeLead{lead: l, contact: sub.Contact, sourceID: sub.SourceID, intakeID: sub.IntakeID, receivedAt: sub.ReceivedAt}
	}
	stored, err := insertIntakeLeads(ctx, tx, orgID, news)
	if err != nil {
		return nil, err
	}
	out := make([]Admitted, len(subs))
	var created []events.NewEvent
	var repeated []string
	for i, in := range news {
		l, ok := stored[in.intakeID]
		if !ok {
			repeated = append(repeated, in.lead.Fingerprint)
			continue
		}
		out[i] = Admitted{LeadID: l.ID, Created: true, Fingerprint: l.Fingerprint}
		created = append(created, createdEvent(orgID, actor, l))
	}
	if _, err := s.emitter.EmitAll(ctx, tx, created...); err != nil {
		return nil, err
	}
	if err := lockLiveLeadsByFingerprint(ctx, tx, orgID, repeated); err != nil {
		return nil, err
	}
	for i, in := range news {
		if _, ok := stored[in.intakeID]; ok {
			continue
		}
		if out[i], err = s.admitRepeated(ctx, tx, orgID, actor, in); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func createdEvent(orgID uuid.UUID, actor string, l Lead) events.NewEvent {
	return NewEvent(orgID, actor, EventCreated, l.ID, "lead.created:"+l.ID.String(), WithRow(CreatedPayload{Via: ViaIntake, Lead: l}, createdRow))
}

// admitRepeated admits a submission that Admit's insert found repeating a live lead: a
// touchpoint on that lead. A conflicting lead may be deleted between the insert and the look-up;
// then the insert is tried again (as Create does). Each further round needs another concurrent
// delete.
func (s *Service) admitRepeated(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, actor string, in intakeLead) (Admitted, error) {
	for range 3 {
		existing, found, err := liveLeadWithFingerprint(ctx, tx, orgID, in.lead.Fingerprint)
		if err != nil {
			return Admitted{}, err
		}
		if found {
			return Admitted{LeadID: existing, Fingerprint: in.lead.Fingerprint}, s.addTouchpoint(ctx, tx, orgID, actor, existing, in)
		}
		stored, err := insertIntakeLeads(ctx, tx, orgID, []intakeLead{in})
		if err != nil {
			return Admitted{}, err
		}
		if l, ok := stored[in.intakeID]; ok {
			_, err := s.emitter.EmitAll(ctx, tx, createdEvent(orgID, actor, l))
			return Admitted{LeadID: l.ID, Created: true, Fingerprint: l.Fingerprint}, err
		}
	}
	return Admitted{}, fmt.Errorf("admit raw row %s: the matching lead was deleted concurrently; retry", in.intakeID)
}

// addTouchpoint records the repeated submission in as a touchpoint on the live lead leadID, once
// per raw row (dedup key "intake:<raw id>"), moves the lead's last_activity_at on to the
// submission's time and emits lead.activity_added. A touchpoint recorded before adds nothing.
func (s *Service) addTouchpoint(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, actor string, leadID uuid.UUID, in intakeLead) error {
	payload, err := json.Marshal(TouchpointPayload{IntakeID: in.intakeID, SourceID: in.sourceID, Submitted: submitted(in.contact)})
	if err != nil {
		return fmt.Errorf("encode touchpoint: %w", err)
	}
	a, err := addActivity(ctx, tx, orgID, SystemActivity{
		LeadID: leadID, Kind: ActivityTouchpoint, Subject: TouchpointSubject, Payload: payload,
		OccurredAt: in.receivedAt.UTC(), CreatedBy: actor, DedupKey: "intake:" + in.intakeID.String(),
	})
	if err != nil || a == nil {
		return err
	}
	touched, err := touchActivity(ctx, tx, orgID, leadID, a.OccurredAt)
	if err != nil {
		return err
	}
	return s.emit(ctx, tx, orgID, actor, EventActivityAdded, leadID, "lead.activity_added:"+a.ID.String(),
		WithRow(ActivityAddedPayload{ActivityID: a.ID, Kind: a.Kind, Subject: a.Subject, OccurredAt: a.OccurredAt}, touched))
}

// submitted lists a contact's non-empty fields by their API names.
func submitted(c Contact) map[string]string {
	out := map[string]string{}
	for k, v := range map[string]string{
		"email": c.Email, "name": c.Name, "firstName": c.FirstName, "lastName": c.LastName, "company": c.Company,
		"website": c.Website, "domain": c.Domain, "title": c.Title, "phone": c.Phone, "profileLink": c.ProfileLink,
		"source": c.Source, "notes": c.Notes,
	} {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

// lockLiveLeadsByFingerprint locks the org's live leads with the fingerprints fps (FOR UPDATE), in
// the order of their ids, as the batches of the lead pipeline lock theirs (LockLive). Admit takes
// these locks after its new leads are in and before it adds any touchpoint: a touchpoint locks its
// lead (the activity's foreign key, then the update of last_activity_at), and a batch that did so
// lead by lead, in the order of its submissions, would deadlock with batches that lock the same
// leads in id order — another batch of deliveries repeating them, or one of enrich_lead,
// qualify_lead or route_outreach.
func lockLiveLeadsByFingerprint(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, fps []string) error {
	if len(fps) == 0 {
		return nil
	}
	slices.Sort(fps)
	if _, _, err := db.Get[int](ctx, tx, lockLiveLeadsSQL, orgID.String(), slices.Compact(fps)); err != nil {
		return fmt.Errorf("lock repeated leads: %w", err)
	}
	return nil
}

// insertIntakeLeads inserts the leads news (see insertIntakeLeadsSQL) and returns those it
// inserted by their raw row's id.
func insertIntakeLeads(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, news []intakeLead) (map[uuid.UUID]Lead, error) {
	out := make(map[uuid.UUID]Lead, len(news))
	if len(news) == 0 {
		return out, nil
	}
	type insertedRow struct {
		Lead
		IntakeID uuid.UUID `gorm:"column:intake_id"`
	}
	rows, err := db.Select[insertedRow](ctx, tx, insertIntakeLeadsSQL, insertIntakeLeadsArgs(orgID, news)...)
	if err != nil {
		return nil, fmt.Errorf("insert %d intake leads: %w", len(news), err)
	}
	for _, row := range rows {
		row.utc()
		out[row.IntakeID] = row.Lead
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
