package call

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
)

// The actors of the events the jobs emit.
const (
	AnalyzeActor  = "job:" + KindAnalyzeCall
	EscalateActor = "job:" + KindEscalateLead
)

// Commit runs fn in a tenant transaction of the job's org and commits it together with the
// job's completion: jobs.Run.CompleteInTx, as a method value.
type Commit func(ctx context.Context, fn func(tx *gorm.DB) error) error

// AnalyzeResult is what Analyze did.
type AnalyzeResult struct {
	// Analysis is the stored analysis (zero when skipped).
	Analysis Analysis
	// Escalated reports whether buying_signal.high was emitted.
	Escalated bool
	// Skipped says why nothing was written ("" when the analysis was stored).
	Skipped string
}

// Analyze is the use case of analyze_call for the org's call id. It reads the call; one that is
// missing, not completed or already analysed completes the job with nothing written (a rerun
// changes nothing). Otherwise the analyser runs outside any transaction (its errors:
// IsPermanent ones as jobs.Permanent, others retried; an answer that fails Analysis.Validate is
// retried), and in the transaction of commit, with the call's row locked and still unanalysed,
// the analysis is stored with analysis_model and analyzed_at, call.analyzed is emitted, and a
// score at or above the threshold emits buying_signal.high (which enqueues escalate_lead). The
// events' keys name the call, so a rerun can never emit them twice.
func (s *Service) Analyze(ctx context.Context, orgID, id uuid.UUID, commit Commit) (AnalyzeResult, error) {
	var cur Call
	found := false
	err := s.d.Read(ctx, orgID, func(b *db.Batch) { queueGetCall(b, orgID, id, &cur, &found) })
	skip := ""
	switch {
	case err == nil && !found:
		skip = "call not found"
	case err != nil:
		return AnalyzeResult{}, fmt.Errorf("analyse call %s: %w", id, err)
	case cur.AnalyzedAt != nil:
		skip = "call already analysed"
	case cur.Status != StatusCompleted || cur.Transcript == nil:
		skip = fmt.Sprintf("call is %s, not completed with a transcript", cur.Status)
	}
	if skip != "" {
		return AnalyzeResult{Skipped: skip}, commit(ctx, func(*gorm.DB) error { return nil })
	}
	a, err := s.analyzer.Analyze(ctx, Input{Transcript: *cur.Transcript, Notes: deref(cur.Notes)})
	if err != nil {
		if IsPermanent(err) {
			return AnalyzeResult{}, jobs.Permanent(fmt.Errorf("analyse call %s: %w", id, err))
		}
		return AnalyzeResult{}, fmt.Errorf("analyse call %s: %w", id, err)
	}
	if err := a.Validate(); err != nil {
		return AnalyzeResult{}, fmt.Errorf("analyse call %s: invalid analysis: %w", id, err)
	}
	out := AnalyzeResult{Analysis: a}
	err = commit(ctx, func(tx *gorm.DB) error {
		out.Escalated, out.Skipped = false, ""
		locked, err := lockCall(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		stored, err := storeAnalysis(ctx, tx, orgID, id, a)
		if err != nil {
			return err
		}
		if !stored {
			out.Skipped = "call already analysed"
			return nil
		}
		if err := s.emit(ctx, tx, orgID, AnalyzeActor, CallAnalyzed, id, eventKey(CallAnalyzed, id), AnalyzedPayload{
			LeadID: locked.LeadID, BuyingSignalScore: a.BuyingSignalScore, Model: a.Model, Threshold: s.threshold,
		}); err != nil {
			return err
		}
		if a.BuyingSignalScore < s.threshold {
			return nil
		}
		out.Escalated = true
		return s.emit(ctx, tx, orgID, AnalyzeActor, EventBuyingSignalHigh, id, eventKey(EventBuyingSignalHigh, id), BuyingSignalPayload{
			CallID: id, LeadID: locked.LeadID, BuyingSignalScore: a.BuyingSignalScore, Threshold: s.threshold,
			Model: a.Model, SignalPhrases: a.SignalPhrases,
		})
	})
	if err != nil {
		return AnalyzeResult{}, fmt.Errorf("analyse call %s: %w", id, err)
	}
	return out, nil
}

// Escalate is the use case of escalate_lead for the buying_signal.high events of the org's calls
// ids, inside the caller's tenant transaction (the jobs' transaction): each call's lead gets an
// escalation activity and priority urgent (lead.Service.Escalate) under the dedup key
// "escalation:call:<call id>", so the lead is escalated once per call however often the job
// runs. It returns the result of each call in order; a missing call or a deleted lead is
// skipped. It only touches the leads' priority and timeline, never a deal or an invoice.
func (s *Service) Escalate(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, ids []uuid.UUID) ([]lead.EscalationResult, error) {
	out := make([]lead.EscalationResult, len(ids))
	calls, err := getCalls(ctx, tx, orgID, ids)
	if err != nil {
		return nil, err
	}
	var es []lead.Escalation
	var of []int // the call of each escalation
	for i, id := range ids {
		c, ok := calls[id]
		if !ok {
			out[i] = lead.EscalationResult{Skipped: "call not found"}
			continue
		}
		es, of = append(es, s.escalation(c)), append(of, i)
	}
	res, err := s.leads.Escalate(ctx, tx, orgID, EscalateActor, es)
	if err != nil {
		return nil, fmt.Errorf("escalate leads of %d calls: %w", len(es), err)
	}
	for j, r := range res {
		out[of[j]] = r
	}
	return out, nil
}

// escalation is the escalation of the analysed call c's lead.
func (s *Service) escalation(c Call) lead.Escalation {
	score, model := 0, "unknown"
	if c.BuyingSignalScore != nil {
		score = *c.BuyingSignalScore
	}
	if c.AnalysisModel != nil {
		model = *c.AnalysisModel
	}
	body := fmt.Sprintf("Call analysis by %s scored the buying signal %d (threshold %d).", model, score, s.threshold)
	if len(c.SignalPhrases.V) > 0 {
		quoted, _ := json.Marshal(c.SignalPhrases.V)
		body += " Signals: " + strings.Trim(string(quoted), "[]") + "."
	}
	if r := []rune(body); len(r) > lead.MaxTextLen {
		body = string(r[:lead.MaxTextLen])
	}
	return lead.Escalation{
		LeadID: c.LeadID, DedupKey: "escalation:call:" + c.ID.String(), Subject: "High buying signal on a call", Body: body,
		Payload: map[string]any{"callId": c.ID, "buyingSignalScore": score, "threshold": s.threshold, "model": model},
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
