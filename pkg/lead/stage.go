package lead

import "slices"

// Stage is a lead's pipeline stage (API.md "States").
type Stage string

// The stages. Converted, Lost and Disqualified are final.
const (
	StageNew          Stage = "new"
	StageQualified    Stage = "qualified"
	StageNurture      Stage = "nurture"
	StageContacted    Stage = "contacted"
	StageCallBooked   Stage = "call_booked"
	StageConverted    Stage = "converted"
	StageLost         Stage = "lost"
	StageDisqualified Stage = "disqualified"
)

// Stages lists every stage in pipeline order; Allowed answers in this order.
var Stages = []Stage{
	StageNew, StageQualified, StageNurture, StageContacted, StageCallBooked,
	StageConverted, StageLost, StageDisqualified,
}

// forward is the pipeline of API.md without the exits every open stage has:
// new -> qualified | nurture; qualified | nurture -> contacted; contacted -> call_booked;
// call_booked -> converted.
var forward = map[Stage][]Stage{
	StageNew:        {StageQualified, StageNurture},
	StageQualified:  {StageContacted},
	StageNurture:    {StageContacted},
	StageContacted:  {StageCallBooked},
	StageCallBooked: {StageConverted},
}

// Valid reports whether s is a stage.
func (s Stage) Valid() bool { return slices.Contains(Stages, s) }

// Final reports whether s is a stage no lead leaves: converted, lost or disqualified.
func (s Stage) Final() bool {
	return s == StageConverted || s == StageLost || s == StageDisqualified
}

// Allowed returns the stages a lead in stage from may move to, in pipeline order: its forward
// moves plus, for every open stage, lost and disqualified. A final or unknown stage allows none
// (an empty, non-nil slice).
func Allowed(from Stage) []Stage {
	out := []Stage{}
	if !from.Valid() || from.Final() {
		return out
	}
	for _, s := range Stages {
		if slices.Contains(forward[from], s) || s == StageLost || s == StageDisqualified {
			out = append(out, s)
		}
	}
	return out
}

// CanMove reports whether a lead may move from one stage to another. Staying in the same stage
// is not a move.
func CanMove(from, to Stage) bool { return slices.Contains(Allowed(from), to) }
