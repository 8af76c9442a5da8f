package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/page"
)

// intakeSubmissionRoutes registers the intake submission routes of API.md: what the intake
// gateway accepted and what processing made of it (a new lead, a duplicate of one, or a rejection
// with its reason), so that a source's mistakes and a CSV upload's results are visible.
func (s *Server) intakeSubmissionRoutes(r router) {
	r.GET("/intake-submissions", s.listIntakeSubmissions)
	r.GET("/intake-submissions/:id", s.getIntakeSubmission)
}

// intakeSubmissionResponse is a submission.
type intakeSubmissionResponse struct {
	ID           uuid.UUID  `json:"id"`
	SourceID     *uuid.UUID `json:"sourceId"`
	BatchID      *uuid.UUID `json:"batchId"`
	RowNumber    *int       `json:"rowNumber"`
	Status       string     `json:"status"`
	RejectReason *string    `json:"rejectReason"`
	LeadID       *uuid.UUID `json:"leadId"`
	ReceivedAt   time.Time  `json:"receivedAt"`
	ProcessedAt  *time.Time `json:"processedAt"`
}

func toIntakeSubmissionResponse(s intake.Submission) intakeSubmissionResponse {
	return intakeSubmissionResponse{
		ID: s.ID, SourceID: s.SourceID, BatchID: s.BatchID, RowNumber: s.RowNumber, Status: s.Status,
		RejectReason: s.RejectReason, LeadID: s.LeadID, ReceivedAt: s.ReceivedAt.UTC(), ProcessedAt: utcPtr(s.ProcessedAt),
	}
}

// GET /intake-submissions?status=&sourceId=&batchId=
func (s *Server) listIntakeSubmissions(c echo.Context) error {
	var f intake.SubmissionFilter
	var err error
	if f.Status, err = queryOneOf(c, "status", intake.SubmissionStatuses...); err != nil {
		return err
	}
	if f.SourceID, err = queryUUID(c, "sourceId"); err != nil {
		return err
	}
	if f.BatchID, err = queryUUID(c, "batchId"); err != nil {
		return err
	}
	return listInOrg(s, c, func(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, pr page.Request) (page.Page[intake.Submission], error) {
		return intake.ListSubmissions(ctx, tx, orgID, f, pr)
	}, toIntakeSubmissionResponse)
}

// GET /intake-submissions/{id}
func (s *Server) getIntakeSubmission(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	var sub intake.Submission
	err = s.inOrg(c, func(tx *gorm.DB) error {
		var err error
		sub, err = intake.GetSubmission(c.Request().Context(), tx, orgOf(c), id)
		return err
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toIntakeSubmissionResponse(sub))
}
