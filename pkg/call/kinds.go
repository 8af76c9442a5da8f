package call

import (
	"fmt"

	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
)

// The event types of calls. buying_signal.high is a call's analysis scoring at or above the
// threshold.
const (
	EventBooked           = "call.booked"
	EventCompleted        = "call.completed"
	EventNoShow           = "call.no_show"
	EventCancelled        = "call.cancelled"
	EventBuyingSignalHigh = "buying_signal.high"
)

// The job kinds of calls.
const (
	KindAnalyzeCall  = "analyze_call"
	KindEscalateLead = "escalate_lead"
)

// AnalyzeCallArgs are the arguments of analyze_call: the call.completed event that caused it.
type AnalyzeCallArgs struct{ events.JobPayload }

// Kind is analyze_call.
func (AnalyzeCallArgs) Kind() string { return KindAnalyzeCall }

// Check refuses an event that is not about a call.
func (a AnalyzeCallArgs) Check() error { return aboutCall(a.JobPayload) }

// EscalateLeadArgs are the arguments of escalate_lead: the buying_signal.high event of a call.
type EscalateLeadArgs struct{ events.JobPayload }

// Kind is escalate_lead.
func (EscalateLeadArgs) Kind() string { return KindEscalateLead }

// Check refuses an event that is not about a call.
func (a EscalateLeadArgs) Check() error { return aboutCall(a.JobPayload) }

// aboutCall refuses an event payload whose entity is not a call.
func aboutCall(p events.JobPayload) error {
	if p.EntityID == nil || p.EntityType != EntityType {
		return fmt.Errorf("event %d is not about a call", p.EventID)
	}
	return nil
}

// EventJobs are the jobs the call events enqueue: a completed call is analysed, and a high
// buying signal escalates the call's lead.
func EventJobs() []events.Mapping {
	return []events.Mapping{
		events.Map(EventCompleted, AnalyzeCallArgs{}),
		events.Map(EventBuyingSignalHigh, EscalateLeadArgs{}),
	}
}

// JobKinds are the call job kinds.
func JobKinds() []jobs.Args { return []jobs.Args{AnalyzeCallArgs{}, EscalateLeadArgs{}} }
