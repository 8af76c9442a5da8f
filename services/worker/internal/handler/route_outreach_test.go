package handler_test

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/pipeline"
)

// qualifiedLead stores a lead as qualification leaves it and emits lead.qualified with path in
// its payload, which enqueues route_outreach. It returns the lead and the event's id.
func (b *bundle) qualifiedLead(t *testing.T, email string, stage lead.Stage, path pipeline.Path) (uuid.UUID, int64) {
	t.Helper()
	id := uuid.New()
	var ev events.Event
	require.NoError(t, b.d.Tx(t.Context(), b.org, func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO leads (org_id, id, email, fingerprint, stage, recommended_path, score)
VALUES (?, ?, ?, ?, ?, ?, 30)`, b.org, id, email, "fp:"+email, string(stage), string(path)).Error; err != nil {
			return err
		}
		var err error
		ev, _, err = b.emitter.Emit(t.Context(), tx, events.NewEvent{
			OrgID: b.org, Type: lead.EventQualified, EntityType: lead.EntityType, EntityID: id,
			Payload: map[string]any{"recommendedPath": path, "score": 30}, IdempotencyKey: "lead.qualified:" + id.String(),
		})
		return err
	}))
	return id, ev.ID
}

// routeJobs claims and runs every runnable route_outreach job, requiring each to complete.
func (b *bundle) routeJobs(t *testing.T) int {
	t.Helper()
	n := 0
	for _, j := range b.claim(t) {
		if j.Type != pipeline.KindRouteOutreach {
			continue
		}
		require.NoError(t, b.run(t.Context(), j))
		require.Equal(t, "completed", b.jobStatus(t, j.ID))
		n++
	}
	return n
}

// TestRouteOutreachHandler proves route_outreach acts on each path from the lead.qualified
// event it was enqueued by (book_call: high priority and a task; nurture: a follow-up in
// scheduled_tasks; disqualify: stage disqualified), completes its job, and that the same event
// routed again (a rerun) changes nothing.
func TestRouteOutreachHandler(t *testing.T) {
	t.Parallel()
	b := setup(t)
	call, callEvent := b.qualifiedLead(t, "call@example.com", lead.StageQualified, pipeline.PathBookCall)
	nurture, nurtureEvent := b.qualifiedLead(t, "later@example.com", lead.StageNurture, pipeline.PathNurture)
	dq, _ := b.qualifiedLead(t, "no@example.com", lead.StageNew, pipeline.PathDisqualify)
	require.Equal(t, 3, b.routeJobs(t))

	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM leads WHERE id = $1 AND priority = 'high'`, call))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_activities WHERE lead_id = $1 AND kind = 'task' AND dedup_key = $2`,
		call, "route:"+itoa(callEvent)+":task"))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM scheduled_tasks WHERE org_id = $1 AND entity_id = $2 AND job_type = $3 AND dedup_key = $4`,
		b.org, nurture, pipeline.KindFollowUpLead, "route:"+itoa(nurtureEvent)))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM leads WHERE id = $1 AND stage = 'disqualified' AND stage_reason LIKE '%score 30%'`, dq))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type = 'lead.stage_changed'`, dq))
	before := b.count(t, `SELECT count(*) FROM events WHERE org_id = $1`, b.org)

	// The same events routed again: nothing more.
	for _, ev := range []struct {
		lead uuid.UUID
		path pipeline.Path
	}{{call, pipeline.PathBookCall}, {nurture, pipeline.PathNurture}, {dq, pipeline.PathDisqualify}} {
		var id int64
		require.NoError(t, b.super.Pool.QueryRow(t.Context(),
			`SELECT id FROM events WHERE entity_id = $1 AND type = 'lead.qualified'`, ev.lead).Scan(&id))
		data, err := json.Marshal(map[string]any{"recommendedPath": ev.path})
		require.NoError(t, err)
		b.enqueue(t, pipeline.KindRouteOutreach, events.JobPayload{EventID: id, EventType: lead.EventQualified,
			EntityType: lead.EntityType, EntityID: &ev.lead, Data: data})
	}
	require.Equal(t, 3, b.routeJobs(t))
	require.Equal(t, before, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1`, b.org))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_activities WHERE org_id = $1`, b.org))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM scheduled_tasks WHERE org_id = $1`, b.org))

	// The follow-up, when due, adds its task to the nurture lead.
	var payload []byte
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT payload FROM scheduled_tasks WHERE org_id = $1`, b.org).Scan(&payload))
	fu := b.enqueue(t, pipeline.KindFollowUpLead, json.RawMessage(payload))
	claimed := b.claim(t)
	require.NoError(t, b.run(t.Context(), claimed[fu]))
	require.Equal(t, "completed", b.jobStatus(t, fu))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_activities WHERE lead_id = $1 AND kind = 'task' AND subject = $2`,
		nurture, pipeline.FollowUpSubject))

	// A payload about something else than a lead is permanent.
	other := b.enqueue(t, pipeline.KindRouteOutreach, events.JobPayload{EventID: 1, EntityType: "deal"})
	claimed = b.claim(t)
	require.True(t, jobs.IsPermanent(b.run(t.Context(), claimed[other])))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
