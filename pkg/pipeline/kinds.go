package pipeline

import (
	"fmt"

	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
)

// The job kinds of the lead pipeline.
const (
	KindEnrichLead    = "enrich_lead"
	KindQualifyLead   = "qualify_lead"
	KindRouteOutreach = "route_outreach"
	// KindFollowUpLead is the follow-up of a lead that route_outreach put in nurture: it is
	// scheduled in scheduled_tasks (due after the nurture delay) and, when the lead is still in
	// nurture then, adds a "follow up" task activity to it (Router.FollowUp).
	KindFollowUpLead = "follow_up_lead"
)

// EnrichLeadArgs are the arguments of enrich_lead: the lead.created event that caused it.
type EnrichLeadArgs struct{ events.JobPayload }

// Kind is enrich_lead.
func (EnrichLeadArgs) Kind() string { return KindEnrichLead }

// Check refuses an event that is not about a lead.
func (a EnrichLeadArgs) Check() error { return aboutLead(a.JobPayload) }

// QualifyLeadArgs are the arguments of qualify_lead: the lead.created event that caused it.
type QualifyLeadArgs struct{ events.JobPayload }

// Kind is qualify_lead.
func (QualifyLeadArgs) Kind() string { return KindQualifyLead }

// Check refuses an event that is not about a lead.
func (a QualifyLeadArgs) Check() error { return aboutLead(a.JobPayload) }

// RouteOutreachArgs are the arguments of route_outreach: the lead.qualified event that caused it.
type RouteOutreachArgs struct{ events.JobPayload }

// Kind is route_outreach.
func (RouteOutreachArgs) Kind() string { return KindRouteOutreach }

// Check refuses an event that is not about a lead.
func (a RouteOutreachArgs) Check() error { return aboutLead(a.JobPayload) }

// Kind is follow_up_lead: FollowUpPayload is that kind's arguments.
func (FollowUpPayload) Kind() string { return KindFollowUpLead }

// aboutLead refuses an event payload whose entity is not a lead.
func aboutLead(p events.JobPayload) error {
	if p.EntityID == nil || p.EntityType != lead.EntityType {
		return fmt.Errorf("event %d is not about a lead", p.EventID)
	}
	return nil
}

// EventJobs are the jobs the lead's events enqueue: a new lead is enriched and qualified, and a
// qualified one routed.
func EventJobs() []events.Mapping {
	return []events.Mapping{
		events.Map(lead.EventCreated, EnrichLeadArgs{}, QualifyLeadArgs{}),
		events.Map(lead.EventQualified, RouteOutreachArgs{}),
	}
}

// JobKinds are the pipeline's job kinds.
func JobKinds() []jobs.Args {
	return []jobs.Args{EnrichLeadArgs{}, QualifyLeadArgs{}, RouteOutreachArgs{}, FollowUpPayload{}}
}
