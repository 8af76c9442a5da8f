package handler

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"example.com/crm/pkg/ai"
	"example.com/crm/pkg/call"
	"example.com/crm/pkg/config"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
)

// NewCallService builds the call use cases of analyze_call and escalate_lead from the
// configuration: the AI analyser when OPENAI_API_KEY is set (else call.Builtin), and the
// buying-signal threshold of BUYING_SIGNAL_THRESHOLD; the calls' leads change through leads.
func NewCallService(d *db.DB, emitter *events.Emitter, leads *lead.Service, aiCfg config.AI, rules config.Rules) (*call.Service, error) {
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
	return call.NewService(d, emitter, leads, call.Options{Analyzer: analyzer, BuyingSignalThreshold: &threshold}), nil
}

// AnalyzeCall is the analyze_call kind: for the call.completed event of each job
// (call.AnalyzeCallArgs) it runs call.Service.Analyze, which analyses the transcript (a model
// call) before it opens the job's transaction, then stores the analysis, call.analyzed and, for
// a score at or above the threshold, buying_signal.high (which enqueues escalate_lead). A call
// already analysed, missing or not completed completes the job with nothing written. Its jobs
// run alone: a batch's transaction would stay open across the later jobs' model calls.
func AnalyzeCall(calls *call.Service, log *zap.Logger) jobs.Kind {
	if calls == nil || log == nil {
		panic("handler.AnalyzeCall: nil dependency")
	}
	return jobs.NewKind(jobs.Alone, func(ctx context.Context, tx *jobs.Batch, js []jobs.Attempt[call.AnalyzeCallArgs]) error {
		for _, j := range js {
			p := j.Args
			res, err := calls.Analyze(ctx, j.OrgID, *p.EntityID, tx.Exec)
			if err != nil {
				return err
			}
			fields := []zap.Field{
				zap.Int64("job_id", j.ID), zap.String("org_id", j.OrgID.String()),
				zap.String("call_id", p.EntityID.String()), zap.Int64("event_id", p.EventID),
			}
			if res.Skipped != "" {
				log.Info("call not analysed", append(fields, zap.String("reason", res.Skipped))...)
				continue
			}
			log.Debug("call analysed", append(fields, zap.String("model", res.Analysis.Model),
				zap.Int("buying_signal_score", res.Analysis.BuyingSignalScore), zap.Bool("escalated", res.Escalated))...)
		}
		return nil
	})
}
