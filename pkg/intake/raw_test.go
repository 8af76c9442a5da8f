package intake_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/jobs"
)

// rawRow is a lead_intake_raw row as the superuser reads it.
type rawRow struct {
	OrgID       uuid.UUID
	SourceID    *uuid.UUID
	DeliveryKey string
	ContentType string
	Body        []byte
	Headers     map[string]string
	Status      string
}

func (b *bundle) raw(t *testing.T, id uuid.UUID) rawRow {
	t.Helper()
	var r rawRow
	var headers []byte
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `
SELECT org_id, source_id, delivery_key, content_type, body, headers, status FROM lead_intake_raw WHERE id = $1`, id).
		Scan(&r.OrgID, &r.SourceID, &r.DeliveryKey, &r.ContentType, &r.Body, &headers, &r.Status))
	require.NoError(t, json.Unmarshal(headers, &r.Headers))
	return r
}

// TestAcceptWritesRawRowAndJob proves Accept stores the body byte for byte with its envelope
// (credential headers dropped) and a process_intake job {"intakeId"} keyed "intake:<id>", in
// the delivery's org, and nothing else.
func TestAcceptWritesRawRowAndJob(t *testing.T) {
	t.Parallel()
	withAcceptor(t, func(t *testing.T, b *bundle, accept acceptFunc) {
		wh := b.webhook(t, b.org, "Zapier")
		eventsBefore := b.count(t, `SELECT count(*) FROM events`)
		body := []byte("{\"email\": \"ada@example.com\",\n \"name\": \"Ada \u00e9\"}  ")

		got, err := accept(intake.Delivery{
			OrgID: b.org, SourceID: &wh.ID, DeliveryKey: "wh:abc", ContentType: "application/json", Body: body,
			Headers: map[string]string{"User-Agent": "zapier/1", "X-Signature": "t=1,v1=00", "Authorization": "Bearer k",
				"cookie": "s=1", "X-Api-Key": "k", "X-Bad": "a\x00b\xff"},
		})
		require.NoError(t, err)
		require.False(t, got.Duplicate)
		require.NotEqual(t, uuid.Nil, got.IntakeID)

		r := b.raw(t, got.IntakeID)
		require.Equal(t, b.org, r.OrgID)
		require.Equal(t, wh.ID, *r.SourceID)
		require.Equal(t, "wh:abc", r.DeliveryKey)
		require.Equal(t, "application/json", r.ContentType)
		require.True(t, bytes.Equal(body, r.Body), "the body byte for byte")
		require.Equal(t, "pending", r.Status)
		require.Equal(t, map[string]string{"user-agent": "zapier/1", "x-signature": "t=1,v1=00", "x-bad": "ab\uFFFD"}, r.Headers)

		var job struct {
			OrgID   uuid.UUID
			Type    string
			Key     string
			Payload []byte
		}
		require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT org_id, job_type, idempotency_key, payload FROM jobs`).
			Scan(&job.OrgID, &job.Type, &job.Key, &job.Payload))
		require.Equal(t, b.org, job.OrgID)
		require.Equal(t, intake.KindProcessIntake, job.Type)
		require.Equal(t, "intake:"+got.IntakeID.String(), job.Key)
		require.JSONEq(t, `{"intakeId": "`+got.IntakeID.String()+`"}`, string(job.Payload))
		require.Equal(t, eventsBefore, b.count(t, `SELECT count(*) FROM events`), "no event")
		require.Zero(t, b.count(t, `SELECT count(*) FROM leads`), "no business table")
	})
}

// TestAcceptIsIdempotent proves a delivery is stored once: the same (org, source, delivery key)
// again adds no raw row and no job and returns the first intake id with Duplicate; the same key for
// another source or org is a new delivery; 30 concurrent copies of one delivery make one row and
// one job, and every copy gets its id.
func TestAcceptIsIdempotent(t *testing.T) {
	t.Parallel()
	withAcceptor(t, func(t *testing.T, b *bundle, accept acceptFunc) {
		wh := b.webhook(t, b.org, "Zapier")
		f := b.form(t, b.org, "Website")
		whOther := b.webhook(t, b.other, "Zapier")
		d := intake.Delivery{OrgID: b.org, SourceID: &wh.ID, DeliveryKey: "k1", ContentType: "application/json", Body: []byte(`{"a":1}`)}

		first, err := accept(d)
		require.NoError(t, err)
		again := d
		again.Body = []byte(`{"a":2}`)
		second, err := accept(again)
		require.NoError(t, err)
		require.True(t, second.Duplicate)
		require.Equal(t, first.IntakeID, second.IntakeID)
		require.Equal(t, `{"a":1}`, string(b.raw(t, first.IntakeID).Body), "the first delivery is kept")
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_intake_raw`))
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM jobs`))

		for name, other := range map[string]intake.Delivery{
			"another source": {OrgID: b.org, SourceID: &f.ID, DeliveryKey: "k1", ContentType: "application/json", Body: []byte(`{}`)},
			"another org":    {OrgID: b.other, SourceID: &whOther.ID, DeliveryKey: "k1", ContentType: "application/json", Body: []byte(`{}`)},
			"no source":      {OrgID: b.org, DeliveryKey: "k1", ContentType: "text/csv", Body: []byte(`a,b`)},
		} {
			got, err := accept(other)
			require.NoError(t, err, name)
			require.False(t, got.Duplicate, name)
			require.NotEqual(t, first.IntakeID, got.IntakeID, name)
		}
		// source_id NULL counts as one source (NULLS NOT DISTINCT).
		dup, err := accept(intake.Delivery{OrgID: b.org, DeliveryKey: "k1", ContentType: "text/csv", Body: []byte(`x`)})
		require.NoError(t, err)
		require.True(t, dup.Duplicate)
		require.Equal(t, 4, b.count(t, `SELECT count(*) FROM lead_intake_raw`))
		require.Equal(t, 4, b.count(t, `SELECT count(*) FROM jobs`))

		// Concurrent copies of one new delivery.
		race := intake.Delivery{OrgID: b.org, SourceID: &wh.ID, DeliveryKey: "k-race", ContentType: "application/json", Body: []byte(`{}`)}
		const copies = 30
		ids := make([]uuid.UUID, copies)
		dups := make([]bool, copies)
		errs := make([]error, copies)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range copies {
			wg.Go(func() {
				<-start
				got, err := accept(race)
				ids[i], dups[i], errs[i] = got.IntakeID, got.Duplicate, err
			})
		}
		close(start)
		wg.Wait()
		fresh := 0
		for i := range copies {
			require.NoError(t, errs[i])
			require.Equal(t, ids[0], ids[i])
			if !dups[i] {
				fresh++
			}
		}
		require.Equal(t, 1, fresh, "exactly one copy was new")
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_intake_raw WHERE delivery_key = 'k-race'`))
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM jobs WHERE idempotency_key = $1`, "intake:"+ids[0].String()))
	})
}

// TestAcceptCSVRows proves a CSV row's delivery key defaults to "<batch>:<row>", and that a
// re-sent (batch, row) is a duplicate even under another key.
func TestAcceptCSVRows(t *testing.T) {
	t.Parallel()
	withAcceptor(t, func(t *testing.T, b *bundle, accept acceptFunc) {
		batch := uuid.New()
		row := func(n int, key string) intake.Delivery {
			return intake.Delivery{OrgID: b.org, BatchID: &batch, RowNumber: n, DeliveryKey: key, ContentType: "text/csv", Body: []byte("ada@example.com,Ada")}
		}
		first, err := accept(row(1, ""))
		require.NoError(t, err)
		require.Equal(t, batch.String()+":1", b.raw(t, first.IntakeID).DeliveryKey)
		again, err := accept(row(1, "other-key"))
		require.NoError(t, err)
		require.True(t, again.Duplicate)
		require.Equal(t, first.IntakeID, again.IntakeID)
		second, err := accept(row(2, ""))
		require.NoError(t, err)
		require.False(t, second.Duplicate)
		require.Equal(t, 2, b.count(t, `SELECT count(*) FROM lead_intake_raw`))
		require.Equal(t, 2, b.count(t, `SELECT count(*) FROM jobs`))
	})
}

// TestAcceptIsOneTransaction proves the raw row and its job are written in one transaction: when
// the job cannot be written the raw row is not kept either; and a refused envelope or a source of
// another org writes nothing.
func TestAcceptIsOneTransaction(t *testing.T) {
	t.Parallel()
	withAcceptor(t, func(t *testing.T, b *bundle, accept acceptFunc) {
		ctx := t.Context()
		wh := b.webhook(t, b.org, "Zapier")
		whOther := b.webhook(t, b.other, "Zapier")
		ok := intake.Delivery{OrgID: b.org, SourceID: &wh.ID, DeliveryKey: "k", ContentType: "application/json", Body: []byte(`{}`)}

		// A queue whose jobs break the table's CHECK (max_attempts 1..100): the enqueue fails after
		// the raw row was inserted.
		_, err := acceptWith(ctx, b, jobs.Config{MaxAttempts: 101}, ok)
		require.Error(t, err)
		require.Zero(t, b.count(t, `SELECT count(*) FROM lead_intake_raw`), "the raw row rolled back with the job")
		require.Zero(t, b.count(t, `SELECT count(*) FROM jobs`))

		batch := uuid.New()
		with := func(mod func(*intake.Delivery)) intake.Delivery {
			d := ok
			mod(&d)
			return d
		}
		long := make([]byte, 513)
		for i := range long {
			long[i] = 'k'
		}
		for name, d := range map[string]intake.Delivery{
			"no org":             with(func(d *intake.Delivery) { d.OrgID = uuid.Nil }),
			"no key":             with(func(d *intake.Delivery) { d.DeliveryKey = "" }),
			"key too long":       with(func(d *intake.Delivery) { d.DeliveryKey = string(long) }),
			"no content type":    with(func(d *intake.Delivery) { d.ContentType = "" }),
			"empty body":         with(func(d *intake.Delivery) { d.Body = nil }),
			"row without batch":  with(func(d *intake.Delivery) { d.RowNumber = 3 }),
			"batch without row":  with(func(d *intake.Delivery) { d.BatchID = &batch }),
			"row zero":           with(func(d *intake.Delivery) { d.BatchID, d.RowNumber = &batch, 0 }),
			"nil batch":          with(func(d *intake.Delivery) { nb := uuid.Nil; d.BatchID, d.RowNumber = &nb, 1 }),
			"another org source": with(func(d *intake.Delivery) { d.SourceID = &whOther.ID }),
			"no such source":     with(func(d *intake.Delivery) { id := uuid.New(); d.SourceID = &id }),
		} {
			_, err := accept(d)
			want := apperr.BadRequest
			if strings.HasSuffix(name, "source") {
				want = apperr.NotFound
			}
			require.Equal(t, want, apperr.CodeOf(err), "%s: %v", name, err)
		}
		require.Zero(t, b.count(t, `SELECT count(*) FROM lead_intake_raw`))
		require.Zero(t, b.count(t, `SELECT count(*) FROM jobs`))

		_, err = accept(ok)
		require.NoError(t, err, "the same delivery passes with a working queue")
	})
}

// TestSignedWebhookReplay proves the webhook path end to end as the gateway will run it: a
// signed delivery is verified against the source's secrets, keyed by WebhookDeliveryKey and
// accepted; an exact replay inside the window, also one that keeps only one of two v1 values,
// adds no raw row and no job; the same body signed a second later is a new delivery; and a
// replay outside the window is refused before anything is written.
func TestSignedWebhookReplay(t *testing.T) {
	t.Parallel()
	withAcceptor(t, func(t *testing.T, b *bundle, accept acceptFunc) {
		ctx := t.Context()
		wh := b.webhook(t, b.org, "Zapier")
		old := wh.SigningSecret
		rot, err := b.svc.RotateSecret(ctx, b.org, actor, wh.ID, nil)
		require.NoError(t, err)
		body := []byte(`{"email":"ada@example.com"}`)
		sentAt := time.Now().Truncate(time.Second)

		deliver := func(header string, now time.Time) (intake.Accepted, error) {
			t.Helper()
			src, err := intake.SourceForWebhook(ctx, b.app, wh.ID)
			require.NoError(t, err)
			if err := intake.VerifyWebhook(header, body, now, src.Secrets()...); err != nil {
				return intake.Accepted{}, err
			}
			key, err := intake.WebhookDeliveryKey(header, body)
			require.NoError(t, err)
			return accept(intake.Delivery{
				OrgID: src.OrgID, SourceID: &src.ID, DeliveryKey: key, ContentType: "application/json", Body: body,
				Headers: map[string]string{"x-signature": header},
			})
		}
		oldSig := intake.Sign(old, sentAt, body)
		newSig := intake.Sign(rot.SigningSecret, sentAt, body)
		both := newSig + "," + strings.SplitN(oldSig, ",", 2)[1]

		first, err := deliver(both, sentAt)
		require.NoError(t, err)
		require.False(t, first.Duplicate)
		for name, header := range map[string]string{"exact replay": both, "only the old v1": oldSig, "only the new v1": newSig} {
			got, err := deliver(header, sentAt.Add(4*time.Minute))
			require.NoError(t, err, name)
			require.True(t, got.Duplicate, name)
			require.Equal(t, first.IntakeID, got.IntakeID, name)
		}
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_intake_raw`))
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM jobs`))

		_, err = deliver(both, sentAt.Add(intake.SignatureTolerance+time.Second))
		require.ErrorIs(t, err, intake.ErrSignatureStale, "a replay after the window")
		next, err := deliver(intake.Sign(rot.SigningSecret, sentAt.Add(time.Second), body), sentAt.Add(time.Second))
		require.NoError(t, err)
		require.False(t, next.Duplicate, "the same lead sent again later is a new delivery (process_intake dedups the lead)")
		require.Equal(t, 2, b.count(t, `SELECT count(*) FROM lead_intake_raw`))
		require.Equal(t, 2, b.count(t, `SELECT count(*) FROM jobs`))
	})
}
