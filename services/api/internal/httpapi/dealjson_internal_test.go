package httpapi

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/page"
)

// fullDeal sets every field of deal.Deal to something other than its zero value.
func fullDeal(s string, p deal.Probability, value int64) deal.Deal {
	at := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)
	return deal.Deal{
		ID: uuid.MustParse("0a1b2c3d-4e5f-4071-8293-a4b5c6d7e8f9"), LeadID: uuid.MustParse("1a1b2c3d-4e5f-4071-8293-a4b5c6d7e8f9"),
		Title: "Deal " + s, DealValue: value, Currency: "EUR", Stage: deal.StageLost, Probability: p,
		WeightedValue: deal.WeightedValue(value, p), ExpectedCloseDate: ptr("2026-03-31"), LostReason: ptr(s),
		StageChangedAt: at, WonAt: ptr(at.Add(time.Hour)), LostAt: ptr(at.Add(2 * time.Hour).Truncate(time.Second)), Version: 3,
		CreatedAt: at.Add(-time.Hour).Truncate(time.Millisecond), UpdatedAt: at.Add(time.Minute),
	}
}

// TestAppendDealMatchesEncodingJSON proves the hand-written encoder writes exactly what
// encoding/json writes for a deal and a page of deals, whatever its strings, probability and
// null fields, and that the test deal leaves no field at its zero value (so a field added to
// deal.Deal without a line in appendDeal fails here).
func TestAppendDealMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	full := fullDeal("x", 3333, 10)
	v := reflect.ValueOf(full)
	for i := range v.NumField() {
		require.False(t, v.Field(i).IsZero(), "fullDeal leaves %s at its zero value", v.Type().Field(i).Name)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var deals []deal.Deal
	for i, s := range tricky {
		d := fullDeal(s, deal.Probability(rng.IntN(10001)), rng.Int64N(deal.MaxValue+1))
		if i%2 == 0 {
			d.ExpectedCloseDate, d.LostReason, d.WonAt, d.LostAt = nil, nil, nil, nil
		}
		for _, p := range []deal.Probability{0, 1, 10, 1000, 3333, 5000, 9999, 10000, d.Probability} {
			d.Probability = p
			require.Equal(t, string(encodingJSON(t, d)), string(appendDeal(nil, &d))+"\n", "%q %d", s, p)
		}
		deals = append(deals, d)
	}
	cur := "next"
	for _, pg := range []page.Page[deal.Deal]{{Data: deals, NextCursor: &cur}, {Data: []deal.Deal{}}, {}} {
		require.Equal(t, string(encodingJSON(t, pg)), string(appendDealPage(nil, &pg))+"\n")
	}
}
