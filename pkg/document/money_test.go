package document_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/document"
)

// TestFormatAmount formats minor units at each currency's standard scale.
func TestFormatAmount(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		amount int64
		cur    string
		want   string
		scale  int
	}{
		{0, "EUR", "EUR 0.00", 2},
		{5, "EUR", "EUR 0.05", 2},
		{123456, "USD", "USD 1,234.56", 2},
		{-123456, "USD", "USD -1,234.56", 2},
		{1234, "JPY", "JPY 1,234", 0},
		{1234, "KWD", "KWD 1.234", 3},
		{1, "BHD", "BHD 0.001", 3},
		{document.MaxAmount, "EUR", "EUR 9,999,999,999,999.99", 2},
		{document.MaxAmount, "JPY", "JPY 999,999,999,999,999", 0},
		{document.MaxAmount, "KWD", "KWD 999,999,999,999.999", 3},
	} {
		got, err := document.FormatAmount(tc.amount, tc.cur)
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
		scale, err := document.Scale(tc.cur)
		require.NoError(t, err)
		require.Equal(t, tc.scale, scale, tc.cur)
	}
	for _, bad := range []string{"", "EU", "eur", "EURO", "ABC"} {
		_, err := document.FormatAmount(1, bad)
		require.True(t, apperr.Is(err, apperr.Invalid), bad)
	}
	_, err := document.FormatAmount(document.MaxAmount+1, "EUR")
	require.True(t, apperr.Is(err, apperr.Invalid))
}

// TestFormatAmountIsExact compares the currency formatter (which goes through a float64) with
// integer arithmetic over amounts of every length up to MaxAmount, at scales 0, 2 and 3.
func TestFormatAmountIsExact(t *testing.T) {
	t.Parallel()
	for cur, scale := range map[string]int{"JPY": 0, "EUR": 2, "KWD": 3} {
		for digits := 1; digits <= 15; digits++ {
			for _, lead := range []string{"1", "4", "9"} {
				for _, tail := range []string{"0", "1", "5", "9", "3"} {
					s := lead + strings.Repeat(tail, digits-1)
					amount, err := strconv.ParseInt(s, 10, 64)
					require.NoError(t, err)
					got, err := document.FormatAmount(amount, cur)
					require.NoError(t, err)
					require.Equal(t, cur+" "+exact(amount, scale), got)
				}
			}
		}
	}
}

// exact formats minor units with grouped thousands by integer arithmetic.
func exact(amount int64, scale int) string {
	s := fmt.Sprintf("%0*d", scale+1, amount)
	intPart, frac := s[:len(s)-scale], s[len(s)-scale:]
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if scale > 0 {
		b.WriteString("." + frac)
	}
	return b.String()
}
