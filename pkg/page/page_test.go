package page_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/page"
)

type key struct {
	At time.Time `json:"at"`
	ID string    `json:"id"`
}

// TestCursorRoundTrip proves a cursor decodes to the key it was made from.
func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	in := key{At: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), ID: "x"}
	var out key
	require.NoError(t, page.Decode(page.Encode(in), &out))
	require.Equal(t, in, out)
}

// TestDecodeRefusesGarbage proves every malformed cursor is a 400-class error naming the field.
func TestDecodeRefusesGarbage(t *testing.T) {
	t.Parallel()
	long := make([]byte, 2000)
	for i := range long {
		long[i] = 'A'
	}
	for _, c := range []string{"!!!", "eyJ", "bnVsbA" /* null → ok? */, "W10" /* [] */, string(long), "e30=" /* padded */} {
		var k key
		err := page.Decode(c, &k)
		if c == "bnVsbA" {
			// JSON null decodes to the zero key: harmless, it is the first page's position.
			require.NoError(t, err)
			continue
		}
		require.Error(t, err, c)
		require.Equal(t, apperr.BadRequest, apperr.CodeOf(err), c)
	}
}

// TestFinish proves the extra row decides whether there is a next page and the cursor names the
// last row kept.
func TestFinish(t *testing.T) {
	t.Parallel()
	rows := []int{1, 2, 3}
	p := page.Finish(rows, 3, func(i int) any { return i })
	require.Nil(t, p.NextCursor)
	require.Equal(t, []int{1, 2, 3}, p.Data)

	p = page.Finish(rows, 2, func(i int) any { return i })
	require.NotNil(t, p.NextCursor)
	require.Equal(t, []int{1, 2}, p.Data)
	var last int
	require.NoError(t, page.Decode(*p.NextCursor, &last))
	require.Equal(t, 2, last)

	empty := page.Finish[int](nil, 10, func(i int) any { return i })
	require.NotNil(t, empty.Data, "an empty page is [] in JSON, not null")
}
