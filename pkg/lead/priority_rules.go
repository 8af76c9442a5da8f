package lead

import (
	"fmt"
	"time"
)

// PriorityRules are the thresholds of the auto-priority table (AutoPriority). The table, first
// matching row wins:
//
//	rule        when                                                     priority
//	large_deal  an open deal (discovery, proposal, negotiation) worth    urgent
//	            at least LargeDealValue
//	open_deal   any other open deal                                      high
//	closed      stage converted, lost or disqualified                    low
//	gone_cold   ghost risk at least ColdGhostRisk                        low
//	hot         score at least HotScore                                  high
//	at_risk     ghost risk at least 1 and score at least WarmScore       high
//	cold        score below WarmScore                                    low
//	default     anything else (unscored, or warm and answering)          normal
//
// Deals come first because only a converted lead has deals, and an open one is money on the
// table whatever the lead's own signals say. A lead that went silent for a period or two while
// worth chasing is raised (chase it now); one silent for ColdGhostRisk periods has gone cold and
// drops. Deal values are compared in minor units whatever their currency.
//
// The sweep (RecalcAutoPriority) computes the same table in SQL, beside its read of each chunk
// (autoPriorityRuleSQL); a test holds the two to each other on every boundary of the table, so a
// row changed on one side alone fails it.
type PriorityRules struct {
	HotScore       int
	WarmScore      int
	ColdGhostRisk  int
	LargeDealValue int64
	// Hold is how long a priority set by anything but the table stands: a person's edit, or
	// another job's (route_outreach, a deal nudge, a buying-signal escalation), each a
	// lead.updated that changed the priority, or a lead created by hand with a priority other than
	// normal. The sweep does not override it until Hold has passed since then.
	Hold time.Duration
}

// DefaultPriorityRules are the table's thresholds of every org.
func DefaultPriorityRules() PriorityRules {
	return PriorityRules{HotScore: 80, WarmScore: 50, ColdGhostRisk: 3, LargeDealValue: 1_000_000, Hold: 14 * 24 * time.Hour}
}

// Check reports thresholds the table cannot work with.
func (r PriorityRules) Check() error {
	switch {
	case r.WarmScore < 0 || r.HotScore > 100 || r.WarmScore > r.HotScore:
		return fmt.Errorf("priority rules: need 0 <= warm score (%d) <= hot score (%d) <= 100", r.WarmScore, r.HotScore)
	case r.ColdGhostRisk < 2:
		return fmt.Errorf("priority rules: cold ghost risk must be at least 2, got %d", r.ColdGhostRisk)
	case r.LargeDealValue < 1:
		return fmt.Errorf("priority rules: large deal value must be positive, got %d", r.LargeDealValue)
	case r.Hold < 0:
		return fmt.Errorf("priority rules: hold must not be negative, got %s", r.Hold)
	}
	return nil
}

// PriorityInputs are what the table looks at of a lead: its stage, score (nil while unscored),
// ghost risk and the value of its largest open deal (nil when it has none).
type PriorityInputs struct {
	Stage         Stage  `json:"stage"`
	Score         *int   `json:"score"`
	GhostRisk     int    `json:"ghostRisk"`
	OpenDealValue *int64 `json:"openDealValue"`
}

// The names of the table's rows (PriorityRules), as the events record them.
const (
	RuleLargeDeal = "large_deal"
	RuleOpenDeal  = "open_deal"
	RuleClosed    = "closed"
	RuleGoneCold  = "gone_cold"
	RuleHot       = "hot"
	RuleAtRisk    = "at_risk"
	RuleCold      = "cold"
	RuleDefault   = "default"
)

// AutoPriority returns the priority the table gives a lead with inputs in, and the name of the row
// that gave it.
func (r PriorityRules) AutoPriority(in PriorityInputs) (Priority, string) {
	score := -1
	if in.Score != nil {
		score = *in.Score
	}
	switch {
	case in.OpenDealValue != nil && *in.OpenDealValue >= r.LargeDealValue:
		return PriorityUrgent, RuleLargeDeal
	case in.OpenDealValue != nil:
		return PriorityHigh, RuleOpenDeal
	case in.Stage.Final():
		return PriorityLow, RuleClosed
	case in.GhostRisk >= r.ColdGhostRisk:
		return PriorityLow, RuleGoneCold
	case score >= r.HotScore:
		return PriorityHigh, RuleHot
	case in.GhostRisk >= 1 && score >= r.WarmScore:
		return PriorityHigh, RuleAtRisk
	case in.Score != nil && score < r.WarmScore:
		return PriorityLow, RuleCold
	default:
		return PriorityNormal, RuleDefault
	}
}

// DefaultGhostRiskSilenceDays is the silence of the seed's GHOST_RISK_SILENCE_DAYS: days without
// a touchpoint after which a contacted or call_booked lead's ghost risk goes up by one.
const DefaultGhostRiskSilenceDays = 7
