package lead_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
)

// sweepBundle is a fresh database with the lead service sweeping in chunks of two leads, two
// orgs, and a superuser handle for fixtures and assertions.
type sweepBundle struct {
	svc        *lead.Service
	super      *db.DB
	org, other uuid.UUID
}

func setupSweep(t *testing.T) *sweepBundle {
	t.Helper()
	d, url := dbtest.NewDB(t)
	em := events.NewEmitter(jobs.New(d, jobs.Config{}), catalog.New().EventJobs)
	svc := lead.NewService(d, em)
	svc.SweepChunk = 2
	return &sweepBundle{svc: svc, super: dbtest.SuperDB(t, url), org: dbtest.NewOrg(t, d, "acme"), other: dbtest.NewOrg(t, d, "beta")}
}

// fixture is a lead as a test stores it directly.
type fixture struct {
	stage        lead.Stage
	lastActivity *time.Time
	stageChanged time.Time
	ghostRisk    int
	score        *int
	priority     lead.Priority
	deleted      bool
}

// insert stores f in org and returns its id.
func (b *sweepBundle) insert(t *testing.T, org uuid.UUID, f fixture) uuid.UUID {
	t.Helper()
	if f.priority == "" {
		f.priority = lead.PriorityNormal
	}
	if f.stageChanged.IsZero() {
		f.stageChanged = time.Now().Add(-365 * 24 * time.Hour)
	}
	var deletedAt *time.Time
	if f.deleted {
		now := time.Now()
		deletedAt = &now
	}
	email := "f-" + uuid.NewString() + "@example.com"
	var id uuid.UUID
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `INSERT INTO leads (org_id, email, fingerprint, stage, last_activity_at,
    stage_changed_at, ghost_risk, score, priority, deleted_at)
VALUES ($1, $2, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		org, email, string(f.stage), f.lastActivity, f.stageChanged, f.ghostRisk, f.score, string(f.priority), deletedAt).Scan(&id))
	return id
}

func (b *sweepBundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), sql, args...).Scan(&n))
	return n
}

// ghost returns the lead's ghost risk and version.
func (b *sweepBundle) ghost(t *testing.T, id uuid.UUID) (int, int) {
	t.Helper()
	var risk, version int
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT ghost_risk, version FROM leads WHERE id = $1`, id).Scan(&risk, &version))
	return risk, version
}

func at(v time.Time) *time.Time { return &v }

func intp(n int) *int { return &n }

// TestRecalcGhostRisk proves the ghost-risk sweep raises, as of its slot, exactly the live
// contacted and call_booked leads silent for the silence days (the boundary itself included),
// measuring silence from the last touchpoint or stage change; that it emits one
// lead.ghost_risk_raised per raise with the rule, leaving the version alone; that a rerun of the
// slot and a sweep later in the same period change nothing; that the next period raises again;
// that a touchpoint (an activity logged through the API) starts the silence afresh; and that the
// other org's leads are untouched. The chunks hold two leads, so the sweep crosses several chunk
// boundaries.
func TestRecalcGhostRisk(t *testing.T) {
	t.Parallel()
	b := setupSweep(t)
	ctx := t.Context()
	slot := time.Now().UTC().Truncate(time.Second).Add(-20 * day)
	const days = 7

	boundary := b.insert(t, b.org, fixture{stage: lead.StageContacted, lastActivity: at(slot.Add(-days * day))})
	justInside := b.insert(t, b.org, fixture{stage: lead.StageContacted, lastActivity: at(slot.Add(-days*day + time.Second))})
	neverActive := b.insert(t, b.org, fixture{stage: lead.StageCallBooked, stageChanged: slot.Add(-10 * day)})
	movedLately := b.insert(t, b.org, fixture{stage: lead.StageCallBooked, lastActivity: at(slot.Add(-30 * day)), stageChanged: slot.Add(-2 * day)})
	qualified := b.insert(t, b.org, fixture{stage: lead.StageQualified, lastActivity: at(slot.Add(-30 * day))})
	deleted := b.insert(t, b.org, fixture{stage: lead.StageContacted, lastActivity: at(slot.Add(-30 * day)), deleted: true})
	risky := b.insert(t, b.org, fixture{stage: lead.StageContacted, lastActivity: at(slot.Add(-30 * day)), ghostRisk: 2})
	converted := b.insert(t, b.org, fixture{stage: lead.StageConverted, lastActivity: at(slot.Add(-30 * day))})
	otherOrg := b.insert(t, b.other, fixture{stage: lead.StageContacted, lastActivity: at(slot.Add(-30 * day))})

	want := func(step string, risks map[uuid.UUID]int) {
		t.Helper()
		for id, risk := range risks {
			got, version := b.ghost(t, id)
			require.Equal(t, risk, got, "%s: lead %s", step, id)
			require.Equal(t, 1, version, "%s: ghost risk does not move the version", step)
		}
	}
	raisedEvents := func() int {
		return b.count(t, `SELECT count(*) FROM events WHERE type = 'lead.ghost_risk_raised'`)
	}

	res, err := b.svc.RecalcGhostRisk(ctx, b.org, slot, days)
	require.NoError(t, err)
	require.Equal(t, 3, res.Changed)
	require.GreaterOrEqual(t, res.Chunks, 3, "five awaiting leads in chunks of two")
	want("first sweep", map[uuid.UUID]int{boundary: 1, justInside: 0, neverActive: 1, movedLately: 0, qualified: 0, deleted: 0,
		risky: 3, converted: 0, otherOrg: 0})
	require.Equal(t, 3, raisedEvents())

	var payload []byte
	var actor string
	require.NoError(t, b.super.Pool.QueryRow(ctx, `SELECT payload, actor FROM events
WHERE type = 'lead.ghost_risk_raised' AND entity_id = $1`, risky).Scan(&payload, &actor))
	require.Equal(t, lead.GhostRiskActor, actor)
	var p lead.GhostRiskRaisedPayload
	require.NoError(t, json.Unmarshal(payload, &p))
	require.Equal(t, lead.GhostRiskRaisedPayload{From: 2, To: 3, Rule: lead.GhostRiskRule{Name: "silence", SilenceDays: days,
		SilentSince: slot.Add(-30 * day), Stage: lead.StageContacted, Slot: slot}}, p)

	// The same slot again: nothing counted twice.
	res, err = b.svc.RecalcGhostRisk(ctx, b.org, slot, days)
	require.NoError(t, err)
	require.Zero(t, res.Changed)
	require.Equal(t, 3, raisedEvents())

	// A day later only justInside is due (a week and a day silent); the leads counted at the slot
	// are within their period.
	res, err = b.svc.RecalcGhostRisk(ctx, b.org, slot.Add(day), days)
	require.NoError(t, err)
	require.Equal(t, 1, res.Changed)
	want("a day later", map[uuid.UUID]int{boundary: 1, justInside: 1, neverActive: 1, movedLately: 0, risky: 3})

	// A touchpoint three days after the slot starts the silence of boundary afresh.
	_, err = b.svc.AddActivity(ctx, b.org, "apikey:test", boundary, lead.NewActivity{Kind: lead.ActivityEmail, Subject: "hello",
		OccurredAt: at(slot.Add(3 * day))})
	require.NoError(t, err)

	// The next period of the leads counted at the slot: they count again, except boundary,
	// touched since; movedLately has now been silent for nine days since its stage change.
	res, err = b.svc.RecalcGhostRisk(ctx, b.org, slot.Add(days*day), days)
	require.NoError(t, err)
	require.Equal(t, 3, res.Changed)
	want("next period", map[uuid.UUID]int{boundary: 1, justInside: 1, neverActive: 2, movedLately: 1, risky: 4, otherOrg: 0})

	// A week after the touchpoint, boundary counts again, as does justInside, a week after its count.
	res, err = b.svc.RecalcGhostRisk(ctx, b.org, slot.Add(10*day), days)
	require.NoError(t, err)
	require.Equal(t, 2, res.Changed)
	want("after the touchpoint", map[uuid.UUID]int{boundary: 2, justInside: 2, neverActive: 2, movedLately: 1, risky: 4})
	require.Equal(t, 9, raisedEvents())
	require.Zero(t, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1`, b.other))

	_, err = b.svc.RecalcGhostRisk(ctx, b.org, slot, 0)
	require.Error(t, err)
}

// TestRecalcGhostRiskResumesAfterACrash proves a sweep that fails halfway keeps the chunks it
// committed and that its rerun of the same slot counts the rest once, and none twice: a trigger
// makes the event of one lead fail, the sweep stops there, and after the trigger is gone the
// rerun raises only the leads the first run did not reach.
func TestRecalcGhostRiskResumesAfterACrash(t *testing.T) {
	t.Parallel()
	b := setupSweep(t)
	ctx := t.Context()
	slot := time.Now().UTC().Truncate(time.Second).Add(-day)
	ids := make([]uuid.UUID, 8)
	for i := range ids {
		ids[i] = b.insert(t, b.org, fixture{stage: lead.StageContacted, lastActivity: at(slot.Add(-30 * day))})
	}
	var sorted []uuid.UUID
	rows, err := b.super.Pool.Query(ctx, `SELECT id FROM leads WHERE org_id = $1 ORDER BY id`, b.org)
	require.NoError(t, err)
	for rows.Next() {
		var id uuid.UUID
		require.NoError(t, rows.Scan(&id))
		sorted = append(sorted, id)
	}
	require.NoError(t, rows.Err())
	_, err = b.super.Pool.Exec(ctx, fmt.Sprintf(`CREATE FUNCTION fail_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'injected failure'; END $$;
CREATE TRIGGER fail_event BEFORE INSERT ON events FOR EACH ROW WHEN (NEW.entity_id = '%s') EXECUTE FUNCTION fail_event()`, sorted[5]))
	require.NoError(t, err)

	res, err := b.svc.RecalcGhostRisk(ctx, b.org, slot, 7)
	require.ErrorContains(t, err, "injected failure")
	require.Equal(t, 2, res.Chunks, "the chunks before the failing one committed")
	require.Equal(t, 4, b.count(t, `SELECT count(*) FROM leads WHERE org_id = $1 AND ghost_risk = 1`, b.org))

	_, err = b.super.Pool.Exec(ctx, `DROP TRIGGER fail_event ON events`)
	require.NoError(t, err)
	res, err = b.svc.RecalcGhostRisk(ctx, b.org, slot, 7)
	require.NoError(t, err)
	require.Equal(t, 4, res.Changed)
	require.Equal(t, 8, b.count(t, `SELECT count(*) FROM leads WHERE org_id = $1 AND ghost_risk = 1`, b.org))
	require.Equal(t, 8, b.count(t, `SELECT count(*) FROM events WHERE type = 'lead.ghost_risk_raised'`))
}

// deal stores a deal of value in stage for the lead.
func (b *sweepBundle) deal(t *testing.T, org, leadID uuid.UUID, stage string, value int64) {
	t.Helper()
	_, err := b.super.Pool.Exec(t.Context(), `INSERT INTO deals (org_id, lead_id, title, deal_value, currency, stage,
    won_at, lost_at)
VALUES ($1, $2, 'Licence', $3, 'EUR', $4, CASE WHEN $4 = 'won' THEN now() END, CASE WHEN $4 = 'lost' THEN now() END)`,
		org, leadID, value, stage)
	require.NoError(t, err)
}

// priority returns the lead's priority and version.
func (b *sweepBundle) priority(t *testing.T, id uuid.UUID) (lead.Priority, int) {
	t.Helper()
	var p string
	var version int
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT priority, version FROM leads WHERE id = $1`, id).Scan(&p, &version))
	return lead.Priority(p), version
}

// TestRecalcAutoPriority proves the auto-priority sweep gives each lead the priority of the row
// of the table that matches it (one lead per row, with open, won and lost deals), moving the
// version on by one and emitting lead.priority_changed with the rule and its inputs only where
// the priority changed; that a rerun changes nothing and emits nothing; that a priority a person
// set within the hold stands, and falls to the table after it; and that deleted leads and another
// org's are untouched. The chunks hold two leads, so the sweep crosses several chunk boundaries.
// It runs both walks of the sweep: the org's leads in id order, and the table's pages in order.
func TestRecalcAutoPriority(t *testing.T) {
	t.Parallel()
	for name, walk := range map[string]int{"by id": -1, "by page": 1} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testRecalcAutoPriority(t, walk)
		})
	}
}

func testRecalcAutoPriority(t *testing.T, walk int) {
	b := setupSweep(t)
	b.svc.HeapWalkLeads = walk
	ctx := t.Context()
	rules := lead.DefaultPriorityRules()

	largeDeal := b.insert(t, b.org, fixture{stage: lead.StageConverted, score: intp(10)})
	b.deal(t, b.org, largeDeal, "negotiation", 1_000_000)
	b.deal(t, b.org, largeDeal, "discovery", 10)
	openDeal := b.insert(t, b.org, fixture{stage: lead.StageConverted})
	b.deal(t, b.org, openDeal, "proposal", 999_999)
	b.deal(t, b.org, openDeal, "won", 5_000_000)
	closedDeals := b.insert(t, b.org, fixture{stage: lead.StageConverted, priority: lead.PriorityHigh})
	b.deal(t, b.org, closedDeals, "lost", 5_000_000)
	lost := b.insert(t, b.org, fixture{stage: lead.StageLost, score: intp(90)})
	goneCold := b.insert(t, b.org, fixture{stage: lead.StageContacted, score: intp(95), ghostRisk: 3})
	hot := b.insert(t, b.org, fixture{stage: lead.StageQualified, score: intp(80)})
	atRisk := b.insert(t, b.org, fixture{stage: lead.StageContacted, score: intp(50), ghostRisk: 1})
	cold := b.insert(t, b.org, fixture{stage: lead.StageNurture, score: intp(49)})
	unchanged := b.insert(t, b.org, fixture{stage: lead.StageNew})
	warm := b.insert(t, b.org, fixture{stage: lead.StageContacted, score: intp(79), priority: lead.PriorityHigh})
	deleted := b.insert(t, b.org, fixture{stage: lead.StageNurture, score: intp(1), deleted: true})
	otherOrg := b.insert(t, b.other, fixture{stage: lead.StageNurture, score: intp(1)})
	held := b.insert(t, b.org, fixture{stage: lead.StageNurture, score: intp(20)})
	urgent := lead.PriorityUrgent
	_, err := b.svc.Update(ctx, b.org, "apikey:test", held, lead.Patch{Priority: &urgent})
	require.NoError(t, err)

	want := map[uuid.UUID]struct {
		p    lead.Priority
		rule string
	}{
		largeDeal: {lead.PriorityUrgent, lead.RuleLargeDeal}, openDeal: {lead.PriorityHigh, lead.RuleOpenDeal},
		closedDeals: {lead.PriorityLow, lead.RuleClosed}, lost: {lead.PriorityLow, lead.RuleClosed},
		goneCold: {lead.PriorityLow, lead.RuleGoneCold}, hot: {lead.PriorityHigh, lead.RuleHot},
		atRisk: {lead.PriorityHigh, lead.RuleAtRisk}, cold: {lead.PriorityLow, lead.RuleCold},
		warm: {lead.PriorityNormal, lead.RuleDefault},
	}
	slot := time.Now().UTC().Truncate(time.Second)
	res, err := b.svc.RecalcAutoPriority(ctx, b.org, slot, rules)
	require.NoError(t, err)
	require.Equal(t, len(want), res.Changed)
	if walk < 0 {
		require.GreaterOrEqual(t, res.Chunks, 6, "eleven live leads in chunks of two")
	}
	for id, w := range want {
		p, version := b.priority(t, id)
		require.Equal(t, w.p, p, w.rule)
		require.Equal(t, 2, version, w.rule)
		var payload []byte
		var actor, key string
		require.NoError(t, b.super.Pool.QueryRow(ctx, `SELECT payload, actor, idempotency_key FROM events
WHERE type = 'lead.priority_changed' AND entity_id = $1`, id).Scan(&payload, &actor, &key), w.rule)
		var got lead.PriorityChangedPayload
		require.NoError(t, json.Unmarshal(payload, &got))
		require.Equal(t, w.rule, got.Rule)
		require.Equal(t, w.p, got.To)
		require.Equal(t, 2, got.Version)
		require.Equal(t, lead.AutoPriorityActor, actor)
		require.Equal(t, fmt.Sprintf("lead.priority_changed:%s:2", id), key)
	}
	var payload []byte
	require.NoError(t, b.super.Pool.QueryRow(ctx, `SELECT payload FROM events WHERE type = 'lead.priority_changed' AND entity_id = $1`,
		largeDeal).Scan(&payload))
	var got lead.PriorityChangedPayload
	require.NoError(t, json.Unmarshal(payload, &got))
	require.Equal(t, lead.PriorityChangedPayload{From: lead.PriorityNormal, To: lead.PriorityUrgent, Version: 2, Rule: lead.RuleLargeDeal,
		Inputs: lead.PriorityInputs{Stage: lead.StageConverted, Score: intp(10), OpenDealValue: int64p(1_000_000)}}, got)

	for id, p := range map[uuid.UUID]lead.Priority{unchanged: lead.PriorityNormal, deleted: lead.PriorityNormal,
		otherOrg: lead.PriorityNormal, held: lead.PriorityUrgent} {
		got, _ := b.priority(t, id)
		require.Equal(t, p, got)
		require.Zero(t, b.count(t, `SELECT count(*) FROM events WHERE type = 'lead.priority_changed' AND entity_id = $1`, id))
	}

	// A rerun of the slot, and a later one within the hold: nothing changes, nothing is emitted.
	for _, again := range []time.Time{slot, slot.Add(13 * day)} {
		res, err = b.svc.RecalcAutoPriority(ctx, b.org, again, rules)
		require.NoError(t, err)
		require.Zero(t, res.Changed)
	}
	require.Equal(t, len(want), b.count(t, `SELECT count(*) FROM events WHERE type = 'lead.priority_changed'`))

	// After the hold, the person's priority falls to the table.
	res, err = b.svc.RecalcAutoPriority(ctx, b.org, slot.Add(15*day), rules)
	require.NoError(t, err)
	require.Equal(t, 1, res.Changed)
	p, version := b.priority(t, held)
	require.Equal(t, lead.PriorityLow, p)
	require.Equal(t, 3, version, "the person's edit, then the sweep's")
	require.Zero(t, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1`, b.other))

	bad := rules
	bad.HotScore = 101
	_, err = b.svc.RecalcAutoPriority(ctx, b.org, slot, bad)
	require.Error(t, err)
}

// updatedAt returns the lead's updated_at.
func (b *sweepBundle) updatedAt(t *testing.T, id uuid.UUID) time.Time {
	t.Helper()
	var at time.Time
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT updated_at FROM leads WHERE id = $1`, id).Scan(&at))
	return at
}

// TestSweepsLeaveUpdatedAt proves the sweeps' writes are derived data that leave the lead's
// updated_at as it was: a ghost-risk raise (whose version stays too) and an auto-priority change
// (whose version moves); while a person's edit of the priority alone, and of any other field,
// moves it.
func TestSweepsLeaveUpdatedAt(t *testing.T) {
	t.Parallel()
	b := setupSweep(t)
	ctx := t.Context()
	slot := time.Now().UTC().Truncate(time.Second)
	silent := b.insert(t, b.org, fixture{stage: lead.StageContacted, lastActivity: at(slot.Add(-30 * day)), score: intp(60)})
	cold := b.insert(t, b.org, fixture{stage: lead.StageNurture, score: intp(10)})
	edited := b.insert(t, b.org, fixture{stage: lead.StageNurture, score: intp(60)})
	before := map[uuid.UUID]time.Time{silent: b.updatedAt(t, silent), cold: b.updatedAt(t, cold), edited: b.updatedAt(t, edited)}

	res, err := b.svc.RecalcGhostRisk(ctx, b.org, slot, 7)
	require.NoError(t, err)
	require.Equal(t, 1, res.Changed)
	risk, version := b.ghost(t, silent)
	require.Equal(t, 1, risk)
	require.Equal(t, 1, version)
	require.Equal(t, before[silent], b.updatedAt(t, silent), "a ghost-risk raise leaves updated_at")

	res, err = b.svc.RecalcAutoPriority(ctx, b.org, slot, lead.DefaultPriorityRules())
	require.NoError(t, err)
	require.Equal(t, 2, res.Changed, "silent is at risk (high), cold is low")
	for _, id := range []uuid.UUID{silent, cold} {
		p, version := b.priority(t, id)
		require.NotEqual(t, lead.PriorityNormal, p)
		require.Equal(t, 2, version, "a priority change moves the version")
		require.Equal(t, before[id], b.updatedAt(t, id), "an auto-priority change leaves updated_at")
	}

	high := lead.PriorityHigh
	_, err = b.svc.Update(ctx, b.org, "apikey:test", edited, lead.Patch{Priority: &high})
	require.NoError(t, err)
	moved := b.updatedAt(t, edited)
	require.True(t, moved.After(before[edited]), "a person's priority edit moves updated_at")
	notes := "called back"
	_, err = b.svc.Update(ctx, b.org, "apikey:test", edited, lead.Patch{Notes: &notes})
	require.NoError(t, err)
	require.True(t, b.updatedAt(t, edited).After(moved), "a person's edit moves updated_at")
}

// TestUpdatedAtTriggerColumns proves the trigger that sets updated_at fires for a write of every
// column of leads but the ones the sweeps write alone (migration 000032): a column added to leads
// and forgotten in the trigger's list would leave updated_at behind on every write of it alone.
func TestUpdatedAtTriggerColumns(t *testing.T) {
	t.Parallel()
	_, url := dbtest.NewDB(t)
	super := dbtest.SuperDB(t, url)
	var fired, left []string
	require.NoError(t, super.Pool.QueryRow(t.Context(), `
SELECT
    array(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = t.tgrelid AND a.attnum = ANY (t.tgattr) ORDER BY a.attname),
    array(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = t.tgrelid AND a.attnum > 0 AND NOT a.attisdropped
          AND NOT a.attnum = ANY (t.tgattr) ORDER BY a.attname)
FROM pg_trigger t WHERE t.tgrelid = 'leads'::regclass AND t.tgname = 'leads_set_updated_at'`).Scan(&fired, &left))
	require.Equal(t, []string{"ghost_risk", "ghost_risk_counted_at", "priority", "updated_at", "version"}, left)
	require.Contains(t, fired, "notes")
	require.Contains(t, fired, "deleted_at")
}

// TestRecalcAutoPriorityWalk proves the choice of the auto-priority sweep's walk over an org that
// holds the table: by its pages while it changes few of the leads it reads (a recurring sweep),
// and by ids once the page walk has changed a quarter or more of the leads it read, at least 100
// and a fiftieth of the org's (the first sweep after the rules changed, most leads differing,
// whose new versions a page chunk cannot keep on their pages, with no room there for HOT
// updates); by ids when the page walk is off. Every lead ends with the table's priority, one event per change, either way.
func TestRecalcAutoPriorityWalk(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		heapWalk, differing int
		want                string
	}{
		"few changes":  {heapWalk: 1, differing: 10, want: lead.WalkPages},
		"most leads":   {heapWalk: 1, differing: 1000, want: lead.WalkPagesThenIDs},
		"no page walk": {heapWalk: -1, differing: 1000, want: lead.WalkIDs},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setupSweep(t)
			b.svc.HeapWalkLeads, b.svc.SweepChunk = tc.heapWalk, 200
			ctx := t.Context()
			_, err := b.super.Pool.Exec(ctx, `INSERT INTO leads (org_id, email, fingerprint, priority)
SELECT $1, 'w' || g || '@example.com', 'email:w' || g, CASE WHEN g <= $2 THEN 'low' ELSE 'normal' END
FROM generate_series(1, 1000) g`, b.org, tc.differing)
			require.NoError(t, err)
			_, err = b.super.Pool.Exec(ctx, `ANALYZE leads`)
			require.NoError(t, err)

			res, err := b.svc.RecalcAutoPriority(ctx, b.org, time.Now().UTC(), lead.DefaultPriorityRules())
			require.NoError(t, err)
			require.Equal(t, tc.want, res.Walk)
			require.Equal(t, tc.differing, res.Changed)
			require.Zero(t, b.count(t, `SELECT count(*) FROM leads WHERE org_id = $1 AND priority <> 'normal'`, b.org))
			require.Equal(t, tc.differing, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1 AND type = 'lead.priority_changed'`, b.org))
		})
	}
}
