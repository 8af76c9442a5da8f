package call

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/page"
)

// DefaultBuyingSignalThreshold is the buying-signal threshold of NewService when Options gives
// none (BUYING_SIGNAL_THRESHOLD's default).
const DefaultBuyingSignalThreshold = 75

// Options configure the analysis of a Service.
type Options struct {
	// Analyzer analyses completed calls; nil is Builtin.
	Analyzer Analyzer
	// BuyingSignalThreshold is the score (0..100) at or above which analysis emits
	// buying_signal.high; nil is DefaultBuyingSignalThreshold.
	BuyingSignalThreshold *int
}

// Service holds the call use cases. Each runs in one tenant transaction of the org it is given;
// every change emits its event in that transaction, with actor as the event's actor.
type Service struct {
	d         *db.DB
	emit      events.EmitFunc
	leads     *lead.Service
	analyzer  Analyzer
	threshold int
	// Now is the clock for the checks of client-given times; nil is time.Now.
	Now func() time.Time
}

// NewService returns the use cases on d, emitting through emitter, changing the calls' leads
// through leads. d, emitter and leads are required; a threshold outside 0..100 panics, as a
// constructor does with a bad dependency.
func NewService(d *db.DB, emitter *events.Emitter, leads *lead.Service, o Options) *Service {
	if d == nil || emitter == nil || leads == nil {
		panic("call.NewService: nil dependency")
	}
	s := &Service{d: d, emit: emitter.About(EntityType), leads: leads, analyzer: o.Analyzer, threshold: DefaultBuyingSignalThreshold}
	if s.analyzer == nil {
		s.analyzer = Builtin{}
	}
	if o.BuyingSignalThreshold != nil {
		if *o.BuyingSignalThreshold < 0 || *o.BuyingSignalThreshold > 100 {
			panic("call.NewService: buying signal threshold outside 0..100")
		}
		s.threshold = *o.BuyingSignalThreshold
	}
	return s
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func invalid(field, message string) error {
	return apperr.Errorf(apperr.Invalid, "call is invalid").WithFields(apperr.FieldError{Field: field, Message: message})
}

// Book books a call with the org's live lead b.LeadID at b.ScheduledAt, which must be in the
// future and at most MaxAhead ahead (else apperr.Invalid on scheduledAt), for
// b.DurationMinutes (1..MaxDurationMinutes, 0 is DefaultDurationMinutes). In one transaction it
// locks the lead, moves it to call_booked (lead.Service.BookCalls: a converted, lost or
// disqualified lead is apperr.Conflict with Extra "currentStage"; a missing, deleted or other
// org's lead apperr.NotFound), stores the call, adds its "call" activity on the lead and emits
// call.booked. A refusal writes nothing.
func (s *Service) Book(ctx context.Context, orgID uuid.UUID, actor string, b Booking) (Call, error) {
	now := s.now()
	switch {
	case b.LeadID == uuid.Nil:
		return Call{}, invalid("leadId", "is required")
	case b.ScheduledAt.IsZero():
		return Call{}, invalid("scheduledAt", "is required")
	case !b.ScheduledAt.After(now):
		return Call{}, invalid("scheduledAt", "must be in the future")
	case b.ScheduledAt.After(now.Add(MaxAhead)):
		return Call{}, invalid("scheduledAt", "must be at most 366 days ahead")
	}
	if b.DurationMinutes == 0 {
		b.DurationMinutes = DefaultDurationMinutes
	}
	if b.DurationMinutes < 1 || b.DurationMinutes > MaxDurationMinutes {
		return Call{}, invalid("durationMinutes", fmt.Sprintf("must be from 1 to %d", MaxDurationMinutes))
	}
	b.ScheduledAt = b.ScheduledAt.UTC().Truncate(time.Microsecond)
	var out Call
	err := s.d.Tx(ctx, orgID, func(tx *gorm.DB) error {
		id := uuid.New()
		booked, err := s.leads.BookCalls(ctx, tx, orgID, actor, []lead.CallBooking{{LeadID: b.LeadID,
			Reason: fmt.Sprintf("call %s booked for %s", id, b.ScheduledAt.Format(time.RFC3339))}})
		if apperr.Is(err, apperr.NotFound) {
			// The body's id is not echoed: the answer is the same for any lead the org lacks.
			return apperr.Errorf(apperr.NotFound, "no such lead in this org").
				WithFields(apperr.FieldError{Field: "leadId", Message: "is not a live lead of this org"})
		}
		if err != nil {
			return err
		}
		l := booked[0]
		if out, err = insertCall(ctx, tx, orgID, id, b); err != nil {
			return err
		}
		if _, err := s.leads.RecordCallActivities(ctx, tx, orgID, actor, []lead.CallActivity{{
			LeadID: b.LeadID, CallID: out.ID, Change: string(StatusBooked), Subject: "Call booked",
			Body:    fmt.Sprintf("Call scheduled for %s (%d minutes).", out.ScheduledAt.Format(time.RFC3339), out.DurationMinutes),
			Payload: map[string]any{"status": StatusBooked, "scheduledAt": out.ScheduledAt}, OccurredAt: now, Touch: true,
		}}); err != nil {
			return err
		}
		return s.emit(ctx, tx, orgID, actor, EventBooked, out.ID, eventKey(EventBooked, out.ID), BookedPayload{
			LeadID: out.LeadID, ScheduledAt: out.ScheduledAt, DurationMinutes: out.DurationMinutes,
			LeadStage: string(l.Stage), Version: out.Version,
		})
	})
	if err != nil {
		return Call{}, fmt.Errorf("book call: %w", err)
	}
	return out, nil
}

// Get returns the org's call id; a missing or other org's call is apperr.NotFound.
func (s *Service) Get(ctx context.Context, orgID, id uuid.UUID) (Call, error) {
	var out Call
	found := false
	if err := s.d.Read(ctx, orgID, func(b *db.Batch) { queueGetCall(b, orgID, id, &out, &found) }); err != nil {
		return Call{}, fmt.Errorf("get call: %w", err)
	}
	if !found {
		return Call{}, fmt.Errorf("get call: %w", notFound(id))
	}
	return out, nil
}

// List returns a page of the org's calls that pass f, in f.Sort order, without their
// transcripts (Get has them). A bad status, sort, range (From after To), limit or cursor is
// apperr.BadRequest.
func (s *Service) List(ctx context.Context, orgID uuid.UUID, f ListFilter) (page.Page[Call], error) {
	if f.Sort == "" {
		f.Sort = SortDefault
	}
	if err := checkFilter(f); err != nil {
		return page.Page[Call]{}, err
	}
	q, args, err := listCalls(orgID, f)
	if err != nil {
		return page.Page[Call]{}, fmt.Errorf("list calls: %w", err)
	}
	var rows []Call
	if err := s.d.Read(ctx, orgID, func(b *db.Batch) { queueListCalls(b, q, args, &rows) }); err != nil {
		return page.Page[Call]{}, fmt.Errorf("list calls: %w", err)
	}
	return keysets[f.Sort].Page(rows, f.Page.Limit), nil
}

func badParam(name, message string) error {
	return apperr.Errorf(apperr.BadRequest, "%s %s", name, message).WithFields(apperr.FieldError{Field: name, Message: message})
}

func checkFilter(f ListFilter) error {
	if err := f.Page.Check(); err != nil {
		return err
	}
	if f.Status != "" && !f.Status.Valid() {
		return badParam("status", "must be one of: booked, completed, no_show, cancelled")
	}
	if f.Sort != SortScheduledAsc && f.Sort != SortScheduledDesc {
		return badParam("sort", "must be one of: scheduledAt, -scheduledAt")
	}
	if f.From != nil && f.To != nil && f.From.After(*f.To) {
		return badParam("from", "must not be after to")
	}
	return nil
}

// Complete completes the booked call id with its transcript (1..MaxTranscriptLen characters)
// and notes (at most MaxNotesLen), adds a "call" activity on its lead (moving the lead's
// lastActivityAt) and emits call.completed, which enqueues analyze_call. See change for the
// status rules.
func (s *Service) Complete(ctx context.Context, orgID uuid.UUID, actor string, id uuid.UUID, c Completion) (Call, error) {
	c.Transcript, c.Notes = strings.TrimSpace(c.Transcript), strings.TrimSpace(c.Notes)
	switch {
	case c.Transcript == "":
		return Call{}, invalid("transcript", "is required")
	case utf8.RuneCountInString(c.Transcript) > MaxTranscriptLen:
		return Call{}, invalid("transcript", fmt.Sprintf("must have at most %d characters", MaxTranscriptLen))
	case utf8.RuneCountInString(c.Notes) > MaxNotesLen:
		return Call{}, invalid("notes", fmt.Sprintf("must have at most %d characters", MaxNotesLen))
	}
	chars := utf8.RuneCountInString(c.Transcript)
	return s.change(ctx, orgID, actor, id, StatusCompleted, &c, "", func(p *ChangedPayload) { p.TranscriptChars = &chars },
		lead.CallActivity{Subject: "Call completed", Body: c.Notes, Touch: true})
}

// NoShow marks the booked call id as a no-show, adds a "call" activity on its lead and raises
// the lead's ghost risk by lead.GhostRiskNoShowStep (neither moves the lead's lastActivityAt),
// and emits call.no_show with the ghost risk's change. See change for the status rules.
func (s *Service) NoShow(ctx context.Context, orgID uuid.UUID, actor string, id uuid.UUID) (Call, error) {
	return s.change(ctx, orgID, actor, id, StatusNoShow, nil, "", nil,
		lead.CallActivity{Subject: "Call no-show", Body: "The lead did not show up for the call."})
}

// Cancel cancels the booked call id with an optional reason (at most MaxReasonLen characters),
// adds a "call" activity on its lead and emits call.cancelled. See change for the status rules.
func (s *Service) Cancel(ctx context.Context, orgID uuid.UUID, actor string, id uuid.UUID, reason string) (Call, error) {
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > MaxReasonLen {
		return Call{}, invalid("reason", fmt.Sprintf("must have at most %d characters", MaxReasonLen))
	}
	return s.change(ctx, orgID, actor, id, StatusCancelled, nil, reason, nil,
		lead.CallActivity{Subject: "Call cancelled", Body: reason})
}

// change moves the call id to status to in one transaction. The call's row is locked before the
// move is checked, so concurrent changes of one call serialise and each sees the status the one
// before it left: of two changes of a booked call exactly one wins. A move the status machine
// does not allow (CanMove) is apperr.Conflict with Extra "currentStatus" and "allowed"; a
// missing or other org's call is apperr.NotFound. The lead's activity is added when the lead is
// still live (a deleted lead's call can still be closed, without touching the lead).
func (s *Service) change(ctx context.Context, orgID uuid.UUID, actor string, id uuid.UUID, to Status, c *Completion, reason string,
	decorate func(p *ChangedPayload), act lead.CallActivity,
) (Call, error) {
	var out Call
	err := s.d.Tx(ctx, orgID, func(tx *gorm.DB) error {
		cur, err := lockCall(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		if !CanMove(cur.Status, to) {
			return apperr.Errorf(apperr.Conflict, "a call in status %s cannot move to %s", cur.Status, to).
				With("currentStatus", cur.Status).With("allowed", Allowed(cur.Status))
		}
		if out, err = setStatus(ctx, tx, orgID, id, to, c); err != nil {
			return err
		}
		if to == StatusNoShow {
			act.RaiseGhostRisk = lead.GhostRiskNoShowStep
		}
		act.LeadID, act.CallID, act.Change, act.OccurredAt = out.LeadID, id, string(to), s.now()
		act.Payload = map[string]any{"status": to, "scheduledAt": out.ScheduledAt}
		recorded, err := s.leads.RecordCallActivities(ctx, tx, orgID, actor, []lead.CallActivity{act})
		if err != nil {
			return err
		}
		added, from, gto := recorded[0].Added, recorded[0].GhostFrom, recorded[0].GhostTo
		p := ChangedPayload{LeadID: out.LeadID, From: cur.Status, To: to, Version: out.Version}
		if reason != "" {
			p.Reason = &reason
		}
		if to == StatusNoShow && added {
			p.GhostRisk = &GhostRiskChange{From: from, To: gto}
		}
		if decorate != nil {
			decorate(&p)
		}
		return s.emit(ctx, tx, orgID, actor, eventOf[to], id, eventKey(eventOf[to], id), p)
	})
	if err != nil {
		return Call{}, fmt.Errorf("%s call: %w", verbOf[to], err)
	}
	return out, nil
}

var eventOf = map[Status]string{
	StatusCompleted: EventCompleted,
	StatusNoShow:    EventNoShow,
	StatusCancelled: EventCancelled,
}

var verbOf = map[Status]string{
	StatusCompleted: "complete",
	StatusNoShow:    "mark no-show of",
	StatusCancelled: "cancel",
}
