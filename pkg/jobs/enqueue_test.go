package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/jobs"
)

// TestEnqueueIsIdempotent proves the unique (org, type, key) index makes a repeated enqueue a
// no-op that returns no id and keeps the first payload, while the same key under another org or
// another type is a new job, and a duplicate inside one batch is inserted once.
func TestEnqueueIsIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	other := dbtest.NewOrg(t, b.db, "other")

	first := b.job("k1")
	first.Payload = map[string]int{"a": 1}
	ids := b.enqueue(t, first)

	again := b.job("k1")
	again.Payload = map[string]int{"a": 2}
	dup, err := b.q.Enqueue(ctx, b.db.Gorm, again)
	require.NoError(t, err)
	require.Empty(t, dup, "a repeated enqueue returns no id")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM jobs`))
	require.JSONEq(t, `{"a":1}`, string(b.row(t, ids[0]).Payload), "the first payload is kept")

	otherOrg := jobs.NewJob{OrgID: other, Type: jobs.KindNoop, IdempotencyKey: "k1"}
	otherType := jobs.NewJob{OrgID: b.org, Type: "enrich_lead", IdempotencyKey: "k1"}
	more := b.enqueue(t, otherOrg, otherType)
	require.Equal(t, other, b.row(t, more[0]).OrgID)
	require.Equal(t, "enrich_lead", b.row(t, more[1]).Type)

	batch, err := b.q.Enqueue(ctx, b.db.Gorm, b.job("k2"), b.job("k2"), b.job("k1"))
	require.NoError(t, err)
	require.Len(t, batch, 1, "only the first k2 of the batch is new")
	require.Equal(t, "k2", b.row(t, batch[0]).IdempotencyKey)

	require.Equal(t, 4, b.count(t, `SELECT count(*) FROM jobs`))
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM jobs WHERE idempotency_key = 'k1' AND org_id = $1`, b.org))
}

// TestEnqueueValidates proves a job without org, type or key is refused before anything is
// written, even when the rest of its batch is valid, and that the table's checks refuse a bad
// type name or attempt count.
func TestEnqueueValidates(t *testing.T) {
	t.Parallel()
	b := setup(t)

	tests := map[string]jobs.NewJob{
		"missing org":         {Type: jobs.KindNoop, IdempotencyKey: "k"},
		"missing type":        {OrgID: b.org, IdempotencyKey: "k"},
		"missing key":         {OrgID: b.org, Type: jobs.KindNoop},
		"bad type name":       {OrgID: b.org, Type: "Not A Type", IdempotencyKey: "k"},
		"too many attempts":   {OrgID: b.org, Type: jobs.KindNoop, IdempotencyKey: "k", MaxAttempts: 101},
		"unknown org":         {OrgID: uuid.New(), Type: jobs.KindNoop, IdempotencyKey: "k"},
		"unmarshallable":      {OrgID: b.org, Type: jobs.KindNoop, IdempotencyKey: "k", Payload: make(chan int)},
		"payload not json":    {OrgID: b.org, Type: jobs.KindNoop, IdempotencyKey: "k", Payload: []byte("{not json")},
		"key longer than 512": {OrgID: b.org, Type: jobs.KindNoop, IdempotencyKey: strings.Repeat("k", 513)},
	}
	for name, bad := range tests {
		ids, err := b.q.Enqueue(t.Context(), b.db.Gorm, b.job("valid-"+name), bad)
		require.Error(t, err, name)
		require.Empty(t, ids, name)
	}
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM jobs`), "no job of a refused batch is written")

	ids, err := b.q.Enqueue(t.Context(), b.db.Gorm)
	require.NoError(t, err)
	require.Empty(t, ids)
}

// TestEnqueuePayloads proves each accepted payload form is stored as the JSON it stands for and
// that a missing payload is stored as {}.
func TestEnqueuePayloads(t *testing.T) {
	t.Parallel()
	b := setup(t)

	tests := []struct {
		key     string
		payload any
		want    string
	}{
		{"nil", nil, `{}`},
		{"empty raw", json.RawMessage(nil), `{}`},
		{"empty bytes", []byte{}, `{}`},
		{"raw", json.RawMessage(`{"leadId":"x","n":[1,2]}`), `{"leadId":"x","n":[1,2]}`},
		{"bytes", []byte(`{"b":true}`), `{"b":true}`},
		{"struct", struct {
			LeadID string `json:"leadId"`
		}{"l-1"}, `{"leadId":"l-1"}`},
	}
	for _, tc := range tests {
		nj := b.job(tc.key)
		nj.Payload = tc.payload
		id := b.enqueue(t, nj)[0]
		require.JSONEq(t, tc.want, string(b.row(t, id).Payload), tc.key)
	}
}

// TestEnqueueDelay proves Delay sets run_at in the future on the database clock, that Claim
// leaves such a job alone until the database's now() passes run_at, and that a negative delay
// means now.
func TestEnqueueDelay(t *testing.T) {
	t.Parallel()
	b := setup(t)

	later := b.job("later")
	later.Delay = time.Hour
	laterID := b.enqueue(t, later)[0]
	r := b.row(t, laterID)
	require.Equal(t, jobs.StatusPending, r.Status)
	require.InDelta(t, float64(time.Hour.Milliseconds()), r.RunInMS, float64(time.Minute.Milliseconds()),
		"run_at is about an hour after the database's now")
	require.LessOrEqual(t, r.RunInMS, float64(time.Hour.Milliseconds()))

	negative := b.job("negative")
	negative.Delay = -time.Hour
	nowID := b.enqueue(t, negative)[0]
	require.LessOrEqual(t, b.row(t, nowID).RunInMS, 0.0)

	got := b.claim(t, jobs.NewClaimID("w"), 10, 1)
	require.Equal(t, nowID, got[0].ID, "only the job without delay is claimed")
	b.claim(t, jobs.NewClaimID("w"), 10, 0)
	require.Equal(t, jobs.StatusPending, b.row(t, laterID).Status)

	b.exec(t, `UPDATE jobs SET run_at = now() - interval '1 second' WHERE id = $1`, laterID)
	got = b.claim(t, jobs.NewClaimID("w"), 10, 1)
	require.Equal(t, laterID, got[0].ID)
}

// TestEnqueueMaxAttempts proves a job gets the queue's default attempt count (3 when the Config
// leaves it zero, as Queue.MaxAttempts reports) unless it sets its own.
func TestEnqueueMaxAttempts(t *testing.T) {
	t.Parallel()
	b := setupWith(t, jobs.Config{MaxAttempts: 5})
	defaults := jobs.New(b.db, jobs.Config{})
	require.Equal(t, 5, b.q.MaxAttempts())
	require.Equal(t, 3, defaults.MaxAttempts())

	custom := b.job("custom")
	custom.MaxAttempts = 7
	ids := b.enqueue(t, b.job("queue-default"), custom)
	require.Equal(t, 5, b.row(t, ids[0]).MaxAttempts)
	require.Equal(t, 7, b.row(t, ids[1]).MaxAttempts)

	more, err := defaults.Enqueue(t.Context(), b.db.Gorm, b.job("package-default"))
	require.NoError(t, err)
	require.Len(t, more, 1)
	require.Equal(t, 3, b.row(t, more[0]).MaxAttempts)

	got := b.claim(t, jobs.NewClaimID("w"), 10, 3)
	byID := map[int64]int{}
	for _, j := range got {
		byID[j.ID] = j.MaxAttempts
	}
	require.Equal(t, map[int64]int{ids[0]: 5, ids[1]: 7, more[0]: 3}, byID, "Claim reports each job's own limit")
}

// TestEnqueueIsTransactional proves transactional enqueue for jobs: a job enqueued in a transaction
// that rolls back does not exist, one in a transaction that is still open cannot be claimed by
// anyone else, and one in a committed transaction exists and can be claimed.
func TestEnqueueIsTransactional(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	boom := errors.New("boom")

	err := b.db.Tx(ctx, b.org, func(tx *gorm.DB) error {
		ids, err := b.q.Enqueue(ctx, tx, b.job("rolled-back"))
		require.NoError(t, err)
		require.Len(t, ids, 1)
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM jobs`))

	var id int64
	err = b.db.Tx(ctx, b.org, func(tx *gorm.DB) error {
		ids, err := b.q.Enqueue(ctx, tx, b.job("committed"))
		require.NoError(t, err)
		require.Len(t, ids, 1)
		id = ids[0]
		got, err := b.q.Claim(ctx, jobs.NewClaimID("w"), 10)
		require.NoError(t, err)
		require.Empty(t, got, "an uncommitted job is invisible to claimers")
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM jobs`))
	require.Equal(t, id, b.claimOne(t, jobs.NewClaimID("w")).ID)

	// The key of the rolled-back job is free again.
	b.enqueue(t, b.job("rolled-back"))
}

// TestEnqueueNotifiesAtCommit proves the jobs_inserted wake-up is sent once per enqueueing
// statement, at commit, and never for a rolled-back enqueue. Notifications arrive in commit
// order, so a marker notification sent after each step shows what that step sent.
func TestEnqueueNotifiesAtCommit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	listener, err := pgx.Connect(ctx, b.url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = listener.Close(context.Background()) })
	_, err = listener.Exec(ctx, `LISTEN jobs_inserted; LISTEN test_marker`)
	require.NoError(t, err)

	next := func() string {
		t.Helper()
		n, err := listener.WaitForNotification(ctx)
		require.NoError(t, err)
		return n.Channel + ":" + n.Payload
	}
	marker := func(p string) {
		t.Helper()
		b.exec(t, `SELECT pg_notify('test_marker', $1)`, p)
	}

	err = b.db.Tx(ctx, b.org, func(tx *gorm.DB) error {
		_, err := b.q.Enqueue(ctx, tx, b.job("a"))
		require.NoError(t, err)
		return errors.New("roll back")
	})
	require.Error(t, err)
	marker("1")
	require.Equal(t, "test_marker:1", next(), "a rolled-back enqueue wakes nobody")

	b.enqueueN(t, "batch", 3)
	marker("2")
	require.Equal(t, "jobs_inserted:", next())
	require.Equal(t, "test_marker:2", next(), "one wake-up per statement, not per job")
}
