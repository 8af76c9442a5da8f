// Package handler holds the worker's job handlers, one per job type, and the registry that maps
// job types to them. Handlers are thin: they decode their payload and call a pkg domain package.
// A job type whose domain is not built yet answers with a permanent "not implemented" error, so
// nothing silently succeeds.
package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.uber.org/zap"
	"gorm.io/gorm"

	"example.com/crm/pkg/call"
	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/pipeline"
)

// Deps are what the handlers need: the database (gorm), the queue and the emitter through which
// their events enqueue the next jobs, the logger, the lead use cases that the other domains
// change leads through, and the lead pipeline of enrich_lead and qualify_lead (NewLeadPipeline;
// nil leaves those two not implemented).
type Deps struct {
	Gorm     *gorm.DB
	Queue    *jobs.Queue
	Emitter  *events.Emitter
	Log      *zap.Logger
	Pipeline *pipeline.Pipeline
	// Leads are the lead use cases; nil is lead.NewService on Gorm and Emitter.
	Leads *lead.Service
	// FollowUpAfter is the delay of a nurture follow-up (zero is pipeline.DefaultNurtureFollowUp).
	FollowUpAfter time.Duration
	// Calls are the call use cases of analyze_call and escalate_lead (NewCallService); nil is
	// the built-in analyser with call.DefaultBuyingSignalThreshold.
	Calls *call.Service
}

// Registry returns the handler of every job type of the system. It panics when a dependency is
// missing, as constructors do.
func Registry(d Deps) map[string]jobs.Handler {
	if d.Gorm == nil || d.Queue == nil || d.Emitter == nil {
		panic("handler.Registry: nil dependency")
	}
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	leads := d.leads()
	router := pipeline.NewRouter(d.Emitter)
	reg := make(map[string]jobs.Handler, len(jobs.AllTypes))
	for _, t := range jobs.AllTypes {
		reg[t] = notImplemented(t)
	}
	reg[jobs.TypeNoop] = Noop
	reg[jobs.TypeProcessIntake] = ProcessIntake(intake.NewProcessor(leads), d.Log)
	reg[jobs.TypeRouteOutreach] = RouteOutreach(router, d.Log, d.FollowUpAfter)
	reg[jobs.TypeFollowUpLead] = FollowUpLead(router, d.Log)
	reg[jobs.TypeNudgeDeal] = NudgeDeal(deal.NewService(d.Gorm, d.Emitter, leads), d.Log)
	calls := d.Calls
	if calls == nil {
		calls = call.NewService(d.Gorm, d.Emitter, leads, call.Options{})
	}
	reg[jobs.TypeAnalyzeCall] = AnalyzeCall(calls, d.Log)
	reg[jobs.TypeEscalateLead] = EscalateLead(calls, d.Log)
	if d.Pipeline != nil {
		reg[jobs.TypeEnrichLead] = EnrichLead(EnrichDeps{Pipeline: d.Pipeline})
		reg[jobs.TypeQualifyLead] = QualifyLead(QualifyDeps{Pipeline: d.Pipeline})
	}
	return reg
}

// BatchTypes are the job types whose attempts may share one transaction (jobs.Batch, runtime
// Config.BatchTypes): those whose handlers only read and write the database, so that a batch's
// transaction is never held open across a network call. These are the intake pipeline's
// process_intake and route_outreach (and the nurture follow_up_lead), and enrich_lead and
// qualify_lead when the pipeline is offline (no enrichment API, the built-in scorer).
func BatchTypes(d Deps) []string {
	types := []string{jobs.TypeProcessIntake, jobs.TypeRouteOutreach, jobs.TypeFollowUpLead}
	if d.Pipeline != nil && d.Pipeline.Offline() {
		types = append(types, jobs.TypeEnrichLead, jobs.TypeQualifyLead)
	}
	return types
}

// leads returns d.Leads, or the lead use cases on d.Gorm when none are given.
func (d Deps) leads() *lead.Service {
	if d.Leads != nil {
		return d.Leads
	}
	return lead.NewService(d.Gorm, d.Emitter)
}

func notImplemented(jobType string) jobs.Handler {
	return func(context.Context, *jobs.Run) error {
		return jobs.Permanent(fmt.Errorf("%s: %w", jobType, jobs.ErrNotImplemented))
	}
}

// decodePayload reads a job's JSON payload strictly into dst; a payload that does not fit is a
// permanent error (retrying cannot fix it).
func decodePayload(run *jobs.Run, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(run.Job.Payload))
	if err := dec.Decode(dst); err != nil {
		return jobs.Permanentf("%s payload: %w", run.Job.Type, err)
	}
	return nil
}
