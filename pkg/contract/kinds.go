package contract

import (
	"fmt"

	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
)

// The event types of contracts.
const (
	EventGenerated     = "contract.generated"
	EventStatusChanged = "contract.status_changed"
)

// KindGenerateContract is the job kind that draws up the contract of a won deal.
const KindGenerateContract = "generate_contract"

// GenerateContractArgs are the arguments of generate_contract: the deal.won event that caused it
// (its data is a deal.StageChangedPayload).
type GenerateContractArgs struct{ events.JobPayload }

// Kind is generate_contract.
func (GenerateContractArgs) Kind() string { return KindGenerateContract }

// Check refuses an event that is not about a deal.
func (a GenerateContractArgs) Check() error {
	if a.EntityID == nil || a.EntityType != deal.EntityType {
		return fmt.Errorf("event %d is not about a deal", a.EventID)
	}
	return nil
}

// EventJobs are the jobs the events of other domains enqueue here: a won deal gets its contract.
func EventJobs() []events.Mapping {
	return []events.Mapping{events.Map(deal.EventWon, GenerateContractArgs{})}
}

// JobKinds are the contract job kinds.
func JobKinds() []jobs.Args { return []jobs.Args{GenerateContractArgs{}} }
