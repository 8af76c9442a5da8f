package catalog_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/call"
	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/contract"
	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/invoice"
	"example.com/crm/pkg/org"
)

// TestCatalogIsWhole proves that every mapped event and every seeded cron task names a kind
// of the catalog, and that no kind is declared twice.
func TestCatalogIsWhole(t *testing.T) {
	t.Parallel()
	require.NoError(t, catalog.New().Check())
}

// TestCheckRefusesUnknownKinds proves that Check names a mapping or a cron task whose kind is not
// in the catalog, and a kind declared twice.
func TestCheckRefusesUnknownKinds(t *testing.T) {
	t.Parallel()
	c := catalog.New()
	c.Kinds = append(c.Kinds, call.AnalyzeCallArgs{})
	c.EventJobs = append(c.EventJobs, events.Map(deal.EventWon, unbuilt{}))
	c.CronTasks = append(c.CronTasks, org.CronTask{Name: "monthly report", JobType: "generate_monthly_report", Cron: "0 7 1 * *"})
	err := c.Check()
	require.ErrorContains(t, err, `job kind "analyze_call" is declared twice`)
	require.ErrorContains(t, err, `event deal.won maps to job kind "generate_quote", which has no handler`)
	require.ErrorContains(t, err, `cron task "monthly report" names job kind "generate_monthly_report", which has no handler`)
}

// TestDealWonMapsToInvoiceAndContract proves that deal.won enqueues create_invoice and
// generate_contract and nothing else.
func TestDealWonMapsToInvoiceAndContract(t *testing.T) {
	t.Parallel()
	c := catalog.New()
	var won []string
	for _, m := range c.EventJobs {
		if m.Event == deal.EventWon {
			for _, a := range m.Jobs {
				won = append(won, a.Kind())
			}
		}
	}
	require.Equal(t, []string{invoice.KindCreateInvoice, contract.KindGenerateContract}, won)
	require.Equal(t, []events.Mapping{events.Map(deal.EventStalled, deal.NudgeDealArgs{})}, deal.EventJobs())
}

// TestCheckWorked proves that CheckWorked names a kind without a handler and a handler
// without a kind.
func TestCheckWorked(t *testing.T) {
	t.Parallel()
	c := catalog.New()
	require.NoError(t, c.CheckWorked(c.KindNames()))
	err := c.CheckWorked(append(c.KindNames()[1:], "ghost"))
	require.ErrorContains(t, err, `job kind "noop" has no handler`)
	require.ErrorContains(t, err, `handler of job kind "ghost" is not in the catalog`)
}

// TestCronTasksAreTheSevenChecks proves the tasks every new org is seeded with: the seven
// recurring checks of the seed design, each once, each of a kind the catalog has (Check), with
// the schedules migration 000030 gives existing orgs (TestMigrationSeedsScheduledChecks).
func TestCronTasksAreTheSevenChecks(t *testing.T) {
	t.Parallel()
	var got []string
	for _, s := range catalog.New().CronTasks {
		got = append(got, s.JobType+" "+s.Cron)
	}
	require.ElementsMatch(t, []string{
		"check_deal_decay 0 * * * *", "check_lead_stale 15 * * * *", "recalc_auto_priority 30 * * * *",
		"recalc_ghost_risk 0 6 * * *", "renewal_reminder 0 8 * * *", "generate_weekly_report 0 7 * * 1",
		"check_integrity */10 * * * *",
	}, got)
}

type unbuilt struct{}

func (unbuilt) Kind() string { return "generate_quote" }
