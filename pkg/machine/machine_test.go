package machine_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/machine"
)

type light string

var lights = machine.Machine[light]{"green": {"amber"}, "amber": {"red"}, "red": {"green"}, "off": {}}

// TestMachine proves the machine as data: valid statuses, the allowed moves (never nil), and
// Check's conflict naming the current status and the allowed ones.
func TestMachine(t *testing.T) {
	t.Parallel()
	require.True(t, lights.Valid("off"))
	require.False(t, lights.Valid("blue"))
	require.Equal(t, []light{"amber"}, lights.Allowed("green"))
	require.Equal(t, []light{}, lights.Allowed("off"))
	require.Equal(t, []light{}, lights.Allowed("blue"))
	require.True(t, lights.CanMove("red", "green"))
	require.False(t, lights.CanMove("green", "red"))
	require.False(t, lights.CanMove("green", "green"))

	require.NoError(t, lights.Check("a light", "amber", "red"))
	err := lights.Check("a light", "green", "red")
	e, ok := apperr.As(err)
	require.True(t, ok)
	require.Equal(t, apperr.Conflict, e.Code)
	require.Equal(t, "a light that is green cannot become red", e.Message)
	require.Equal(t, light("green"), e.Extra["currentStatus"])
	require.Equal(t, []light{"amber"}, e.Extra["allowed"])
}
