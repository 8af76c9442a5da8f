package pipeline

// follow_up_lead: the nurture follow-up that routing schedules.

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/events"
	"example.com/crm/pkg/lead"
)

// FollowUp runs nurture follow-ups that Route scheduled, inside the caller's tenant transaction
// tx (the follow_up_lead jobs' transaction): keys[i] is the idempotency key of ps[i]'s job,
// stable across attempts. For each follow-up whose lead is still live and in nurture, it adds a
// "task" activity "Follow up with nurture lead" (dedup key "follow_up:" + key) and emits
// lead.activity_added. A lead that has moved on or is gone needs no follow-up: it returns
// whether each follow-up was skipped, in order. It first locks every lead the follow-ups name in
// the order of their ids (lead.LockLive), as the other use cases of the pipeline lock theirs;
// locked lead by lead in the order of the batch, its locks could cross theirs and deadlock.
func (r *Router) FollowUp(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, ps []FollowUpPayload, keys []string) ([]bool, error) {
	if len(keys) != len(ps) {
		return nil, fmt.Errorf("follow up %d leads: %d keys", len(ps), len(keys))
	}
	ids := make([]uuid.UUID, len(ps))
	for i, p := range ps {
		ids[i] = p.LeadID
	}
	locked, err := lead.LockLive(ctx, tx, orgID, ids, nil)
	if err != nil {
		return nil, err
	}
	stages := make(map[uuid.UUID]lead.Stage, len(locked))
	for _, l := range locked {
		stages[l.Lead.ID] = l.Lead.Stage
	}
	skipped := make([]bool, len(ps))
	var as []lead.SystemActivity
	var of []int // the follow-up of each activity
	now := r.now().UTC()
	for i, p := range ps {
		if stages[p.LeadID] != lead.StageNurture {
			skipped[i] = true
			continue
		}
		payload, err := json.Marshal(map[string]any{"eventId": p.EventID})
		if err != nil {
			return nil, fmt.Errorf("encode follow-up: %w", err)
		}
		as = append(as, lead.SystemActivity{
			LeadID: p.LeadID, Kind: lead.ActivityTask, Subject: FollowUpSubject,
			Body: "This lead was put in nurture; time to get back in touch.", Payload: payload, OccurredAt: now,
			CreatedBy: FollowUpActor, DedupKey: "follow_up:" + keys[i],
		})
		of = append(of, i)
	}
	added, err := lead.AddActivities(ctx, tx, orgID, as)
	if err != nil {
		return nil, fmt.Errorf("follow up %d leads: %w", len(ps), err)
	}
	var evs []events.NewEvent
	for j, a := range added {
		if a == nil {
			continue
		}
		evs = append(evs, lead.NewEvent(orgID, FollowUpActor, lead.EventActivityAdded, ps[of[j]].LeadID, "lead.activity_added:"+a.ID.String(),
			lead.ActivityAddedPayload{ActivityID: a.ID, Kind: a.Kind, Subject: a.Subject, OccurredAt: a.OccurredAt}))
	}
	if _, err := r.emitter.EmitAll(ctx, tx, evs...); err != nil {
		return nil, err
	}
	return skipped, nil
}
