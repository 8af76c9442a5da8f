package deal_test

import (
	"encoding/json"
	"strconv"

	"example.com/crm/pkg/page"
)

func pageOf(limit int) page.Request { return page.Request{Limit: limit} }

func num(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }
