package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/google/uuid"

	"example.com/crm/pkg/enrichment"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
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
	Stage        lead.Stage `json:"stage"`
	StageChanged bool       `json:"stageChanged"`
	// Version is the lead's version after qualification.
	Version int `json:"version"`
	// Reason summarises the qualification (who scored, score, path, first reason): the reason
	// route_outreach records, e.g. for a disqualification.
	Reason string `json:"reason"`
}

// PathStage is the stage each recommended path moves a new lead to.
var PathStage = map[scoring.Path]lead.Stage{
	scoring.PathBookCall:   lead.StageQualified,
	scoring.PathNurture:    lead.StageNurture,
	scoring.PathDisqualify: lead.StageDisqualified,
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
// Qualify takes a slice of leads, one statement per step for all of them; the enricher and the
// scorer run outside any transaction, between a read of the leads with the ICP and commit. An
// Offline pipeline has no call to make out of the database: it reads the leads (locked) and the
// ICP only once, in the transaction of commit, and enriches and scores there.
func (p *Pipeline) Qualify(ctx context.Context, orgID uuid.UUID, ids []uuid.UUID, commit Commit) error {
	if p.Offline() {
		err := p.inTx(ctx, orgID, ids, true, commit, func(cur lead.Snapshot, icp org.ICP) (*lead.Write, []events.NewEvent, error) {
			if cur.ScoredBy != nil {
				return nil, nil, nil
			}
			q, err := p.prepare(ctx, cur.Lead, icp)
			if err != nil {
				return nil, nil, err
			}
			return qualification(orgID, cur, q.score, toStore(cur, q.store, q.enrichment))
		})
		if err != nil {
			return fmt.Errorf("qualify %d leads: %w", len(ids), err)
		}
		return nil
	}
	var icp org.ICP
	snaps, err := p.read(ctx, orgID, ids, &icp)
	if err != nil {
		return fmt.Errorf("qualify leads: %w", err)
	}
	prepared := make(map[uuid.UUID]prepared, len(snaps))
	var todo []uuid.UUID
	for _, s := range snaps {
		if !s.Found || s.ScoredBy != nil {
			continue
		}
		if _, done := prepared[s.Lead.ID]; done {
			continue
		}
		q, err := p.prepare(ctx, s.Lead, icp)
		if err != nil {
			return fmt.Errorf("qualify lead %s: %w", s.Lead.ID, err)
		}
		prepared[s.Lead.ID], todo = q, append(todo, s.Lead.ID)
	}
	err = p.inTx(ctx, orgID, todo, false, commit, func(cur lead.Snapshot, _ org.ICP) (*lead.Write, []events.NewEvent, error) {
		if cur.ScoredBy != nil {
			return nil, nil, nil
		}
		q := prepared[cur.Lead.ID]
		return qualification(orgID, cur, q.score, toStore(cur, q.store, q.enrichment))
	})
	if err != nil {
		return fmt.Errorf("qualify %d leads: %w", len(todo), err)
	}
	return nil
}

// prepared is what qualifying a lead needs of the calls out of the database: the enrichment to
// score with, whether to store it (see Qualify's doc on ordering), and the score.
type prepared struct {
	enrichment enrichment.Result
	store      bool
	score      scoring.Result
}

// prepare makes the calls of qualifying l against icp: the enrichment, when the lead has none
// stored, and the score.
func (p *Pipeline) prepare(ctx context.Context, l lead.Lead, icp org.ICP) (prepared, error) {
	enr, store, err := p.enrichmentFor(ctx, l)
	if err != nil {
		return prepared{}, err
	}
	res, err := p.score(ctx, l, enr, icp)
	if err != nil {
		return prepared{}, err
	}
	return prepared{enrichment: enr, store: store, score: res}, nil
}

// score runs the scorer on l and validates its answer; an error retrying cannot fix is
// jobs.Permanent.
func (p *Pipeline) score(ctx context.Context, l lead.Lead, enr enrichment.Result, icp org.ICP) (scoring.Result, error) {
	res, err := p.scorer.Score(ctx, scoring.Input{Lead: scoringLead(l), Enrichment: enr, ICP: ScoringICP(icp)})
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
func (p *Pipeline) enrichmentFor(ctx context.Context, l lead.Lead) (enrichment.Result, bool, error) {
	if l.Enriched() {
		var r enrichment.Result
		if err := json.Unmarshal(l.Enrichment, &r); err != nil {
			return enrichment.Result{}, false, jobs.Permanent(fmt.Errorf("decode stored enrichment: %w", err))
		}
		return r, false, nil
	}
	r, err := p.enricher.Enrich(ctx, enrichmentInput(l))
	switch {
	case err == nil:
		return r, true, nil
	case enrichment.IsPermanent(err):
		return enrichment.Local(enrichmentInput(l)), false, nil
	default:
		return enrichment.Result{}, false, fmt.Errorf("enrich before scoring: %w", err)
	}
}

// toStore is the enrichment Qualify stores with its score: enr when enrichmentFor said to store
// it and the locked lead cur is still not enriched (enrich_lead may have stored one since the
// read), else nil. The first stored enrichment wins.
func toStore(cur lead.Snapshot, store bool, enr enrichment.Result) *enrichment.Result {
	if !store || cur.Lead.Enriched() {
		return nil
	}
	return &enr
}

// qualification is what qualifying the locked lead cur with res writes and emits: the score
// (with the enrichment enr unless nil, then lead.enriched first); for a lead still in stage new,
// the move to PathStage[res.RecommendedPath] with its lead.stage_changed (its version is the
// locked one plus one); and lead.qualified.
func qualification(orgID uuid.UUID, cur lead.Snapshot, res scoring.Result, enr *enrichment.Result) (*lead.Write, []events.NewEvent, error) {
	leadID := cur.Lead.ID
	var evs []events.NewEvent
	w := &lead.Write{ID: leadID, Score: &lead.Score{
		Score: res.Score, Reasons: res.Reasons, ICPMatch: res.ICPMatch, RecommendedPath: string(res.RecommendedPath), ScoredBy: res.Model,
	}}
	if enr != nil {
		e, err := leadEnrichment(*enr)
		if err != nil {
			return nil, nil, err
		}
		w.Enrichment = e
		evs = append(evs, enrichedEvent(orgID, leadID, *enr, KindQualifyLead))
	}
	out := QualifiedPayload{
		Score: res.Score, ScoreReasons: res.Reasons, ICPMatch: res.ICPMatch, RecommendedPath: res.RecommendedPath,
		ScoredBy: res.Model, Stage: cur.Lead.Stage, Version: cur.Lead.Version, Reason: stageReason(res),
	}
	if to := PathStage[res.RecommendedPath]; cur.Lead.Stage == lead.StageNew && lead.CanMove(cur.Lead.Stage, to) {
		reason, version := out.Reason, cur.Lead.Version+1
		w.Stage, w.Reason = &to, &reason
		evs = append(evs, event(orgID, lead.EventStageChanged, leadID,
			fmt.Sprintf("lead.stage_changed:%s:%d", leadID, version),
			lead.StageChangedPayload{From: cur.Lead.Stage, To: to, Reason: &reason, Version: version}))
		out.Stage, out.StageChanged, out.Version = to, true, version
	}
	return w, append(evs, event(orgID, lead.EventQualified, leadID, "lead.qualified:"+leadID.String(), out)), nil
}

// stageReason is the stage reason of a qualification: who scored, the score and the first
// reason, at most lead.MaxReasonLen characters.
func stageReason(r scoring.Result) string {
	s := fmt.Sprintf("qualification by %s: score %d, %s", r.Model, r.Score, r.RecommendedPath)
	if len(r.Reasons) > 0 {
		s += "; " + r.Reasons[0]
	}
	if utf8.RuneCountInString(s) > lead.MaxReasonLen {
		s = string([]rune(s)[:lead.MaxReasonLen])
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
