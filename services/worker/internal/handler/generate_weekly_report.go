package handler

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"example.com/crm/pkg/ai"
	"example.com/crm/pkg/config"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/report"
)

// NewReportService builds the report use cases of generate_weekly_report from the
// configuration: the model writes the narratives when OPENAI_API_KEY is set, the built-in
// writer otherwise.
func NewReportService(d *db.DB, emitter *events.Emitter, aiCfg config.AI) (*report.Service, error) {
	var writer report.Writer = report.Builtin{}
	if aiCfg.APIKey != "" {
		client, err := ai.New(ai.Config{APIKey: aiCfg.APIKey, Model: aiCfg.Model, BaseURL: aiCfg.BaseURL})
		if err != nil {
			return nil, fmt.Errorf("report service: %w", err)
		}
		writer = report.NewAI(client)
	}
	return report.NewService(d, emitter, writer), nil
}

// GenerateWeeklyReport is the generate_weekly_report kind: for the slot of each job
// (report.GenerateWeeklyReportArgs) it stores the org's report of the ISO week before the slot's
// through report.Service.Generate, which reads the figures and asks the model (if any) before it
// opens the job's transaction, and writes nothing when the week's report exists. Its jobs run
// alone: one org's sweep per slot, and a model call each.
func GenerateWeeklyReport(reports *report.Service, log *zap.Logger) jobs.Kind {
	if reports == nil || log == nil {
		panic("handler.GenerateWeeklyReport: nil dependency")
	}
	return jobs.NewKind(jobs.Alone, func(ctx context.Context, tx *jobs.Batch, js []jobs.Attempt[report.GenerateWeeklyReportArgs]) error {
		for _, j := range js {
			res, err := reports.Generate(ctx, j.OrgID, j.Args.Slot, tx.Exec)
			if err != nil {
				return err
			}
			fields := []zap.Field{zap.Int64("job_id", j.ID), zap.String("org_id", j.OrgID.String()), zap.Time("slot", j.Args.Slot)}
			if res.Skipped != "" {
				log.Info("weekly report not generated", append(fields, zap.String("reason", res.Skipped))...)
				continue
			}
			if res.Fallback != "" {
				log.Warn("weekly report narrative written by the built-in writer", append(fields, zap.String("reason", res.Fallback))...)
			}
			log.Debug("weekly report generated", append(fields, zap.String("report_id", res.Report.ID.String()),
				zap.String("model", res.Report.Model))...)
		}
		return nil
	})
}
