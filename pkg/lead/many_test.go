package lead_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
)

// TestLeadSideTakesMany proves the use cases that other domains run in their transaction take
// many leads in one call as they take one: BookCalls and Convert move each lead through the
// stage machine, Escalate skips a lead that is gone and escalates the others once, and two
// nudges of one lead in one call bump its priority twice, each change seeing the one before.
func TestLeadSideTakesMany(t *testing.T) {
	t.Parallel()
	d, url := dbtest.NewDB(t)
	em := events.NewEmitter(jobs.New(d, jobs.Config{}), catalog.New().EventJobs)
	svc := lead.NewService(d, em)
	super := dbtest.SuperDB(t, url)
	org := dbtest.NewOrg(t, d, "acme")
	ctx := t.Context()
	var ids []uuid.UUID
	for _, email := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		l, err := svc.Create(ctx, org, "test", lead.NewLead{Contact: lead.Contact{Email: email}})
		require.NoError(t, err)
		ids = append(ids, l.ID)
	}
	inTx := func(fn func(tx *gorm.DB) error) { require.NoError(t, db.Tx(ctx, d.Gorm, org, fn)) }
	count := func(sql string, args ...any) int {
		var n int
		require.NoError(t, super.Pool.QueryRow(ctx, sql, args...).Scan(&n))
		return n
	}

	inTx(func(tx *gorm.DB) error {
		booked, err := svc.BookCalls(ctx, tx, org, "test", []lead.CallBooking{{LeadID: ids[1], Reason: "b"}, {LeadID: ids[0], Reason: "a"}})
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{ids[1], ids[0]}, []uuid.UUID{booked[0].ID, booked[1].ID})
		for _, l := range booked {
			require.Equal(t, lead.StageCallBooked, l.Stage)
			require.Equal(t, 4, l.Version, "three moves after creation")
		}
		conv, err := svc.Convert(ctx, tx, org, "test", []lead.Conversion{{LeadID: ids[0]}, {LeadID: ids[1]}, {LeadID: ids[0]}})
		require.NoError(t, err)
		require.Equal(t, []bool{true, true, false}, []bool{conv[0].Changed, conv[1].Changed, conv[2].Changed})
		require.Equal(t, lead.StageConverted, conv[2].Lead.Stage)
		return nil
	})
	require.Equal(t, 8, count(`SELECT count(*) FROM events WHERE org_id = $1 AND type = 'lead.stage_changed'`, org))

	inTx(func(tx *gorm.DB) error {
		res, err := svc.Escalate(ctx, tx, org, "test", []lead.Escalation{
			{LeadID: ids[2], DedupKey: "e:c"}, {LeadID: uuid.New(), DedupKey: "e:gone"}, {LeadID: ids[0], DedupKey: "e:a"},
		})
		require.NoError(t, err)
		require.True(t, res[0].Escalated)
		require.Equal(t, "lead not found or deleted", res[1].Skipped)
		require.True(t, res[2].PriorityChanged)
		return nil
	})
	require.Equal(t, 2, count(`SELECT count(*) FROM leads WHERE org_id = $1 AND priority = 'urgent'`, org))

	l, err := svc.Create(ctx, org, "test", lead.NewLead{Contact: lead.Contact{Email: "d@example.com"}, Priority: lead.PriorityLow})
	require.NoError(t, err)
	inTx(func(tx *gorm.DB) error {
		res, err := svc.Nudge(ctx, tx, org, []lead.Nudge{{LeadID: l.ID, DedupKey: "n:1", Actor: "test"}, {LeadID: l.ID, DedupKey: "n:2", Actor: "test"}})
		require.NoError(t, err)
		require.Equal(t, []lead.NudgeResult{{Added: true, From: lead.PriorityLow, To: lead.PriorityNormal},
			{Added: true, From: lead.PriorityNormal, To: lead.PriorityHigh}}, res)
		return nil
	})
	got, err := svc.Get(ctx, org, l.ID)
	require.NoError(t, err)
	require.Equal(t, lead.PriorityHigh, got.Priority)
	require.Equal(t, l.Version+2, got.Version)
}
