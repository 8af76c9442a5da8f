package client

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/lead"
)

// RenewalWindowDays is the reminder's rule: a client is reminded of once its renewalDate is at
// most this many days ahead (today, UTC, counts as 0 days ahead).
const RenewalWindowDays = 30

// RenewalActor is the actor of what renewal_reminder writes.
const RenewalActor = "job:" + KindRenewalReminder

// RenewalSubject is the subject of the task activity a renewal reminder adds to the client's lead.
const RenewalSubject = "Prepare the renewal"

// renewalChunk is how many clients the first chunk of the reminder reads (the next adapt to the
// handle's pace, db.DB.Chunks): each reminded one costs an activity and two events, all written in
// the chunk's one short transaction.
const renewalChunk = 500

// RenewalReport is what one run of RemindRenewals did.
type RenewalReport struct {
	// Today is the date (UTC, the database's clock) the window was counted from.
	Today string
	// Reminded counts the renewals reminded of now (not those reminded of before).
	Reminded int
	// Chunks counts the transactions of the run.
	Chunks int
}

// renewalDue is a client whose renewal falls within the window (renewalsDueSQL).
type renewalDue struct {
	ID          uuid.UUID `gorm:"column:id"`
	LeadID      uuid.UUID `gorm:"column:lead_id"`
	Name        *string   `gorm:"column:name"`
	Company     *string   `gorm:"column:company"`
	RenewalDate string    `gorm:"column:renewal_date"`
	DaysLeft    int       `gorm:"column:days_left"`
}

// RemindRenewals reminds the org of each client renewing within RenewalWindowDays of today (UTC,
// from the database clock, read once per run) that is not churned, once per renewal: a task
// activity "Prepare the renewal" on the client's lead, with lead.activity_added, and
// client.renewal_due about the client, which records the rule applied (RenewalDuePayload). The
// once is the activity's dedup key "renewal:<client id>:<renewal date>": a rerun, or a second
// run the same day, adds and emits nothing, while a client whose renewalDate moves has a new
// renewal and is reminded again when the new date comes within the window. A renewal date that
// has passed is not reminded of.
//
// It reads the clients in the window in chunks in (renewal_date, id) order, each chunk one short
// transaction (db.DB.Chunks, under the handle's pace) that commits its reminders.
func (s *Service) RemindRenewals(ctx context.Context, orgID uuid.UUID) (RenewalReport, error) {
	var rep RenewalReport
	afterDate, afterID := "", uuid.Nil
	n, err := s.d.Chunks(ctx, orgID, s.renewalChunk, func(ctx context.Context, tx *gorm.DB, size int) (bool, error) {
		if rep.Today == "" {
			today, _, err := db.Get[string](ctx, tx, todaySQL)
			if err != nil {
				return false, fmt.Errorf("read today: %w", err)
			}
			rep.Today, afterDate = today, today
		}
		due, err := db.Select[renewalDue](ctx, tx, renewalsDueSQL, orgID, rep.Today, afterDate, afterID, size, RenewalWindowDays)
		if err != nil {
			return false, fmt.Errorf("read renewals due: %w", err)
		}
		added, err := s.remind(ctx, tx, orgID, due)
		if err != nil {
			return false, err
		}
		rep.Reminded += added
		if len(due) > 0 {
			afterDate, afterID = due[len(due)-1].RenewalDate, due[len(due)-1].ID
		}
		return len(due) < size, nil
	})
	rep.Chunks = n
	if err != nil {
		return rep, fmt.Errorf("remind renewals: %w", err)
	}
	return rep, nil
}

// remind adds the task activities of due in tx, each once per renewal, and emits the events of
// the ones added; it returns how many were.
func (s *Service) remind(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, due []renewalDue) (int, error) {
	if len(due) == 0 {
		return 0, nil
	}
	now := s.now().UTC()
	as := make([]lead.SystemActivity, len(due))
	for i, c := range due {
		p, err := json.Marshal(map[string]any{"clientId": c.ID, "renewalDate": c.RenewalDate, "daysLeft": c.DaysLeft})
		if err != nil {
			return 0, fmt.Errorf("encode renewal task payload: %w", err)
		}
		as[i] = lead.SystemActivity{
			LeadID: c.LeadID, Kind: lead.ActivityTask, Subject: RenewalSubject, Body: renewalBody(c), Payload: p,
			OccurredAt: now, CreatedBy: RenewalActor, DedupKey: "renewal:" + c.ID.String() + ":" + c.RenewalDate,
		}
	}
	added, err := lead.AddActivities(ctx, tx, orgID, as)
	if err != nil {
		return 0, fmt.Errorf("add renewal tasks: %w", err)
	}
	var evs []events.NewEvent
	for i, a := range added {
		if a == nil {
			continue // reminded of before
		}
		c := due[i]
		evs = append(evs,
			events.Entity(EntityType).Event(orgID, RenewalActor, EventRenewalDue, c.ID, EventRenewalDue+":"+c.ID.String()+":"+c.RenewalDate,
				RenewalDuePayload{RenewalDate: c.RenewalDate, DaysLeft: c.DaysLeft, WindowDays: RenewalWindowDays, LeadID: c.LeadID, ActivityID: a.ID}),
			lead.NewEvent(orgID, RenewalActor, lead.EventActivityAdded, c.LeadID, "lead.activity_added:"+a.ID.String(),
				lead.ActivityAddedPayload{ActivityID: a.ID, Kind: a.Kind, Subject: a.Subject, OccurredAt: a.OccurredAt}))
	}
	if _, err := s.em.EmitAll(ctx, tx, evs...); err != nil {
		return 0, err
	}
	return len(evs) / 2, nil
}

// renewalBody is the text of a renewal task: whose renewal, when.
func renewalBody(c renewalDue) string {
	who := "the client"
	switch {
	case c.Company != nil && *c.Company != "":
		who = *c.Company
	case c.Name != nil && *c.Name != "":
		who = *c.Name
	}
	when := fmt.Sprintf("in %d days", c.DaysLeft)
	switch c.DaysLeft {
	case 0:
		when = "today"
	case 1:
		when = "tomorrow"
	}
	return fmt.Sprintf("The renewal of %s is due on %s (%s).", who, c.RenewalDate, when)
}
