package jobs

// The job types of the system (DESIGN.md). The worker registers a handler for each; one whose
// domain is not built yet answers with a permanent ErrNotImplemented.
const (
	TypeNoop                 = "noop"
	TypeProcessIntake        = "process_intake"
	TypeEnrichLead           = "enrich_lead"
	TypeQualifyLead          = "qualify_lead"
	TypeRouteOutreach        = "route_outreach"
	TypeAnalyzeCall          = "analyze_call"
	TypeEscalateLead         = "escalate_lead"
	TypeCreateInvoice        = "create_invoice"
	TypeGenerateContract     = "generate_contract"
	TypeNudgeDeal            = "nudge_deal"
	TypeCreateClient         = "create_client"
	TypeStartOnboarding      = "start_onboarding"
	TypeCheckDealDecay       = "check_deal_decay"
	TypeCheckLeadStale       = "check_lead_stale"
	TypeRecalcAutoPriority   = "recalc_auto_priority"
	TypeRecalcGhostRisk      = "recalc_ghost_risk"
	TypeRenewalReminder      = "renewal_reminder"
	TypeCheckIntegrity       = "check_integrity"
	TypeGenerateWeeklyReport = "generate_weekly_report"
	// TypeFollowUpLead is the follow-up of a lead that route_outreach put in nurture: it is
	// scheduled in scheduled_tasks (due after the nurture delay) and, when the lead is still in
	// nurture then, adds a "follow up" task activity to it (lead.Service.FollowUpTx).
	TypeFollowUpLead = "follow_up_lead"
)

// AllTypes lists every job type, noop included.
var AllTypes = []string{
	TypeNoop, TypeProcessIntake, TypeEnrichLead, TypeQualifyLead, TypeRouteOutreach,
	TypeAnalyzeCall, TypeEscalateLead, TypeCreateInvoice, TypeGenerateContract, TypeNudgeDeal,
	TypeCreateClient, TypeStartOnboarding, TypeCheckDealDecay, TypeCheckLeadStale,
	TypeRecalcAutoPriority, TypeRecalcGhostRisk, TypeRenewalReminder, TypeCheckIntegrity,
	TypeGenerateWeeklyReport, TypeFollowUpLead,
}
