package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/schedule"
)

// cronTaskJSON is a cron task as the API shows it.
type cronTaskJSON struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	JobType    string         `json:"jobType"`
	CronExpr   string         `json:"cronExpr"`
	Timezone   string         `json:"timezone"`
	Enabled    bool           `json:"enabled"`
	Payload    map[string]any `json:"payload"`
	LastSlotAt *time.Time     `json:"lastSlotAt"`
	NextSlotAt *time.Time     `json:"nextSlotAt"`
}

// scheduledTaskJSON is a pending one-off task as the API shows it.
type scheduledTaskJSON struct {
	ID         string         `json:"id"`
	JobType    string         `json:"jobType"`
	Payload    map[string]any `json:"payload"`
	RunAt      time.Time      `json:"runAt"`
	EntityType *string        `json:"entityType"`
	EntityID   *string        `json:"entityId"`
}

// seedCronTask gives org a cron task (as the seeding does, as the owner) and returns its id.
// lastSlotSQL is an SQL expression for last_slot_at.
func (a *apiTest) seedCronTask(org uuid.UUID, name, jobType, expr string, enabled bool, lastSlotSQL string) string {
	a.t.Helper()
	var id string
	require.NoError(a.t, a.super.QueryRow(a.t.Context(), `INSERT INTO cron_tasks (org_id, name, job_type, cron_expr, enabled, payload, last_slot_at)
		VALUES ($1, $2, $3, $4, $5, '{"sleepMs": 1}', `+lastSlotSQL+`) RETURNING id`, org, name, jobType, expr, enabled).Scan(&id))
	return id
}

// seedScheduledTask gives org a one-off task due at runAtSQL in status and returns its id.
func (a *apiTest) seedScheduledTask(org uuid.UUID, runAtSQL, status string) string {
	a.t.Helper()
	var id string
	require.NoError(a.t, a.super.QueryRow(a.t.Context(), `INSERT INTO scheduled_tasks (org_id, job_type, payload, run_at, status, entity_type, entity_id)
		VALUES ($1, 'noop', '{"sleepMs": 2}', `+runAtSQL+`, $2, 'lead', gen_random_uuid()) RETURNING id`, org, status).Scan(&id))
	return id
}

// tick runs one tick of the scheduler over the test database, as the scheduler binary does.
func (a *apiTest) tick() schedule.Result {
	a.t.Helper()
	res, err := schedule.New(a.owner, jobs.New(a.owner, jobs.Config{}), zaptest.NewLogger(a.t)).Tick(a.t.Context())
	require.NoError(a.t, err)
	return res
}

// cronSnapshot is every cron task's settings and events about them: what a refused change must
// leave as it was.
func (a *apiTest) cronSnapshot() string {
	a.t.Helper()
	var s string
	require.NoError(a.t, a.super.QueryRow(a.t.Context(), `SELECT concat_ws('|',
		(SELECT string_agg(concat_ws(',', id, cron_expr, timezone, enabled, last_slot_at, updated_at), ';' ORDER BY id) FROM cron_tasks),
		(SELECT count(*) FROM events), (SELECT count(*) FROM jobs))`).Scan(&s))
	return s
}

// TestCronTaskList proves GET /cron-tasks lists the org's tasks by name with the API's fields,
// nextSlotAt as the scheduler computes it (the next hour for an hourly task that fired this
// hour, the due slot for one that missed it) and null for a disabled task, and none of
// another org's.
func TestCronTaskList(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.seedCronTask(a.org, "b hourly", "noop", "0 * * * *", true, "date_trunc('hour', now())")
	a.seedCronTask(a.org, "a missed", "noop", "*/5 * * * *", true, "date_trunc('hour', now()) - interval '1 day'")
	a.seedCronTask(a.org, "c report", "generate_weekly_report", "0 7 * * 1", false, "NULL")
	other, _ := a.newOrg("other")
	a.seedCronTask(other, "hidden", "noop", "0 * * * *", true, "NULL")

	before := time.Now().UTC()
	r := a.do(http.MethodGet, "/cron-tasks", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var list struct {
		Data []cronTaskJSON `json:"data"`
	}
	r.json(t, &list)
	require.Len(t, list.Data, 3)
	missed, hourly, report := list.Data[0], list.Data[1], list.Data[2]
	require.Equal(t, []string{"a missed", "b hourly", "c report"}, []string{missed.Name, hourly.Name, report.Name})

	hour := before.Truncate(time.Hour)
	require.Equal(t, "noop", hourly.JobType)
	require.Equal(t, "0 * * * *", hourly.CronExpr)
	require.Equal(t, "UTC", hourly.Timezone)
	require.True(t, hourly.Enabled)
	require.Equal(t, map[string]any{"sleepMs": float64(1)}, hourly.Payload)
	require.Equal(t, hour, *hourly.LastSlotAt)
	require.Equal(t, hour.Add(time.Hour), *hourly.NextSlotAt, "fired this hour: next hour")

	require.NotNil(t, missed.NextSlotAt)
	require.False(t, missed.NextSlotAt.After(before.Add(time.Minute)), "a missed slot is due now: %s", missed.NextSlotAt)
	require.Zero(t, missed.NextSlotAt.Minute()%5)
	res := a.tick()
	require.GreaterOrEqual(t, res.CronFired, 1)
	var last time.Time
	require.NoError(t, a.super.QueryRow(t.Context(), `SELECT last_slot_at FROM cron_tasks WHERE id = $1`, missed.ID).Scan(&last))
	require.True(t, last.Equal(*missed.NextSlotAt) || last.After(*missed.NextSlotAt), "the tick fired the slot shown as next (or a later one)")

	require.False(t, report.Enabled)
	require.Nil(t, report.LastSlotAt)
	require.Nil(t, report.NextSlotAt, "a disabled task has no next slot")
	require.NotContains(t, string(r.Body), "hidden")
}

// TestCronTaskPatch proves PATCH /cron-tasks/{id} changes the expression (normalised), zone
// and enabled flag, with nextSlotAt following the new schedule, emits cron_task.updated once
// per change and none for no change, honours an Idempotency-Key, and that after the change
// the scheduler's tick fires no slot from before it.
func TestCronTaskPatch(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	id := a.seedCronTask(a.org, "sweep", "noop", "0 3 1 * *", false, "now() - interval '3 days'")
	path := "/cron-tasks/" + id

	r := a.do(http.MethodPatch, path, map[string]any{"cronExpr": "  30 6  * * * ", "timezone": "Europe/Berlin", "enabled": true},
		withHeader("Idempotency-Key", "patch-1"))
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var got cronTaskJSON
	r.json(t, &got)
	require.Equal(t, "30 6 * * *", got.CronExpr)
	require.Equal(t, "Europe/Berlin", got.Timezone)
	require.True(t, got.Enabled)
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	require.NotNil(t, got.NextSlotAt)
	next := got.NextSlotAt.In(berlin)
	require.Equal(t, [2]int{6, 30}, [2]int{next.Hour(), next.Minute()})
	require.True(t, got.NextSlotAt.After(time.Now()), "the first slot after the change")
	require.True(t, got.NextSlotAt.Before(time.Now().Add(25*time.Hour)))
	require.NotNil(t, got.LastSlotAt)
	require.Equal(t, got.NextSlotAt.Add(-24*time.Hour).In(berlin).Hour(), got.LastSlotAt.In(berlin).Hour(), "the latest passed slot is accounted for")

	replay := a.do(http.MethodPatch, path, map[string]any{"cronExpr": "  30 6  * * * ", "timezone": "Europe/Berlin", "enabled": true},
		withHeader("Idempotency-Key", "patch-1"))
	require.Equal(t, http.StatusOK, replay.Status)
	require.Equal(t, "true", replay.Header.Get("Idempotent-Replayed"))
	require.JSONEq(t, string(r.Body), string(replay.Body))

	// The same settings again change nothing and emit nothing.
	r = a.do(http.MethodPatch, path, map[string]any{"cronExpr": "30 6 * * *", "enabled": true})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Equal(t, 1, a.count(`SELECT count(*) FROM events WHERE type = 'cron_task.updated' AND entity_id = $1`, id))

	// No slot from before the change fires; disabling shows no next slot.
	require.Zero(t, a.tick().CronFired)
	require.Zero(t, a.count(`SELECT count(*) FROM jobs WHERE idempotency_key LIKE 'cron:%'`))
	r = a.do(http.MethodPatch, path, map[string]any{"enabled": false})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.json(t, &got)
	require.Nil(t, got.NextSlotAt)
	require.Equal(t, 2, a.count(`SELECT count(*) FROM events WHERE type = 'cron_task.updated' AND entity_id = $1
		AND payload->'from'->>'enabled' = 'true' AND payload->'to'->>'enabled' = 'false' OR type = 'cron_task.updated' AND entity_id = $1
		AND payload->'from'->>'cronExpr' = '0 3 1 * *' AND payload->'to'->>'cronExpr' = '30 6 * * *'`, id))
}

// TestCronTaskPatchRefused proves every refusal of PATCH /cron-tasks/{id} — an empty body or
// patch, an unknown or mistyped member, an expression or zone that does not parse (422 naming
// the field with the parser's reason), enabling a job type nothing works (409 naming it), an
// unknown, malformed or other org's id — writes nothing.
func TestCronTaskPatchRefused(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	id := a.seedCronTask(a.org, "noop", "noop", "0 * * * *", true, "NULL")
	unbuilt := a.seedCronTask(a.org, "retired", "retired_check", "0 2 * * *", false, "NULL")
	other, otherKey := a.newOrg("other")
	path := "/cron-tasks/" + id
	before := a.cronSnapshot()

	cases := []struct {
		name        string
		path        string
		body        any
		status      int
		field, says string
	}{
		{"no body", path, "", http.StatusBadRequest, "", "empty"},
		{"empty patch", path, map[string]any{}, http.StatusUnprocessableEntity, "", "at least one of cronExpr, timezone, enabled"},
		{"nulls only", path, `{"cronExpr": null}`, http.StatusUnprocessableEntity, "", "at least one"},
		{"unknown member", path, map[string]any{"cron": "0 * * * *"}, http.StatusBadRequest, "cron", ""},
		{"wrong type", path, map[string]any{"enabled": "yes"}, http.StatusBadRequest, "enabled", ""},
		{"minute out of range", path, map[string]any{"cronExpr": "61 * * * *"}, http.StatusUnprocessableEntity, "cronExpr", "above maximum"},
		{"not a number", path, map[string]any{"cronExpr": "x * * * *"}, http.StatusUnprocessableEntity, "cronExpr", "failed to parse"},
		{"six fields", path, map[string]any{"cronExpr": "0 0 * * * *"}, http.StatusUnprocessableEntity, "cronExpr", "exactly 5 fields"},
		{"descriptor", path, map[string]any{"cronExpr": "@daily"}, http.StatusUnprocessableEntity, "cronExpr", "exactly 5 fields"},
		{"never matches", path, map[string]any{"cronExpr": "0 0 31 2 *"}, http.StatusUnprocessableEntity, "cronExpr", "matches no time"},
		{"too long", path, map[string]any{"cronExpr": strings.Repeat("1,", 150) + "1 * * * *"}, http.StatusUnprocessableEntity, "cronExpr", "at most 200"},
		{"unknown zone", path, map[string]any{"timezone": "Mars/Olympus"}, http.StatusUnprocessableEntity, "timezone", "unknown time zone"},
		{"host zone", path, map[string]any{"timezone": "Local"}, http.StatusUnprocessableEntity, "timezone", "IANA"},
		{"empty zone", path, map[string]any{"timezone": ""}, http.StatusUnprocessableEntity, "timezone", "empty"},
		{"path in zone", path, map[string]any{"timezone": "../../etc/passwd"}, http.StatusUnprocessableEntity, "timezone", ""},
		{"both bad", path, map[string]any{"cronExpr": "* *", "timezone": "Nowhere"}, http.StatusUnprocessableEntity, "timezone", ""},
		{"unbuilt kind", "/cron-tasks/" + unbuilt, map[string]any{"enabled": true}, http.StatusConflict, "", `"jobType":"retired_check"`},
		{"unknown id", "/cron-tasks/" + uuid.NewString(), map[string]any{"enabled": false}, http.StatusNotFound, "", ""},
		{"malformed id", "/cron-tasks/x", map[string]any{"enabled": false}, http.StatusBadRequest, "id", ""},
	}
	for _, tc := range cases {
		r := a.do(http.MethodPatch, tc.path, tc.body)
		requireRefused(t, r, tc.status, tc.field, tc.name)
		if tc.says != "" {
			require.Contains(t, string(r.Body), tc.says, tc.name)
		}
	}
	r := a.do(http.MethodPatch, path, map[string]any{"cronExpr": "* *", "timezone": "Nowhere"})
	require.Len(t, r.problem(t).Errors, 2, "both fields named")
	requireRefused(t, a.do(http.MethodPatch, path, map[string]any{"enabled": false}, asOrg(other, otherKey)), http.StatusNotFound, "", "other org")
	require.Equal(t, before, a.cronSnapshot())
}

// TestCronTaskRun proves POST /cron-tasks/{id}/run enqueues one job of the task now (disabled
// or not) with the payload a tick gives it, answers 202 with its id, answers the same id to a
// retry with the same Idempotency-Key even when the stored answer is gone, enqueues one job per
// call without a key, and refuses a job type nothing works (409) and unknown ids, writing
// nothing.
func TestCronTaskRun(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	id := a.seedCronTask(a.org, "noop", "noop", "0 3 * * *", false, "NULL")
	unbuilt := a.seedCronTask(a.org, "report", "generate_monthly_report", "0 7 1 * *", false, "NULL")
	path := "/cron-tasks/" + id + "/run"

	before := time.Now().UTC().Truncate(time.Second)
	r := a.do(http.MethodPost, path, nil, withHeader("Idempotency-Key", "run-1"))
	require.Equal(t, http.StatusAccepted, r.Status, string(r.Body))
	var run struct {
		JobID int64 `json:"jobId"`
	}
	r.json(t, &run)
	require.Positive(t, run.JobID)
	var jobType, slot string
	var sleep int
	require.NoError(t, a.super.QueryRow(t.Context(), `SELECT job_type, payload->>'slot', (payload->>'sleepMs')::int FROM jobs WHERE id = $1`, run.JobID).
		Scan(&jobType, &slot, &sleep))
	require.Equal(t, "noop", jobType)
	require.Equal(t, 1, sleep, "the task's payload")
	at, err := time.Parse(time.RFC3339, slot)
	require.NoError(t, err)
	require.False(t, at.Before(before), "the slot is now")
	require.True(t, at.Before(time.Now().Add(time.Minute)))

	replay := a.do(http.MethodPost, path, nil, withHeader("Idempotency-Key", "run-1"))
	require.Equal(t, http.StatusAccepted, replay.Status)
	require.Equal(t, "true", replay.Header.Get("Idempotent-Replayed"))
	require.JSONEq(t, string(r.Body), string(replay.Body))
	// A retry whose stored answer is lost still finds the job the key enqueued.
	_, err = a.super.Exec(t.Context(), `DELETE FROM idempotency_records WHERE org_id = $1`, a.org)
	require.NoError(t, err)
	again := a.do(http.MethodPost, path, nil, withHeader("Idempotency-Key", "run-1"))
	require.Equal(t, http.StatusAccepted, again.Status, string(again.Body))
	require.Empty(t, again.Header.Get("Idempotent-Replayed"))
	require.JSONEq(t, string(r.Body), string(again.Body))
	require.Equal(t, 1, a.count(`SELECT count(*) FROM jobs WHERE job_type = 'noop'`))

	// Without a key every call is a run of its own.
	first, second := a.do(http.MethodPost, path, nil), a.do(http.MethodPost, path, nil)
	require.Equal(t, http.StatusAccepted, first.Status)
	require.NotEqual(t, string(first.Body), string(second.Body))
	require.Equal(t, 3, a.count(`SELECT count(*) FROM jobs WHERE job_type = 'noop'`))
	require.Zero(t, a.count(`SELECT count(*) FROM cron_tasks WHERE last_slot_at IS NOT NULL OR enabled`), "the schedule is not touched")

	jobsBefore := a.count(`SELECT count(*) FROM jobs`)
	r = a.do(http.MethodPost, "/cron-tasks/"+unbuilt+"/run", nil)
	requireRefused(t, r, http.StatusConflict, "", "unbuilt kind")
	require.Contains(t, string(r.Body), `"jobType":"generate_monthly_report"`)
	requireRefused(t, a.do(http.MethodPost, "/cron-tasks/"+uuid.NewString()+"/run", nil), http.StatusNotFound, "", "unknown id")
	requireRefused(t, a.do(http.MethodPost, "/cron-tasks/nope/run", nil), http.StatusBadRequest, "id", "malformed id")
	other, otherKey := a.newOrg("other")
	requireRefused(t, a.do(http.MethodPost, path, nil, asOrg(other, otherKey)), http.StatusNotFound, "", "other org")
	require.Equal(t, jobsBefore, a.count(`SELECT count(*) FROM jobs`))
}

// TestScheduledTasks proves GET /scheduled-tasks pages the org's pending one-off tasks soonest
// first (not enqueued, cancelled or other orgs' ones), and DELETE /scheduled-tasks/{id}
// cancels a pending one (204, once, with its event) so that the scheduler never runs it, while
// an enqueued one is 409 and a missing, cancelled or other org's one 404, writing nothing.
func TestScheduledTasks(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	due := a.seedScheduledTask(a.org, "now() - interval '1 minute'", "pending")
	soon := a.seedScheduledTask(a.org, "now() + interval '1 hour'", "pending")
	later := a.seedScheduledTask(a.org, "now() + interval '2 days'", "pending")
	enqueued := a.seedScheduledTask(a.org, "now() - interval '1 hour'", "enqueued")
	cancelled := a.seedScheduledTask(a.org, "now() + interval '1 hour'", "cancelled")
	other, otherKey := a.newOrg("other")
	hidden := a.seedScheduledTask(other, "now() + interval '1 hour'", "pending")

	var pg struct {
		Data       []scheduledTaskJSON `json:"data"`
		NextCursor *string             `json:"nextCursor"`
	}
	r := a.do(http.MethodGet, "/scheduled-tasks?limit=2", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.json(t, &pg)
	require.Len(t, pg.Data, 2)
	require.Equal(t, []string{due, soon}, []string{pg.Data[0].ID, pg.Data[1].ID})
	require.Equal(t, "noop", pg.Data[0].JobType)
	require.Equal(t, map[string]any{"sleepMs": float64(2)}, pg.Data[0].Payload)
	require.Equal(t, "lead", *pg.Data[0].EntityType)
	require.NotNil(t, pg.Data[0].EntityID)
	require.NotNil(t, pg.NextCursor)
	r = a.do(http.MethodGet, "/scheduled-tasks?limit=2&cursor="+*pg.NextCursor, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.json(t, &pg)
	require.Len(t, pg.Data, 1)
	require.Equal(t, later, pg.Data[0].ID)
	require.Nil(t, pg.NextCursor)
	requireRefused(t, a.do(http.MethodGet, "/scheduled-tasks?cursor=nope", nil), http.StatusBadRequest, "cursor", "bad cursor")
	requireRefused(t, a.do(http.MethodGet, "/scheduled-tasks?limit=0", nil), http.StatusBadRequest, "limit", "bad limit")
	for _, id := range []string{enqueued, cancelled, hidden} {
		require.NotContains(t, string(a.do(http.MethodGet, "/scheduled-tasks", nil).Body), id)
	}

	// Refusals write nothing.
	snapshot := func() string {
		var s string
		require.NoError(t, a.super.QueryRow(t.Context(), `SELECT concat_ws('|',
			(SELECT string_agg(concat_ws(',', id, status, updated_at), ';' ORDER BY id) FROM scheduled_tasks),
			(SELECT count(*) FROM events))`).Scan(&s))
		return s
	}
	before := snapshot()
	r = a.do(http.MethodDelete, "/scheduled-tasks/"+enqueued, nil)
	requireRefused(t, r, http.StatusConflict, "", "enqueued")
	require.Contains(t, string(r.Body), `"taskStatus":"enqueued"`)
	requireRefused(t, a.do(http.MethodDelete, "/scheduled-tasks/"+cancelled, nil), http.StatusNotFound, "", "cancelled")
	requireRefused(t, a.do(http.MethodDelete, "/scheduled-tasks/"+hidden, nil), http.StatusNotFound, "", "other org's")
	requireRefused(t, a.do(http.MethodDelete, "/scheduled-tasks/"+uuid.NewString(), nil), http.StatusNotFound, "", "unknown")
	requireRefused(t, a.do(http.MethodDelete, "/scheduled-tasks/x", nil), http.StatusBadRequest, "id", "malformed")
	requireRefused(t, a.do(http.MethodDelete, "/scheduled-tasks/"+due, nil, asOrg(other, otherKey)), http.StatusNotFound, "", "as the other org")
	require.Equal(t, before, snapshot())

	// Cancelled before it is due: the tick leaves it, gone from the list, once.
	require.Equal(t, http.StatusNoContent, a.do(http.MethodDelete, "/scheduled-tasks/"+due, nil).Status)
	requireRefused(t, a.do(http.MethodDelete, "/scheduled-tasks/"+due, nil), http.StatusNotFound, "", "twice")
	require.Equal(t, 1, a.count(`SELECT count(*) FROM events WHERE type = 'scheduled_task.cancelled' AND entity_id = $1
		AND payload->>'jobType' = 'noop'`, due))
	require.Zero(t, a.tick().ScheduledQueued)
	require.Zero(t, a.count(`SELECT count(*) FROM jobs WHERE idempotency_key = 'scheduled:' || $1::text`, due))
	require.NotContains(t, string(a.do(http.MethodGet, "/scheduled-tasks", nil).Body), due)
}
