package jobs_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/page"
)

// observed is a queue in every state, in two orgs, for the read side's tests. Jobs of b.org:
// done (noop, completed first time), flaky (enrich_lead, failed once then completed), dead (noop,
// dead-lettered, open), revived (enrich_lead, dead-lettered permanently, then retried: pending
// again), running (noop, claimed) and waiting (noop, pending, enqueued last). The other org has
// a completed and a dead-lettered job.
type observed struct {
	*bundle
	other                                        uuid.UUID
	done, flaky, dead, revived, running, waiting int64
	otherDone, otherDead                         int64
	deadLetter, revivedLetter, otherDeadLetter   int64
	claimID                                      string
}

func observe(t *testing.T) *observed {
	t.Helper()
	b := setup(t)
	ctx := t.Context()
	o := &observed{bundle: b, other: dbtest.NewOrg(t, b.db, "other"), claimID: jobs.NewClaimID("w")}
	one := func(org uuid.UUID, typ, key string, maxAttempts int) int64 {
		return b.enqueue(t, jobs.NewJob{OrgID: org, Type: typ, IdempotencyKey: key, MaxAttempts: maxAttempts, Payload: map[string]string{"key": key}})[0]
	}
	o.done = one(b.org, jobs.KindNoop, "done", 0)
	o.flaky = one(b.org, "enrich_lead", "flaky", 0)
	o.dead = one(b.org, jobs.KindNoop, "dead", 1)
	o.revived = one(b.org, "enrich_lead", "revived", 1)
	o.running = one(b.org, jobs.KindNoop, "running", 0)
	o.otherDone = one(o.other, jobs.KindNoop, "done", 0)
	o.otherDead = one(o.other, jobs.KindNoop, "dead", 1)

	claimed := map[int64]*jobs.Job{}
	for _, j := range b.claim(t, o.claimID, 10, 7) {
		claimed[j.ID] = j
	}
	completed, err := b.q.CompleteMany(ctx, []jobs.Completion{{Job: claimed[o.done], Duration: 7 * time.Millisecond}, {Job: claimed[o.otherDone]}})
	require.NoError(t, err)
	require.Len(t, completed, 2)
	// In this order, so that dead letters' ids follow: dead, revived, otherDead.
	for _, f := range []struct {
		id    int64
		cause error
	}{
		{o.flaky, errors.New("timeout")}, {o.dead, errors.New("boom")}, {o.revived, jobs.Permanentf("bad payload")}, {o.otherDead, errors.New("boom")},
	} {
		_, err := b.q.Fail(ctx, claimed[f.id], f.cause, 0)
		require.NoError(t, err)
	}
	b.makeRunnable(t, o.flaky)
	again := b.claimOne(t, o.claimID)
	require.Equal(t, o.flaky, again.ID)
	completed, err = b.q.CompleteMany(ctx, []jobs.Completion{{Job: again}})
	require.NoError(t, err)
	require.Len(t, completed, 1)

	o.deadLetter = b.deadLetters(t, o.dead)[0].ID
	o.revivedLetter = b.deadLetters(t, o.revived)[0].ID
	o.otherDeadLetter = b.deadLetters(t, o.otherDead)[0].ID
	_, err = b.q.RetryDeadLetter(ctx, b.org, o.revivedLetter, "ops")
	require.NoError(t, err)
	o.waiting = one(b.org, jobs.KindNoop, "waiting", 0)
	return o
}

// read runs fn in a tenant transaction of org, as the api does.
func (o *observed) read(t *testing.T, org uuid.UUID, fn func(tx *gorm.DB) error) {
	t.Helper()
	require.NoError(t, o.db.Tx(t.Context(), org, fn))
}

// listJobs returns the ids of every job List shows org for f, walking pages of limit rows,
// and requires that the walk ends.
func (o *observed) listJobs(t *testing.T, org uuid.UUID, f jobs.Filter, limit int) []int64 {
	t.Helper()
	ids := []int64{}
	req := page.Request{Limit: limit}
	for range 100 {
		var p page.Page[jobs.Record]
		o.read(t, org, func(tx *gorm.DB) error {
			var err error
			p, err = jobs.List(t.Context(), tx, org, f, req)
			return err
		})
		require.LessOrEqual(t, len(p.Data), limit)
		for _, r := range p.Data {
			require.Equal(t, org, r.OrgID)
			ids = append(ids, r.ID)
		}
		if p.NextCursor == nil {
			return ids
		}
		require.Len(t, p.Data, limit, "only the last page is short")
		req.Cursor = *p.NextCursor
	}
	require.FailNow(t, "pagination does not end")
	return nil
}

// TestListJobs proves List shows only the caller's org, newest first, narrowed by status and
// type (alone and together), and that walking it page by page at any page size yields every
// row exactly once in order.
func TestListJobs(t *testing.T) {
	t.Parallel()
	o := observe(t)
	all := []int64{o.waiting, o.running, o.revived, o.dead, o.flaky, o.done}
	for _, limit := range []int{1, 2, 4, 6, 50} {
		require.Equal(t, all, o.listJobs(t, o.org, jobs.Filter{}, limit), "limit %d", limit)
	}
	require.Equal(t, []int64{o.otherDead, o.otherDone}, o.listJobs(t, o.other, jobs.Filter{}, 1))

	cases := []struct {
		f    jobs.Filter
		want []int64
	}{
		{jobs.Filter{Status: jobs.StatusPending}, []int64{o.waiting, o.revived}},
		{jobs.Filter{Status: jobs.StatusRunning}, []int64{o.running}},
		{jobs.Filter{Status: jobs.StatusCompleted}, []int64{o.flaky, o.done}},
		{jobs.Filter{Status: jobs.StatusFailed}, []int64{o.dead}},
		{jobs.Filter{Type: "enrich_lead"}, []int64{o.revived, o.flaky}},
		{jobs.Filter{Type: jobs.KindNoop, Status: jobs.StatusCompleted}, []int64{o.done}},
		{jobs.Filter{Type: "create_invoice"}, []int64{}},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, o.listJobs(t, o.org, tc.f, 1), "%+v", tc.f)
	}
}

// TestGetJob proves Get returns every field of the caller's job, and NotFound for an unknown
// id and for another org's job; JobLogs lists a job's attempts oldest first and none of another
// org's job.
func TestGetJob(t *testing.T) {
	t.Parallel()
	o := observe(t)
	ctx := t.Context()
	o.read(t, o.org, func(tx *gorm.DB) error {
		j, err := jobs.Get(ctx, tx, o.org, o.flaky)
		require.NoError(t, err)
		require.Equal(t, o.org, j.OrgID)
		require.Equal(t, o.flaky, j.ID)
		require.Equal(t, "enrich_lead", j.Type)
		require.Equal(t, jobs.StatusCompleted, j.Status)
		require.Equal(t, 2, j.Attempts)
		require.Equal(t, 3, j.MaxAttempts)
		require.NotNil(t, j.CompletedAt)
		require.Nil(t, j.FailedAt)
		require.Nil(t, j.LockedAt)
		require.Nil(t, j.LastError)
		require.Nil(t, j.EventID)
		require.False(t, j.CreatedAt.IsZero())
		require.False(t, j.RunAt.IsZero())
		require.JSONEq(t, `{"key":"flaky"}`, string(j.Payload))

		logs, err := jobs.JobLogs(ctx, tx, o.org, o.flaky)
		require.NoError(t, err)
		require.Len(t, logs, 2)
		require.Equal(t, []int{1, 2}, []int{logs[0].Attempt, logs[1].Attempt})
		require.Equal(t, []string{jobs.OutcomeFailed, jobs.OutcomeCompleted}, []string{logs[0].Outcome, logs[1].Outcome})
		require.Equal(t, ptr("timeout"), logs[0].Error)
		require.Nil(t, logs[1].Error)
		require.Equal(t, o.claimID, logs[0].Worker)
		require.Less(t, logs[0].ID, logs[1].ID)

		j, err = jobs.Get(ctx, tx, o.org, o.running)
		require.NoError(t, err)
		require.Equal(t, jobs.StatusRunning, j.Status)
		require.NotNil(t, j.LockedAt)
		require.Equal(t, ptr(o.claimID), j.LockedBy)

		j, err = jobs.Get(ctx, tx, o.org, o.dead)
		require.NoError(t, err)
		require.Equal(t, jobs.StatusFailed, j.Status)
		require.NotNil(t, j.FailedAt)
		require.Equal(t, ptr("boom"), j.LastError)

		for _, id := range []int64{o.otherDone, o.waiting + 1000} {
			_, err = jobs.Get(ctx, tx, o.org, id)
			require.Equal(t, apperr.NotFound, apperr.CodeOf(err), "job %d", id)
			logs, err = jobs.JobLogs(ctx, tx, o.org, id)
			require.NoError(t, err)
			require.Empty(t, logs)
		}
		return nil
	})
}

// TestListLogs proves ListLogs shows only the caller's org's attempts, newest first, narrowed
// by job, outcome and type, and walks every row once.
func TestListLogs(t *testing.T) {
	t.Parallel()
	o := observe(t)
	list := func(org uuid.UUID, f jobs.LogFilter, limit int) []jobs.LogEntry {
		t.Helper()
		var out []jobs.LogEntry
		req := page.Request{Limit: limit}
		for {
			var p page.Page[jobs.LogEntry]
			o.read(t, org, func(tx *gorm.DB) error {
				var err error
				p, err = jobs.ListLogs(t.Context(), tx, org, f, req)
				return err
			})
			out = append(out, p.Data...)
			if p.NextCursor == nil {
				return out
			}
			req.Cursor = *p.NextCursor
		}
	}
	jobsOf := func(logs []jobs.LogEntry) []int64 {
		ids := []int64{}
		for _, l := range logs {
			ids = append(ids, l.JobID)
		}
		return ids
	}
	all := list(o.org, jobs.LogFilter{}, 50)
	require.Len(t, all, 5, "done, flaky twice, dead, revived")
	for i := 1; i < len(all); i++ {
		require.Greater(t, all[i-1].ID, all[i].ID, "newest first")
	}
	require.Equal(t, all, list(o.org, jobs.LogFilter{}, 2))
	require.ElementsMatch(t, []int64{o.done, o.flaky, o.flaky, o.dead, o.revived}, jobsOf(all))
	require.ElementsMatch(t, []int64{o.otherDone, o.otherDead}, jobsOf(list(o.other, jobs.LogFilter{}, 1)))

	flaky := list(o.org, jobs.LogFilter{JobID: o.flaky}, 1)
	require.Len(t, flaky, 2)
	require.Equal(t, jobs.OutcomeCompleted, flaky[0].Outcome)
	require.Equal(t, 2, flaky[0].Attempt)
	require.Equal(t, "enrich_lead", flaky[0].Type)
	require.Equal(t, jobs.OutcomeFailed, flaky[1].Outcome)

	require.ElementsMatch(t, []int64{o.dead, o.revived}, jobsOf(list(o.org, jobs.LogFilter{Outcome: jobs.OutcomeDead}, 1)))
	require.ElementsMatch(t, []int64{o.flaky, o.flaky, o.revived}, jobsOf(list(o.org, jobs.LogFilter{Type: "enrich_lead"}, 1)))
	require.Equal(t, []int64{o.done}, jobsOf(list(o.org, jobs.LogFilter{Type: jobs.KindNoop, Outcome: jobs.OutcomeCompleted}, 1)))
	require.Equal(t, 7, list(o.org, jobs.LogFilter{JobID: o.done}, 1)[0].DurationMS)
	require.Empty(t, list(o.org, jobs.LogFilter{JobID: o.otherDone}, 1), "another org's job has no logs here")
}

// TestListDeadLetters proves ListDeadLetters shows only the caller's org, newest first, with
// the open/retried and type filters, and each dead letter's fields.
func TestListDeadLetters(t *testing.T) {
	t.Parallel()
	o := observe(t)
	list := func(org uuid.UUID, f jobs.DeadLetterFilter, limit int) []jobs.DeadLetter {
		t.Helper()
		var out []jobs.DeadLetter
		req := page.Request{Limit: limit}
		for {
			var p page.Page[jobs.DeadLetter]
			o.read(t, org, func(tx *gorm.DB) error {
				var err error
				p, err = jobs.ListDeadLetters(t.Context(), tx, org, f, req)
				return err
			})
			out = append(out, p.Data...)
			if p.NextCursor == nil {
				return out
			}
			req.Cursor = *p.NextCursor
		}
	}
	ids := func(dls []jobs.DeadLetter) []int64 {
		out := []int64{}
		for _, d := range dls {
			out = append(out, d.ID)
		}
		return out
	}
	all := list(o.org, jobs.DeadLetterFilter{}, 1)
	require.Equal(t, []int64{o.revivedLetter, o.deadLetter}, ids(all))
	require.Equal(t, []int64{o.otherDeadLetter}, ids(list(o.other, jobs.DeadLetterFilter{}, 1)))

	revived, dead := all[0], all[1]
	require.Equal(t, o.revived, revived.JobID)
	require.Equal(t, "enrich_lead", revived.Type)
	require.Equal(t, "permanent", revived.Reason)
	require.NotNil(t, revived.RetriedAt)
	require.Equal(t, ptr("ops"), revived.RetriedBy)
	require.Equal(t, ptr("permanent: bad payload"), revived.LastError)
	require.JSONEq(t, `{"key":"revived"}`, string(revived.Payload))
	require.Equal(t, o.dead, dead.JobID)
	require.Equal(t, "max_attempts", dead.Reason)
	require.Equal(t, 1, dead.Attempts)
	require.Nil(t, dead.RetriedAt)
	require.Nil(t, dead.RetriedBy)
	require.False(t, dead.FailedAt.IsZero())

	open, retried := true, false
	require.Equal(t, []int64{o.deadLetter}, ids(list(o.org, jobs.DeadLetterFilter{Open: &open}, 50)))
	require.Equal(t, []int64{o.revivedLetter}, ids(list(o.org, jobs.DeadLetterFilter{Open: &retried}, 50)))
	require.Equal(t, []int64{o.revivedLetter}, ids(list(o.org, jobs.DeadLetterFilter{Type: "enrich_lead"}, 50)))
	require.Empty(t, list(o.org, jobs.DeadLetterFilter{Type: "enrich_lead", Open: &open}, 50))
}

// TestListsRefuseBadCursor proves every list refuses a cursor it did not make (garbage, or a
// well-formed document naming no row) as BadRequest on field "cursor", and that an out-of-range
// limit is clamped rather than trusted.
func TestListsRefuseBadCursor(t *testing.T) {
	t.Parallel()
	o := observe(t)
	ctx := t.Context()
	for _, cursor := range []string{"!!", page.Encode(map[string]int{"id": 0}), page.Encode(map[string]int{"id": -5}), page.Encode(map[string]string{"id": "x"})} {
		req := page.Request{Limit: 10, Cursor: cursor}
		err := o.db.Tx(ctx, o.org, func(tx *gorm.DB) error {
			_, err := jobs.List(ctx, tx, o.org, jobs.Filter{}, req)
			return err
		})
		requireBadCursor(t, err)
		err = o.db.Tx(ctx, o.org, func(tx *gorm.DB) error {
			_, err := jobs.ListLogs(ctx, tx, o.org, jobs.LogFilter{}, req)
			return err
		})
		requireBadCursor(t, err)
		err = o.db.Tx(ctx, o.org, func(tx *gorm.DB) error {
			_, err := jobs.ListDeadLetters(ctx, tx, o.org, jobs.DeadLetterFilter{}, req)
			return err
		})
		requireBadCursor(t, err)
	}
	o.read(t, o.org, func(tx *gorm.DB) error {
		p, err := jobs.List(ctx, tx, o.org, jobs.Filter{}, page.Request{Limit: 0})
		require.NoError(t, err)
		require.Len(t, p.Data, 6, "limit 0 means the default")
		p, err = jobs.List(ctx, tx, o.org, jobs.Filter{}, page.Request{Limit: 1 << 20})
		require.NoError(t, err)
		require.Len(t, p.Data, 6)
		return nil
	})
}

func requireBadCursor(t *testing.T, err error) {
	t.Helper()
	e, ok := apperr.As(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, apperr.BadRequest, e.Code)
	require.Equal(t, []apperr.FieldError{{Field: "cursor", Message: "is not a cursor returned by this list"}}, e.Fields)
}

// TestRetryDeadLetterTx proves the retry runs in the caller's transaction: rolled back with it,
// it leaves the dead letter open and the job failed; committed, it reopens the job; a second
// retry is Conflict and another org's dead letter NotFound, inside that org's transaction too.
func TestRetryDeadLetterTx(t *testing.T) {
	t.Parallel()
	o := observe(t)
	ctx := t.Context()
	rollback := errors.New("roll back")
	err := o.db.Tx(ctx, o.org, func(tx *gorm.DB) error {
		jobID, err := o.q.RetryDeadLetterTx(ctx, tx, o.org, o.deadLetter, "ops")
		require.NoError(t, err)
		require.Equal(t, o.dead, jobID)
		return rollback
	})
	require.ErrorIs(t, err, rollback)
	require.Equal(t, jobs.StatusFailed, o.row(t, o.dead).Status)
	require.False(t, o.deadLetters(t, o.dead)[0].Retried)

	var jobID int64
	require.NoError(t, o.db.Tx(ctx, o.org, func(tx *gorm.DB) error {
		var err error
		jobID, err = o.q.RetryDeadLetterTx(ctx, tx, o.org, o.deadLetter, "apikey:1")
		return err
	}))
	require.Equal(t, o.dead, jobID)
	require.Equal(t, jobs.StatusPending, o.row(t, o.dead).Status)
	require.Equal(t, ptr("apikey:1"), o.deadLetters(t, o.dead)[0].RetriedBy)

	for _, tc := range []struct {
		org  uuid.UUID
		id   int64
		code apperr.Code
	}{
		{o.org, o.deadLetter, apperr.Conflict},
		{o.org, o.otherDeadLetter, apperr.NotFound},
		{o.other, o.deadLetter, apperr.NotFound},
	} {
		err := o.db.Tx(ctx, tc.org, func(tx *gorm.DB) error {
			_, err := o.q.RetryDeadLetterTx(ctx, tx, tc.org, tc.id, "ops")
			return err
		})
		require.Equal(t, tc.code, apperr.CodeOf(err), "%+v", tc)
	}
	require.Equal(t, jobs.StatusFailed, o.row(t, o.otherDead).Status)
	require.False(t, o.deadLetters(t, o.otherDead)[0].Retried)
}

// TestValidJobType proves ValidType accepts exactly the job type form the jobs table allows.
func TestValidJobType(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"noop", "process_intake", "enrich_lead", "qualify_lead", "route_outreach", "analyze_call", "escalate_lead",
		"create_invoice", "generate_contract", "nudge_deal", "create_client", "start_onboarding", "check_deal_decay",
		"check_lead_stale", "recalc_auto_priority", "recalc_ghost_risk", "renewal_reminder", "check_integrity",
		"generate_weekly_report", "follow_up_lead",
	} {
		require.True(t, jobs.ValidType(s), s)
	}
	for _, s := range []string{"", "Noop", "1noop", "_noop", "no-op", "no op", "noop;", "lead.created", string(make([]byte, 101))} {
		require.False(t, jobs.ValidType(s), "%q", s)
	}
}
