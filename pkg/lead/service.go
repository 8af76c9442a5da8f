package lead

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/page"
)

// Service holds the lead use cases. Each runs in one tenant transaction of the org it is given;
// every change emits its event in that transaction, with actor as the event's actor. The hot
// reads (Get, List) run in a read-only tenant transaction sent in one round trip (db.DB.Read).
type Service struct {
	db      *db.DB
	emitter *events.Emitter
	emit    events.EmitFunc
	// Now is the clock for checks of client-given times; nil is time.Now.
	Now func() time.Time
	// SweepChunk, when positive, is the fixed chunk size of both sweeps instead of one adapted
	// to the handle's pace, db.Pace (tests cross chunk boundaries with a few leads).
	SweepChunk int
	// HeapWalkLeads, when positive, is the number of live leads from which the auto-priority
	// sweep of an org walks the heap in page order (DefaultHeapWalkLeads when zero; negative
	// never), so that tests can sweep a few leads both ways.
	HeapWalkLeads int
}

// NewService returns the use cases on d, emitting through emitter.
func NewService(d *db.DB, emitter *events.Emitter) *Service {
	if d == nil || emitter == nil {
		panic("lead.NewService: nil dependency")
	}
	return &Service{db: d, emitter: emitter, emit: emitter.About(EntityType)}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// NewEvent is an event about a lead, for the use cases that emit several at once (EmitAll) and
// for the lead pipeline.
var NewEvent = events.Entity(EntityType).Event

// duplicate is the refusal of a lead whose fingerprint a live lead of the org already has.
func duplicate(existing uuid.UUID) error {
	return apperr.Errorf(apperr.Conflict, "a lead with the same email, domain and profile link already exists").
		With("existingLeadId", existing)
}

// Create stores a lead created by hand and emits lead.created (which enqueues enrichment and
// qualification, as for a lead from intake). The input is normalised with Normalize and
// deduplicated by FingerprintOf exactly as intake does. A live lead of the org with the
// same fingerprint makes it apperr.Conflict with Extra "existingLeadId", and nothing is written:
// the unique index leads_org_id_fingerprint_key decides, through INSERT ... ON CONFLICT, so two
// concurrent creates of one person give one lead. Input that breaks a rule is apperr.Invalid.
func (s *Service) Create(ctx context.Context, orgID uuid.UUID, actor string, in NewLead) (Lead, error) {
	c := Normalize(in.Contact)
	fields := CheckContact(in.Domain, c)
	extra, ferrs := EncodeExtra(in.Extra)
	fields = append(fields, ferrs...)
	priority := in.Priority
	if priority == "" {
		priority = PriorityNormal
	}
	if !priority.Valid() {
		fields = append(fields, apperr.FieldError{Field: "priority", Message: "must be one of: low, normal, high, urgent"})
	}
	if len(fields) > 0 {
		return Lead{}, apperr.Errorf(apperr.Invalid, "lead is invalid").WithFields(fields...)
	}
	l := Lead{Extra: extra, Priority: priority, Fingerprint: FingerprintOf(c)}
	l.setContact(c)

	var out Lead
	err := s.db.Tx(ctx, orgID, func(tx *gorm.DB) error {
		// A conflicting lead may be deleted between the insert and the look-up; then the insert
		// is tried again. Twice more is plenty: each round needs another concurrent delete.
		for range 3 {
			stored, inserted, err := insertLead(ctx, tx, orgID, l)
			if err != nil {
				return err
			}
			if inserted {
				out = stored
				return s.emit(ctx, tx, orgID, actor, EventCreated, stored.ID,
					"lead.created:"+stored.ID.String(), WithRow(CreatedPayload{Via: ViaAPI, Lead: stored}, createdRow))
			}
			existing, found, err := liveLeadWithFingerprint(ctx, tx, orgID, l.Fingerprint)
			if err != nil {
				return err
			}
			if found {
				return duplicate(existing)
			}
		}
		return apperr.Errorf(apperr.Conflict, "the lead was changed concurrently; retry")
	})
	if err != nil {
		return Lead{}, fmt.Errorf("create lead: %w", err)
	}
	return out, nil
}

// Get returns the org's live lead id; a missing, deleted or other org's lead is
// apperr.NotFound.
func (s *Service) Get(ctx context.Context, orgID, id uuid.UUID) (Lead, error) {
	var out Lead
	found := false
	err := s.db.Read(ctx, orgID, func(b *db.Batch) { queueGetLead(b, orgID, id, &out, &found) })
	if err != nil {
		return Lead{}, fmt.Errorf("get lead: %w", err)
	}
	if !found {
		return Lead{}, fmt.Errorf("get lead: %w", notFound(id))
	}
	return out, nil
}

// Update applies p to the live lead id (see Patch) and emits lead.updated with the changed
// fields; a patch that changes nothing writes nothing and returns the lead as it is. The row is
// locked for the change. p.Version, when given, must be the lead's version (else
// apperr.Conflict with Extra "currentVersion"). The domain is taken from p.Domain when given,
// else derived again when the website or email changes; names follow Normalize (a new
// full name alone is split again, a new first or last name alone is joined again). The
// fingerprint is recomputed: one that another live lead has is apperr.Conflict with Extra
// "existingLeadId". A result without email, phone and profile link is apperr.Invalid.
func (s *Service) Update(ctx context.Context, orgID uuid.UUID, actor string, id uuid.UUID, p Patch) (Lead, error) {
	var extra Doc
	if p.Extra != nil {
		var ferrs []apperr.FieldError
		if extra, ferrs = EncodeExtra(p.Extra); len(ferrs) > 0 {
			return Lead{}, apperr.Errorf(apperr.Invalid, "lead is invalid").WithFields(ferrs...)
		}
	}
	if p.Priority != nil && !p.Priority.Valid() {
		return Lead{}, apperr.Errorf(apperr.Invalid, "lead is invalid").
			WithFields(apperr.FieldError{Field: "priority", Message: "must be one of: low, normal, high, urgent"})
	}
	var out Lead
	err := s.db.Tx(ctx, orgID, func(tx *gorm.DB) error {
		cur, err := getLead(ctx, tx, orgID, id, true)
		if err != nil {
			return err
		}
		if p.Version != nil && *p.Version != cur.Version {
			return apperr.Errorf(apperr.Conflict, "lead %s is at version %d, not %d; reload it and retry", id, cur.Version, *p.Version).
				With("currentVersion", cur.Version)
		}
		in := applyPatch(cur.contact(), p)
		c := Normalize(in)
		if fields := CheckContact(str(p.Domain), c); len(fields) > 0 {
			return apperr.Errorf(apperr.Invalid, "lead is invalid").WithFields(fields...)
		}
		next := cur
		next.setContact(c)
		next.Fingerprint = FingerprintOf(c)
		if p.Extra != nil {
			next.Extra = extra
		}
		if p.Priority != nil {
			next.Priority = *p.Priority
		}
		changes := diff(cur, next)
		if len(changes) == 0 {
			out = cur
			return nil
		}
		// A savepoint, so that a fingerprint conflict leaves the transaction usable for the
		// look-up of the lead it conflicts with.
		err = inSavepoint(ctx, tx, func() error {
			var err error
			out, err = updateContact(ctx, tx, orgID, next)
			return err
		})
		if db.IsUniqueViolation(err) {
			existing, found, ferr := liveLeadWithFingerprint(ctx, tx, orgID, next.Fingerprint)
			if ferr != nil {
				return ferr
			}
			if found {
				return duplicate(existing)
			}
			return apperr.Errorf(apperr.Conflict, "the lead was changed concurrently; retry")
		}
		if err != nil {
			return err
		}
		row, err := rowOf(out, slices.Collect(maps.Keys(changes))...)
		if err != nil {
			return err
		}
		return s.emit(ctx, tx, orgID, actor, EventUpdated, id,
			fmt.Sprintf("lead.updated:%s:%d", id, out.Version), WithRow(UpdatedPayload{Version: out.Version, Changes: changes}, row))
	})
	if err != nil {
		return Lead{}, fmt.Errorf("update lead: %w", err)
	}
	return out, nil
}

// applyPatch returns the stored (normalised) contact c with p applied, ready for
// Normalize.
func applyPatch(c Contact, p Patch) Contact {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	switch {
	case p.Name != nil && p.FirstName == nil && p.LastName == nil:
		c.FirstName, c.LastName = "", "" // split the new full name again
	case p.Name == nil && (p.FirstName != nil || p.LastName != nil):
		c.Name = "" // join the new first and last name again
	}
	// The domain: as given, else derived again when the website or the email really changes.
	newWebsite := p.Website != nil && strings.TrimSpace(*p.Website) != c.Website
	newEmail := p.Email != nil && strings.ToLower(strings.TrimSpace(*p.Email)) != c.Email
	switch {
	case p.Domain != nil:
		c.Domain = *p.Domain
	case newWebsite || newEmail:
		c.Domain = ""
	}
	set(&c.FirstName, p.FirstName)
	set(&c.LastName, p.LastName)
	set(&c.Name, p.Name)
	set(&c.Email, p.Email)
	set(&c.Phone, p.Phone)
	set(&c.Company, p.Company)
	set(&c.Website, p.Website)
	set(&c.Title, p.Title)
	set(&c.ProfileLink, p.ProfileLink)
	set(&c.Source, p.Source)
	set(&c.Notes, p.Notes)
	return c
}

// Delete soft-deletes the live lead id (deleted_at) and emits lead.deleted. A missing or
// already deleted lead is apperr.NotFound. Its fingerprint is free again afterwards, and its
// history stays readable (History).
func (s *Service) Delete(ctx context.Context, orgID uuid.UUID, actor string, id uuid.UUID) error {
	err := s.db.Tx(ctx, orgID, func(tx *gorm.DB) error {
		l, err := softDelete(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		return s.emit(ctx, tx, orgID, actor, EventDeleted, id, "lead.deleted:"+id.String(),
			WithRow(DeletedPayload{Stage: l.Stage, Version: l.Version}, Row{Rev: RowRev}))
	})
	if err != nil {
		return fmt.Errorf("delete lead: %w", err)
	}
	return nil
}

// ChangeStage moves the live lead id to stage to, recording reason, and emits
// lead.stage_changed {from, to, reason, version}. The lead's row is locked before the move is
// checked, so concurrent changes of one lead serialise and each sees the stage the one before
// it left: of two moves out of one stage at most one can win. A move the stage machine does not
// allow (CanMove) is apperr.Conflict with Extra "currentStage" and "allowed" (the stages it may
// move to); an unknown stage is apperr.Invalid.
func (s *Service) ChangeStage(ctx context.Context, orgID uuid.UUID, actor string, id uuid.UUID, to Stage, reason string) (Lead, error) {
	if !to.Valid() {
		return Lead{}, apperr.Errorf(apperr.Invalid, "unknown stage %q", to).
			WithFields(apperr.FieldError{Field: "stage", Message: "must be a lead stage"})
	}
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > MaxReasonLen {
		return Lead{}, apperr.Errorf(apperr.Invalid, "reason is too long").
			WithFields(apperr.FieldError{Field: "reason", Message: fmt.Sprintf("must have at most %d characters", MaxReasonLen)})
	}
	var out Lead
	err := s.db.Tx(ctx, orgID, func(tx *gorm.DB) error {
		cur, err := getLead(ctx, tx, orgID, id, true)
		if err != nil {
			return err
		}
		if !CanMove(cur.Stage, to) {
			return apperr.Errorf(apperr.Conflict, "a lead in stage %s cannot move to %s", cur.Stage, to).
				With("currentStage", cur.Stage).With("allowed", Allowed(cur.Stage))
		}
		var row Row
		out, row, err = storeOne(ctx, tx, orgID, cur, Write{Stage: &to, Reason: ptr(reason)})
		if err != nil {
			return err
		}
		return s.emit(ctx, tx, orgID, actor, EventStageChanged, id,
			fmt.Sprintf("lead.stage_changed:%s:%d", id, out.Version),
			WithRow(StageChangedPayload{From: cur.Stage, To: to, Reason: ptr(reason), Version: out.Version}, row))
	})
	if err != nil {
		return Lead{}, fmt.Errorf("change lead stage: %w", err)
	}
	return out, nil
}

// AddActivity logs an activity on the live lead leadID, moves the lead's last_activity_at
// forward to its time, and emits lead.activity_added. Only LoggableKinds may be logged; it
// needs a subject or a body; OccurredAt (default now) may not be more than a minute in the
// future. A missing or deleted lead is apperr.NotFound.
func (s *Service) AddActivity(ctx context.Context, orgID uuid.UUID, actor string, leadID uuid.UUID, in NewActivity) (Activity, error) {
	subject, body := strings.TrimSpace(in.Subject), strings.TrimSpace(in.Body)
	var fields []apperr.FieldError
	if !in.Kind.Loggable() {
		fields = append(fields, apperr.FieldError{Field: "kind", Message: "must be one of: note, touchpoint, call, email, meeting, task"})
	}
	if subject == "" && body == "" {
		fields = append(fields, apperr.FieldError{Field: "body", Message: "a subject or a body is required"})
	}
	if utf8.RuneCountInString(subject) > MaxSubjectLen {
		fields = append(fields, apperr.FieldError{Field: "subject", Message: fmt.Sprintf("must have at most %d characters", MaxSubjectLen)})
	}
	if utf8.RuneCountInString(body) > MaxTextLen {
		fields = append(fields, apperr.FieldError{Field: "body", Message: fmt.Sprintf("must have at most %d characters", MaxTextLen)})
	}
	if in.OccurredAt != nil && in.OccurredAt.After(s.now().Add(maxFuture)) {
		fields = append(fields, apperr.FieldError{Field: "occurredAt", Message: "must not be in the future"})
	}
	if len(fields) > 0 {
		return Activity{}, apperr.Errorf(apperr.Invalid, "activity is invalid").WithFields(fields...)
	}
	var out Activity
	err := s.db.Tx(ctx, orgID, func(tx *gorm.DB) error {
		if _, err := getLead(ctx, tx, orgID, leadID, true); err != nil {
			return err
		}
		var err error
		out, err = insertActivity(ctx, tx, orgID, Activity{
			LeadID: leadID, Kind: in.Kind, Subject: ptr(subject), Body: ptr(body), OccurredAt: occurred(in.OccurredAt, s.now()),
			CreatedBy: ptr(actor),
		})
		if err != nil {
			return err
		}
		row, err := touchActivity(ctx, tx, orgID, leadID, out.OccurredAt)
		if err != nil {
			return err
		}
		return s.emit(ctx, tx, orgID, actor, EventActivityAdded, leadID, "lead.activity_added:"+out.ID.String(),
			WithRow(ActivityAddedPayload{ActivityID: out.ID, Kind: out.Kind, Subject: out.Subject, OccurredAt: out.OccurredAt}, row))
	})
	if err != nil {
		return Activity{}, fmt.Errorf("add lead activity: %w", err)
	}
	return out, nil
}

func occurred(at *time.Time, now time.Time) time.Time {
	if at != nil {
		return at.UTC()
	}
	return now.UTC()
}

// ListActivities returns a page of the live lead's activities, newest first (by occurredAt,
// then id). A missing or deleted lead is apperr.NotFound; a bad cursor apperr.BadRequest.
func (s *Service) ListActivities(ctx context.Context, orgID, leadID uuid.UUID, p page.Request) (page.Page[Activity], error) {
	if err := p.Check(); err != nil {
		return page.Page[Activity]{}, err
	}
	var out page.Page[Activity]
	err := s.db.Tx(ctx, orgID, func(tx *gorm.DB) error {
		if _, err := getLead(ctx, tx, orgID, leadID, false); err != nil {
			return err
		}
		rows, err := listActivities(ctx, tx, orgID, leadID, p)
		if err != nil {
			return err
		}
		out = activityKeyset.Page(rows, p.Limit)
		return nil
	})
	if err != nil {
		return page.Page[Activity]{}, fmt.Errorf("list lead activities: %w", err)
	}
	return out, nil
}

// History returns a page of every event about the lead (entity_type "lead"), oldest first. It
// stays readable after the lead is soft-deleted, as its audit trail; a lead the org never had is
// apperr.NotFound. Events are in id order, which for one lead is the order of its changes: each
// change emits while it holds the lead's row lock (or, for lead.created, before the lead is
// visible to anyone).
func (s *Service) History(ctx context.Context, orgID, leadID uuid.UUID, p page.Request) (page.Page[Event], error) {
	if err := p.Check(); err != nil {
		return page.Page[Event]{}, err
	}
	var out page.Page[Event]
	err := s.db.Tx(ctx, orgID, func(tx *gorm.DB) error {
		ok, err := leadExists(ctx, tx, orgID, leadID)
		if err != nil {
			return err
		}
		if !ok {
			return notFound(leadID)
		}
		rows, err := listEvents(ctx, tx, orgID, leadID, p)
		if err != nil {
			return err
		}
		out = eventKeyset.Page(rows, p.Limit)
		return nil
	})
	if err != nil {
		return page.Page[Event]{}, fmt.Errorf("lead history: %w", err)
	}
	return out, nil
}

// List returns a page of the org's live leads that pass f, in f.Sort order (see Sort). A bad
// stage, sort, search, minimum score or limit is apperr.BadRequest, as is a cursor of another
// list or sort.
func (s *Service) List(ctx context.Context, orgID uuid.UUID, f ListFilter) (page.Page[Lead], error) {
	if f.Sort == "" {
		f.Sort = SortDefault
	}
	f.Q = strings.TrimSpace(f.Q)
	if err := checkFilter(f); err != nil {
		return page.Page[Lead]{}, err
	}
	q, args, err := listLeadsSQL(orgID, f)
	if err != nil {
		return page.Page[Lead]{}, fmt.Errorf("list leads: %w", err)
	}
	rows := make([]Lead, 0, f.Page.Limit+1)
	if err := s.db.Read(ctx, orgID, func(b *db.Batch) { queueListLeads(b, q, args, f.Q != "", &rows) }); err != nil {
		return page.Page[Lead]{}, fmt.Errorf("list leads: %w", err)
	}
	return keysets[f.Sort].Page(rows, f.Page.Limit), nil
}
