package lead_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/lead"
)

// TestStageMachine checks CanMove for every ordered pair of stages against the transition
// table of API.md, written out here independently of the code: new -> qualified | nurture;
// qualified | nurture -> contacted -> call_booked -> converted; every open stage -> lost |
// disqualified; converted, lost and disqualified are final; no stage moves to itself.
func TestStageMachine(t *testing.T) {
	t.Parallel()
	S := func(ss ...lead.Stage) []lead.Stage { return append([]lead.Stage{}, ss...) }
	table := map[lead.Stage][]lead.Stage{
		lead.StageNew:          S(lead.StageQualified, lead.StageNurture, lead.StageLost, lead.StageDisqualified),
		lead.StageQualified:    S(lead.StageContacted, lead.StageLost, lead.StageDisqualified),
		lead.StageNurture:      S(lead.StageContacted, lead.StageLost, lead.StageDisqualified),
		lead.StageContacted:    S(lead.StageCallBooked, lead.StageLost, lead.StageDisqualified),
		lead.StageCallBooked:   S(lead.StageConverted, lead.StageLost, lead.StageDisqualified),
		lead.StageConverted:    S(),
		lead.StageLost:         S(),
		lead.StageDisqualified: S(),
	}
	require.Len(t, lead.Stages, 8)
	pairs := 0
	for _, from := range lead.Stages {
		want, ok := table[from]
		require.True(t, ok, "stage %s is in the table", from)
		require.Equal(t, want, lead.Allowed(from), "Allowed(%s)", from)
		for _, to := range lead.Stages {
			pairs++
			allowed := false
			for _, w := range want {
				allowed = allowed || w == to
			}
			require.Equal(t, allowed, lead.CanMove(from, to), "%s -> %s", from, to)
		}
		require.Equal(t, len(want) == 0, from.Final(), "Final(%s)", from)
		require.True(t, from.Valid())
	}
	require.Equal(t, 64, pairs)
}

// TestStageUnknown proves an unknown stage is not valid, allows no move and cannot be reached.
func TestStageUnknown(t *testing.T) {
	t.Parallel()
	bogus := lead.Stage("won")
	require.False(t, bogus.Valid())
	require.Empty(t, lead.Allowed(bogus))
	require.NotNil(t, lead.Allowed(bogus))
	require.False(t, lead.CanMove(bogus, lead.StageNew))
	require.False(t, lead.CanMove(lead.StageNew, bogus))
}
