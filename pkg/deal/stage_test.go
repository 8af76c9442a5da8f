package deal_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/deal"
)

// TestStageMachine states the allowed moves of every pair of stages: the open stages move
// freely among themselves and may close as won or lost; won and lost are final; staying is no
// move.
func TestStageMachine(t *testing.T) {
	t.Parallel()
	open := map[deal.Stage]bool{deal.StageDiscovery: true, deal.StageProposal: true, deal.StageNegotiation: true}
	for _, from := range deal.Stages {
		for _, to := range deal.Stages {
			want := open[from] && from != to
			require.Equal(t, want, deal.CanMove(from, to), "%s -> %s", from, to)
		}
		require.NotNil(t, deal.Allowed(from))
	}
	require.Empty(t, deal.Allowed(deal.StageWon))
	require.Empty(t, deal.Allowed(deal.StageLost))
	require.Empty(t, deal.Allowed("bogus"))
	require.Equal(t, []deal.Stage{deal.StageProposal, deal.StageNegotiation, deal.StageWon, deal.StageLost}, deal.Allowed(deal.StageDiscovery))
	for st, p := range map[deal.Stage]deal.Probability{deal.StageDiscovery: 1000, deal.StageProposal: 3000,
		deal.StageNegotiation: 6000, deal.StageWon: 10000, deal.StageLost: 0} {
		require.Equal(t, p, deal.DefaultProbability(st), st)
	}
}
