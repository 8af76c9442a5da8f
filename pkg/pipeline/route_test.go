package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/pipeline"
)

// qualified creates a lead and puts it where qualification leaves it: stage, recommended path
// and priority, as the superuser writes them.
func (p *pipe) qualified(t *testing.T, email string, stage lead.Stage, path pipeline.Path, priority lead.Priority) uuid.UUID {
	t.Helper()
	l, err := p.svc.Create(t.Context(), p.org, "test", lead.NewLead{Contact: lead.Contact{Email: email}})
	require.NoError(t, err)
	_, err = p.super.Pool.Exec(t.Context(), `UPDATE leads SET stage = $2, recommended_path = $3, priority = $4, score = 42 WHERE id = $1`,
		l.ID, string(stage), string(path), string(priority))
	require.NoError(t, err)
	return l.ID
}

// route runs Route on in alone, in a tenant transaction of its own.
func (p *pipe) route(t *testing.T, in pipeline.RouteInput) pipeline.RouteResult {
	t.Helper()
	var res []pipeline.RouteResult
	require.NoError(t, p.d.Tx(t.Context(), p.org, func(tx *gorm.DB) error {
		var err error
		res, err = p.router.Route(t.Context(), tx, p.org, []pipeline.RouteInput{in})
		return err
	}))
	return res[0]
}

func (p *pipe) str(t *testing.T, sql string, args ...any) string {
	t.Helper()
	var s string
	require.NoError(t, p.super.Pool.QueryRow(t.Context(), sql, args...).Scan(&s))
	return s
}

// TestRouteBookCall proves book_call raises the priority to high with lead.updated and adds one
// "Book a call" task with lead.activity_added; a rerun of the same event changes nothing; an
// urgent lead stays urgent.
func TestRouteBookCall(t *testing.T) {
	t.Parallel()
	p := newPipe(t)
	id := p.qualified(t, "book@example.com", lead.StageQualified, pipeline.PathBookCall, lead.PriorityNormal)

	res := p.route(t, pipeline.RouteInput{LeadID: id, EventID: 7})
	require.Equal(t, pipeline.PathBookCall, res.Path)
	require.Equal(t, []string{"priority", "task"}, res.Changes)
	require.Empty(t, res.Skipped)
	require.Equal(t, "high", p.str(t, `SELECT priority FROM leads WHERE id = $1`, id))
	require.Equal(t, 1, p.count(t, `SELECT count(*) FROM lead_activities WHERE lead_id = $1 AND kind = 'task' AND subject = 'Book a call'
		AND dedup_key = 'route:7:task'`, id))
	require.Equal(t, 1, p.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type = 'lead.updated'
		AND payload->'changes'->'priority'->>'to' = 'high'`, id))
	require.Equal(t, 1, p.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type = 'lead.activity_added'`, id))

	again := p.route(t, pipeline.RouteInput{LeadID: id, EventID: 7})
	require.Empty(t, again.Changes)
	require.Equal(t, 1, p.count(t, `SELECT count(*) FROM lead_activities WHERE lead_id = $1`, id))
	require.Equal(t, 3, p.count(t, `SELECT count(*) FROM events WHERE entity_id = $1`, id), "created, updated, activity_added")

	urgent := p.qualified(t, "urgent@example.com", lead.StageQualified, pipeline.PathBookCall, lead.PriorityUrgent)
	res = p.route(t, pipeline.RouteInput{LeadID: urgent, EventID: 8})
	require.Equal(t, []string{"task"}, res.Changes)
	require.Equal(t, "urgent", p.str(t, `SELECT priority FROM leads WHERE id = $1`, urgent))
}

// TestRouteNurture proves nurture schedules one follow_up_lead task (dedup key
// "route:<event id>") due after the follow-up delay, with lead.follow_up_scheduled; a rerun
// schedules nothing; and the follow-up, when it runs, adds one task while the lead is still in
// nurture and nothing once it has moved on.
func TestRouteNurture(t *testing.T) {
	t.Parallel()
	p := newPipe(t)
	id := p.qualified(t, "nurture@example.com", lead.StageNurture, pipeline.PathNurture, lead.PriorityNormal)

	res := p.route(t, pipeline.RouteInput{LeadID: id, EventID: 9, FollowUpAfter: 72 * time.Hour})
	require.Equal(t, []string{"follow_up"}, res.Changes)
	require.Equal(t, 1, p.count(t, `SELECT count(*) FROM scheduled_tasks WHERE org_id = $1 AND job_type = $2 AND entity_type = 'lead'
		AND entity_id = $3 AND dedup_key = 'route:9' AND status = 'pending'
		AND run_at BETWEEN now() + interval '71 hours' AND now() + interval '73 hours'`, p.org, pipeline.KindFollowUpLead, id))
	require.Equal(t, 1, p.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type = $2`, id, pipeline.LeadFollowUpScheduled))
	require.Equal(t, "normal", p.str(t, `SELECT priority FROM leads WHERE id = $1`, id))

	again := p.route(t, pipeline.RouteInput{LeadID: id, EventID: 9})
	require.Empty(t, again.Changes)
	require.Equal(t, 1, p.count(t, `SELECT count(*) FROM scheduled_tasks WHERE org_id = $1`, p.org))

	var payload pipeline.FollowUpPayload
	require.NoError(t, json.Unmarshal([]byte(p.str(t, `SELECT payload::text FROM scheduled_tasks WHERE org_id = $1`, p.org)), &payload))
	require.Equal(t, pipeline.FollowUpPayload{LeadID: id, EventID: 9}, payload)
	followUp := func() bool {
		var skipped []bool
		require.NoError(t, p.d.Tx(t.Context(), p.org, func(tx *gorm.DB) error {
			var err error
			skipped, err = p.router.FollowUp(t.Context(), tx, p.org, []pipeline.FollowUpPayload{payload}, []string{"scheduled:x"})
			return err
		}))
		return skipped[0]
	}
	require.False(t, followUp())
	require.False(t, followUp(), "a rerun is no error")
	require.Equal(t, 1, p.count(t, `SELECT count(*) FROM lead_activities WHERE lead_id = $1 AND kind = 'task' AND dedup_key = 'follow_up:scheduled:x'`, id))

	_, err := p.svc.ChangeStage(t.Context(), p.org, "test", id, lead.StageContacted, "")
	require.NoError(t, err)
	payload.EventID = 10
	require.True(t, followUp(), "a lead that moved on needs no follow-up")
}

// TestRouteDisqualify proves disqualify moves the lead to disqualified with the reason through
// the stage machine (lead.stage_changed), once; a lead already disqualified, in a final stage or
// engaged by a person (contacted, call_booked) is left alone without an error.
func TestRouteDisqualify(t *testing.T) {
	t.Parallel()
	p := newPipe(t)
	id := p.qualified(t, "dq@example.com", lead.StageNew, pipeline.PathDisqualify, lead.PriorityNormal)

	res := p.route(t, pipeline.RouteInput{LeadID: id, EventID: 11, Reason: "free-mail domain, no company"})
	require.Equal(t, []string{"stage"}, res.Changes)
	require.Equal(t, "disqualified", p.str(t, `SELECT stage FROM leads WHERE id = $1`, id))
	require.Equal(t, "free-mail domain, no company", p.str(t, `SELECT stage_reason FROM leads WHERE id = $1`, id))
	require.Equal(t, 1, p.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type = 'lead.stage_changed'
		AND payload->>'from' = 'new' AND payload->>'to' = 'disqualified'`, id))

	again := p.route(t, pipeline.RouteInput{LeadID: id, EventID: 11})
	require.Empty(t, again.Changes)
	require.Empty(t, again.Skipped)
	require.Equal(t, 1, p.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type = 'lead.stage_changed'`, id))

	// Without a reason the score says why; a converted lead cannot be disqualified.
	other := p.qualified(t, "dq2@example.com", lead.StageQualified, pipeline.PathDisqualify, lead.PriorityNormal)
	p.route(t, pipeline.RouteInput{LeadID: other, EventID: 12})
	require.Contains(t, p.str(t, `SELECT stage_reason FROM leads WHERE id = $1`, other), "score 42")
	done := p.qualified(t, "won@example.com", lead.StageConverted, pipeline.PathDisqualify, lead.PriorityNormal)
	res = p.route(t, pipeline.RouteInput{LeadID: done, EventID: 13})
	require.NotEmpty(t, res.Skipped)
	require.Empty(t, res.Changes)
	require.Equal(t, "converted", p.str(t, `SELECT stage FROM leads WHERE id = $1`, done))

	// A lead a person engaged before routing ran (a call booked) keeps its stage.
	for _, stage := range []lead.Stage{lead.StageContacted, lead.StageCallBooked} {
		engaged := p.qualified(t, string(stage)+"@example.com", stage, pipeline.PathDisqualify, lead.PriorityNormal)
		res = p.route(t, pipeline.RouteInput{LeadID: engaged, EventID: 14})
		require.Contains(t, res.Skipped, "a person has engaged it")
		require.Empty(t, res.Changes)
		require.Equal(t, string(stage), p.str(t, `SELECT stage FROM leads WHERE id = $1`, engaged))
		require.Zero(t, p.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type = 'lead.stage_changed'`, engaged))
	}
}

// TestRouteSkips proves a deleted lead, a lead without a path and a final lead on book_call are
// skipped without writes, and that the event's path wins over the stored one.
func TestRouteSkips(t *testing.T) {
	t.Parallel()
	p := newPipe(t)
	gone := p.qualified(t, "gone@example.com", lead.StageQualified, pipeline.PathBookCall, lead.PriorityNormal)
	require.NoError(t, p.svc.Delete(t.Context(), p.org, "test", gone))
	require.NotEmpty(t, p.route(t, pipeline.RouteInput{LeadID: gone, EventID: 1}).Skipped)
	require.NotEmpty(t, p.route(t, pipeline.RouteInput{LeadID: uuid.New(), EventID: 2}).Skipped)

	l, err := p.svc.Create(t.Context(), p.org, "test", lead.NewLead{Contact: lead.Contact{Email: "nopath@example.com"}})
	require.NoError(t, err)
	require.NotEmpty(t, p.route(t, pipeline.RouteInput{LeadID: l.ID, EventID: 3}).Skipped)

	lost := p.qualified(t, "lost@example.com", lead.StageLost, pipeline.PathBookCall, lead.PriorityNormal)
	require.NotEmpty(t, p.route(t, pipeline.RouteInput{LeadID: lost, EventID: 4}).Skipped)
	require.Equal(t, 0, p.count(t, `SELECT count(*) FROM lead_activities WHERE org_id = $1`, p.org))

	// The path of the event wins over the stored one.
	id := p.qualified(t, "both@example.com", lead.StageNurture, pipeline.PathBookCall, lead.PriorityNormal)
	res := p.route(t, pipeline.RouteInput{LeadID: id, EventID: 5, Path: pipeline.PathNurture})
	require.Equal(t, pipeline.PathNurture, res.Path)
	require.Equal(t, []string{"follow_up"}, res.Changes)
}

// TestParseQualified proves the path and reason are read from both payload shapes, and that
// anything unknown is empty.
func TestParseQualified(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		data   string
		path   pipeline.Path
		reason string
	}{
		{`{"recommendedPath": "book_call", "reason": "fits"}`, pipeline.PathBookCall, "fits"},
		{`{"lead": {"recommendedPath": "nurture"}, "stageReason": "later"}`, pipeline.PathNurture, "later"},
		{`{"recommendedPath": "disqualify", "score": 12, "scoreReasons": ["free-mail domain", "no title"]}`, pipeline.PathDisqualify,
			"Qualification (score 12): free-mail domain; no title"},
		{`{"recommendedPath": "call_me"}`, "", ""},
		{`not json`, "", ""},
		{``, "", ""},
	} {
		path, reason := pipeline.ParseQualified(json.RawMessage(tc.data))
		require.Equal(t, tc.path, path, tc.data)
		require.Equal(t, tc.reason, reason, tc.data)
	}
}

// TestRouteMany proves Route routes many leads of every path in one call as it routes each
// alone (the same results, leads and event counts, compared lead by lead against twins
// routed one at a time), that a second call is a rerun that changes nothing, and that two inputs
// about one lead are refused with nothing written.
func TestRouteMany(t *testing.T) {
	t.Parallel()
	p := newPipe(t)
	type twin struct {
		stage    lead.Stage
		path     pipeline.Path
		priority lead.Priority
	}
	cases := []twin{
		{lead.StageQualified, pipeline.PathBookCall, lead.PriorityNormal},
		{lead.StageQualified, pipeline.PathBookCall, lead.PriorityUrgent},
		{lead.StageNurture, pipeline.PathNurture, lead.PriorityNormal},
		{lead.StageNew, pipeline.PathDisqualify, lead.PriorityLow},
		{lead.StageDisqualified, pipeline.PathDisqualify, lead.PriorityNormal},
		{lead.StageConverted, pipeline.PathBookCall, lead.PriorityNormal},
	}
	state := func(id uuid.UUID) string {
		return p.str(t, `SELECT concat_ws(' ', stage, stage_reason, priority, version,
			(SELECT count(*) FROM lead_activities a WHERE a.lead_id = l.id),
			(SELECT count(*) FROM scheduled_tasks s WHERE s.entity_id = l.id),
			(SELECT string_agg(type, ',' ORDER BY id) FROM events e WHERE e.entity_id = l.id))
			FROM leads l WHERE id = $1`, id)
	}
	var ins []pipeline.RouteInput
	var alone []pipeline.RouteResult
	var twins []uuid.UUID
	for i, c := range cases {
		one := p.qualified(t, fmt.Sprintf("one%d@example.com", i), c.stage, c.path, c.priority)
		alone = append(alone, p.route(t, pipeline.RouteInput{LeadID: one, EventID: int64(100 + i), Reason: "why"}))
		many := p.qualified(t, fmt.Sprintf("many%d@example.com", i), c.stage, c.path, c.priority)
		ins = append(ins, pipeline.RouteInput{LeadID: many, EventID: int64(200 + i), Reason: "why"})
		twins = append(twins, one)
	}
	gone := p.qualified(t, "gone@example.com", lead.StageQualified, pipeline.PathBookCall, lead.PriorityNormal)
	require.NoError(t, p.svc.Delete(t.Context(), p.org, "test", gone))
	ins = append(ins, pipeline.RouteInput{LeadID: gone, EventID: 300})
	routeMany := func(ins []pipeline.RouteInput) ([]pipeline.RouteResult, error) {
		var out []pipeline.RouteResult
		err := p.d.Tx(t.Context(), p.org, func(tx *gorm.DB) error {
			var err error
			out, err = p.router.Route(t.Context(), tx, p.org, ins)
			return err
		})
		return out, err
	}
	got, err := routeMany(ins)
	require.NoError(t, err)
	require.Equal(t, append(alone, pipeline.RouteResult{Skipped: "lead not found or deleted"}), got)
	for i := range cases {
		require.Equal(t, state(twins[i]), state(ins[i].LeadID), "case %d", i)
	}
	before := p.count(t, `SELECT count(*) FROM events`)
	again, err := routeMany(ins)
	require.NoError(t, err)
	for _, r := range again {
		require.Empty(t, r.Changes)
	}
	require.Equal(t, before, p.count(t, `SELECT count(*) FROM events`), "a rerun emits nothing")

	fresh := p.qualified(t, "twice@example.com", lead.StageQualified, pipeline.PathBookCall, lead.PriorityNormal)
	_, err = routeMany([]pipeline.RouteInput{{LeadID: fresh, EventID: 400}, {LeadID: fresh, EventID: 401}})
	require.Error(t, err)
	require.Equal(t, "normal", p.str(t, `SELECT priority FROM leads WHERE id = $1`, fresh))
}

// TestFollowUpManyLocksInIDOrder proves FollowUp over many follow-ups takes its leads' locks in the
// order of their ids, as every batch of the pipeline does, whatever the order of its jobs: while
// another transaction holds the lower lead, a batch naming the higher lead first waits for the
// lower one holding nothing, so that transaction can go on to lock the higher lead (as a
// qualify_lead or route_outreach batch does), and both commit without a deadlock.
func TestFollowUpManyLocksInIDOrder(t *testing.T) {
	t.Parallel()
	p := newPipe(t)
	lo := p.qualified(t, "first@example.com", lead.StageNurture, pipeline.PathNurture, lead.PriorityNormal)
	hi := p.qualified(t, "second@example.com", lead.StageNurture, pipeline.PathNurture, lead.PriorityNormal)
	if hi.String() < lo.String() {
		lo, hi = hi, lo
	}

	other, err := p.super.Pool.Begin(t.Context())
	require.NoError(t, err)
	defer func() { _ = other.Rollback(context.WithoutCancel(t.Context())) }()
	lock := func(id uuid.UUID) error {
		_, err := other.Exec(t.Context(), `SELECT 1 FROM leads WHERE id = $1 FOR UPDATE`, id)
		return err
	}
	require.NoError(t, lock(lo))

	done := make(chan error, 1)
	go func() {
		done <- p.d.Tx(t.Context(), p.org, func(tx *gorm.DB) error {
			_, err := p.router.FollowUp(t.Context(), tx, p.org,
				[]pipeline.FollowUpPayload{{LeadID: hi, EventID: 1}, {LeadID: lo, EventID: 2}}, []string{"fu:hi", "fu:lo"})
			return err
		})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for p.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`) == 0 {
		require.False(t, time.Now().After(deadline), "the batch waits for the lower lead")
		select {
		case err := <-done:
			require.FailNow(t, "the batch ended without waiting", "%v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	require.NoError(t, lock(hi), "the higher lead is not held by the waiting batch")
	require.NoError(t, other.Commit(t.Context()))
	require.NoError(t, <-done, "the batch commits after the other transaction")
	require.Equal(t, 2, p.count(t, `SELECT count(*) FROM lead_activities WHERE kind = 'task' AND dedup_key IN ('follow_up:fu:hi', 'follow_up:fu:lo')`))
}
