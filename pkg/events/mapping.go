package events

import "example.com/crm/pkg/jobs"

// Mapping names the job kinds that an event type enqueues, in the emitting transaction, one job
// per kind and event (keyed jobs.EventKey, payload JobPayload). Each domain declares the mappings
// of its events; the binaries wire the list into their Emitter.
type Mapping struct {
	Event string
	Jobs  []jobs.Args
}

// Map is the Mapping of event to the kinds of jobs, in their order.
func Map(event string, jobs ...jobs.Args) Mapping { return Mapping{Event: event, Jobs: jobs} }

// jobTypes folds mappings into the job types of each event type, in their order; an event type
// mapped twice gets both lists, each kind once.
func jobTypes(mappings []Mapping) map[string][]string {
	out := make(map[string][]string, len(mappings))
	for _, m := range mappings {
		for _, a := range m.Jobs {
			k := a.Kind()
			if !containsString(out[m.Event], k) {
				out[m.Event] = append(out[m.Event], k)
			}
		}
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
