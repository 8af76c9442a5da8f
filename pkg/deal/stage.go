package deal

import "slices"

// Stage is a deal's pipeline stage (API.md "States").
type Stage string

// The stages. Won and Lost are final; the others are open.
const (
	StageDiscovery   Stage = "discovery"
	StageProposal    Stage = "proposal"
	StageNegotiation Stage = "negotiation"
	StageWon         Stage = "won"
	StageLost        Stage = "lost"
)

// Stages lists every stage in pipeline order; Allowed answers in this order.
var Stages = []Stage{StageDiscovery, StageProposal, StageNegotiation, StageWon, StageLost}

// OpenStages are the stages a deal can still leave, in pipeline order.
var OpenStages = []Stage{StageDiscovery, StageProposal, StageNegotiation}

// Valid reports whether s is a stage.
func (s Stage) Valid() bool { return slices.Contains(Stages, s) }

// Open reports whether s is an open stage (discovery, proposal or negotiation).
func (s Stage) Open() bool { return slices.Contains(OpenStages, s) }

// Final reports whether s is a stage no deal leaves: won or lost.
func (s Stage) Final() bool { return s == StageWon || s == StageLost }

// DefaultProbability is the probability a deal takes when it enters stage s (API.md): 0.1, 0.3,
// 0.6, 1 and 0. Within an open stage it may be overridden per deal (create, PATCH); every stage
// change sets it to the new stage's default again.
func DefaultProbability(s Stage) Probability {
	switch s {
	case StageDiscovery:
		return 1000
	case StageProposal:
		return 3000
	case StageNegotiation:
		return 6000
	case StageWon:
		return ProbabilityOne
	default:
		return 0
	}
}

// Allowed returns the stages a deal in stage from may move to, in pipeline order. The open
// stages move freely among themselves, forward and back (API.md: "open stages move freely among
// themselves"), and every open stage may close as won or lost. Won and lost are final: they
// allow none (an empty, non-nil slice), as does an unknown stage. Staying in the same stage is
// not a move.
func Allowed(from Stage) []Stage {
	out := []Stage{}
	if !from.Open() {
		return out
	}
	for _, s := range Stages {
		if s != from {
			out = append(out, s)
		}
	}
	return out
}

// CanMove reports whether a deal may move from one stage to another.
func CanMove(from, to Stage) bool { return slices.Contains(Allowed(from), to) }
