package jobs_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/jobs"
)

// TestNoopArgsTakeTheSlot decodes the payload a cron task's fire carries (its own object plus
// "slot"), so a noop cron task completes instead of dead-lettering, while a member noop does not
// know is still refused.
func TestNoopArgsTakeTheSlot(t *testing.T) {
	t.Parallel()
	var a jobs.NoopArgs
	require.NoError(t, json.Unmarshal([]byte(`{"sleepMs": 5, "slot": "2026-12-06T05:00:00Z"}`), &a))
	require.Equal(t, 5, a.SleepMs)
	require.NotNil(t, a.Slot)
	require.True(t, a.Slot.Equal(time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)))

	require.Error(t, json.Unmarshal([]byte(`{"slot": "2026-12-06T05:00:00Z", "sleep": 5}`), &a))
}
