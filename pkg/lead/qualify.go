package lead

import (
	"context"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/enrichment"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/org"
	"example.com/crm/pkg/scoring"
)

// QualifiedPayload is the payload of lead.qualified (idempotency key "lead.qualified:<lead id>":
// a lead is qualified once), the input of route_outreach.
type QualifiedPayload struct {
	Score           int          `json:"score"`
	ScoreReasons    []string     `json:"scoreReasons"`
	ICPMatch        bool         `json:"icpMatch"`
	RecommendedPath scoring.Path `json:"recommendedPath"`
	// ScoredBy is "builtin" or the AI model that scored.
	ScoredBy string `json:"scoredBy"`
	// Stage is the lead's stage after qualification; StageChanged reports whether
	// qualification moved it (only a lead still in "new" is moved).
	Stage        Stage `json:"stage"`
	StageChanged bool  `json:"stageChanged"`
	// Version is the lead's version after qualification.
	Version int `json:"version"`
	// Reason summarises the qualification (who scored, score, path, first reason): the reason
	// route_outreach records, e.g. for a disqualification.
	Reason string `json:"reason"`
}

// PathStage is the stage each recommended path moves a new lead to.
var PathStage = map[scoring.Path]Stage{
	scoring.PathBookCall:   StageQualified,
	scoring.PathNurture:    StageNurture,
	scoring.PathDisqualify: StageDisqualified,
}

// Qualify is the use case of qualify_lead.
//
// # Ordering of enrichment and qualification
//
// lead.created enqueues enrich_lead and qualify_lead at the same time, in either order on any
// worker. The rule: qualification never waits for enrich_lead; it always scores with the full
// enrichment, which it takes from the lead when enrich_lead has already stored it, and
// otherwise computes itself with the same Enricher (the domain and free-mail flag are pure
// functions; the external API, when configured, is one idempotent GET). In that second case
// Qualify also stores that enrichment and emits lead.enriched (first writer wins, under the
// lead's row lock), and the enrich_lead job that runs later finds the lead enriched and
// completes without calling the API. So: no polling, no attempts spent waiting, and at most one
// extra API call when both jobs run at the same moment.
//
// When the enricher fails inside Qualify: a retryable error (5xx, timeout) is returned for the
// queue to retry; a permanent one (4xx, garbage) makes Qualify score with the local enrichment
// only (enrichment.Local) and store none, leaving that failure to enrich_lead, which dead-letters
// it where an operator sees it. A broken enrichment API never blocks qualification.
//
// # Writes
//
// Then the scorer runs (outside any transaction; its errors: scoring.IsPermanent ones as
// jobs.Permanent, others retried). In the transaction of commit, with the lead's row locked,
// Qualify stores score, scoreReasons, icpMatch, recommendedPath and scoredBy; moves a lead still
// in stage new to PathStage[recommendedPath] through the stage machine (emitting
// lead.stage_changed), while a lead that has moved on keeps its stage; and emits lead.qualified,
// which enqueues route_outreach. A lead already scored (scored_by set), missing or deleted
// completes with nothing written, so a rerun changes nothing more.
//
// An Offline pipeline has no call to make outside the transaction: it is QualifyMany of one
// lead, which reads the lead (locked) and the ICP only once, in the transaction of commit, and
// enriches and scores there.
func (p *Pipeline) Qualify(ctx context.Context, orgID, leadID uuid.UUID, commit Commit) error {
	if p.Offline() {
		return p.QualifyMany(ctx, orgID, []uuid.UUID{leadID}, commit)
	}
	var icp org.ICP
	s, err := p.read(ctx, orgID, leadID, &icp)
	if err != nil {
		return fmt.Errorf("qualify lead: %w", err)
	}
	if !s.found || s.scoredBy != nil {
		return commit(ctx, func(*gorm.DB) error { return nil })
	}
	enr, store, err := p.enrichmentFor(ctx, s.lead)
	if err != nil {
		return fmt.Errorf("qualify lead %s: %w", leadID, err)
	}
	res, err := p.score(ctx, s.lead, enr, icp)
	if err != nil {
		return fmt.Errorf("qualify lead %s: %w", leadID, err)
	}
	err = commit(ctx, func(tx *gorm.DB) error {
		cur, err := lockPipelineLead(ctx, tx, orgID, leadID, nil)
		if err != nil || !cur.found || cur.scoredBy != nil {
			return err
		}
		return p.writeQualification(ctx, tx, orgID, cur, res, toStore(cur, store, enr))
	})
	if err != nil {
		return fmt.Errorf("qualify lead %s: %w", leadID, err)
	}
	return nil
}

// score runs the scorer on l and validates its answer; an error retrying cannot fix is
// jobs.Permanent.
func (p *Pipeline) score(ctx context.Context, l Lead, enr enrichment.Result, icp org.ICP) (scoring.Result, error) {
	res, err := p.scorer.Score(ctx, scoring.Input{Lead: l.scoringLead(), Enrichment: enr, ICP: ScoringICP(icp)})
	if err != nil {
		if scoring.IsPermanent(err) {
			return scoring.Result{}, jobs.Permanent(err)
		}
		return scoring.Result{}, err
	}
	if err := res.Validate(); err != nil {
		return scoring.Result{}, fmt.Errorf("invalid score: %w", err)
	}
	return res, nil
}

// enrichmentFor returns the enrichment to score with and whether Qualify should store it (see
// Qualify's doc on ordering).
func (p *Pipeline) enrichmentFor(ctx context.Context, l Lead) (enrichment.Result, bool, error) {
	if l.enriched() {
		var r enrichment.Result
		if err := json.Unmarshal(l.Enrichment, &r); err != nil {
			return enrichment.Result{}, false, jobs.Permanent(fmt.Errorf("decode stored enrichment: %w", err))
		}
		return r, false, nil
	}
	r, err := p.enricher.Enrich(ctx, l.enrichmentInput())
	switch {
	case err == nil:
		return r, true, nil
	case enrichment.IsPermanent(err):
		return enrichment.Local(l.enrichmentInput()), false, nil
	default:
		return enrichment.Result{}, false, fmt.Errorf("enrich before scoring: %w", err)
	}
}

// toStore is the enrichment Qualify stores with its score: enr when enrichmentFor said to store
// it and the locked lead cur is still not enriched (enrich_lead may have stored one since the
// read), else nil. The first stored enrichment wins.
func toStore(cur snapshot, store bool, enr enrichment.Result) *enrichment.Result {
	if !store || cur.lead.enriched() {
		return nil
	}
	return &enr
}

// writeQualification stores res (and the enrichment enr, unless nil) on the lead cur, which the
// transaction has locked and seen live and not yet scored, with a new lead's stage move, in one
// UPDATE, and emits the events of qualification in one statement (events.Emitter.EmitAll).
func (p *Pipeline) writeQualification(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, cur snapshot, res scoring.Result, enr *enrichment.Result) error {
	w, evs := qualification(orgID, cur, res, enr)
	if err := storeLeadWrites(ctx, tx, orgID, []leadWrite{w}); err != nil {
		return err
	}
	_, err := p.emitter.EmitAll(ctx, tx, evs...)
	return err
}

// qualification is what qualifying the locked lead cur with res writes and emits: the score
// (with the enrichment enr unless nil, then lead.enriched first); for a lead still in stage new,
// the move to PathStage[res.RecommendedPath] with its lead.stage_changed (its version is the
// locked one plus one); and lead.qualified.
func qualification(orgID uuid.UUID, cur snapshot, res scoring.Result, enr *enrichment.Result) (leadWrite, []events.NewEvent) {
	leadID := cur.lead.ID
	var evs []events.NewEvent
	if enr != nil {
		evs = append(evs, enrichedEvent(orgID, leadID, *enr, KindQualifyLead))
	}
	out := QualifiedPayload{
		Score: res.Score, ScoreReasons: res.Reasons, ICPMatch: res.ICPMatch, RecommendedPath: res.RecommendedPath,
		ScoredBy: res.Model, Stage: cur.lead.Stage, Version: cur.lead.Version, Reason: stageReason(res),
	}
	w := leadWrite{id: leadID, enrichment: enr, score: &res}
	if to := PathStage[res.RecommendedPath]; cur.lead.Stage == StageNew && CanMove(cur.lead.Stage, to) {
		reason, version := out.Reason, cur.lead.Version+1
		w.stage, w.reason = &to, &reason
		evs = append(evs, event(orgID, EventStageChanged, leadID,
			fmt.Sprintf("lead.stage_changed:%s:%d", leadID, version),
			StageChangedPayload{From: cur.lead.Stage, To: to, Reason: &reason, Version: version}))
		out.Stage, out.StageChanged, out.Version = to, true, version
	}
	return w, append(evs, event(orgID, EventQualified, leadID, "lead.qualified:"+leadID.String(), out))
}

// stageReason is the stage reason of a qualification: who scored, the score and the first
// reason, at most MaxReasonLen characters.
func stageReason(r scoring.Result) string {
	s := fmt.Sprintf("qualification by %s: score %d, %s", r.Model, r.Score, r.RecommendedPath)
	if len(r.Reasons) > 0 {
		s += "; " + r.Reasons[0]
	}
	if utf8.RuneCountInString(s) > MaxReasonLen {
		s = string([]rune(s)[:MaxReasonLen])
	}
	return s
}

// ScoringICP maps the org's ICP to the scorers' input.
func ScoringICP(p org.ICP) scoring.ICP {
	p = p.Normalize()
	return scoring.ICP{
		Industries: p.Industries, MinEmployees: p.MinEmployees, MaxEmployees: p.MaxEmployees, Titles: p.Titles,
		Seniorities: p.Seniorities, Countries: p.Countries, Keywords: p.Keywords, ExcludedDomains: p.ExcludedDomains,
	}
}
