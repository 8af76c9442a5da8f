package deal

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/text/currency"
)

// MaxValue is the largest deal value accepted, in minor units: 10^15 - 1 (just under ten
// trillion US dollars in cents). Anything larger is a typo or an attack rather than a deal. The
// bound keeps every value (and every weighted value) an integer that a JavaScript client reads
// exactly (below 2^53), and keeps dealValue × 10,000 inside int64 for the arithmetic below.
const MaxValue int64 = 1_000_000_000_000_000 - 1

// Probability is a win probability in basis points: 0 (0 %) to ProbabilityOne (100 %), i.e.
// exactly the values of the numeric(5,4) column deals.probability. It shows in JSON as the
// decimal number it stands for (3333 as 0.3333, 10000 as 1).
type Probability int32

// ProbabilityOne is a probability of 1 (certain).
const ProbabilityOne Probability = 10_000

// Valid reports whether p is within 0..1.
func (p Probability) Valid() bool { return p >= 0 && p <= ProbabilityOne }

// String returns p as the shortest decimal that says it exactly: "0", "0.1", "0.3333", "1".
func (p Probability) String() string {
	return string(p.AppendText(nil))
}

// AppendText appends p as String writes it.
func (p Probability) AppendText(b []byte) []byte {
	if p < 0 {
		b = append(b, '-')
		p = -p
	}
	b = strconv.AppendInt(b, int64(p/ProbabilityOne), 10)
	frac := int(p % ProbabilityOne)
	if frac == 0 {
		return b
	}
	digits := []byte{'.', byte('0' + frac/1000), byte('0' + frac/100%10), byte('0' + frac/10%10), byte('0' + frac%10)}
	for digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	return append(b, digits...)
}

// MarshalJSON writes p as a JSON number.
func (p Probability) MarshalJSON() ([]byte, error) { return p.AppendText(nil), nil }

// UnmarshalJSON reads a probability as MarshalJSON writes it (ParseProbability's rules), so that
// a deal read back from its events has the probability it was stored with.
func (p *Probability) UnmarshalJSON(b []byte) error {
	v, ok := ParseProbability(string(b))
	if !ok {
		return fmt.Errorf("probability %s: must be a number from 0 to 1 with at most four decimal places", b)
	}
	*p = v
	return nil
}

// ParseProbability reads a probability from the decimal text of a JSON number, exactly: it must
// be within 0..1 and have at most four decimal places ("0.3333" is 3333 basis points, "1e-1"
// and "0.10" are 1000). It never goes through a float, so what the client wrote is what is
// stored or refused, never a nearby binary fraction. ok is false for anything else.
func ParseProbability(s string) (p Probability, ok bool) {
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e < -20 || e > 20 {
			return 0, false
		}
		mant, exp = s[:i], e
	}
	if strings.HasPrefix(mant, "-") {
		// -0 and -0.0 are zero; any other negative number is out of range.
		mant = mant[1:]
		if strings.Trim(mant, "0.") != "" {
			return 0, false
		}
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	// The value is digits × 10^(exp - len(frac)); in basis points, × 10^4.
	shift := exp - len(frac) + 4
	digits = strings.TrimLeft(digits, "0")
	if shift < 0 {
		cut := len(digits) + shift
		if cut < 0 {
			cut = 0
		}
		if strings.Trim(digits[cut:], "0") != "" {
			return 0, false // more than four decimal places
		}
		digits = digits[:cut]
		shift = 0
	}
	if digits == "" {
		return 0, true
	}
	if len(digits)+shift > 5 {
		return 0, false
	}
	n, err := strconv.Atoi(digits + strings.Repeat("0", shift))
	if err != nil || n > int(ProbabilityOne) {
		return 0, false
	}
	return Probability(n), true
}

// WeightedValue is value × p in minor units, rounded to the nearest integer with halves away
// from zero (so 0.5 minor units becomes 1), as PostgreSQL's round(numeric) does. It is exact for
// every int64 value: value = q × 10,000 + r, and value × p / 10,000 = q × p + r × p / 10,000,
// where only the last term needs rounding and r × p < 10^8.
func WeightedValue(value int64, p Probability) int64 {
	bp := int64(p)
	q, r := value/int64(ProbabilityOne), value%int64(ProbabilityOne)
	rem := r * bp
	half := int64(ProbabilityOne) / 2
	if rem >= 0 {
		return q*bp + (rem+half)/int64(ProbabilityOne)
	}
	return q*bp - (-rem+half)/int64(ProbabilityOne)
}

// currencies is the set of ISO 4217 codes that are legal tender in some region today, from the
// CLDR data of golang.org/x/text/currency (currency.Query with its defaults). It leaves out
// historical codes (DEM), funds and test codes (XTS, XXX) and anything made up (XYZ).
var currencies = sync.OnceValue(func() map[string]bool {
	out := map[string]bool{}
	for it := currency.Query(); it.Next(); {
		out[it.Unit().String()] = true
	}
	return out
})

// ValidCurrency reports whether code is an upper-case ISO 4217 code of a currency that is legal
// tender today ("USD", "EUR", "JPY"); "usd" and "XYZ" are not.
func ValidCurrency(code string) bool {
	if len(code) != 3 {
		return false
	}
	for i := range 3 {
		if code[i] < 'A' || code[i] > 'Z' {
			return false
		}
	}
	return currencies()[code]
}
