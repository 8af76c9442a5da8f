package httpapi

import (
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/httpx"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/org"
)

// csvRowContentType is the content type of a stored CSV row: each row is stored as a JSON object
// of column -> value (its raw text is in its headers as x-csv-line).
const csvRowContentType = "application/json"

// csvResponse is the 202 answer of POST /intake/csv.
type csvResponse struct {
	BatchID  uuid.UUID `json:"batchId"`
	Accepted int       `json:"accepted"`
	// Rejected lists the refused lines, the first MaxRejectedListed of them.
	Rejected []lineError `json:"rejected"`
	// RejectedCount counts every refused line; RejectedTruncated says the list is cut short.
	RejectedCount     int  `json:"rejectedCount"`
	RejectedTruncated bool `json:"rejectedTruncated"`
}

// csvUpload is POST /intake/csv: a CSV file (text/csv, or the multipart field "file") of an org
// authenticated by API key, optionally for its csv source ?sourceId=. The file is parsed as it
// arrives and its rows are stored CSVBatchRows at a time, each batch in its own transaction, so
// memory does not grow with the file. Framing errors of single lines are reported with their
// line numbers and the other lines accepted; what the rows say is judged later.
//
// A request refused before its first row (credentials, source, content type, a declared length
// over the limit, the header row) writes nothing. A stream that breaks later (the body goes over
// the limit without having declared its length, or the connection drops) keeps the batches
// committed before: the 413 answer names the batchId and the rows accepted.
func (s *Server) csvUpload(c echo.Context) error {
	ctx := c.Request().Context()
	p, err := s.authenticate(c)
	if err != nil {
		return err
	}
	var sourceID *uuid.UUID
	perMin, limitKey := 0, "csv-org:"+p.OrgID.String()
	if raw := c.QueryParam("sourceId"); raw != "" {
		id, err := uuid.Parse(raw)
		if err != nil || len(raw) != 36 {
			return apperr.Errorf(apperr.BadRequest, "sourceId must be a UUID").
				WithFields(apperr.FieldError{Field: "sourceId", Message: "must be a UUID"})
		}
		src, err := s.csvSource(ctx, p.OrgID, id)
		if err != nil {
			return err
		}
		sourceID, perMin, limitKey = &src.ID, src.RateLimitPerMinute, "csv:"+src.ID.String()
	} else {
		perMin = intake.DefaultRateLimit
	}
	mt, _, err := mediaType(c, mediaCSV, mediaMult)
	if err != nil {
		return err
	}
	if c.Request().ContentLength > s.Config.CSVLimit {
		return tooLarge(s.Config.CSVLimit)
	}
	if err := s.rateLimit(c, limitKey, perMin); err != nil {
		return err
	}
	rc := http.NewResponseController(c.Response().Writer)
	deadline := time.Now().Add(s.Config.CSVTimeout)
	_ = rc.SetReadDeadline(deadline)
	_ = rc.SetWriteDeadline(deadline)
	c.Request().Body = http.MaxBytesReader(c.Response().Writer, c.Request().Body, s.Config.CSVLimit)

	file, err := csvFile(c, mt)
	if err != nil {
		return s.csvReadError(err)
	}
	parser, err := newCSVParser(file)
	if err != nil {
		return s.csvReadError(err)
	}
	up := &upload{s: s, rows: intake.Rows{OrgID: p.OrgID, SourceID: sourceID, BatchID: uuid.New(), ContentType: csvRowContentType},
		res: csvResponse{Rejected: []lineError{}}}
	up.res.BatchID = up.rows.BatchID
	for {
		row, bad, err := parser.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return up.broken(c, s.csvReadError(err))
		}
		if bad != nil {
			up.reject(*bad)
			continue
		}
		up.rows.Rows = append(up.rows.Rows, intake.Row{Number: row.line, Body: row.body, Headers: map[string]string{"x-csv-line": row.raw}})
		if len(up.rows.Rows) >= s.Config.CSVBatchRows {
			if err := up.flush(c); err != nil {
				return up.broken(c, err)
			}
		}
	}
	if err := up.flush(c); err != nil {
		return up.broken(c, err)
	}
	return c.JSON(http.StatusAccepted, up.res)
}

// upload is the state of one CSV upload.
type upload struct {
	s    *Server
	rows intake.Rows
	res  csvResponse
}

func (u *upload) reject(e lineError) {
	u.res.RejectedCount++
	u.s.metrics.csvRows.WithLabelValues("rejected").Inc()
	if len(u.res.Rejected) < MaxRejectedListed {
		u.res.Rejected = append(u.res.Rejected, e)
	} else {
		u.res.RejectedTruncated = true
	}
}

// flush stores the pending rows in one transaction.
func (u *upload) flush(c echo.Context) error {
	if len(u.rows.Rows) == 0 {
		return nil
	}
	n, err := intake.AcceptRows(c.Request().Context(), u.s.DB, u.s.Queue, u.rows)
	if err != nil {
		return err
	}
	u.s.metrics.csvRows.WithLabelValues("accepted").Add(float64(n))
	u.s.metrics.csvRows.WithLabelValues("duplicate").Add(float64(len(u.rows.Rows) - n))
	u.res.Accepted += n
	u.rows.Rows = u.rows.Rows[:0]
	return nil
}

// broken ends an upload that failed after it began: when batches were committed before, the
// problem says which batch and how many of its rows are stored.
func (u *upload) broken(_ echo.Context, err error) error {
	if u.res.Accepted == 0 {
		return err
	}
	if e, ok := apperr.As(err); ok {
		return e.With("batchId", u.res.BatchID).With("accepted", u.res.Accepted)
	}
	return err
}

// csvReadError maps a failure to read the body: over the limit is 413, a dropped or timed-out
// stream 400.
func (s *Server) csvReadError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(s.Config.CSVLimit)
	}
	if _, ok := apperr.As(err); ok {
		return err
	}
	return apperr.Wrap(err, apperr.BadRequest, "the CSV upload could not be read to its end")
}

// csvFile returns the CSV stream of the request: the body itself, or the part named "file" of a
// multipart form (parts before it are skipped).
func csvFile(c echo.Context, mt string) (io.Reader, error) {
	if mt == mediaCSV {
		return c.Request().Body, nil
	}
	mr, err := c.Request().MultipartReader()
	if err != nil {
		return nil, apperr.Errorf(apperr.BadRequest, "the multipart body is malformed (no boundary?)")
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, apperr.Errorf(apperr.BadRequest, "the multipart form has no field named \"file\"").
				WithFields(apperr.FieldError{Field: "file", Message: "is required"})
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, err
			}
			return nil, apperr.Errorf(apperr.BadRequest, "the multipart body is malformed")
		}
		if part.FormName() == "file" {
			return part, nil
		}
		if err := skipPart(part); err != nil {
			return nil, err
		}
	}
}

func skipPart(p *multipart.Part) error {
	_, err := io.Copy(io.Discard, p)
	return err
}

// authenticate requires `Authorization: Bearer <key>` and `X-Org-Id: <uuid>`, each once, as the
// api does (httpx.Credentials): no key or an invalid, unknown or revoked one is 401; a good key
// of another org 403.
func (s *Server) authenticate(c echo.Context) (org.Principal, error) {
	key, orgID, err := httpx.Credentials(c.Request().Header)
	if err != nil {
		return org.Principal{}, err
	}
	if keyOrg, ok := org.KeyOrg(key); !ok || keyOrg == uuid.Nil {
		// org.Authenticate cannot open a tenant read for the nil org and would fail with 500.
		return org.Principal{}, apperr.Errorf(apperr.Unauthorized, "invalid api key")
	}
	p, err := org.Authenticate(c.Request().Context(), s.DB, key)
	if err != nil {
		return org.Principal{}, err
	}
	if p.OrgID != orgID {
		return org.Principal{}, apperr.Errorf(apperr.Forbidden, "this API key does not belong to org %s", orgID)
	}
	return p, nil
}
