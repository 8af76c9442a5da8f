package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWriteDealsSectionKeepsTheAPISection proves the deals report has its own markers: writing
// it leaves the API section as it is, and writing the API section leaves it as it is.
func TestWriteDealsSectionKeepsTheAPISection(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	require.NoError(t, writeSection(path, "leads"))
	require.NoError(t, writeDealsSection(path, "deals one"))
	require.NoError(t, writeSection(path, "leads two"))
	require.NoError(t, writeDealsSection(path, "deals two"))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	text := string(b)
	require.Equal(t, 1, strings.Count(text, "## API\n"))
	require.Equal(t, 1, strings.Count(text, "## Deals API\n"))
	require.Contains(t, text, beginMarker+"\n\nleads two\n"+endMarker)
	require.Contains(t, text, dealsBeginMarker+"\n\ndeals two\n"+dealsEndMarker)
	require.NotContains(t, text, "one")
}

// TestBigRound proves the check's own rounding: half away from zero, exact for large values.
func TestBigRound(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		v    int64
		p    string
		want string
	}{
		{5, "0.1000", "1"}, {4, "0.1000", "0"}, {25, "0.1000", "3"}, {3, "0.3333", "1"}, {0, "1.0000", "0"},
		{999_999_999_999_999, "0.3333", "333300000000000"}, {999_999_999_999_999, "1.0000", "999999999999999"},
	} {
		require.Equal(t, c.want, bigRound(c.v, c.p).String(), "%d × %s", c.v, c.p)
	}
}
