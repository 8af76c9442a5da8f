package call_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/call"
)

// TestStatusMachineEveryPair checks CanMove for every ordered pair of statuses against API.md's
// machine (booked -> completed | no_show | cancelled, all final; staying is not a move), and
// Allowed for each status.
func TestStatusMachineEveryPair(t *testing.T) {
	t.Parallel()
	allowed := map[call.Status][]call.Status{
		call.StatusBooked:    {call.StatusCompleted, call.StatusNoShow, call.StatusCancelled},
		call.StatusCompleted: {},
		call.StatusNoShow:    {},
		call.StatusCancelled: {},
	}
	pairs := 0
	for _, from := range call.Statuses {
		require.Equal(t, allowed[from], call.Allowed(from), from)
		require.Equal(t, from != call.StatusBooked, from.Final(), from)
		for _, to := range call.Statuses {
			pairs++
			want := false
			for _, a := range allowed[from] {
				want = want || a == to
			}
			require.Equal(t, want, call.CanMove(from, to), "%s -> %s", from, to)
		}
	}
	require.Equal(t, 16, pairs)
	require.Equal(t, []call.Status{}, call.Allowed("unknown"))
	require.False(t, call.Status("unknown").Valid())
}
