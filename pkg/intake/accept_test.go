package intake_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/jobs"
)

// TestAcceptorPipelineIsOneTransaction proves what Acceptor.Accept relies on: the pipeline
// without BEGIN is one transaction (the raw row and its job carry the same xmin, and the job
// gets the attempts of the jobs.Config given), the tenant setting ends with it, and a failed
// pipeline leaves its connection clean for the next delivery. The pool has one connection, so
// every step runs on the same one.
func TestAcceptorPipelineIsOneTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	one, err := db.Open(ctx, db.Options{URL: dbtest.AppURL(t, b.app.URL()), MaxConns: 1, AppName: "intake-test-one"})
	require.NoError(t, err)
	t.Cleanup(one.Close)
	wh := b.webhook(t, b.org, "Zapier")
	d := intake.Delivery{OrgID: b.org, SourceID: &wh.ID, DeliveryKey: "k", ContentType: "application/json", Body: []byte(`{}`)}

	_, err = intake.NewAcceptor(one, jobs.Config{MaxAttempts: 101}).Accept(ctx, d)
	require.Error(t, err, "a job the table refuses")
	require.Zero(t, b.count(t, `SELECT count(*) FROM lead_intake_raw`))

	got, err := intake.NewAcceptor(one, jobs.Config{MaxAttempts: 7}).Accept(ctx, d)
	require.NoError(t, err, "the connection is clean after the failure")
	require.False(t, got.Duplicate)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_intake_raw r JOIN jobs j
	ON j.org_id = r.org_id AND j.idempotency_key = 'intake:' || r.id
	WHERE r.id = $1 AND r.xmin::text = j.xmin::text AND j.max_attempts = 7 AND j.status = 'pending'`, got.IntakeID),
		"the raw row and its job were written by one transaction")

	c, err := one.Pool.Acquire(ctx)
	require.NoError(t, err)
	require.Equal(t, byte('I'), c.Conn().PgConn().TxStatus(), "no transaction was left open")
	var setting string
	require.NoError(t, c.QueryRow(ctx, `SELECT coalesce(current_setting('app.org_id', true), '')`).Scan(&setting))
	require.Empty(t, setting, "the tenant setting ended with the transaction")
	c.Release()

	again, err := intake.NewAcceptor(one, jobs.Config{}).Accept(ctx, d)
	require.NoError(t, err)
	require.True(t, again.Duplicate)
	require.Equal(t, got.IntakeID, again.IntakeID)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM jobs`))
}

// TestAcceptorWakesWorkers proves the wake-up of migration 000010: a transaction with
// app.jobs_notify = 'deferred' inserts its job without NOTIFY, and Acceptor.Accept, whose
// transaction defers it, sends NOTIFY jobs_inserted after its commit all the same.
func TestAcceptorWakesWorkers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	wh := b.webhook(t, b.org, "Zapier")
	wait := dbtest.Listen(t, b.super.Pool, "jobs_inserted")

	// An enqueue in a deferring transaction notifies nobody.
	require.NoError(t, b.owner.Tx(ctx, b.org, func(tx *gorm.DB) error {
		if err := tx.Exec(`SELECT set_config('app.jobs_notify', 'deferred', true)`).Error; err != nil {
			return err
		}
		_, err := jobs.New(b.owner, jobs.Config{}).Enqueue(ctx, tx, jobs.NewJob{OrgID: b.org, Type: jobs.KindNoop, IdempotencyKey: "deferred"})
		return err
	}))
	require.ErrorIs(t, wait(300*time.Millisecond), context.DeadlineExceeded, "no notification from a deferring transaction")

	_, err := intake.NewAcceptor(b.app, jobs.Config{}).Accept(ctx, intake.Delivery{
		OrgID: b.org, SourceID: &wh.ID, DeliveryKey: "k", ContentType: "application/json", Body: []byte(`{}`),
	})
	require.NoError(t, err)
	require.NoError(t, wait(5*time.Second), "the accepted delivery woke the workers")
}
