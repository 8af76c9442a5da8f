package pipeline

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/enrichment"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/org"
	"example.com/crm/pkg/scoring"
)

// TestPipelineLeadReads proves the pipeline's two reads of a lead by primary key alone agree with
// each other and treat a deleted lead as absent: the one-round-trip read before the external
// calls (Pipeline.read) and the locking read in the write transaction (lead.LockLive), which
// a delete between the two reaches.
func TestPipelineLeadReads(t *testing.T) {
	t.Parallel()
	owner, url := dbtest.NewDB(t)
	ctx := t.Context()
	em := events.NewEmitter(jobs.New(owner, jobs.Config{}), EventJobs())
	orgID, other := dbtest.NewOrg(t, owner, "acme"), dbtest.NewOrg(t, owner, "other")
	svc := lead.NewService(owner, em)
	p := New(owner, em, enrichment.LocalEnricher{}, scoring.Builtin{})
	l, err := svc.Create(ctx, orgID, "test", lead.NewLead{Contact: lead.Contact{Email: "ada@acme.example", Name: "Ada"}})
	require.NoError(t, err)

	locked := func(org, id uuid.UUID) lead.Snapshot {
		t.Helper()
		var s []lead.Snapshot
		require.NoError(t, db.Tx(ctx, owner.Gorm, org, func(tx *gorm.DB) error {
			var err error
			s, err = lead.LockLive(ctx, tx, org, []uuid.UUID{id}, nil)
			return err
		}))
		if len(s) == 0 {
			return lead.Snapshot{}
		}
		return s[0]
	}
	read := func(id uuid.UUID, icp *org.ICP) lead.Snapshot {
		t.Helper()
		s, err := p.read(ctx, orgID, []uuid.UUID{id}, icp)
		require.NoError(t, err)
		return s[0]
	}
	var icp org.ICP
	got := read(l.ID, &icp)
	require.True(t, got.Found)
	require.Nil(t, got.ScoredBy)
	require.Equal(t, l, got.Lead)
	require.Equal(t, got, locked(orgID, l.ID))

	// The locking read of qualification reads the ICP in the same statement, as read does.
	_, err = dbtest.SuperDB(t, url).Pool.Exec(ctx, `UPDATE orgs SET icp = '{"industries":["SaaS"],"minEmployees":50}' WHERE id = $1`, orgID)
	require.NoError(t, err)
	icp = org.ICP{}
	read(l.ID, &icp)
	require.Equal(t, []string{"saas"}, icp.Industries, "normalised")
	var lockedICP org.ICP
	require.NoError(t, db.Tx(ctx, owner.Gorm, orgID, func(tx *gorm.DB) error {
		_, err := lead.LockLive(ctx, tx, orgID, []uuid.UUID{l.ID}, &lockedICP)
		return err
	}))
	require.Equal(t, icp, lockedICP)

	// Another org's id, or an unknown one, is absent.
	require.False(t, locked(other, l.ID).Found)
	require.False(t, read(uuid.New(), nil).Found)

	// Deleted: absent to both reads.
	require.NoError(t, svc.Delete(ctx, orgID, "test", l.ID))
	require.False(t, read(l.ID, nil).Found)
	require.False(t, locked(orgID, l.ID).Found)
}
