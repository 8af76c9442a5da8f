package httpapi

// A hand-written JSON encoder for the deal reads (GET /deals/{id}, GET /deals), as leadjson.go
// is for leads: encoding/json spends most of a page of 50 deals on reflection and on checking the
// output of deal.Probability's MarshalJSON. It writes exactly the bytes encoding/json writes for
// deal.Deal and page.Page[deal.Deal]; dealjson_internal_test.go holds it to that.

import (
	"strconv"

	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/page"
)

// writeDeal answers with one deal.
func writeDeal(c echo.Context, status int, d *deal.Deal) error {
	return writeJSON(c, status, d, func(b []byte) []byte { return appendDeal(b, d) })
}

// writeDealPage answers with a page of deals.
func writeDealPage(c echo.Context, status int, p *page.Page[deal.Deal]) error {
	return writeJSON(c, status, p, func(b []byte) []byte { return appendDealPage(b, p) })
}

// appendDealPage appends p as encoding/json encodes a page.Page[deal.Deal].
func appendDealPage(b []byte, p *page.Page[deal.Deal]) []byte { return appendPage(b, p, appendDeal) }

// appendDeal appends d as encoding/json encodes a deal.Deal.
func appendDeal(b []byte, d *deal.Deal) []byte {
	b = append(b, `{"id":`...)
	b = appendUUID(b, d.ID)
	b = append(b, `,"leadId":`...)
	b = appendUUID(b, d.LeadID)
	b = append(b, `,"title":`...)
	b = appendString(b, d.Title)
	b = append(b, `,"dealValue":`...)
	b = strconv.AppendInt(b, d.DealValue, 10)
	b = append(b, `,"currency":`...)
	b = appendString(b, d.Currency)
	b = append(b, `,"stage":`...)
	b = appendString(b, string(d.Stage))
	b = append(b, `,"probability":`...)
	b = d.Probability.AppendText(b)
	b = append(b, `,"weightedValue":`...)
	b = strconv.AppendInt(b, d.WeightedValue, 10)
	b = append(b, `,"expectedCloseDate":`...)
	b = appendStringPtr(b, d.ExpectedCloseDate)
	b = append(b, `,"lostReason":`...)
	b = appendStringPtr(b, d.LostReason)
	b = append(b, `,"stageChangedAt":`...)
	b = appendTime(b, d.StageChangedAt)
	b = append(b, `,"wonAt":`...)
	if d.WonAt == nil {
		b = append(b, "null"...)
	} else {
		b = appendTime(b, *d.WonAt)
	}
	b = append(b, `,"lostAt":`...)
	if d.LostAt == nil {
		b = append(b, "null"...)
	} else {
		b = appendTime(b, *d.LostAt)
	}
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(d.Version), 10)
	b = append(b, `,"createdAt":`...)
	b = appendTime(b, d.CreatedAt)
	b = append(b, `,"updatedAt":`...)
	b = appendTime(b, d.UpdatedAt)
	return append(b, '}')
}
