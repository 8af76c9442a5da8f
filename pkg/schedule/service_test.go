package schedule_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/schedule"
)

// TestNextSlot checks the slot the API shows as next against the scheduler's rules: a due slot
// not fired yet is next (a tick fires it), else the first slot after now; zones, the lookback
// bound, an expression that never matches, and what the parser refuses.
func TestNextSlot(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return v
	}
	cases := []struct {
		name, expr, tz, after, now string
		want                       string // "" = none
		wantErr                    bool
	}{
		{name: "due slot not fired yet is next", expr: "0 * * * *", tz: "UTC", after: "2026-01-01T10:00:00Z", now: "2026-01-01T12:30:00Z", want: "2026-01-01T12:00:00Z"},
		{name: "nothing due: the first slot after now", expr: "0 * * * *", tz: "UTC", after: "2026-01-01T12:00:00Z", now: "2026-01-01T12:30:00Z", want: "2026-01-01T13:00:00Z"},
		{name: "a slot exactly now is due", expr: "0 * * * *", tz: "UTC", after: "2026-01-01T11:00:00Z", now: "2026-01-01T12:00:00Z", want: "2026-01-01T12:00:00Z"},
		{name: "daily in Berlin, winter", expr: "0 6 * * *", tz: "Europe/Berlin", after: "2026-01-01T05:00:00Z", now: "2026-01-01T10:00:00Z", want: "2026-01-02T05:00:00Z"},
		{name: "daily in Berlin, summer", expr: "0 6 * * *", tz: "Europe/Berlin", after: "2026-07-01T04:00:00Z", now: "2026-07-01T10:00:00Z", want: "2026-07-02T04:00:00Z"},
		{name: "weekly by name", expr: "0 7 * * MON", tz: "UTC", after: "2026-01-05T07:00:00Z", now: "2026-01-06T00:00:00Z", want: "2026-01-12T07:00:00Z"},
		{name: "fired by a clock ahead of now", expr: "* * * * *", tz: "UTC", after: "2026-01-01T12:01:00Z", now: "2026-01-01T12:00:59Z", want: "2026-01-01T12:02:00Z"},
		{name: "beyond the lookback nothing is due", expr: "0 0 1 1 *", tz: "UTC", after: "2020-01-01T00:00:00Z", now: "2026-06-01T00:00:00Z", want: "2027-01-01T00:00:00Z"},
		{name: "never matches", expr: "0 0 30 2 *", tz: "UTC", after: "2026-01-01T00:00:00Z", now: "2026-01-02T00:00:00Z"},
		{name: "bad field", expr: "61 * * * *", tz: "UTC", after: "2026-01-01T00:00:00Z", now: "2026-01-01T01:00:00Z", wantErr: true},
		{name: "six fields", expr: "0 0 * * * *", tz: "UTC", after: "2026-01-01T00:00:00Z", now: "2026-01-01T01:00:00Z", wantErr: true},
		{name: "descriptor", expr: "@daily", tz: "UTC", after: "2026-01-01T00:00:00Z", now: "2026-01-01T01:00:00Z", wantErr: true},
		{name: "zone prefix", expr: "CRON_TZ=UTC 0 * * *", tz: "UTC", after: "2026-01-01T00:00:00Z", now: "2026-01-01T01:00:00Z", wantErr: true},
		{name: "unknown zone", expr: "0 * * * *", tz: "Mars/Olympus", after: "2026-01-01T00:00:00Z", now: "2026-01-01T01:00:00Z", wantErr: true},
		{name: "the host's zone", expr: "0 * * * *", tz: "Local", after: "2026-01-01T00:00:00Z", now: "2026-01-01T01:00:00Z", wantErr: true},
		{name: "no zone", expr: "0 * * * *", tz: "", after: "2026-01-01T00:00:00Z", now: "2026-01-01T01:00:00Z", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			slot, ok, err := schedule.NextSlot(tc.expr, tc.tz, at(tc.after), at(tc.now))
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			if tc.want == "" {
				require.False(t, ok, "unexpected slot %s", slot)
				return
			}
			require.True(t, ok)
			require.Equal(t, at(tc.want), slot)
			// What NextSlot calls due is what LatestSlot (Tick's rule) fires.
			if due, dueOK, err := schedule.LatestSlot(tc.expr, tc.tz, at(tc.after), at(tc.now)); dueOK {
				require.NoError(t, err)
				require.Equal(t, due, slot)
			} else {
				require.True(t, slot.After(at(tc.now)))
			}
		})
	}
}

// newService is the use cases on b's database, knowing the noop kind only.
func newService(b bundle) *schedule.Service {
	q := jobs.New(b.d, jobs.Config{})
	return schedule.NewService(b.d, q, events.NewEmitter(q, nil), []string{jobs.KindNoop})
}

// TestChangedScheduleFiresNoPastSlot proves that changing a task's expression and enabling it
// through UpdateCronTask makes Tick fire nothing for slots before the change, while the same
// change written straight to the table makes Tick fire the latest missed slot (once, per the
// catch-up rule, not one per missed slot): the change moves last_slot_at to the new schedule's
// latest passed slot, and the task fires next at its first slot after the change.
func TestChangedScheduleFiresNoPastSlot(t *testing.T) {
	t.Parallel()
	b := setup(t)
	svc := newService(b)
	org := dbtest.NewOrg(t, b.d, "org-"+uuid.NewString()[:8])
	var viaAPI, direct uuid.UUID
	require.NoError(t, b.d.Pool.QueryRow(t.Context(), `INSERT INTO cron_tasks (org_id, name, job_type, cron_expr, enabled, last_slot_at)
		VALUES ($1, 'via api', 'noop', '0 3 1 * *', false, now() - interval '3 days') RETURNING id`, org).Scan(&viaAPI))
	require.NoError(t, b.d.Pool.QueryRow(t.Context(), `INSERT INTO cron_tasks (org_id, name, job_type, cron_expr, enabled, last_slot_at)
		VALUES ($1, 'direct', 'noop', '0 3 1 * *', false, now() - interval '3 days') RETURNING id`, org).Scan(&direct))

	// Daily at midnight UTC: three slots have passed since last_slot_at, the latest today.
	daily, on := "0 0 * * *", true
	got, err := svc.UpdateCronTask(t.Context(), org, "test", viaAPI, schedule.CronPatch{CronExpr: &daily, Enabled: &on})
	require.NoError(t, err)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	require.Equal(t, today, *got.LastSlotAt, "the latest passed slot of the new schedule is accounted for")
	require.Equal(t, today.Add(24*time.Hour), *got.NextSlotAt, "the next slot is the first after the change")
	_, err = b.d.Pool.Exec(t.Context(), `UPDATE cron_tasks SET cron_expr = $2, enabled = true WHERE id = $1`, direct, daily)
	require.NoError(t, err)

	res, err := b.sched.Tick(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, res.CronFired, "only the task changed behind the service's back fires")
	require.Zero(t, count(t, b.d, `SELECT count(*) FROM jobs WHERE idempotency_key LIKE 'cron:' || $1::text || ':%'`, viaAPI))
	require.Equal(t, 1, count(t, b.d, `SELECT count(*) FROM jobs WHERE idempotency_key = 'cron:' || $1::text || ':' || $2::text`,
		direct, strconv.FormatInt(today.Unix(), 10)), "catch-up fires the latest missed slot once")
	require.Equal(t, 1, countIn(t, b, org, `SELECT count(*) FROM events WHERE type = 'cron_task.updated' AND entity_id = ?
		AND payload->'from'->>'cronExpr' = '0 3 1 * *' AND payload->'to'->>'cronExpr' = '0 0 * * *' AND (payload->'to'->>'enabled')::bool`, viaAPI))
}

// TestUpdateCronTaskRefusals proves the refusals of UpdateCronTask write nothing: an empty
// patch, an expression or zone that does not parse (naming the field with the parser's
// reason), enabling a kind nothing works, another org's task.
func TestUpdateCronTaskRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	svc := newService(b)
	org := dbtest.NewOrg(t, b.d, "org-"+uuid.NewString()[:8])
	other := dbtest.NewOrg(t, b.d, "org-"+uuid.NewString()[:8])
	var id, unbuilt uuid.UUID
	require.NoError(t, b.d.Pool.QueryRow(t.Context(), `INSERT INTO cron_tasks (org_id, name, job_type, cron_expr) VALUES ($1, 'noop', 'noop', '0 * * * *') RETURNING id`, org).Scan(&id))
	require.NoError(t, b.d.Pool.QueryRow(t.Context(), `INSERT INTO cron_tasks (org_id, name, job_type, cron_expr, enabled) VALUES ($1, 'report', 'generate_weekly_report', '0 7 * * 1', false) RETURNING id`, org).Scan(&unbuilt))
	before := count(t, b.d, `SELECT count(*) FROM cron_tasks WHERE updated_at > created_at`)

	str := func(s string) *string { return &s }
	on := true
	for _, tc := range []struct {
		name  string
		id    uuid.UUID
		org   uuid.UUID
		patch schedule.CronPatch
		code  apperr.Code
		field string
	}{
		{"empty", id, org, schedule.CronPatch{}, apperr.Invalid, ""},
		{"bad minute", id, org, schedule.CronPatch{CronExpr: str("61 * * * *")}, apperr.Invalid, "cronExpr"},
		{"descriptor", id, org, schedule.CronPatch{CronExpr: str("@hourly")}, apperr.Invalid, "cronExpr"},
		{"never", id, org, schedule.CronPatch{CronExpr: str("0 0 31 2 *")}, apperr.Invalid, "cronExpr"},
		{"bad zone", id, org, schedule.CronPatch{Timezone: str("Europe/Atlantis")}, apperr.Invalid, "timezone"},
		{"unbuilt kind", unbuilt, org, schedule.CronPatch{Enabled: &on}, apperr.Conflict, ""},
		{"other org", id, other, schedule.CronPatch{Enabled: &on}, apperr.NotFound, ""},
	} {
		_, err := svc.UpdateCronTask(t.Context(), tc.org, "test", tc.id, tc.patch)
		require.Equal(t, tc.code, apperr.CodeOf(err), "%s: %v", tc.name, err)
		if tc.field != "" {
			e, _ := apperr.As(err)
			require.Len(t, e.Fields, 1, tc.name)
			require.Equal(t, tc.field, e.Fields[0].Field, tc.name)
		}
	}
	require.Equal(t, before, count(t, b.d, `SELECT count(*) FROM cron_tasks WHERE updated_at > created_at`))
	require.Zero(t, countIn(t, b, org, `SELECT count(*) FROM events`))
}

// countIn runs a counting query in a tenant transaction of org: events are visible in one only.
func countIn(t *testing.T, b bundle, org uuid.UUID, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.d.Tx(t.Context(), org, func(tx *gorm.DB) error {
		return tx.Raw(query, args...).Scan(&n).Error
	}))
	return n
}
