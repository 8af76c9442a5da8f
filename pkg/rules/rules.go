// Package rules holds an org's thresholds of the scheduler's checks (GET/PUT /settings/rules):
// how long a deal may rest in each open stage, how long an open lead may go without activity,
// and how long a lead may stay silent before its ghost risk rises. It is a package of its own,
// below pkg/deal and pkg/lead, because the sweeps of both read the one settings document and
// neither domain owns the other's thresholds. Sweep is the frame those sweeps share: their
// rules, the instant they measure at, and the chunked walk that reports rows as events.
//
// The defaults of an org that has saved no rules come from the binaries' configuration
// (DEAL_DECAY_THRESHOLD_DAYS, GHOST_RISK_SILENCE_DAYS; config.Rules), so the api and the worker
// each build the Setting from their own config with For.
package rules

import (
	"fmt"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/config"
	"example.com/crm/pkg/org"
)

// Name is the rules' key in org_settings and their route, /settings/rules.
const Name = "rules"

// The bounds of every day count, and the defaults For uses when the configuration leaves one out.
const (
	MinDays                     = 1
	MaxDays                     = config.MaxRuleDays
	DefaultDealDecayDays        = 14
	DefaultLeadStaleDays        = 30
	DefaultGhostRiskSilenceDays = 7
)

// Rules are an org's thresholds, in whole days.
type Rules struct {
	// DealDecayDays is, per open deal stage, how long a deal may go without a stage change or an
	// activity before check_deal_decay reports it stalled (deal.stalled).
	DealDecayDays DealDecayDays `json:"dealDecayDays"`
	// LeadStaleDays is how long an open lead may go without activity before check_lead_stale
	// reports it stale (lead.stale).
	LeadStaleDays int `json:"leadStaleDays"`
	// GhostRiskSilenceDays is how long a contacted or booked lead may stay silent before its
	// ghost risk rises (recalc_ghost_risk).
	GhostRiskSilenceDays int `json:"ghostRiskSilenceDays"`
}

// DealDecayDays are the rotting days of each open deal stage.
type DealDecayDays struct {
	Discovery   int `json:"discovery"`
	Proposal    int `json:"proposal"`
	Negotiation int `json:"negotiation"`
}

// Stage returns the rotting days of the open deal stage stage, and false for any other stage.
func (d DealDecayDays) Stage(stage string) (int, bool) {
	switch stage {
	case "discovery":
		return d.Discovery, true
	case "proposal":
		return d.Proposal, true
	case "negotiation":
		return d.Negotiation, true
	}
	return 0, false
}

// Defaults are the rules of an org that has saved none, from the configuration c:
// c.DealDecayDays for every open stage, DefaultLeadStaleDays, and c.GhostRiskSilenceDays. A zero
// value of c (a test's, or a binary that does not load them) takes the package's defaults.
func Defaults(c config.Rules) Rules {
	decay, ghost := c.DealDecayDays, c.GhostRiskSilenceDays
	if decay == 0 {
		decay = DefaultDealDecayDays
	}
	if ghost == 0 {
		ghost = DefaultGhostRiskSilenceDays
	}
	return Rules{
		DealDecayDays:        DealDecayDays{Discovery: decay, Proposal: decay, Negotiation: decay},
		LeadStaleDays:        DefaultLeadStaleDays,
		GhostRiskSilenceDays: ghost,
	}
}

// For is the org setting "rules" whose default is Defaults(c): what the api serves and the
// sweeps read. Saved rules pass Rules.Check.
func For(c config.Rules) org.Setting[Rules] {
	def := Defaults(c)
	return org.Setting[Rules]{
		Name:    Name,
		Default: func() Rules { return def },
		Check:   org.CheckFields[Rules]("rules are invalid"),
	}
}

// Normalize returns r as it is: every field is a number the check bounds.
func (r Rules) Normalize() Rules { return r }

// Check returns the field errors of r (nil when valid): every day count is MinDays..MaxDays.
func (r Rules) Check() []apperr.FieldError {
	var out []apperr.FieldError
	days := func(field string, v int) {
		if v < MinDays || v > MaxDays {
			out = append(out, apperr.FieldError{Field: field, Message: fmt.Sprintf("must be from %d to %d days", MinDays, MaxDays)})
		}
	}
	days("dealDecayDays.discovery", r.DealDecayDays.Discovery)
	days("dealDecayDays.proposal", r.DealDecayDays.Proposal)
	days("dealDecayDays.negotiation", r.DealDecayDays.Negotiation)
	days("leadStaleDays", r.LeadStaleDays)
	days("ghostRiskSilenceDays", r.GhostRiskSilenceDays)
	return out
}
