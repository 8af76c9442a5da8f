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
	db        *gorm.DB
	emitter   *events.Emitter
	leads     *lead.Service
	analyzer  Analyzer
	threshold int
	// Now is the clock for the checks of client-given times; nil is time.Now.
	Now func() time.Time
}

// NewService returns the use cases on g, emitting through emitter. g and emitter are required; a
// threshold outside 0..100 panics, as a constructor does with a bad dependency.
func NewService(g *gorm.DB, emitter *events.Emitter, o Options) *Service {
	if g == nil || emitter == nil {
		panic("call.NewService: nil dependency")
	}
	s := &Service{db: g, emitter: emitter, leads: lead.NewService(g, emitter), analyzer: o.Analyzer, threshold: DefaultBuyingSignalThreshold}
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

// Threshold is the buying-signal threshold the service escalates at.
func (s *Service) Threshold() int { return s.threshold }

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) emit(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, actor, typ string, callID uuid.UUID, payload any) error {
	_, _, err := s.emitter.Emit(ctx, tx, events.NewEvent{
		OrgID: orgID, Type: typ, EntityType: EntityType, EntityID: callID,
		Payload: payload, IdempotencyKey: typ + ":" + callID.String(), Actor: actor,
	})
	return err
}

func invalid(field, message string) error {
	return apperr.Errorf(apperr.Invalid, "call is invalid").WithFields(apperr.FieldError{Field: field, Message: message})
}

// Book books a call with the org's live lead b.LeadID at b.ScheduledAt, which must be in the
// future and at most MaxAhead ahead (else apperr.Invalid on scheduledAt), for
// b.DurationMinutes (1..MaxDurationMinutes, 0 is DefaultDurationMinutes). In one transaction it
// locks the lead, moves it to call_booked (lead.Service.CallBookingTx: a converted, lost or
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
	err := db.Tx(ctx, s.db, orgID, func(tx *gorm.DB) error {
		id := uuid.New()
		l, err := s.leads.CallBookingTx(ctx, tx, orgID, actor, b.LeadID,
			fmt.Sprintf("call %s booked for %s", id, b.ScheduledAt.Format(time.RFC3339)))
		if apperr.Is(err, apperr.NotFound) {
			// The body's id is not echoed: the answer is the same for any lead the org lacks.
			return apperr.Errorf(apperr.NotFound, "no such lead in this org").
				WithFields(apperr.FieldError{Field: "leadId", Message: "is not a live lead of this org"})
		}
		if err != nil {
			return err
		}
		if out, err = insertCallID(tx, orgID, id, b); err != nil {
			return err
		}
		if _, _, _, err := s.leads.CallActivityTx(ctx, tx, orgID, actor, b.LeadID, lead.CallActivity{
			CallID: out.ID, Change: string(StatusBooked), Subject: "Call booked",
			Body:    fmt.Sprintf("Call scheduled for %s (%d minutes).", out.ScheduledAt.Format(time.RFC3339), out.DurationMinutes),
			Payload: map[string]any{"status": StatusBooked, "scheduledAt": out.ScheduledAt}, OccurredAt: now, Touch: true,
		}, 0); err != nil {
			return err
		}
		return s.emit(ctx, tx, orgID, actor, EventBooked, out.ID, BookedPayload{
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
	err := db.Tx(ctx, s.db, orgID, func(tx *gorm.DB) error {
		var err error
		out, err = getCall(tx, orgID, id, false)
		return err
	})
	if err != nil {
		return Call{}, fmt.Errorf("get call: %w", err)
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
	var out page.Page[Call]
	err := db.Tx(ctx, s.db, orgID, func(tx *gorm.DB) error {
		rows, err := listCalls(tx, orgID, f)
		if err != nil {
			return err
		}
		out = page.Finish(rows, f.Page.Limit, func(c Call) any { return callCursor{Sort: f.Sort, At: c.ScheduledAt, ID: c.ID} })
		return nil
	})
	if err != nil {
		return page.Page[Call]{}, fmt.Errorf("list calls: %w", err)
	}
	return out, nil
}

func badParam(name, message string) error {
	return apperr.Errorf(apperr.BadRequest, "%s %s", name, message).WithFields(apperr.FieldError{Field: name, Message: message})
}

func checkFilter(f ListFilter) error {
	if f.Page.Limit < 1 || f.Page.Limit > page.MaxLimit {
		return badParam("limit", fmt.Sprintf("must be an integer from 1 to %d", page.MaxLimit))
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
	err := db.Tx(ctx, s.db, orgID, func(tx *gorm.DB) error {
		cur, err := getCall(tx, orgID, id, true)
		if err != nil {
			return err
		}
		if !CanMove(cur.Status, to) {
			return apperr.Errorf(apperr.Conflict, "a call in status %s cannot move to %s", cur.Status, to).
				With("currentStatus", cur.Status).With("allowed", Allowed(cur.Status))
		}
		if out, err = setStatus(tx, orgID, id, to, c); err != nil {
			return err
		}
		ghost := 0
		if to == StatusNoShow {
			ghost = lead.GhostRiskNoShowStep
		}
		act.CallID, act.Change, act.OccurredAt = id, string(to), s.now()
		act.Payload = map[string]any{"status": to, "scheduledAt": out.ScheduledAt}
		added, from, gto, err := s.leads.CallActivityTx(ctx, tx, orgID, actor, out.LeadID, act, ghost)
		if err != nil {
			return err
		}
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
		return s.emit(ctx, tx, orgID, actor, eventOf[to], id, p)
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
