package benchreport

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWriteSection proves a report replaces only what lies between its markers, and places
// missing markers under their heading when the file has it, else under a new heading at the end.
func TestWriteSection(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const begin, end = "<!-- x:begin -->", "<!-- x:end -->"

	fresh := filepath.Join(dir, "fresh.md")
	require.NoError(t, WriteSection(fresh, "## X", begin, end, "one"))
	require.Equal(t, "# Benchmarks\n\n## X\n\n"+begin+"\n\none\n"+end+"\n", read(t, fresh))

	withHeading := filepath.Join(dir, "heading.md")
	require.NoError(t, os.WriteFile(withHeading, []byte("# B\n\n## X\n\nintro\n\n## Y\n"), 0o644))
	require.NoError(t, WriteSection(withHeading, "## X", begin, end, "one"))
	require.Equal(t, "# B\n\n## X\n\n"+begin+"\n\none\n"+end+"\n\nintro\n\n## Y\n", read(t, withHeading))
	require.NoError(t, WriteSection(withHeading, "## X", begin, end, "two"))
	require.Equal(t, "# B\n\n## X\n\n"+begin+"\n\ntwo\n"+end+"\n\nintro\n\n## Y\n", read(t, withHeading))

	other := filepath.Join(dir, "other.md")
	require.NoError(t, os.WriteFile(other, []byte("# B\n\n## Y\n\ntext\n"), 0o644))
	require.NoError(t, WriteSection(other, "## X", begin, end, "one"))
	require.Equal(t, "# B\n\n## Y\n\ntext\n\n## X\n\n"+begin+"\n\none\n"+end+"\n", read(t, other))
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestFormats(t *testing.T) {
	t.Parallel()
	sorted := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	require.Equal(t, time.Duration(5), Percentile(sorted, 50))
	require.Equal(t, time.Duration(10), Percentile(sorted, 99))
	require.Equal(t, time.Duration(1), Percentile(sorted, 0))
	require.Equal(t, time.Duration(0), Percentile(nil, 50))
	require.Equal(t, "1.50 ms", Millis(1500*time.Microsecond))
	require.Equal(t, "1,234,568", Num(1234567.6))
	require.Equal(t, "999", Num(999))
	require.Equal(t, "-1,000", Num(-1000))
	require.Equal(t, "256MB", HumanSetting("32768", "8kB"))
	require.Equal(t, "4GB", HumanSetting("524288", "8kB"))
	require.Equal(t, "4MB", HumanSetting("4096", "kB"))
	require.Equal(t, "on", HumanSetting("on", ""))
	require.Equal(t, "1min", HumanSetting("1", "min"))
	require.Equal(t, "'it''s'", PGLiteral("it's"))
	require.Equal(t, "postgres://u:xxxxx@h/db", Redact("postgres://u:secret@h/db"))
}
