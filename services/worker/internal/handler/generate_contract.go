package handler

import (
	"context"
	"fmt"

	"go.uber.org/zap"
	"gorm.io/gorm"

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
	if contracts == nil || log == nil {
		panic("handler.GenerateContract: nil dependency")
	}
	return jobs.NewKind(jobs.Shared, func(ctx context.Context, tx *jobs.Batch, js []jobs.Attempt[contract.GenerateContractArgs]) error {
		wons := make([]contract.Won, len(js))
		for i, j := range js {
			wons[i] = contract.Won{EventID: j.Args.EventID, DealID: *j.Args.EntityID}
		}
		var res []contract.GenerateResult
		err := tx.Exec(ctx, func(db *gorm.DB) error {
			var err error
			res, err = contracts.Generate(ctx, db, tx.Org(), wons)
			return err
		})
		if err != nil {
			return fmt.Errorf("generate %d contracts: %w", len(wons), err)
		}
		for i, r := range res {
			fields := []zap.Field{
				zap.Int64("job_id", js[i].ID), zap.String("org_id", js[i].OrgID.String()),
				zap.String("deal_id", wons[i].DealID.String()), zap.Int64("event_id", wons[i].EventID),
			}
			if r.Skipped != "" {
				log.Info("contract not generated", append(fields, zap.String("reason", r.Skipped))...)
				continue
			}
			log.Debug("contract generated", append(fields, zap.String("contract_id", r.Contract.ID.String()))...)
		}
		return nil
	})
}
