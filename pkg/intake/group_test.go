package intake_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/jobs"
)

// TestAcceptGroup proves the group transaction of Acceptor.Accept: the new deliveries of a group
// and their jobs commit together, one job each; a second copy of a key in the group gets the
// first copy's row as a duplicate and writes nothing; a key stored before goes on alone (to read
// its row); and a group that fails (here a source that does not exist) writes nothing and sends
// every delivery on alone, where only the bad one fails.
func TestAcceptGroup(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	wh := b.webhook(t, b.org, "Zapier")
	acceptor := intake.NewAcceptor(b.app, jobs.Config{MaxAttempts: 5})
	delivery := func(key string) intake.Delivery {
		return intake.Delivery{OrgID: b.org, SourceID: &wh.ID, DeliveryKey: key, ContentType: "application/json",
			Body: []byte(`{"email":"` + key + `@example.com"}`), Headers: map[string]string{"User-Agent": "test"}}
	}
	before, err := acceptor.Accept(ctx, delivery("stored"))
	require.NoError(t, err)

	acc, alone, err := acceptor.AcceptGroup(ctx, b.org, []intake.Delivery{
		delivery("b"), delivery("a"), delivery("stored"), delivery("b"), delivery("c"),
	})
	require.NoError(t, err)
	require.Equal(t, []bool{false, false, true, false, false}, alone)
	require.False(t, acc[0].Duplicate)
	require.False(t, acc[1].Duplicate)
	require.False(t, acc[4].Duplicate)
	require.Equal(t, intake.Accepted{IntakeID: acc[0].IntakeID, Duplicate: true}, acc[3], "the second copy of b gets b's row")
	require.Len(t, map[uuid.UUID]bool{acc[0].IntakeID: true, acc[1].IntakeID: true, acc[4].IntakeID: true, before.IntakeID: true}, 4)
	for _, i := range []int{0, 1, 4} {
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_intake_raw r
		JOIN jobs j ON j.org_id = r.org_id AND j.idempotency_key = 'intake:' || r.id
		WHERE r.id = $1 AND r.delivery_key = $2 AND r.xmin::text = j.xmin::text AND j.max_attempts = 5
		  AND j.payload = jsonb_build_object('intakeId', r.id) AND r.headers = '{"user-agent": "test"}'`,
			acc[i].IntakeID, []string{"b", "a", "", "", "c"}[i]), "delivery %d and its job", i)
	}
	require.Equal(t, 1, b.count(t, `SELECT count(DISTINCT xmin::text) FROM lead_intake_raw WHERE id = ANY($1)`,
		[]uuid.UUID{acc[0].IntakeID, acc[1].IntakeID, acc[4].IntakeID}), "one transaction stored the group")
	require.Equal(t, 4, b.count(t, `SELECT count(*) FROM lead_intake_raw`))
	require.Equal(t, 4, b.count(t, `SELECT count(*) FROM jobs WHERE job_type = 'process_intake'`))

	gone := uuid.New()
	bad := delivery("gone")
	bad.SourceID = &gone
	acc, alone, err = acceptor.AcceptGroup(ctx, b.org, []intake.Delivery{delivery("d"), bad})
	require.NoError(t, err)
	require.Equal(t, []bool{true, true}, alone, "a failed group sends every delivery on alone")
	require.Equal(t, []intake.Accepted{{}, {}}, acc)
	require.Equal(t, 4, b.count(t, `SELECT count(*) FROM lead_intake_raw`), "the failed group wrote nothing")
	_, err = acceptor.Accept(ctx, bad)
	require.True(t, apperr.Is(err, apperr.NotFound), "alone, the bad delivery fails on its own: %v", err)
	_, err = acceptor.Accept(ctx, delivery("d"))
	require.NoError(t, err)
}

// TestAcceptorGroupsConcurrentDeliveries sends many deliveries of two orgs through one
// Acceptor at once, so that they queue for its writers and share transactions, with twenty
// copies of one webhook among them: every distinct delivery is stored once with one job and
// gets its own row back, the twenty copies make one row (one of them new, the rest duplicates
// of it), nothing else is written, and the writers are all gone afterwards.
func TestAcceptorGroupsConcurrentDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	sources := map[uuid.UUID]uuid.UUID{b.org: b.webhook(t, b.org, "Zapier").ID, b.other: b.webhook(t, b.other, "Hubspot").ID}
	acceptor := intake.NewAcceptor(b.app, jobs.Config{})
	type sent struct {
		org uuid.UUID
		key string
	}
	var all []sent
	for i := range 100 {
		org := b.org
		if i%4 == 0 {
			org = b.other
		}
		all = append(all, sent{org, fmt.Sprintf("d%d", i)})
	}
	for range 20 {
		all = append(all, sent{b.org, "replayed"})
	}
	got := make([]intake.Accepted, len(all))
	errs := make([]error, len(all))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, s := range all {
		wg.Go(func() {
			<-start
			src := sources[s.org]
			got[i], errs[i] = acceptor.Accept(ctx, intake.Delivery{OrgID: s.org, SourceID: &src, DeliveryKey: s.key,
				ContentType: "application/json", Body: []byte(`{"key":"` + s.key + `"}`)})
		})
	}
	close(start)
	wg.Wait()

	ids := map[uuid.UUID]string{}
	var replayed []intake.Accepted
	for i, s := range all {
		require.NoError(t, errs[i], s.key)
		if s.key == "replayed" {
			replayed = append(replayed, got[i])
			continue
		}
		require.False(t, got[i].Duplicate, s.key)
		require.NotContains(t, ids, got[i].IntakeID, s.key)
		ids[got[i].IntakeID] = s.key
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_intake_raw r
		JOIN jobs j ON j.org_id = r.org_id AND j.idempotency_key = 'intake:' || r.id
		WHERE r.id = $1 AND r.org_id = $2 AND r.delivery_key = $3 AND r.body = convert_to($4, 'UTF8') AND r.xmin::text = j.xmin::text`,
			got[i].IntakeID, s.org, s.key, `{"key":"`+s.key+`"}`), s.key)
	}
	fresh := 0
	for _, r := range replayed {
		require.Equal(t, replayed[0].IntakeID, r.IntakeID, "every copy names the one row")
		if !r.Duplicate {
			fresh++
		}
	}
	require.Equal(t, 1, fresh, "one copy stored it, the others are duplicates")
	require.Equal(t, 101, b.count(t, `SELECT count(*) FROM lead_intake_raw`))
	require.Equal(t, 101, b.count(t, `SELECT count(*) FROM jobs WHERE job_type = 'process_intake'`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_intake_raw WHERE delivery_key = 'replayed'`))
	require.Less(t, b.count(t, `SELECT count(DISTINCT xmin::text) FROM lead_intake_raw`), 101,
		"deliveries that waited shared transactions")
	require.Eventually(t, func() bool { return acceptor.QueuedOrgs() == 0 }, 5*time.Second, 10*time.Millisecond,
		"every writer gave its slot back once the queues were empty")
}
