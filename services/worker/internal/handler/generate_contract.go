package handler

import (
	"github.com/google/uuid"
	"go.uber.org/zap"

	"example.com/crm/pkg/contract"
	"example.com/crm/pkg/jobs"
)

// GenerateContract is the generate_contract kind: for the deal.won event of each job
// (contract.GenerateContractArgs) it draws up the deal's contract (contract.Service.Generate) in
// the batch's transaction, which also completes the jobs, so a contract, its contract.generated
// event and its job's completion commit together. Its jobs share a transaction (the work only
// reads and writes the database; rendering is CPU). A deal with a contract already, gone or not
// won is logged and its job completed: retrying would change nothing.
func GenerateContract(contracts *contract.Service, log *zap.Logger) jobs.Kind {
	if contracts == nil {
		panic("handler.GenerateContract: nil dependency")
	}
	return causedKind[contract.GenerateContractArgs](caused[contract.Won, contract.GenerateResult]{
		work: "generate %d contracts", entity: "deal_id",
		in:  func(eventID int64, id uuid.UUID) contract.Won { return contract.Won{EventID: eventID, DealID: id} },
		use: contracts.Generate,
		outcome: func(r contract.GenerateResult) (string, []zap.Field) {
			return r.Skipped, []zap.Field{zap.String("contract_id", r.Contract.ID.String())}
		},
		made: "contract generated", skipped: "contract not generated",
	}, log)
}
