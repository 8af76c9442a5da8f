package deal_test

import (
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/deal"
)

// TestWeightedValueEdges proves the weighted value at the edges of value and probability and
// the rounding rule: half a minor unit rounds away from zero.
func TestWeightedValueEdges(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		value int64
		p     deal.Probability
		want  int64
	}{
		{0, 0, 0},
		{0, deal.ProbabilityOne, 0},
		{1000, 0, 0},
		{1000, deal.ProbabilityOne, 1000},
		{deal.MaxValue, 0, 0},
		{deal.MaxValue, deal.ProbabilityOne, deal.MaxValue},
		{deal.MaxValue, 3333, 333_300_000_000_000}, // 999,999,999,999,999 × 0.3333 = 333,299,999,999,999.6667
		{deal.MaxValue, 1, 100_000_000_000},        // × 0.0001 = 99,999,999,999.9999
		{deal.MaxValue, 9999, 999_899_999_999_999}, // × 0.9999 = 999,899,999,999,999.0001
		{100, 3333, 33},      // 33.33
		{3, 3333, 1},         // 0.9999
		{5, 1000, 1},         // 0.5: half rounds up (away from zero)
		{15, 1000, 2},        // 1.5
		{25, 1000, 3},        // 2.5: not to even
		{4, 1000, 0},         // 0.4
		{1, 5000, 1},         // 0.5
		{1, 4999, 0},         // 0.4999
		{10_000, 3333, 3333}, // exact
		{12_345, 6000, 7407}, // 7407.0
		{99_999, 1, 10},      // 9.9999
		{149_999, 1, 15},     // 14.9999
		{50_000, 1, 5},       // 5.0
		{5_000, 1, 1},        // 0.5
		{4_999, 1, 0},        // 0.4999
		{1_000_000_000_000, 3333, 333_300_000_000},
	} {
		require.Equal(t, c.want, deal.WeightedValue(c.value, c.p), "%d × %s", c.value, c.p)
		require.Equal(t, bigWeighted(c.value, c.p), deal.WeightedValue(c.value, c.p), "%d × %s against math/big", c.value, c.p)
	}
}

// bigWeighted is value × p / 10,000 rounded half away from zero, in arbitrary precision.
func bigWeighted(value int64, p deal.Probability) int64 {
	num := new(big.Int).Mul(big.NewInt(value), big.NewInt(int64(p)))
	num.Mul(num, big.NewInt(2))
	num.Add(num, big.NewInt(int64(deal.ProbabilityOne)))
	return num.Quo(num, big.NewInt(2*int64(deal.ProbabilityOne))).Int64()
}

// TestWeightedValueRandom compares the integer arithmetic with math/big over random values up
// to the maximum and every probability scale.
func TestWeightedValueRandom(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		v := rng.Int64N(deal.MaxValue + 1)
		if rng.IntN(4) == 0 {
			v = rng.Int64N(100_000)
		}
		p := deal.Probability(rng.IntN(int(deal.ProbabilityOne) + 1))
		require.Equal(t, bigWeighted(v, p), deal.WeightedValue(v, p), "%d × %s", v, p)
	}
}

// TestParseProbability proves probabilities are read exactly from the JSON number's text:
// within 0..1, at most four decimal places, any JSON spelling of the same number.
func TestParseProbability(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want deal.Probability
		ok   bool
	}{
		{"0", 0, true}, {"1", 10000, true}, {"0.1", 1000, true}, {"0.3333", 3333, true}, {"0.0001", 1, true},
		{"0.10", 1000, true}, {"1.0000", 10000, true}, {"1e-1", 1000, true}, {"1E-4", 1, true}, {"100e-2", 10000, true},
		{"0.5e0", 5000, true}, {"-0", 0, true}, {"-0.0", 0, true}, {"0.33330", 3333, true}, {"0e5", 0, true},
		{"0.00001", 0, false}, {"0.33333", 0, false}, {"1.0001", 0, false}, {"2", 0, false}, {"-0.1", 0, false},
		{"-1", 0, false}, {"1e1", 0, false}, {"1e-5", 0, false}, {"99999999999999999999", 0, false},
		{"", 0, false}, {"abc", 0, false}, {"0.5x", 0, false}, {"1e999", 0, false},
	} {
		got, ok := deal.ParseProbability(c.in)
		require.Equal(t, c.ok, ok, c.in)
		require.Equal(t, c.want, got, c.in)
	}
	for _, p := range []deal.Probability{0, 1, 10, 100, 1000, 3333, 5000, 9999, 10000} {
		back, ok := deal.ParseProbability(p.String())
		require.True(t, ok, p.String())
		require.Equal(t, p, back)
	}
	require.Equal(t, "0.3333", deal.Probability(3333).String())
	require.Equal(t, "0.1", deal.Probability(1000).String())
	require.Equal(t, "1", deal.ProbabilityOne.String())
	require.Equal(t, "0", deal.Probability(0).String())
	require.Equal(t, "0.0001", deal.Probability(1).String())
}

// TestValidCurrency proves the currency list: current ISO 4217 tender in upper case only.
func TestValidCurrency(t *testing.T) {
	t.Parallel()
	for _, c := range []string{"USD", "EUR", "JPY", "GBP", "CHF", "BHD", "XOF"} {
		require.True(t, deal.ValidCurrency(c), c)
	}
	for _, c := range []string{"XYZ", "usd", "Usd", "US", "USDD", "", "DEM", "XXX", "XTS", " USD", "U$D"} {
		require.False(t, deal.ValidCurrency(c), c)
	}
}
