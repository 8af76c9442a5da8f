package httpapi_test

import (
	"bytes"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/page"
)

// submission is an intake submission as the API shows it.
type submission struct {
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

// intakeFeed stores deliveries as the intake gateway does and processes them as the worker's
// process_intake does, both as the owner role (the worker's).
type intakeFeed struct {
	a     *apiTest
	acc   *intake.Acceptor
	queue *jobs.Queue
	proc  *intake.Processor
}

func newIntakeFeed(a *apiTest) *intakeFeed {
	q := jobs.New(a.owner, jobs.Config{})
	return &intakeFeed{a: a, acc: intake.NewAcceptor(a.owner, jobs.Config{}), queue: q,
		proc: intake.NewProcessor(lead.NewService(a.owner, events.NewEmitter(q, catalog.New().EventJobs)))}
}

// deliver accepts a webhook delivery of org's source with body and returns its submission id.
func (f *intakeFeed) deliver(org uuid.UUID, source *uuid.UUID, body string) uuid.UUID {
	f.a.t.Helper()
	acc, err := f.acc.Accept(f.a.t.Context(), intake.Delivery{
		OrgID: org, SourceID: source, DeliveryKey: uuid.NewString(), ContentType: "application/json", Body: []byte(body),
	})
	require.NoError(f.a.t, err)
	require.False(f.a.t, acc.Duplicate)
	return acc.IntakeID
}

// upload accepts the rows of a CSV upload (numbered from 2, the header being line 1) and returns
// the batch id.
func (f *intakeFeed) upload(org uuid.UUID, source *uuid.UUID, rows ...string) uuid.UUID {
	f.a.t.Helper()
	batch := uuid.New()
	r := intake.Rows{OrgID: org, SourceID: source, BatchID: batch, ContentType: "application/json"}
	for i, body := range rows {
		r.Rows = append(r.Rows, intake.Row{Number: i + 2, Body: []byte(body)})
	}
	n, err := intake.AcceptRows(f.a.t.Context(), f.a.owner, f.queue, r)
	require.NoError(f.a.t, err)
	require.Equal(f.a.t, len(rows), n)
	return batch
}

// process runs process_intake on the submission id of org and returns what it did.
func (f *intakeFeed) process(org, id uuid.UUID) intake.Result {
	f.a.t.Helper()
	var res []intake.Result
	require.NoError(f.a.t, f.a.owner.Tx(f.a.t.Context(), org, func(tx *gorm.DB) error {
		var err error
		res, err = f.proc.Process(f.a.t.Context(), tx, org, []uuid.UUID{id})
		return err
	}))
	return res[0]
}

// batchRows are the submission ids of a batch by row number, read as the superuser.
func (a *apiTest) batchRows(batch uuid.UUID) map[int]uuid.UUID {
	a.t.Helper()
	rows, err := a.super.Query(a.t.Context(), `SELECT row_number, id FROM lead_intake_raw WHERE batch_id = $1`, batch)
	require.NoError(a.t, err)
	defer rows.Close()
	out := map[int]uuid.UUID{}
	for rows.Next() {
		var n int
		var id uuid.UUID
		require.NoError(a.t, rows.Scan(&n, &id))
		out[n] = id
	}
	require.NoError(a.t, rows.Err())
	return out
}

// TestIntakeSubmissions proves GET /intake-submissions and /intake-submissions/{id} show what
// really became of each delivery, as process_intake decided it: a processed one with its new
// lead, a duplicate with the lead it repeated, a rejected one (no email, phone or profile link)
// with its reason, a pending one not yet processed, and a CSV upload's rows with their row
// numbers; newest first, filtered by status, source and batch, paged without repeats or gaps;
// and that another org sees none of it.
func TestIntakeSubmissions(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	feed := newIntakeFeed(a)

	var hook, sheet struct {
		ID uuid.UUID `json:"id"`
	}
	r := a.do(http.MethodPost, "/intake-sources", map[string]any{"kind": "webhook", "name": "Zapier"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	r.json(t, &hook)
	r = a.do(http.MethodPost, "/intake-sources", map[string]any{"kind": "csv", "name": "Fair export"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	r.json(t, &sheet)

	created := feed.deliver(a.org, &hook.ID, `{"email": "ada@example.com", "name": "Ada Lovelace"}`)
	repeated := feed.deliver(a.org, &hook.ID, `{"email": " ADA@example.com ", "company": "Analytical Engines"}`)
	noContact := feed.deliver(a.org, &hook.ID, `{"name": "No Contact", "company": "Nowhere Ltd"}`)
	batch := feed.upload(a.org, &sheet.ID,
		`{"email": "grace@example.com"}`, `{"name": "Nameless Row"}`, `{"email": "ada@example.com"}`)
	rows := a.batchRows(batch)
	require.Len(t, rows, 3)
	waiting := feed.deliver(a.org, &hook.ID, `{"email": "late@example.com"}`)

	res := feed.process(a.org, created)
	require.Equal(t, intake.SubmissionProcessed, res.Status)
	leadID := *res.LeadID
	require.Equal(t, intake.SubmissionDuplicate, feed.process(a.org, repeated).Status)
	require.Equal(t, intake.SubmissionRejected, feed.process(a.org, noContact).Status)
	for n := 2; n <= 4; n++ {
		feed.process(a.org, rows[n])
	}

	// One submission at a time.
	get := func(id uuid.UUID) submission {
		t.Helper()
		r := a.do(http.MethodGet, "/intake-submissions/"+id.String(), nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var s submission
		r.json(t, &s)
		require.Equal(t, id, s.ID)
		return s
	}
	s := get(created)
	require.Equal(t, "processed", s.Status)
	require.Equal(t, &leadID, s.LeadID)
	require.Equal(t, &hook.ID, s.SourceID)
	require.Nil(t, s.BatchID)
	require.Nil(t, s.RowNumber)
	require.Nil(t, s.RejectReason)
	require.NotNil(t, s.ProcessedAt)
	require.Equal(t, http.StatusOK, a.do(http.MethodGet, "/leads/"+leadID.String(), nil).Status, "the lead is there")

	s = get(repeated)
	require.Equal(t, "duplicate", s.Status)
	require.Equal(t, &leadID, s.LeadID, "a duplicate names the lead it repeated")
	require.Nil(t, s.RejectReason)

	s = get(noContact)
	require.Equal(t, "rejected", s.Status)
	require.Nil(t, s.LeadID)
	require.NotNil(t, s.RejectReason)
	require.Contains(t, *s.RejectReason, "email", "the reason names the missing contact")
	require.NotNil(t, s.ProcessedAt)

	s = get(waiting)
	require.Equal(t, "pending", s.Status)
	require.Nil(t, s.LeadID)
	require.Nil(t, s.ProcessedAt)

	for n, want := range map[int]string{2: "processed", 3: "rejected", 4: "duplicate"} {
		s = get(rows[n])
		require.Equal(t, want, s.Status, "row %d", n)
		require.Equal(t, &batch, s.BatchID, "row %d", n)
		require.Equal(t, &sheet.ID, s.SourceID, "row %d", n)
		require.Equal(t, &n, s.RowNumber)
		require.Equal(t, want == "rejected", s.RejectReason != nil, "row %d", n)
	}
	require.Equal(t, &leadID, get(rows[4]).LeadID, "the row repeats the webhook's lead")

	// The lists: newest first, every filter, paged.
	all := walkList[submission](a, "/intake-submissions", 200)
	require.Len(t, all, 7)
	require.True(t, slices.IsSortedFunc(all, func(x, y submission) int {
		if c := y.ReceivedAt.Compare(x.ReceivedAt); c != 0 {
			return c
		}
		return bytes.Compare(y.ID[:], x.ID[:])
	}), "newest first, then by id")
	require.Equal(t, waiting, all[0].ID, "the newest, still pending, comes first")
	require.Equal(t, created, all[6].ID)
	for _, limit := range []int{1, 2, 3} {
		require.Equal(t, all, walkList[submission](a, "/intake-submissions", limit), "pages of %d", limit)
	}

	ids := func(path string, limit int) []uuid.UUID {
		t.Helper()
		var out []uuid.UUID
		for _, s := range walkList[submission](a, path, limit) {
			out = append(out, s.ID)
		}
		return out
	}
	require.Equal(t, []uuid.UUID{waiting}, ids("/intake-submissions?status=pending", 50))
	require.ElementsMatch(t, []uuid.UUID{created, rows[2]}, ids("/intake-submissions?status=processed", 1))
	require.ElementsMatch(t, []uuid.UUID{repeated, rows[4]}, ids("/intake-submissions?status=duplicate", 1))
	require.ElementsMatch(t, []uuid.UUID{noContact, rows[3]}, ids("/intake-submissions?status=rejected", 1))
	require.Equal(t, []uuid.UUID{waiting, noContact, repeated, created}, ids("/intake-submissions?sourceId="+hook.ID.String(), 1))
	require.Equal(t, []uuid.UUID{noContact}, ids("/intake-submissions?sourceId="+hook.ID.String()+"&status=rejected", 50))
	require.ElementsMatch(t, []uuid.UUID{rows[2], rows[3], rows[4]}, ids("/intake-submissions?batchId="+batch.String(), 2))
	require.Equal(t, []uuid.UUID{rows[3]}, ids("/intake-submissions?batchId="+batch.String()+"&status=rejected", 50))
	require.Empty(t, ids("/intake-submissions?sourceId="+uuid.NewString(), 50))
	require.Empty(t, ids("/intake-submissions?batchId="+uuid.NewString(), 50))

	// Another org: nothing of the first org's, by list, filter or id; its own are its own.
	orgB, keyB := a.newOrg("globex")
	asB := asOrg(orgB, keyB)
	theirs := feed.deliver(orgB, nil, `{"phone": "+1 555 0100"}`)
	require.Empty(t, walkList[submission](a, "/intake-submissions?sourceId="+hook.ID.String(), 50, asB))
	require.Empty(t, walkList[submission](a, "/intake-submissions?batchId="+batch.String(), 50, asB))
	bList := walkList[submission](a, "/intake-submissions", 50, asB)
	require.Len(t, bList, 1)
	require.Equal(t, theirs, bList[0].ID)
	for _, id := range []uuid.UUID{created, noContact, rows[3]} {
		r := a.do(http.MethodGet, "/intake-submissions/"+id.String(), nil, asB)
		require.Equal(t, http.StatusNotFound, r.Status, string(r.Body))
		require.Equal(t, "not_found", r.problem(t).Code)
	}
	require.Equal(t, http.StatusNotFound, a.do(http.MethodGet, "/intake-submissions/"+theirs.String(), nil).Status, "and the other way round")
}

// TestIntakeSubmissionsBadInput proves every malformed filter, page parameter and id is a 400
// problem naming the parameter, and an id nobody has is 404.
func TestIntakeSubmissionsBadInput(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for path, field := range map[string]string{
		"/intake-submissions?status=accepted":           "status",
		"/intake-submissions?status=Rejected":           "status",
		"/intake-submissions?status=rejected%20":        "status",
		"/intake-submissions?sourceId=nope":             "sourceId",
		"/intake-submissions?sourceId=%00":              "sourceId",
		"/intake-submissions?batchId=" + "1234":         "batchId",
		"/intake-submissions?limit=0":                   "limit",
		"/intake-submissions?limit=201":                 "limit",
		"/intake-submissions?cursor=nope":               "cursor",
		"/intake-submissions?cursor=eyJ9":               "cursor",
		"/intake-submissions/nope":                      "id",
		"/intake-submissions/" + uuid.NewString() + "x": "id",
	} {
		r := a.do(http.MethodGet, path, nil)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", path, r.Body)
		p := r.problem(t)
		require.NotEmpty(t, p.Errors, path)
		require.Equal(t, field, p.Errors[0].Field, path)
	}
	r := a.do(http.MethodGet, "/intake-submissions/"+uuid.NewString(), nil)
	require.Equal(t, http.StatusNotFound, r.Status, string(r.Body))
	// A cursor of another list is not one of this list's.
	r = a.do(http.MethodGet, "/intake-submissions?cursor="+page.Encode(map[string]any{"at": "x"}), nil)
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
}
