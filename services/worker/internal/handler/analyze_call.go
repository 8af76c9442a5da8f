package handler

import (
	"context"
	"fmt"

	"go.uber.org/zap"
	"gorm.io/gorm"

	"example.com/crm/pkg/ai"
	"example.com/crm/pkg/call"
	"example.com/crm/pkg/config"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
)

// NewCallService builds the call use cases of analyze_call and escalate_lead from the
// configuration: the AI analyser when OPENAI_API_KEY is set (else call.Builtin), and the
// buying-signal threshold of BUYING_SIGNAL_THRESHOLD; the calls' leads change through leads.
func NewCallService(g *gorm.DB, emitter *events.Emitter, leads *lead.Service, aiCfg config.AI, rules config.Rules) (*call.Service, error) {
	var analyzer call.Analyzer = call.Builtin{}
	if aiCfg.APIKey != "" {
		client, err := ai.New(ai.Config{APIKey: aiCfg.APIKey, Model: aiCfg.Model, BaseURL: aiCfg.BaseURL})
		if err != nil {
			return nil, fmt.Errorf("call service: %w", err)
		}
		analyzer = call.NewAI(client)
	}
	threshold := rules.BuyingSignalThreshold
	if threshold < 0 || threshold > 100 {
		return nil, fmt.Errorf("call service: buying signal threshold %d is not in 0..100", threshold)
	}
	return call.NewService(g, emitter, leads, call.Options{Analyzer: analyzer, BuyingSignalThreshold: &threshold}), nil
}

// AnalyzeCall returns the analyze_call handler: for the call.completed event of its payload
// (events.JobPayload) it runs call.Service.Analyze, which analyses the transcript outside any
// transaction and completes the job in one transaction with the stored analysis, call.analyzed
// and, for a score at or above the threshold, buying_signal.high (which enqueues
// escalate_lead). A call already analysed, missing or not completed completes the job with
// nothing written.
func AnalyzeCall(calls *call.Service, log *zap.Logger) jobs.Handler {
	if calls == nil || log == nil {
		panic("handler.AnalyzeCall: nil dependency")
	}
	return func(ctx context.Context, run *jobs.Run) error {
		p, err := callPayload(run)
		if err != nil {
			return err
		}
		res, err := calls.Analyze(ctx, run.Job.OrgID, *p.EntityID, run.CompleteInTx)
		if err != nil {
			return err
		}
		fields := []zap.Field{
			zap.Int64("job_id", run.Job.ID), zap.String("org_id", run.Job.OrgID.String()),
			zap.String("call_id", p.EntityID.String()), zap.Int64("event_id", p.EventID),
		}
		if res.Skipped != "" {
			log.Info("call not analysed", append(fields, zap.String("reason", res.Skipped))...)
			return nil
		}
		log.Debug("call analysed", append(fields, zap.String("model", res.Analysis.Model),
			zap.Int("buying_signal_score", res.Analysis.BuyingSignalScore), zap.Bool("escalated", res.Escalated))...)
		return nil
	}
}

// callPayload reads the events.JobPayload of a job about a call; anything else is permanent.
func callPayload(run *jobs.Run) (events.JobPayload, error) {
	var p events.JobPayload
	if err := decodePayload(run, &p); err != nil {
		return events.JobPayload{}, err
	}
	if p.EntityID == nil || p.EntityType != call.EntityType {
		return events.JobPayload{}, jobs.Permanentf("%s: event %d is not about a call", run.Job.Type, p.EventID)
	}
	return p, nil
}
