package deal

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
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/page"
)

// Service holds the deal use cases. Each runs in one tenant transaction of the org it is given;
// every change emits its events in that transaction, with actor as the events' actor. The hot
// reads (Get, List, Pipeline) run in a read-only tenant transaction sent in one round trip
// (db.DB.Read).
type Service struct {
	d     *db.DB
	emit  events.EmitFunc
	leads *lead.Service
	// Now is the clock AsOf checks its instant against; nil is time.Now.
	Now func() time.Time
}

// NewService returns the use cases on d, emitting through emitter, changing the deals' leads
// through leads. All three are required.
func NewService(d *db.DB, emitter *events.Emitter, leads *lead.Service) *Service {
	if d == nil || emitter == nil || leads == nil {
		panic("deal.NewService: nil dependency")
	}
	return &Service{d: d, emit: emitter.About(EntityType), leads: leads}
}

// Create stores a deal of the live lead in.LeadID and converts the lead, in one transaction:
// the lead moves to converted through the lead stage machine (lead.Service.Convert: from
// call_booked, emitting lead.stage_changed; a lead converted already keeps its stage), then the
// deal is inserted and deal.created emitted. Input that breaks a rule is apperr.Invalid with one
// entry per field: a title of 1..300 characters, a value of 0..MaxValue minor units, a current
// ISO 4217 currency in upper case, an open stage, a probability within 0..1 and a date
// "YYYY-MM-DD". A lead the org does not have (missing, deleted, another org's) is apperr.NotFound
// with a field error on leadId (API.md: anything of another org is 404), and a lead that cannot convert apperr.Conflict with the lead's "currentStage" and
// "allowed" moves; in both cases nothing is written.
func (s *Service) Create(ctx context.Context, orgID uuid.UUID, actor string, in NewDeal) (Deal, error) {
	if in.Stage == "" {
		in.Stage = StageDiscovery
	}
	in.Title = strings.TrimSpace(in.Title)
	var fields []apperr.FieldError
	if in.LeadID == uuid.Nil {
		fields = append(fields, apperr.FieldError{Field: "leadId", Message: "is required"})
	}
	fields = append(fields, checkTitle(in.Title)...)
	fields = append(fields, checkValue(in.DealValue)...)
	fields = append(fields, checkCurrency(in.Currency)...)
	if !in.Stage.Open() {
		fields = append(fields, apperr.FieldError{Field: "stage", Message: "must be one of: discovery, proposal, negotiation (a deal is won or lost through its stage route)"})
	}
	fields = append(fields, checkProbability(in.Probability)...)
	fields = append(fields, checkDate(in.ExpectedCloseDate, false)...)
	if len(fields) > 0 {
		return Deal{}, invalid(fields...)
	}
	d := Deal{ID: uuid.New(), LeadID: in.LeadID, Title: in.Title, DealValue: in.DealValue, Currency: in.Currency,
		Stage: in.Stage, Probability: DefaultProbability(in.Stage), ExpectedCloseDate: in.ExpectedCloseDate}
	if in.Probability != nil {
		d.Probability = *in.Probability
	}
	var out Deal
	err := s.d.Tx(ctx, orgID, func(tx *gorm.DB) error {
		conv, err := s.leads.Convert(ctx, tx, orgID, actor, []lead.Conversion{{LeadID: in.LeadID, Reason: "deal " + d.ID.String() + " created"}})
		switch {
		case apperr.Is(err, apperr.NotFound):
			// The body's id is not echoed: the answer is the same for any lead the org lacks.
			return apperr.Errorf(apperr.NotFound, "no such lead in this org").
				WithFields(apperr.FieldError{Field: "leadId", Message: "is not a live lead of this org"})
		case apperr.Is(err, apperr.Conflict):
			e, _ := apperr.As(err)
			return apperr.Errorf(apperr.Conflict, "a deal needs a lead that can convert: %s", e.Message).
				With("currentStage", e.Extra["currentStage"]).With("allowed", e.Extra["allowed"])
		case err != nil:
			return err
		}
		if out, err = insertDeal(ctx, tx, orgID, d); err != nil {
			return err
		}
		return s.emit(ctx, tx, orgID, actor, EventCreated, out.ID, "deal.created:"+out.ID.String(),
			events.WithRow(CreatedPayload{Deal: out, LeadConverted: conv[0].Changed}, events.Row{Rev: events.RowRev}))
	})
	if err != nil {
		return Deal{}, fmt.Errorf("create deal: %w", err)
	}
	return out, nil
}

// Get returns the org's deal id; a missing or other org's deal is apperr.NotFound.
func (s *Service) Get(ctx context.Context, orgID, id uuid.UUID) (Deal, error) {
	var out Deal
	found := false
	if err := s.d.Read(ctx, orgID, func(b *db.Batch) { queueGetDeal(b, orgID, id, &out, &found) }); err != nil {
		return Deal{}, fmt.Errorf("get deal: %w", err)
	}
	if !found {
		return Deal{}, fmt.Errorf("get deal: %w", notFound(id))
	}
	return out, nil
}

// Update applies p to the deal id and emits deal.updated with the changed fields; a patch that
// changes nothing writes nothing and returns the deal as it is. The row is locked for the
// change. A won or lost deal is final: any patch of it is apperr.Conflict with Extra
// "currentStage". p.Version, when given, must be the deal's version (else apperr.Conflict with
// Extra "currentVersion"). The rules of Create apply to the fields given (apperr.Invalid).
func (s *Service) Update(ctx context.Context, orgID uuid.UUID, actor string, id uuid.UUID, p Patch) (Deal, error) {
	if p.Title != nil {
		t := strings.TrimSpace(*p.Title)
		p.Title = &t
	}
	var fields []apperr.FieldError
	if p.Title != nil {
		fields = append(fields, checkTitle(*p.Title)...)
	}
	if p.DealValue != nil {
		fields = append(fields, checkValue(*p.DealValue)...)
	}
	if p.Currency != nil {
		fields = append(fields, checkCurrency(*p.Currency)...)
	}
	fields = append(fields, checkProbability(p.Probability)...)
	fields = append(fields, checkDate(p.ExpectedCloseDate, true)...)
	if len(fields) > 0 {
		return Deal{}, invalid(fields...)
	}
	var out Deal
	err := s.d.Tx(ctx, orgID, func(tx *gorm.DB) error {
		cur, err := lockDeal(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		if p.Version != nil && *p.Version != cur.Version {
			return apperr.Errorf(apperr.Conflict, "deal %s is at version %d, not %d; reload it and retry", id, cur.Version, *p.Version).
				With("currentVersion", cur.Version)
		}
		if cur.Stage.Final() {
			return apperr.Errorf(apperr.Conflict, "deal %s is %s, which is final", id, cur.Stage).With("currentStage", cur.Stage)
		}
		next := applyPatch(cur, p)
		changes := diff(cur, next)
		if len(changes) == 0 {
			out = cur
			return nil
		}
		if out, err = updateFields(ctx, tx, orgID, next); err != nil {
			return err
		}
		row, err := events.RowOf(out, slices.Concat(slices.Collect(maps.Keys(changes)), []string{"version"})...)
		if err != nil {
			return err
		}
		return s.emit(ctx, tx, orgID, actor, EventUpdated, id, fmt.Sprintf("deal.updated:%s:%d", id, out.Version),
			events.WithRow(UpdatedPayload{Version: out.Version, Changes: changes}, row))
	})
	if err != nil {
		return Deal{}, fmt.Errorf("update deal: %w", err)
	}
	return out, nil
}

func applyPatch(d Deal, p Patch) Deal {
	if p.Title != nil {
		d.Title = *p.Title
	}
	if p.DealValue != nil {
		d.DealValue = *p.DealValue
	}
	if p.Currency != nil {
		d.Currency = *p.Currency
	}
	if p.Probability != nil {
		d.Probability = *p.Probability
	}
	if p.ExpectedCloseDate != nil {
		d.ExpectedCloseDate = ptr(*p.ExpectedCloseDate)
	}
	return d
}

// diff lists the editable fields that differ between a and b, by API name.
func diff(a, b Deal) map[string]Change {
	out := map[string]Change{}
	if a.Title != b.Title {
		out["title"] = Change{From: a.Title, To: b.Title}
	}
	if a.DealValue != b.DealValue {
		out["dealValue"] = Change{From: a.DealValue, To: b.DealValue}
	}
	if a.Currency != b.Currency {
		out["currency"] = Change{From: a.Currency, To: b.Currency}
	}
	if a.Probability != b.Probability {
		out["probability"] = Change{From: a.Probability, To: b.Probability}
	}
	if str(a.ExpectedCloseDate) != str(b.ExpectedCloseDate) {
		out["expectedCloseDate"] = Change{From: a.ExpectedCloseDate, To: b.ExpectedCloseDate}
	}
	return out
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// ChangeStage moves the deal id to stage to and emits deal.stage_changed {from, to,
// probability, lostReason, version, ...}; a move to won also emits deal.won (which enqueues
// create_invoice and generate_contract) and a move to lost deal.lost, all in one transaction.
// The probability becomes the new stage's default (DefaultProbability) and stage_changed_at
// now. lostReason is required for lost and refused for any other stage (apperr.Invalid), as is
// an unknown stage. The deal's row is locked before the move is checked, so concurrent changes
// of one deal serialise and each sees the stage the one before it left: of two moves out of one
// stage into a final one, exactly one wins. A move the stage machine does not allow (CanMove;
// staying in the same stage included) is apperr.Conflict with Extra "currentStage" and
// "allowed".
func (s *Service) ChangeStage(ctx context.Context, orgID uuid.UUID, actor string, id uuid.UUID, to Stage, lostReason string) (Deal, error) {
	lostReason = strings.TrimSpace(lostReason)
	var fields []apperr.FieldError
	switch {
	case !to.Valid():
		fields = append(fields, apperr.FieldError{Field: "stage", Message: "must be one of: discovery, proposal, negotiation, won, lost"})
	case to == StageLost && lostReason == "":
		fields = append(fields, apperr.FieldError{Field: "lostReason", Message: "is required when a deal is lost"})
	case to != StageLost && lostReason != "":
		fields = append(fields, apperr.FieldError{Field: "lostReason", Message: "is only given when a deal is lost"})
	}
	if utf8.RuneCountInString(lostReason) > MaxReasonLen || hasControl(strings.NewReplacer("\n", "", "\r", "", "\t", "").Replace(lostReason)) {
		fields = append(fields, apperr.FieldError{Field: "lostReason", Message: fmt.Sprintf("must be at most %d characters of text", MaxReasonLen)})
	}
	if len(fields) > 0 {
		return Deal{}, invalid(fields...)
	}
	var out Deal
	err := s.d.Tx(ctx, orgID, func(tx *gorm.DB) error {
		cur, err := lockDeal(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		if !CanMove(cur.Stage, to) {
			return apperr.Errorf(apperr.Conflict, "a deal in stage %s cannot move to %s", cur.Stage, to).
				With("currentStage", cur.Stage).With("allowed", Allowed(cur.Stage))
		}
		if out, err = setStage(ctx, tx, orgID, id, to, ptr(lostReason)); err != nil {
			return err
		}
		payload := StageChangedPayload{From: cur.Stage, To: to, Probability: out.Probability, LostReason: out.LostReason,
			Version: out.Version, LeadID: out.LeadID, DealValue: out.DealValue, Currency: out.Currency}
		row, err := stageRow(out, to)
		if err != nil {
			return err
		}
		if err := s.emit(ctx, tx, orgID, actor, EventStageChanged, id,
			fmt.Sprintf("deal.stage_changed:%s:%d", id, out.Version), events.WithRow(payload, row)); err != nil {
			return err
		}
		switch to {
		case StageWon:
			return s.emit(ctx, tx, orgID, actor, EventWon, id, "deal.won:"+id.String(), payload)
		case StageLost:
			return s.emit(ctx, tx, orgID, actor, EventLost, id, "deal.lost:"+id.String(), payload)
		}
		return nil
	})
	if err != nil {
		return Deal{}, fmt.Errorf("change deal stage: %w", err)
	}
	return out, nil
}

// List returns a page of the org's deals that pass f, in f.Sort order, each with its weighted
// value. A bad stage, sort, minimum value or limit is apperr.BadRequest, as is a cursor of
// another list or sort.
func (s *Service) List(ctx context.Context, orgID uuid.UUID, f ListFilter) (page.Page[Deal], error) {
	if f.Sort == "" {
		f.Sort = SortDefault
	}
	if err := checkFilter(f); err != nil {
		return page.Page[Deal]{}, err
	}
	q, args, err := listDeals(orgID, f)
	if err != nil {
		return page.Page[Deal]{}, fmt.Errorf("list deals: %w", err)
	}
	rows := make([]Deal, 0, f.Page.Limit+1)
	if err := s.d.Read(ctx, orgID, func(b *db.Batch) { queueListDeals(b, q, args, &rows) }); err != nil {
		return page.Page[Deal]{}, fmt.Errorf("list deals: %w", err)
	}
	return keysets[f.Sort].Page(rows, f.Page.Limit), nil
}
