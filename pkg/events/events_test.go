package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
)

// bundle is a fresh database with a queue, an emitter on it and one org. db is the owner's
// handle that the code under test runs on; super is a superuser connection to the same
// database, which row-level security does not bind, for the tests' own reads of every org's
// rows.
type bundle struct {
	db    *db.DB
	super *db.DB
	q     *jobs.Queue
	em    *events.Emitter
	org   uuid.UUID
}

func setup(t *testing.T) *bundle {
	t.Helper()
	d, url := dbtest.NewDB(t)
	q := jobs.New(d, jobs.Config{})
	return &bundle{db: d, super: dbtest.SuperDB(t, url), q: q, em: events.NewEmitter(q, catalog.New().EventJobs), org: dbtest.NewOrg(t, d, "acme")}
}

// emit emits ev as production code does: inside a tenant transaction of the event's org, or of
// the bundle's org for an event without one (so that Emit's own check is what refuses it). It
// returns what Emit returned, and the transaction's error.
func (b *bundle) emit(ctx context.Context, ev events.NewEvent) (events.Event, bool, error) {
	org := ev.OrgID
	if org == uuid.Nil {
		org = b.org
	}
	var (
		stored  events.Event
		created bool
	)
	err := b.db.Tx(ctx, org, func(tx *gorm.DB) error {
		var err error
		stored, created, err = b.em.Emit(ctx, tx, ev)
		return err
	})
	return stored, created, err
}

// inTenantTx runs sql as the owner in a tenant transaction of the bundle's org, where the rows
// of that org are visible to it.
func (b *bundle) inTenantTx(ctx context.Context, sql string) error {
	return b.db.Tx(ctx, b.org, func(tx *gorm.DB) error { return tx.Exec(sql).Error })
}

// leadCreated is a lead.created event about a new lead.
func (b *bundle) leadCreated(key string) events.NewEvent {
	return events.NewEvent{
		OrgID:          b.org,
		Type:           "lead.created",
		EntityType:     "lead",
		EntityID:       uuid.New(),
		Payload:        map[string]any{"name": "Ada", "score": 42},
		IdempotencyKey: key,
		Actor:          "apikey:1",
	}
}

func (b *bundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), sql, args...).Scan(&n))
	return n
}

// eventRow is an events row as stored.
type eventRow struct {
	Type, EntityType, Key, Actor string
	EntityID                     *uuid.UUID
	Payload                      []byte
}

func (b *bundle) event(t *testing.T, id int64) eventRow {
	t.Helper()
	var r eventRow
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `
SELECT type, entity_type, idempotency_key, actor, entity_id, payload FROM events WHERE id = $1`, id).
		Scan(&r.Type, &r.EntityType, &r.Key, &r.Actor, &r.EntityID, &r.Payload))
	return r
}

// jobRow is a jobs row as the emitter enqueues it.
type jobRow struct {
	OrgID   uuid.UUID
	Type    string
	Key     string
	Status  string
	EventID *int64
	Payload []byte
}

// jobs returns every job in the database, by type.
func (b *bundle) jobs(t *testing.T) []jobRow {
	t.Helper()
	rows, err := b.super.Pool.Query(t.Context(), `
SELECT org_id, job_type, idempotency_key, status, event_id, payload FROM jobs ORDER BY job_type, id`)
	require.NoError(t, err)
	defer rows.Close()
	out := []jobRow{}
	for rows.Next() {
		var r jobRow
		require.NoError(t, rows.Scan(&r.OrgID, &r.Type, &r.Key, &r.Status, &r.EventID, &r.Payload))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

func jobTypes(rows []jobRow) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, r.Type)
	}
	return out
}

// TestEmitWritesEventAndMappedJobs proves Emit stores the event as given and enqueues, in the
// same call, one pending job per mapping entry of its type, each keyed "event:<id>", linked by
// event_id and carrying the event in its payload.
func TestEmitWritesEventAndMappedJobs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	in := b.leadCreated("lead:1:created")

	ev, created, err := b.emit(t.Context(), in)
	require.NoError(t, err)
	require.True(t, created)
	require.Positive(t, ev.ID)
	require.Equal(t, b.org, ev.OrgID)
	require.Equal(t, "lead.created", ev.Type)
	require.Equal(t, "lead", ev.EntityType)
	require.Equal(t, &in.EntityID, ev.EntityID)
	require.JSONEq(t, `{"name":"Ada","score":42}`, string(ev.Payload))
	require.Equal(t, "lead:1:created", ev.IdempotencyKey)
	require.Equal(t, "apikey:1", ev.Actor)
	require.WithinDuration(t, time.Now(), ev.OccurredAt, time.Minute)
	require.Equal(t, time.UTC, ev.OccurredAt.Location())

	stored := b.event(t, ev.ID)
	require.Equal(t, eventRow{Type: "lead.created", EntityType: "lead", Key: "lead:1:created", Actor: "apikey:1",
		EntityID: &in.EntityID, Payload: stored.Payload}, stored)
	require.JSONEq(t, `{"name":"Ada","score":42}`, string(stored.Payload))

	js := b.jobs(t)
	require.Equal(t, []string{"enrich_lead", "qualify_lead"}, jobTypes(js))
	for _, j := range js {
		require.Equal(t, b.org, j.OrgID)
		require.Equal(t, fmt.Sprintf("event:%d", ev.ID), j.Key)
		require.Equal(t, "pending", j.Status)
		require.Equal(t, &ev.ID, j.EventID)
		var p events.JobPayload
		require.NoError(t, json.Unmarshal(j.Payload, &p))
		require.Equal(t, ev.ID, p.EventID)
		require.Equal(t, "lead.created", p.EventType)
		require.Equal(t, "lead", p.EntityType)
		require.Equal(t, &in.EntityID, p.EntityID)
		require.JSONEq(t, `{"name":"Ada","score":42}`, string(p.Data))
		require.JSONEq(t, fmt.Sprintf(`{"eventId":%d,"eventType":"lead.created","entityType":"lead","entityId":%q,"data":{"name":"Ada","score":42}}`,
			ev.ID, in.EntityID), string(j.Payload))
	}
}

// TestEmitDefaults proves a missing payload is stored as {}, a missing actor as "system" and a
// nil entity id as NULL (and left out of the job payload).
func TestEmitDefaults(t *testing.T) {
	t.Parallel()
	b := setup(t)

	ev, created, err := b.emit(t.Context(), events.NewEvent{
		OrgID: b.org, Type: "system.noop", EntityType: "system", IdempotencyKey: "smoke-1",
	})
	require.NoError(t, err)
	require.True(t, created)
	require.Nil(t, ev.EntityID)
	require.Equal(t, "system", ev.Actor)
	require.JSONEq(t, `{}`, string(ev.Payload))

	stored := b.event(t, ev.ID)
	require.Nil(t, stored.EntityID)
	require.Equal(t, "system", stored.Actor)
	require.JSONEq(t, `{}`, string(stored.Payload))

	js := b.jobs(t)
	require.Equal(t, []string{jobs.KindNoop}, jobTypes(js))
	require.JSONEq(t, fmt.Sprintf(`{"eventId":%d,"eventType":"system.noop","entityType":"system","data":{}}`, ev.ID), string(js[0].Payload))
}

// TestEmitIsIdempotent proves an event is unique per (org, idempotency key): a second Emit with the
// same (org, key) returns the first event unchanged with created false and enqueues nothing more,
// even with another payload or type; the same key in another org is a new event with its own jobs.
func TestEmitIsIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	other := dbtest.NewOrg(t, b.db, "other")

	first, created, err := b.emit(ctx, b.leadCreated("k"))
	require.NoError(t, err)
	require.True(t, created)

	repeat := b.leadCreated("k")
	repeat.Payload = map[string]string{"name": "Changed"}
	second, created, err := b.emit(ctx, repeat)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, first, second, "the repeat returns the first event")

	otherType := events.NewEvent{OrgID: b.org, Type: "deal.won", EntityType: "deal", IdempotencyKey: "k"}
	third, created, err := b.emit(ctx, otherType)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, first.ID, third.ID)
	require.Equal(t, "lead.created", third.Type)

	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events`))
	require.Len(t, b.jobs(t), 2, "a repeated emit enqueues nothing")
	require.JSONEq(t, `{"name":"Ada","score":42}`, string(b.event(t, first.ID).Payload))

	elsewhere := b.leadCreated("k")
	elsewhere.OrgID = other
	fourth, created, err := b.emit(ctx, elsewhere)
	require.NoError(t, err)
	require.True(t, created)
	require.NotEqual(t, first.ID, fourth.ID)
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM events`))
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM jobs WHERE org_id = $1 AND event_id = $2`, other, fourth.ID))
	require.Len(t, b.jobs(t), 4)
}

// TestEmitConcurrentSameKey proves the idempotency is enforced by the unique index, not by a
// read before the insert: while one tenant transaction holds an uncommitted emit, a second emit
// of the same key (in its own tenant transaction) waits for it and then returns that event with
// created false, so one event and one set of jobs exist in the end.
func TestEmitConcurrentSameKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()

	tx := b.db.Gorm.WithContext(ctx).Begin()
	require.NoError(t, tx.Error)
	defer tx.Rollback()
	require.NoError(t, db.SetOrg(tx, b.org))
	first, created, err := b.em.Emit(ctx, tx, b.leadCreated("k"))
	require.NoError(t, err)
	require.True(t, created)

	type result struct {
		ev      events.Event
		created bool
		err     error
	}
	done := make(chan result, 1)
	go func() {
		ev, created, err := b.emit(ctx, b.leadCreated("k"))
		done <- result{ev, created, err}
	}()
	require.Eventually(t, func() bool {
		var waiting int
		err := b.db.Pool.QueryRow(ctx, `
SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		return err == nil && waiting == 1
	}, 10*time.Second, 10*time.Millisecond, "the second emit waits on the first")
	require.NoError(t, tx.Commit().Error)

	var second result
	select {
	case second = <-done:
	case <-time.After(10 * time.Second):
		require.FailNow(t, "the second emit did not finish after the first committed")
	}
	require.NoError(t, second.err)
	require.False(t, second.created)
	require.Equal(t, first.ID, second.ev.ID)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events`))
	require.Len(t, b.jobs(t), 2)
}

// TestEmitUnmappedTypeEnqueuesNothing proves an event type absent from the mappings is stored and
// triggers no job.
func TestEmitUnmappedTypeEnqueuesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, isMapped := jobMap()["lead.updated"]
	require.False(t, isMapped)

	ev, created, err := b.emit(t.Context(), events.NewEvent{
		OrgID: b.org, Type: "lead.updated", EntityType: "lead", EntityID: uuid.New(), IdempotencyKey: "u1",
	})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, "lead.updated", b.event(t, ev.ID).Type)
	require.Empty(t, b.jobs(t))
}

// TestMappingsEnqueueEveryMappedType proves every mapping entry works against the schema: each
// mapped event type is a valid event type, and emitting it enqueues exactly its job types, all
// of which are known job types.
func TestMappingsEnqueueEveryMappedType(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()

	types := make([]string, 0, len(jobMap()))
	for et := range jobMap() {
		types = append(types, et)
	}
	sort.Strings(types)
	for _, et := range types {
		entity, _, _ := strings.Cut(et, ".")
		ev, created, err := b.emit(ctx, events.NewEvent{OrgID: b.org, Type: et, EntityType: entity, IdempotencyKey: et})
		require.NoError(t, err, et)
		require.True(t, created, et)

		want := slices.Clone(jobMap()[et])
		for _, jt := range want {
			require.Contains(t, catalog.New().KindNames(), jt, et)
		}
		var got []string
		rows, err := b.super.Pool.Query(ctx, `SELECT job_type FROM jobs WHERE event_id = $1`, ev.ID)
		require.NoError(t, err)
		for rows.Next() {
			var jt string
			require.NoError(t, rows.Scan(&jt))
			got = append(got, jt)
		}
		require.NoError(t, rows.Err())
		require.ElementsMatch(t, want, got, et)
	}
}

// TestEmitValidates proves an event without org, type, entity type or key, with a type the
// schema refuses, or of an unknown org is refused and writes nothing. Each emit runs in a
// tenant transaction of the event's own org, so the refusal comes from Emit or the schema,
// never from row-level security.
func TestEmitValidates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	valid := events.NewEvent{OrgID: b.org, Type: "lead.created", EntityType: "lead", IdempotencyKey: "k"}

	tests := map[string]func(e *events.NewEvent){
		"missing org":         func(e *events.NewEvent) { e.OrgID = uuid.Nil },
		"missing type":        func(e *events.NewEvent) { e.Type = "" },
		"missing entity type": func(e *events.NewEvent) { e.EntityType = "" },
		"missing key":         func(e *events.NewEvent) { e.IdempotencyKey = "" },
		"bad type":            func(e *events.NewEvent) { e.Type = "LeadCreated" },
		"unknown org":         func(e *events.NewEvent) { e.OrgID = uuid.New() },
		"unmarshallable":      func(e *events.NewEvent) { e.Payload = func() {} },
	}
	for name, mutate := range tests {
		ev := valid
		mutate(&ev)
		_, created, err := b.emit(t.Context(), ev)
		require.Error(t, err, name)
		require.False(t, created, name)
		require.NotEqual(t, db.CodeInsufficientPriv, db.PgCode(err), "%s: refused by row-level security: %v", name, err)
	}
	require.Zero(t, b.count(t, `SELECT count(*) FROM events`))
	require.Empty(t, b.jobs(t))

	require.Panics(t, func() { events.NewEmitter(nil, catalog.New().EventJobs) })
}

// TestEventsAreAppendOnly proves the database itself refuses UPDATE, DELETE and TRUNCATE on
// events (insufficient_privilege from the triggers), for the role that owns the table, and the
// history is unchanged afterwards. The statements run in a tenant transaction of the event's
// org, where row-level security lets them reach the row, so the triggers are what refuses them.
func TestEventsAreAppendOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	ev, _, err := b.emit(ctx, b.leadCreated("k"))
	require.NoError(t, err)
	before := b.event(t, ev.ID)

	for _, stmt := range []string{
		`UPDATE events SET actor = 'mallory'`,
		`UPDATE events SET payload = '{}' WHERE id = ` + fmt.Sprint(ev.ID),
		`DELETE FROM events`,
		`DELETE FROM events WHERE id = ` + fmt.Sprint(ev.ID),
		`TRUNCATE events CASCADE`,
	} {
		err := b.inTenantTx(ctx, stmt)
		require.Error(t, err, stmt)
		require.Equal(t, db.CodeInsufficientPriv, db.PgCode(err), "%s: %v", stmt, err)
		require.ErrorContains(t, err, "append-only", stmt)
	}
	// Plain TRUNCATE is refused too (by the jobs foreign key before the trigger gets a say).
	require.Error(t, b.inTenantTx(ctx, `TRUNCATE events`))

	require.Equal(t, before, b.event(t, ev.ID))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events`))
	require.Len(t, b.jobs(t), 2, "a refused TRUNCATE … CASCADE keeps the jobs")
}

// TestEmitIsTransactional proves that a state change, its event and the event's jobs written in
// one tenant transaction all vanish when the transaction fails and all exist when it commits;
// inside the transaction a repeated emit already sees the first.
func TestEmitIsTransactional(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	boom := errors.New("boom")

	change := func(name string, extraKey string) func(tx *gorm.DB) error {
		return func(tx *gorm.DB) error {
			if err := tx.Exec(`UPDATE orgs SET name = ? WHERE id = ?`, name, b.org).Error; err != nil {
				return err
			}
			ev, created, err := b.em.Emit(ctx, tx, b.leadCreated("k"))
			if err != nil {
				return err
			}
			if !created {
				return errors.New("first emit in the transaction not created")
			}
			again, created, err := b.em.Emit(ctx, tx, b.leadCreated("k"))
			if err != nil {
				return err
			}
			if created || again.ID != ev.ID {
				return errors.New("repeated emit in the transaction created a new event")
			}
			_, err = b.q.Enqueue(ctx, tx, jobs.NewJob{OrgID: b.org, Type: jobs.KindNoop, IdempotencyKey: extraKey})
			return err
		}
	}
	orgName := func() string {
		t.Helper()
		var name string
		require.NoError(t, b.super.Pool.QueryRow(ctx, `SELECT name FROM orgs WHERE id = $1`, b.org).Scan(&name))
		return name
	}

	err := b.db.Tx(ctx, b.org, func(tx *gorm.DB) error {
		if err := change("rolled back", "extra")(tx); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Equal(t, "acme", orgName())
	require.Zero(t, b.count(t, `SELECT count(*) FROM events`))
	require.Empty(t, b.jobs(t))

	require.NoError(t, b.db.Tx(ctx, b.org, change("committed", "extra")))
	require.Equal(t, "committed", orgName())
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events`))
	require.Equal(t, []string{"enrich_lead", jobs.KindNoop, "qualify_lead"}, jobTypes(b.jobs(t)))
}

// TestEmitJobPayloadIsJobPayloadJSON proves the jobs Emit enqueues in its one statement are
// exactly the rows Queue.Enqueue wrote for the mapping of the event's type before: one per job
// type, keyed "event:<id>", linked by event_id, with the queue's configured default attempt
// count, runnable now, and carrying the JSON that json.Marshal gives for the JobPayload of the
// stored event, which handlers decode back into the same JobPayload. entityId is left out for
// an event without an entity (omitempty), while nulls inside data, including a key of data
// named entityId, are kept.
func TestEmitJobPayloadIsJobPayloadJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	// A default that differs from the package default (3), to prove the queue's is used.
	em := events.NewEmitter(jobs.New(b.db, jobs.Config{MaxAttempts: 7}), catalog.New().EventJobs)
	entity := uuid.New()

	tests := []struct {
		name string
		in   events.NewEvent
	}{
		{"entity and nested payload", events.NewEvent{OrgID: b.org, Type: "deal.won", EntityType: "deal", EntityID: entity,
			Payload: map[string]any{
				"amount": json.Number("1234.50"), "currency": "EUR", "note": nil, "html": "<b>&</b> ü \u2028",
				"nested": map[string]any{"xs": []any{1, map[string]any{"y": nil}}, "big": json.Number("12345678901234567890")},
			},
			IdempotencyKey: "deal:won"}},
		{"no entity, default payload", events.NewEvent{OrgID: b.org, Type: "lead.qualified", EntityType: "lead",
			IdempotencyKey: "lead:qualified"}},
		{"no entity, data with nulls and its own entityId", events.NewEvent{OrgID: b.org, Type: "system.noop", EntityType: "system",
			Payload: map[string]any{"entityId": nil, "a": nil}, IdempotencyKey: "noop:nulls"}},
		{"array payload", events.NewEvent{OrgID: b.org, Type: "invoice.paid", EntityType: "invoice", EntityID: entity,
			Payload: []string{"x", "y"}, IdempotencyKey: "invoice:paid"}},
	}
	for _, tc := range tests {
		var ev events.Event
		require.NoError(t, b.db.Tx(ctx, b.org, func(tx *gorm.DB) error {
			var created bool
			var err error
			ev, created, err = em.Emit(ctx, tx, tc.in)
			if err == nil && !created {
				err = errors.New("not created")
			}
			return err
		}), tc.name)

		want := events.JobPayload{EventID: ev.ID, EventType: ev.Type, EntityType: ev.EntityType, EntityID: ev.EntityID, Data: ev.Payload}
		wantJSON, err := json.Marshal(want)
		require.NoError(t, err, tc.name)

		// Read every row before asserting: a failed require must not leave the rows (and their
		// connection) open, or the cleanup waits for them.
		type job struct {
			OrgID                 uuid.UUID
			Type, Key, Status     string
			Attempts, MaxAttempts int
			RunsNow               bool
			EventID               int64
			Payload               []byte
		}
		rows, err := b.super.Pool.Query(ctx, `
SELECT org_id, job_type, idempotency_key, status, attempts, max_attempts, run_at <= now() AND run_at >= now() - interval '1 minute',
       event_id, payload
FROM jobs WHERE event_id = $1 ORDER BY id`, ev.ID)
		require.NoError(t, err, tc.name)
		got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (job, error) {
			var j job
			err := r.Scan(&j.OrgID, &j.Type, &j.Key, &j.Status, &j.Attempts, &j.MaxAttempts, &j.RunsNow, &j.EventID, &j.Payload)
			return j, err
		})
		require.NoError(t, err, tc.name)

		var types []string
		for _, j := range got {
			types = append(types, j.Type)
			require.Equal(t, job{OrgID: b.org, Type: j.Type, Key: fmt.Sprintf("event:%d", ev.ID), Status: "pending", MaxAttempts: 7,
				RunsNow: true, EventID: ev.ID, Payload: j.Payload}, j, tc.name)

			require.JSONEq(t, string(wantJSON), string(j.Payload), tc.name)
			var decoded events.JobPayload
			require.NoError(t, json.Unmarshal(j.Payload, &decoded), tc.name)
			require.JSONEq(t, string(want.Data), string(decoded.Data), tc.name)
			decoded.Data = want.Data
			require.Equal(t, want, decoded, tc.name)

			var keys map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(j.Payload, &keys), tc.name)
			_, hasEntity := keys["entityId"]
			require.Equal(t, tc.in.EntityID != uuid.Nil, hasEntity, "%s: entityId present only with an entity", tc.name)
		}
		require.Equal(t, jobMap()[tc.in.Type], types, "%s: one job per mapping entry, in its order", tc.name)
	}
	require.JSONEq(t, `{"entityId":null,"a":null}`, string(b.event(t, b.eventID(t, "noop:nulls")).Payload))
}

// eventID returns the id of the bundle org's event with idempotency key key.
func (b *bundle) eventID(t *testing.T, key string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT id FROM events WHERE org_id = $1 AND idempotency_key = $2`, b.org, key).Scan(&id))
	return id
}

// TestEmitRepeatEnqueuesNothing proves a repeated emit of a mapped type inserts no job by itself,
// not merely thanks to the jobs' idempotency keys: once the first event's jobs are gone (pruned),
// a repeat still returns the first event with created false and enqueues nothing, in a later
// transaction as in the same one.
func TestEmitRepeatEnqueuesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()

	first, created, err := b.emit(ctx, b.leadCreated("k"))
	require.NoError(t, err)
	require.True(t, created)
	require.Len(t, b.jobs(t), 2)
	_, err = b.super.Pool.Exec(ctx, `DELETE FROM jobs`)
	require.NoError(t, err)

	again, created, err := b.emit(ctx, b.leadCreated("k"))
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, first, again)
	require.Empty(t, b.jobs(t), "a repeat enqueues nothing")

	require.NoError(t, b.db.Tx(ctx, b.org, func(tx *gorm.DB) error {
		ev, created, err := b.em.Emit(ctx, tx, events.NewEvent{OrgID: b.org, Type: "deal.won", EntityType: "deal", IdempotencyKey: "won"})
		if err != nil || !created {
			return fmt.Errorf("first emit: created %v: %w", created, err)
		}
		if err := tx.Exec(`DELETE FROM jobs WHERE event_id = ?`, ev.ID).Error; err != nil {
			return err
		}
		again, created, err := b.em.Emit(ctx, tx, events.NewEvent{OrgID: b.org, Type: "deal.won", EntityType: "deal", IdempotencyKey: "won"})
		if err != nil || created || again.ID != ev.ID {
			return fmt.Errorf("repeat in the transaction: created %v, id %d: %w", created, again.ID, err)
		}
		return nil
	}))
	require.Empty(t, b.jobs(t), "a repeat in the same transaction enqueues nothing")
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM events`))
}

// TestEmitMarksInsertedJobsForWaker proves Emit tells a transaction that deferred the jobs
// trigger's NOTIFY (jobs.Run.CompleteInTx) that it inserted jobs exactly when it did, as
// Queue.Enqueue does: a handler that emits a new event of a mapped type wakes the workers after
// its commit; one that emits a repeat, or an event of a type without jobs, wakes nobody.
func TestEmitMarksInsertedJobsForWaker(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	wait := dbtest.Listen(t, b.db.Pool, "jobs_inserted")

	handlerJobs := make([]jobs.NewJob, 3)
	for i := range handlerJobs {
		handlerJobs[i] = jobs.NewJob{OrgID: b.org, Type: jobs.KindNoop, IdempotencyKey: fmt.Sprint("handler-", i)}
	}
	_, err := b.q.Enqueue(ctx, b.db.Gorm, handlerJobs...)
	require.NoError(t, err)
	require.NoError(t, wait(5*time.Second), "an autocommit enqueue notifies through the trigger")
	claimed, err := b.q.Claim(ctx, jobs.NewClaimID("w"), 3)
	require.NoError(t, err)
	require.Len(t, claimed, 3)
	handle := func(j *jobs.Job, ev events.NewEvent) bool {
		t.Helper()
		var created bool
		require.NoError(t, b.q.NewRun(j).CompleteInTx(ctx, func(tx *gorm.DB) error {
			var err error
			_, created, err = b.em.Emit(ctx, tx, ev)
			return err
		}))
		return created
	}

	require.True(t, handle(claimed[0], b.leadCreated("k")))
	require.NoError(t, wait(5*time.Second), "the new event's jobs woke the workers after the commit")
	require.Len(t, b.jobs(t), 3+2)

	require.False(t, handle(claimed[1], b.leadCreated("k")))
	require.True(t, handle(claimed[2], events.NewEvent{OrgID: b.org, Type: "lead.updated", EntityType: "lead", IdempotencyKey: "u"}))
	require.ErrorIs(t, wait(300*time.Millisecond), context.DeadlineExceeded, "no job inserted, nothing to wake for")
	require.Len(t, b.jobs(t), 3+2)
}

// jobMap is the job types of each event type of the catalog's mappings, in their order: what
// the tests' emitter enqueues.
func jobMap() map[string][]string {
	out := map[string][]string{}
	for _, m := range catalog.New().EventJobs {
		for _, a := range m.Jobs {
			out[m.Event] = append(out[m.Event], a.Kind())
		}
	}
	return out
}
