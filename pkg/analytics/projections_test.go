package analytics_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
)

// TestProjectionsUnderConcurrentWriters runs the lead and deal use cases from several goroutines
// at once on the api's role (leads created with sources, moved to call_booked, converted by a
// deal, the deal won or lost, some leads deleted), so that the writing transactions hold rows
// of the same groups at once, and then requires every projection of migrations 000033 and
// 000037 to equal a fresh aggregate of the rows it summarises: lead_funnel_days of lead_funnel
// (per day and step, per day and source, per day of qualification), lead_funnel of leads,
// lead_stage_totals of leads, deal_closed_days and deal_pipeline_totals of deals.
func TestProjectionsUnderConcurrentWriters(t *testing.T) {
	t.Parallel()
	c := newCounterDB(t)
	org, super := c.org, c.super
	em := events.NewEmitter(jobs.New(c.app, jobs.Config{}), catalog.New().EventJobs)
	leads := lead.NewService(c.app, em)
	deals := deal.NewService(c.app, em, leads)

	var wg sync.WaitGroup
	errs := make([]error, 6)
	for w := range errs {
		wg.Go(func() {
			errs[w] = func() error {
				for i := range 12 {
					l, err := leads.Create(t.Context(), org, "test", lead.NewLead{Contact: lead.Contact{
						Email: fmt.Sprintf("w%d.l%d@example.com", w, i), Source: []string{"", "web", "ads"}[(w+i)%3]}})
					if err != nil {
						return err
					}
					stops := []lead.Stage{lead.StageQualified, lead.StageContacted, lead.StageCallBooked}[:i%4]
					for _, st := range stops {
						if _, err := leads.ChangeStage(t.Context(), org, "test", l.ID, st, ""); err != nil {
							return err
						}
					}
					if i%4 == 3 {
						d, err := deals.Create(t.Context(), org, "test", deal.NewDeal{LeadID: l.ID, Title: "Deal",
							DealValue: int64(1000 * (i + 1)), Currency: []string{"EUR", "USD"}[w%2]})
						if err != nil {
							return err
						}
						to, reason := deal.StageWon, ""
						if w%3 == 0 {
							to, reason = deal.StageLost, "budget"
						}
						if _, err := deals.ChangeStage(t.Context(), org, "test", d.ID, to, reason); err != nil {
							return err
						}
					}
					if i%5 == 4 {
						if err := leads.Delete(t.Context(), org, "test", l.ID); err != nil {
							return err
						}
					}
				}
				return nil
			}()
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	requireProjectionsExact(t, super, org, true)
	var funnel, fresh []string
	require.NoError(t, super.Gorm.Raw(`SELECT concat_ws(',', f.lead_id, f.step, f.alive, f.qualified_at) FROM lead_funnel f
WHERE f.org_id = ? ORDER BY 1`, org).Scan(&funnel).Error)
	require.NoError(t, super.Gorm.Raw(`SELECT concat_ws(',', l.id, CASE WHEN EXISTS (SELECT FROM deals d WHERE d.org_id = l.org_id AND d.lead_id = l.id AND d.stage = 'won') THEN 5
    WHEN l.stage = 'converted' OR EXISTS (SELECT FROM deals d WHERE d.org_id = l.org_id AND d.lead_id = l.id) THEN 4
    WHEN l.stage = 'call_booked' THEN 3 WHEN l.stage = 'contacted' THEN 2 WHEN l.stage = 'qualified' THEN 1 ELSE 0 END,
    l.deleted_at IS NULL, l.qualified_at) FROM leads l WHERE l.org_id = ? ORDER BY 1`, org).Scan(&fresh).Error)
	require.NotEmpty(t, fresh)
	require.Equal(t, fresh, funnel, "lead_funnel against leads")
}
