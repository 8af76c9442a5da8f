package intake

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/page"
)

// The states of a submission (a lead_intake_raw row): pending until process_intake has run, then
// processed (it made a new lead), duplicate (it repeated a live lead, which got a touchpoint) or
// rejected (it broke a business rule; RejectReason says which).
const (
	SubmissionPending   = "pending"
	SubmissionProcessed = "processed"
	SubmissionDuplicate = "duplicate"
	SubmissionRejected  = "rejected"
)

// SubmissionStatuses are the states of a submission, in the order of their life.
var SubmissionStatuses = []string{SubmissionPending, SubmissionProcessed, SubmissionDuplicate, SubmissionRejected}

// Submission is one delivery that the intake gateway accepted, as the org sees it: where it came
// from and what processing made of it. The body and headers stay behind: they are what the
// sender sent, for audit, not for the lists a UI shows.
type Submission struct {
	ID uuid.UUID
	// SourceID is the intake source; nil for a CSV upload that named none.
	SourceID *uuid.UUID
	// BatchID and RowNumber place a CSV row in its upload; nil for a webhook or form delivery.
	BatchID   *uuid.UUID
	RowNumber *int
	Status    string
	// RejectReason says why a rejected submission was rejected; nil otherwise.
	RejectReason *string
	// LeadID is the lead a processed submission created or a duplicate one repeated.
	LeadID      *uuid.UUID
	ReceivedAt  time.Time
	ProcessedAt *time.Time
}

// SubmissionFilter narrows ListSubmissions; zero fields do not filter.
type SubmissionFilter struct {
	Status   string // one of SubmissionStatuses
	SourceID *uuid.UUID
	BatchID  *uuid.UUID
}

// submissionKeyset is the order of ListSubmissions: newest first.
var submissionKeyset = page.Desc(
	page.Time("received_at", "at", func(s Submission) time.Time { return s.ReceivedAt }),
	page.UUID("id", "id", func(s Submission) uuid.UUID { return s.ID }))

func scanSubmission(rows db.Row) (Submission, error) {
	var s Submission
	var row sql.NullInt32
	if err := rows.Scan(&s.ID, &s.SourceID, &s.BatchID, &row, &s.Status, &s.RejectReason, &s.LeadID, &s.ReceivedAt, &s.ProcessedAt); err != nil {
		return Submission{}, err
	}
	if row.Valid {
		n := int(row.Int32)
		s.RowNumber = &n
	}
	return s, nil
}

// ListSubmissions returns the org's submissions, newest first (received_at, then id,
// descending), narrowed by f, from the caller's transaction tx. It filters org_id itself besides
// the row-level security of a tenant transaction. An unknown status or a cursor that is not one
// of this list's is apperr.BadRequest.
//
// The list is the merge of two walks, each down an index that holds only its rows (migration
// 000018): the pending backlog (lead_intake_raw_pending_idx) and the finished submissions
// (lead_intake_raw_finished_idx, or lead_intake_raw_source_finished_idx for one source). Both
// indexes are partial on status, so they cost the gateway's insert nothing, and no foreign-key
// check, which names only org_id and id, can take them for the primary key. A CSV batch's rows
// come by its (batch_id, row_number) key.
func ListSubmissions(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, f SubmissionFilter, p page.Request) (page.Page[Submission], error) {
	limit := p.Clamped()
	if f.Status != "" && !slices.Contains(SubmissionStatuses, f.Status) {
		return page.Page[Submission]{}, apperr.Errorf(apperr.BadRequest, "unknown submission status %q", f.Status).
			WithFields(apperr.FieldError{Field: "status", Message: "must be one of: " + strings.Join(SubmissionStatuses, ", ")})
	}
	pos, err := submissionKeyset.Position(p.Cursor)
	if err != nil {
		return page.Page[Submission]{}, err
	}

	// walk is one branch: the rows of the org in one part of the status space (a condition with
	// literals only, so that the planner can match it to the partial indexes), filtered,
	// after the cursor, newest first.
	var args db.Args
	walk := func(statusCond string) string {
		var b strings.Builder
		b.WriteString("(SELECT " + submissionColumns + " FROM lead_intake_raw WHERE org_id = " + args.Add(orgID) + " AND " + statusCond)
		if f.Status != "" {
			b.WriteString(" AND status = " + args.Add(f.Status))
		}
		if f.SourceID != nil {
			b.WriteString(" AND source_id = " + args.Add(*f.SourceID))
		}
		if f.BatchID != nil {
			b.WriteString(" AND batch_id = " + args.Add(*f.BatchID))
		}
		if after := pos.After(&args); after != "" {
			b.WriteString(" AND " + after)
		}
		b.WriteString(" " + submissionKeyset.OrderLimit(limit, &args) + ")")
		return b.String()
	}
	var query string
	switch f.Status {
	case "":
		query = "SELECT * FROM (" + walk("status = 'pending'") + " UNION ALL " + walk("status <> 'pending'") + ") s"
		query += " " + submissionKeyset.OrderLimit(limit, &args)
	case SubmissionPending:
		query = walk("status = 'pending'")
	default:
		query = walk("status <> 'pending'")
	}
	var out []Submission
	err = db.Each(ctx, tx, func(row db.Row) error {
		s, err := scanSubmission(row)
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		out = append(out, s)
		return nil
	}, query, args...)
	if err != nil {
		return page.Page[Submission]{}, fmt.Errorf("list intake submissions: %w", err)
	}
	return submissionKeyset.Page(out, limit), nil
}

// GetSubmission returns the org's submission id from the caller's transaction tx; one that does
// not exist (or is another org's) is apperr.NotFound.
func GetSubmission(ctx context.Context, tx *gorm.DB, orgID, id uuid.UUID) (Submission, error) {
	var out Submission
	found := false
	err := db.Each(ctx, tx, func(row db.Row) error {
		s, err := scanSubmission(row)
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		out, found = s, true
		return nil
	}, getSubmissionSQL, orgID, id)
	if err != nil {
		return Submission{}, fmt.Errorf("get intake submission %s: %w", id, err)
	}
	if !found {
		return Submission{}, apperr.Errorf(apperr.NotFound, "intake submission %s not found", id)
	}
	return out, nil
}
