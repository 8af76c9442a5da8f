package report

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/ai"
	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/page"
)

// GenerateActor is the actor of the events the weekly report's job emits.
const GenerateActor = "job:" + KindGenerateWeeklyReport

// Commit runs fn in a tenant transaction of the job's org and commits it together with the
// job's completion: jobs.Batch.Exec, as a method value.
type Commit func(ctx context.Context, fn func(tx *gorm.DB) error) error

// Service holds the report use cases.
type Service struct {
	d      *db.DB
	emit   events.EmitFunc
	writer Writer
}

// NewService returns the use cases on d, emitting through emitter (both required), with writer
// writing the narratives (nil is Builtin).
func NewService(d *db.DB, emitter *events.Emitter, writer Writer) *Service {
	if d == nil || emitter == nil {
		panic("report.NewService: nil dependency")
	}
	if writer == nil {
		writer = Builtin{}
	}
	return &Service{d: d, emit: emitter.About(EntityType), writer: writer}
}

// GenerateResult is what Generate did.
type GenerateResult struct {
	// Report is the stored report (zero when skipped).
	Report Report
	// Fallback says why the built-in writer stood in for the model ("" when it did not).
	Fallback string
	// Skipped says why nothing was written ("" when the report was stored).
	Skipped string
}

// Generate is the use case of generate_weekly_report: the org's weekly report of the ISO week
// before slot's (WeekBefore), stored once. An org that has it already writes nothing (a rerun of
// the slot, or a second slot in the same week). Otherwise the figures are read in one statement,
// the narrative is written (the model's call made outside any transaction; an answer that is
// malformed, invalid or refused, or a request the model rejects, falls back to the built-in
// writer, any other error of the model is returned for the queue to retry), the PDF rendered, and
// in the transaction of commit the report is inserted unless one of its org, kind and period
// exists (the unique key decides a race), emitting report.generated only when it was.
func (s *Service) Generate(ctx context.Context, orgID uuid.UUID, slot time.Time, commit Commit) (GenerateResult, error) {
	start, end := WeekBefore(slot)
	exists, _, err := db.ReadOne[bool](ctx, s.d, orgID, reportExistsSQL, db.UUID(orgID), KindWeekly, start)
	if err != nil {
		return GenerateResult{}, fmt.Errorf("generate weekly report: %w", err)
	}
	if exists {
		return GenerateResult{Skipped: "the week's report exists"}, nil
	}
	figures, err := s.Figures(ctx, orgID, start, end)
	if err != nil {
		return GenerateResult{}, fmt.Errorf("generate weekly report: %w", err)
	}
	in := Input{Kind: KindWeekly, PeriodStart: start, PeriodEnd: end, Figures: figures}
	out := GenerateResult{}
	narrative, model, err := s.writer.Write(ctx, in)
	if err == nil {
		if verr := narrative.Validate(); verr != nil {
			err = fmt.Errorf("%w: %w", ai.ErrMalformed, verr)
		}
	}
	switch {
	case err != nil && fallsBack(err):
		out.Fallback = truncate(err.Error(), 500)
		narrative, model, _ = Builtin{}.Write(ctx, in)
	case err != nil:
		return GenerateResult{}, fmt.Errorf("generate weekly report: %w", err)
	}
	r := Report{Kind: KindWeekly, PeriodStart: start, PeriodEnd: end, Model: model, Body: Body{Figures: figures, Narrative: narrative}}
	doc, err := Render(r)
	if err != nil {
		return GenerateResult{}, fmt.Errorf("generate weekly report: %w", err)
	}
	err = commit(ctx, func(tx *gorm.DB) error {
		out.Skipped = ""
		row, inserted, err := db.Get[reportRow](ctx, tx, insertReportSQL, orgID, KindWeekly, start, end,
			db.JSONOf(r.Body), model, doc)
		if err != nil {
			return fmt.Errorf("store report: %w", err)
		}
		if !inserted {
			out.Skipped = "the week's report exists"
			return nil
		}
		out.Report = row.report()
		p := GeneratedPayload{Kind: KindWeekly, PeriodStart: start, PeriodEnd: end, Model: model, Fallback: out.Fallback}
		if err := s.emit(ctx, tx, orgID, GenerateActor, EventGenerated, row.ID, "report.generated:"+row.ID.String(), p); err != nil {
			return fmt.Errorf("emit report.generated: %w", err)
		}
		return nil
	})
	if err != nil {
		return GenerateResult{}, fmt.Errorf("generate weekly report: %w", err)
	}
	return out, nil
}

// Figures computes the org's figures over [start, end) in one statement, in one backend
// (serialReadSQL).
func (s *Service) Figures(ctx context.Context, orgID uuid.UUID, start, end time.Time) (Figures, error) {
	var raw []byte
	var found bool
	headEnd, firstDay, endDay, tailStart := splitDays(start, end)
	err := s.d.Read(ctx, orgID, func(b *db.Batch) {
		b.Exec(serialReadSQL)
		db.QueueOne(b, &raw, &found, figuresSQL, db.UUID(orgID), start, end, firstDay, endDay, headEnd, tailStart)
	})
	if err != nil {
		return Figures{}, fmt.Errorf("read figures: %w", err)
	}
	var f Figures
	if err := json.Unmarshal(raw, &f); err != nil {
		return Figures{}, fmt.Errorf("decode figures: %w", err)
	}
	return f, nil
}

// Get returns the org's report id; one the org lacks is apperr.NotFound.
func (s *Service) Get(ctx context.Context, orgID, id uuid.UUID) (Report, error) {
	r, err := db.ReadByID[reportRow](ctx, s.d, orgID, string(EntityType), id, getReportSQL)
	return r.report(), err
}

// Document returns the org's report's stored PDF; a report the org lacks, or one without a
// document, is apperr.NotFound. It reads in one round trip.
func (s *Service) Document(ctx context.Context, orgID, id uuid.UUID) ([]byte, error) {
	return s.d.ReadDocument(ctx, orgID, string(EntityType), id, getDocumentSQL)
}

// ListFilter narrows List: Kind ("" is every kind) and the page.
type ListFilter struct {
	Kind string
	Page page.Request
}

// List returns a page of the org's reports of f.Kind, the latest period first. An unknown kind
// is apperr.BadRequest, as is a cursor of another list.
func (s *Service) List(ctx context.Context, orgID uuid.UUID, f ListFilter) (page.Page[Report], error) {
	if f.Kind != "" && !slices.Contains(Kinds, f.Kind) {
		msg := "must be one of: " + strings.Join(Kinds, ", ")
		return page.Page[Report]{}, apperr.Errorf(apperr.BadRequest, "kind %s", msg).WithFields(apperr.FieldError{Field: "kind", Message: msg})
	}
	var a db.Args
	q := listReportsSQL + a.Add(db.UUID(orgID))
	if f.Kind != "" {
		q += kindIsSQL + a.Add(f.Kind)
	}
	out, err := db.ReadPage(ctx, s.d, orgID, keyset, f.Page, q, a, reportRow.report)
	if err != nil {
		return out, fmt.Errorf("list reports: %w", err)
	}
	return out, nil
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// splitDays cuts [start, end) at UTC midnights for figuresSQL: the whole UTC days
// [firstDay, endDay) inside it and the partial spans [start, headEnd) before them and
// [tailStart, end) after them. A window without a whole day is all head: its tail is empty
// (tailStart is end) and so are its days (endDay is firstDay).
func splitDays(start, end time.Time) (headEnd, firstDay, endDay, tailStart time.Time) {
	firstDay = start.UTC().Truncate(24 * time.Hour)
	if firstDay.Before(start) {
		firstDay = firstDay.Add(24 * time.Hour)
	}
	endDay = end.UTC().Truncate(24 * time.Hour)
	if !firstDay.Before(endDay) {
		return end, firstDay, firstDay, end
	}
	return firstDay, firstDay, endDay, endDay
}
