package document

import (
	"fmt"
	"math"
	"strings"

	"golang.org/x/text/currency"

	"example.com/crm/pkg/apperr"
)

// MaxAmount is the largest amount rendered, in minor units: 10^15 - 1, the largest deal value
// (pkg/deal MaxValue). Up to it an amount divided by its scale survives the float64 that
// golang.org/x/text/currency formats exactly (15 significant digits).
const MaxAmount int64 = 1_000_000_000_000_000 - 1

// FormatAmount returns amount (minor units of the ISO 4217 code cur) as text for a document:
// the ISO code, then the value at the currency's standard scale with grouped thousands
// ("EUR 1,234.50", "JPY 1,235", "KWD 1.500"). The ISO code rather than a symbol keeps it
// unambiguous ("$" is many currencies) and inside Windows-1252. An unknown code or an amount
// outside -MaxAmount..MaxAmount is an apperr.Invalid on the field "currency" or "amount".
func FormatAmount(amount int64, cur string) (string, error) {
	unit, err := parseCurrency(cur)
	if err != nil {
		return "", err
	}
	if amount > MaxAmount || amount < -MaxAmount {
		return "", apperr.Errorf(apperr.Invalid, "amount is out of range").
			WithFields(apperr.FieldError{Field: "amount", Message: fmt.Sprintf("must be within -%d..%d minor units", MaxAmount, MaxAmount)})
	}
	scale, _ := currency.Standard.Rounding(unit)
	major := float64(amount) / math.Pow10(scale)
	return fmt.Sprint(currency.ISO(unit.Amount(major))), nil
}

// Scale returns the number of decimals of the ISO 4217 code cur (its minor unit: 2 for EUR, 0 for
// JPY, 3 for KWD), or an apperr.Invalid on "currency" for an unknown code.
func Scale(cur string) (int, error) {
	unit, err := parseCurrency(cur)
	if err != nil {
		return 0, err
	}
	scale, _ := currency.Standard.Rounding(unit)
	return scale, nil
}

// parseCurrency reads an upper-case three-letter ISO 4217 code that x/text/currency knows.
func parseCurrency(cur string) (currency.Unit, error) {
	bad := apperr.Errorf(apperr.Invalid, "currency is not an ISO 4217 code").
		WithFields(apperr.FieldError{Field: "currency", Message: fmt.Sprintf("%q is not an upper-case ISO 4217 code", cur)})
	if len(cur) != 3 || strings.ToUpper(cur) != cur {
		return currency.Unit{}, bad
	}
	unit, err := currency.ParseISO(cur)
	if err != nil {
		return currency.Unit{}, bad
	}
	return unit, nil
}
