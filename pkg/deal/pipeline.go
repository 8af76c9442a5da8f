package deal

// The pipeline sums of GET /analytics/pipeline: what the open deals are worth, per stage and
// currency, as face value and weighted by probability, and what the won and lost deals came to.

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
)

// PipelineFilter narrows the pipeline to deals created in [From, To); nil is unbounded.
type PipelineFilter struct {
	From, To *time.Time
}

// Pipeline is the open pipeline of an org: one entry per open stage, in pipeline order, each
// present even when empty; and the totals of the won and of the lost deals (of the same deals:
// created in the window when there is one), as entries of the same shape (a won deal's weighted
// value is its value, a lost deal's 0).
type Pipeline struct {
	From   *time.Time      `json:"from"`
	To     *time.Time      `json:"to"`
	Stages []PipelineStage `json:"stages"`
	Won    PipelineStage   `json:"won"`
	Lost   PipelineStage   `json:"lost"`
}

// PipelineStage is one open stage of the pipeline: how many deals are in it, and their sums per
// currency (in currency order; money of different currencies is never added up).
type PipelineStage struct {
	Stage      Stage         `json:"stage"`
	Count      int64         `json:"count"`
	Currencies []CurrencySum `json:"currencies"`
}

// CurrencySum is the deals of one stage in one currency: their count, the sum of their values
// and the sum of their weighted values (each deal's WeightedValue, rounded as there, then
// added), in minor units. The sums are exact integers and may exceed 2^53 (and int64) for
// very large pipelines, so they are kept as JSON number text.
type CurrencySum struct {
	Currency      string      `json:"currency"`
	Count         int64       `json:"count"`
	DealValue     json.Number `json:"dealValue"`
	WeightedValue json.Number `json:"weightedValue"`
}

// Pipeline returns the org's open pipeline and its won and lost totals for f. Without From and
// To it reads the maintained totals (pipelineTotalsSQL: a few rows, whatever the number of
// deals); with either it sums the deals created in the window (pipelineSQL and
// closedPipelineSQL, index-only scans of the org's open and of its closed deals). Both
// give the same numbers for the same deals. A From after To is apperr.Invalid (From equal to To
// is an empty window).
func (s *Service) Pipeline(ctx context.Context, orgID uuid.UUID, f PipelineFilter) (Pipeline, error) {
	if f.From != nil && f.To != nil && f.From.After(*f.To) {
		return Pipeline{}, apperr.Errorf(apperr.Invalid, "from must not be after to").
			WithFields(apperr.FieldError{Field: "from", Message: "must not be after to"})
	}
	out := Pipeline{
		Stages: make([]PipelineStage, len(OpenStages)),
		Won:    PipelineStage{Stage: StageWon, Currencies: []CurrencySum{}},
		Lost:   PipelineStage{Stage: StageLost, Currencies: []CurrencySum{}},
	}
	entry := map[Stage]*PipelineStage{StageWon: &out.Won, StageLost: &out.Lost}
	for i, st := range OpenStages {
		out.Stages[i] = PipelineStage{Stage: st, Currencies: []CurrencySum{}}
		entry[st] = &out.Stages[i]
	}
	var from, to *time.Time
	if f.From != nil {
		t := f.From.UTC()
		from, out.From = &t, &t
	}
	if f.To != nil {
		t := f.To.UTC()
		to, out.To = &t, &t
	}
	sumRow := func(row db.Row) error {
		var st, sum, weighted string
		var c CurrencySum
		if err := row.Scan(&st, &c.Currency, &c.Count, &sum, &weighted); err != nil {
			return fmt.Errorf("scan pipeline: %w", err)
		}
		e, ok := entry[Stage(st)]
		if !ok {
			return apperr.Errorf(apperr.Internal, "pipeline: unexpected stage %q", st)
		}
		c.DealValue, c.WeightedValue = json.Number(sum), json.Number(weighted)
		e.Count += c.Count
		e.Currencies = append(e.Currencies, c)
		return nil
	}
	err := s.d.Read(ctx, orgID, func(b *db.Batch) {
		if from == nil && to == nil {
			b.Rows(sumRow, pipelineTotalsSQL, db.UUID(orgID))
			return
		}
		b.Exec(pipelinePlanSQL)
		b.Rows(sumRow, pipelineSQL, db.UUID(orgID), from, to)
		b.Rows(sumRow, closedPipelineSQL, db.UUID(orgID), from, to)
	})
	if err != nil {
		return Pipeline{}, fmt.Errorf("deal pipeline: %w", err)
	}
	return out, nil
}
