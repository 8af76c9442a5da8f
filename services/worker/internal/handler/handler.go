// Package handler holds the worker's job kinds: for each kind the catalog declares, the work
// that does its jobs (jobs.NewKind), and whether its jobs may share a transaction. The work is
// thin: it hands its jobs' arguments to a pkg domain package, in the transaction the runtime
// commits with the jobs' completions.
package handler

import (
	"slices"
	"time"

	"go.uber.org/zap"

	"example.com/crm/pkg/call"
	"example.com/crm/pkg/client"
	"example.com/crm/pkg/config"
	"example.com/crm/pkg/contract"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/integrity"
	"example.com/crm/pkg/invoice"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/pipeline"
	"example.com/crm/pkg/report"
	"example.com/crm/pkg/rules"
)

// Deps are what the kinds need: the database, the queue and the emitter through which
// their events enqueue the next jobs, the logger, and the lead pipeline of enrich_lead and
// qualify_lead (NewLeadPipeline; nil leaves those two kinds out).
type Deps struct {
	DB       *db.DB
	Queue    *jobs.Queue
	Emitter  *events.Emitter
	Log      *zap.Logger
	Pipeline *LeadPipeline
	// Leads are the lead use cases; nil is lead.NewService on DB and Emitter.
	Leads *lead.Service
	// FollowUpAfter is the delay of a nurture follow-up (zero is pipeline.DefaultNurtureFollowUp).
	FollowUpAfter time.Duration
	// Calls are the call use cases of analyze_call and escalate_lead (NewCallService); nil is
	// the built-in analyser with call.DefaultBuyingSignalThreshold.
	Calls *call.Service
	// InvoiceRenderer renders each invoice's document at creation (create_invoice); nil stores
	// none.
	InvoiceRenderer invoice.Renderer
	// Reports are the report use cases of generate_weekly_report (NewReportService); nil is the
	// built-in writer.
	Reports *report.Service
	// Rules are the configured defaults of the orgs' rules (rules.For), which the scheduled
	// checks read; zero fields are the rules package's defaults.
	Rules config.Rules
	// SweepTimeout is the time limit of an attempt of a scheduled sweep (SweepKinds), in place
	// of the runtime's JOB_TIMEOUT_MS; zero is DefaultSweepTimeout.
	SweepTimeout time.Duration
}

// DefaultSweepTimeout is the time limit of an attempt of a scheduled sweep. A sweep's time grows
// with its org and with its work: it paces itself to leave the api most of the machine, and
// yields more once it runs long (db.Pace), so a backfill of a large org takes minutes (the
// auto-priority backfill at 1,000,000 leads, about 4 beside a saturating api load on 2 cores;
// BENCHMARKS.md, "Scheduled sweeps"). Its chunks bound every lock it takes, and an attempt cut
// short keeps the chunks it committed, so the limit only guards against a sweep that stops
// making progress: an hour is about fifteen times that backfill.
const DefaultSweepTimeout = time.Hour

// SweepKinds are the kinds that sweep an org in chunks (db.DB.Chunks) and take
// Deps.SweepTimeout.
var SweepKinds = []string{client.KindRenewalReminder, integrity.KindCheckIntegrity, deal.KindCheckDealDecay,
	lead.KindCheckLeadStale, lead.KindRecalcGhostRisk, lead.KindRecalcAutoPriority}

// Kinds returns every job kind the worker works, each registered once with its work and its
// sharing. It panics when a dependency is missing, as constructors do.
func Kinds(d Deps) []jobs.Kind {
	if d.DB == nil || d.Queue == nil || d.Emitter == nil {
		panic("handler.Kinds: nil dependency")
	}
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	leads := d.Leads
	if leads == nil {
		leads = lead.NewService(d.DB, d.Emitter)
	}
	calls := d.Calls
	if calls == nil {
		calls = call.NewService(d.DB, d.Emitter, leads, call.Options{})
	}
	reports := d.Reports
	if reports == nil {
		reports = report.NewService(d.DB, d.Emitter, nil)
	}
	router := pipeline.NewRouter(d.Emitter)
	orgRules := rules.For(d.Rules)
	kinds := []jobs.Kind{
		Noop(),
		ProcessIntake(intake.NewProcessor(leads), d.Log),
		RouteOutreach(router, d.Log, d.FollowUpAfter),
		FollowUpLead(router, d.Log),
		NudgeDeal(deal.NewService(d.DB, d.Emitter, leads), d.Log),
		AnalyzeCall(calls, d.Log),
		EscalateLead(calls, d.Log),
		CreateInvoice(invoice.NewService(d.DB, d.Emitter, d.InvoiceRenderer), d.Log),
		GenerateContract(contract.NewService(d.DB, d.Emitter), d.Log),
		CreateClient(client.NewService(d.DB, d.Emitter), d.Log),
		StartOnboarding(client.NewService(d.DB, d.Emitter), d.Log),
		RenewalReminder(client.NewService(d.DB, d.Emitter), d.Log),
		CheckIntegrity(integrity.NewService(d.DB, d.Emitter, integrity.Options{}), d.Log),
		GenerateWeeklyReport(reports, d.Log),
		CheckDealDecay(deal.NewDecaySweep(d.DB, d.Emitter, orgRules), d.Log),
		CheckLeadStale(lead.NewStaleSweep(d.DB, d.Emitter, orgRules), d.Log),
		RecalcGhostRisk(d.DB, leads, SilenceDays(orgRules), d.Log),
		RecalcAutoPriority(leads, lead.DefaultPriorityRules(), d.Log),
	}
	if d.Pipeline != nil {
		kinds = append(kinds, EnrichLead(d.Pipeline), QualifyLead(d.Pipeline))
	}
	sweepTimeout := d.SweepTimeout
	if sweepTimeout <= 0 {
		sweepTimeout = DefaultSweepTimeout
	}
	for i, k := range kinds {
		if slices.Contains(SweepKinds, k.Name()) {
			kinds[i] = k.WithTimeout(sweepTimeout)
		}
	}
	return kinds
}

// Names are the names of kinds, in their order.
func Names(kinds []jobs.Kind) []string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.Name()
	}
	return names
}
