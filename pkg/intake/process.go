package intake

// process_intake: a stored delivery (lead_intake_raw) becomes a new lead, a touchpoint on the
// lead it repeats, or a rejection with its reason. Every business rule runs here, after the
// gateway's commit; the lead side (dedup by fingerprint, the touchpoint) is lead.Service.Admit.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/lead"
)

// ProcessActor is the actor of the events that processing emits.
const ProcessActor = "job:process_intake"

// honeypotField is the intake gateway's form honeypot field (intake-gateway HoneypotField): a
// delivery with it filled in is never stored, and an empty one is not lead data, so it is not
// kept as an extra field.
const honeypotField = "_gotcha"

// maxRejectReason bounds the stored reject reason, in characters.
const maxRejectReason = 1000

// Result is what Processor.Process did with a raw row.
type Result struct {
	// Status is the row's status afterwards: SubmissionProcessed (a new lead was created from
	// it), SubmissionDuplicate (it repeated a live lead, which got a touchpoint) or
	// SubmissionRejected (it broke a business rule: see RejectReason).
	Status string
	// LeadID is the lead created (processed) or repeated (duplicate); nil when rejected.
	LeadID *uuid.UUID
	// RejectReason says why a rejected row was rejected.
	RejectReason string
	// AlreadyDone is true when the row had been processed before (a rerun of the job): nothing
	// was written this time, and the other fields are the stored outcome.
	AlreadyDone bool
}

// Processor turns stored deliveries into leads (process_intake), through the lead use cases.
type Processor struct {
	leads *lead.Service
}

// NewProcessor returns the processor that admits leads through leads.
func NewProcessor(leads *lead.Service) *Processor {
	if leads == nil {
		panic("intake.NewProcessor: nil lead service")
	}
	return &Processor{leads: leads}
}

// rawIntake is the part of a lead_intake_raw row that processing reads.
type rawIntake struct {
	ID           uuid.UUID
	SourceID     *uuid.UUID
	ContentType  string
	Body         []byte
	Status       string
	LeadID       *uuid.UUID
	RejectReason *string
	ReceivedAt   time.Time
	// FieldMapping is the mapping of the source (also of one deleted since the delivery was
	// accepted); none for a delivery without a source or a source that is gone.
	FieldMapping db.JSON[FieldMapping]
}

// Process processes the raw intake rows ids of orgID inside the caller's tenant transaction tx
// (the process_intake jobs' transaction, so that the outcome and the jobs' completion commit
// together), and returns the result of each id in order:
//
//   - the body is parsed (a JSON object for webhooks, JSON forms and CSV rows; key=value pairs for
//     application/x-www-form-urlencoded forms), the source's field mapping applied (see
//     mapIntakeFields), the contact normalised with lead.Normalize and checked as a lead created
//     by hand is (lead.CheckContact: one of email, phone or profile link; a phone with digits;
//     length limits), plus a plausible email, at most lead.MaxExtraKeys extra fields and no NUL
//     characters. A delivery that fails is marked rejected with its reason: that is an outcome,
//     not an error, since retrying cannot change it;
//   - the others go to lead.Service.Admit: a new lead (with source_id and intake_id, its extra
//     fields kept, lead.created emitted) marks the row processed; a repeat of a live lead (a
//     touchpoint on it) marks the row duplicate with that lead's id.
//
// The common case, pending deliveries that make new leads, takes four statements for the whole
// batch: one locks and reads the rows, one inserts their leads, one emits every lead.created,
// one marks the rows. The rows are locked first, and a row that is no longer pending is left as
// it is (AlreadyDone): a rerun of the job changes nothing. A missing raw row is
// apperr.NotFound; an id named twice is refused.
func (p *Processor) Process(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, ids []uuid.UUID) ([]Result, error) {
	seen := make(map[uuid.UUID]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return nil, fmt.Errorf("process intake: raw row %s is named twice", id)
		}
		seen[id] = true
	}
	raws, err := lockRawIntakes(ctx, tx, orgID, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[uuid.UUID]rawIntake, len(raws))
	for _, r := range raws {
		byID[r.ID] = r
	}
	out := make([]Result, len(ids))
	var subs []lead.Submission
	var admitted []int // the index in ids of each submission
	var marks []mark
	for i, id := range ids {
		raw, ok := byID[id]
		switch {
		case !ok:
			return nil, apperr.Errorf(apperr.NotFound, "raw intake %s not found", id)
		case raw.Status != SubmissionPending:
			reason := ""
			if raw.RejectReason != nil {
				reason = *raw.RejectReason
			}
			out[i] = Result{Status: raw.Status, LeadID: raw.LeadID, RejectReason: reason, AlreadyDone: true}
			continue
		}
		sub, reason := submission(raw)
		if reason != "" {
			out[i] = Result{Status: SubmissionRejected, RejectReason: reason}
			marks = append(marks, mark{id: id, status: SubmissionRejected, reason: &out[i].RejectReason})
			continue
		}
		subs, admitted = append(subs, sub), append(admitted, i)
	}
	res, err := p.leads.Admit(ctx, tx, orgID, ProcessActor, subs)
	if err != nil {
		return nil, err
	}
	for j, a := range res {
		i := admitted[j]
		status := SubmissionDuplicate
		if a.Created {
			status = SubmissionProcessed
		}
		out[i] = Result{Status: status, LeadID: &a.LeadID}
		marks = append(marks, mark{id: ids[i], status: status, leadID: &res[j].LeadID, fingerprint: &res[j].Fingerprint})
	}
	if err := markRaws(ctx, tx, orgID, marks); err != nil {
		return nil, err
	}
	return out, nil
}

// submission turns a raw delivery into the submission of its lead, or returns the reason it is
// rejected.
func submission(raw rawIntake) (lead.Submission, string) {
	fields, err := parseIntakeBody(raw.ContentType, raw.Body)
	if err != nil {
		return lead.Submission{}, err.Error()
	}
	contact, extra, problems := mapIntakeFields(fields, raw.FieldMapping.V)
	c := lead.Normalize(contact)
	ferrs := lead.CheckContact(contact.Domain, c)
	if c.Email != "" && !plausibleEmail(c.Email) {
		ferrs = append(ferrs, apperr.FieldError{Field: "email", Message: "must be an email address"})
	}
	doc, extraErrs := lead.EncodeExtra(extra)
	ferrs = append(ferrs, extraErrs...)
	if reason := rejectReason(problems, ferrs); reason != "" {
		return lead.Submission{}, reason
	}
	return lead.Submission{Contact: c, Extra: doc, SourceID: raw.SourceID, IntakeID: raw.ID, ReceivedAt: raw.ReceivedAt}, ""
}

// parseIntakeBody reads a delivery's body as a flat object of field -> JSON value. A body of
// content type application/x-www-form-urlencoded is key=value pairs (the first value of a
// repeated key counts); every other body (webhook and JSON form bodies, CSV rows, which the
// gateway stores as a JSON object of column -> value) must be one JSON object. Its error text
// is the reject reason.
func parseIntakeBody(contentType string, body []byte) (map[string]json.RawMessage, error) {
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("body is not valid UTF-8")
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/x-www-form-urlencoded" {
		q, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("body is not a valid form encoding")
		}
		out := make(map[string]json.RawMessage, len(q))
		for k, vs := range q {
			if len(vs) > 0 {
				b, _ := json.Marshal(vs[0])
				out[k] = b
			}
		}
		return out, nil
	}
	var out map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&out); err != nil || out == nil || dec.More() {
		return nil, fmt.Errorf("body is not a JSON object")
	}
	return out, nil
}

// canonicalField is a field name reduced for matching: lower case without '_', '-', '.' and
// spaces, so that "First Name", "first_name" and "firstName" all name firstName.
func canonicalField(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', '.', ' ':
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(s)))
}

// mapIntakeFields splits a delivery's fields into the contact and the extra fields. A field the
// source's mapping names (exactly, else ignoring case) goes to the mapped lead field; any other
// field whose canonical name is a lead field's (see canonicalField) goes there; the rest are
// extra fields, kept as submitted (except the gateway's empty form honeypot field). Mapped fields are applied first, then the others, each group
// in key order, and a lead field already filled keeps its value (the later field is kept as an
// extra field). A lead field needs a string or a number (null counts as absent); anything else
// is a problem, as is a NUL character, which PostgreSQL cannot store.
func mapIntakeFields(fields map[string]json.RawMessage, mapping FieldMapping) (lead.Contact, map[string]json.RawMessage, []string) {
	var c lead.Contact
	targets := map[string]*string{
		"email": &c.Email, "name": &c.Name, "firstName": &c.FirstName, "lastName": &c.LastName,
		"company": &c.Company, "website": &c.Website, "domain": &c.Domain, "title": &c.Title, "phone": &c.Phone,
		"profileLink": &c.ProfileLink, "source": &c.Source, "notes": &c.Notes,
	}
	canonical := make(map[string]string, len(LeadFields))
	for _, f := range LeadFields {
		canonical[canonicalField(f)] = f
	}
	mapped := func(k string) string {
		if t, ok := mapping[k]; ok {
			return t
		}
		for mk, t := range mapping {
			if strings.EqualFold(mk, k) {
				return t
			}
		}
		return ""
	}
	extra := map[string]json.RawMessage{}
	var problems []string
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range fields {
			if !yield(k) {
				return
			}
		}
	})
	assign := func(k, target string) {
		dst, ok := targets[target]
		if !ok || *dst != "" {
			extra[k] = fields[k]
			return
		}
		v, ok := scalarString(fields[k])
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: must be a string", k))
		case strings.ContainsRune(v, 0):
			problems = append(problems, fmt.Sprintf("%s: must not contain NUL characters", k))
		default:
			*dst = v
		}
	}
	for _, k := range keys {
		if t := mapped(k); t != "" {
			assign(k, t)
		}
	}
	for _, k := range keys {
		if mapped(k) != "" || k == honeypotField {
			continue
		}
		if t, ok := canonical[canonicalField(k)]; ok {
			assign(k, t)
			continue
		}
		if bytes.Contains(fields[k], []byte(`\u0000`)) || strings.ContainsRune(k, 0) {
			problems = append(problems, fmt.Sprintf("%s: must not contain NUL characters", k))
			continue
		}
		extra[k] = fields[k]
	}
	return c, extra, problems
}

// scalarString returns a JSON string's value, a number's text, or "" for null; ok is false for
// booleans, arrays and objects.
func scalarString(v json.RawMessage) (string, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || bytes.Equal(v, []byte("null")) {
		return "", true
	}
	switch v[0] {
	case '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", false
		}
		return s, true
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return string(v), true
	}
	return "", false
}

// rejectReason is the reject reason of a delivery's problems and field errors ("" when there
// are none): field errors with one message are grouped ("email, phone, profileLink: one of
// ..."), parts are joined by "; ", and the whole is cut to maxRejectReason characters.
func rejectReason(problems []string, ferrs []apperr.FieldError) string {
	parts := slices.Clone(problems)
	var msgs []string
	byMsg := map[string][]string{}
	for _, fe := range ferrs {
		if _, ok := byMsg[fe.Message]; !ok {
			msgs = append(msgs, fe.Message)
		}
		byMsg[fe.Message] = append(byMsg[fe.Message], fe.Field)
	}
	for _, m := range msgs {
		parts = append(parts, strings.Join(byMsg[m], ", ")+": "+m)
	}
	out := strings.Join(parts, "; ")
	if utf8.RuneCountInString(out) > maxRejectReason {
		out = string([]rune(out)[:maxRejectReason-1]) + "…"
	}
	return out
}

// plausibleEmail reports whether s is a bare address (local@domain) as net/mail reads it, as the
// API's validation of a lead created by hand requires.
func plausibleEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

// lockRawIntakes reads and locks the org's raw intake rows ids that exist, in the order of the
// primary key, each once.
func lockRawIntakes(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, ids []uuid.UUID) ([]rawIntake, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = id.String()
	}
	slices.Sort(keys)
	var out []rawIntake
	err := db.Each(ctx, tx, func(row db.Row) error {
		var r rawIntake
		var sourceID, leadID uuid.NullUUID
		if err := row.Scan(&r.ID, &sourceID, &r.ContentType, &r.Body, &r.Status, &leadID, &r.RejectReason,
			&r.ReceivedAt, &r.FieldMapping); err != nil {
			return err
		}
		if sourceID.Valid {
			r.SourceID = &sourceID.UUID
		}
		if leadID.Valid {
			r.LeadID = &leadID.UUID
		}
		out = append(out, r)
		return nil
	}, lockRawIntakesSQL, orgID.String(), slices.Compact(keys))
	if err != nil {
		return nil, fmt.Errorf("lock raw intake: %w", err)
	}
	return out, nil
}

// mark is the outcome to record on a pending raw row.
type mark struct {
	id          uuid.UUID
	status      string
	leadID      *uuid.UUID
	fingerprint *string
	reason      *string
}

// markRaws records ms in one statement.
func markRaws(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, ms []mark) error {
	if len(ms) == 0 {
		return nil
	}
	n, err := db.Exec(ctx, tx, markRawsSQL, markRawsArgs(orgID, ms)...)
	if err != nil {
		return fmt.Errorf("mark %d raw intake rows: %w", len(ms), err)
	}
	if n != int64(len(ms)) {
		return fmt.Errorf("mark %d raw intake rows: %d found", len(ms), n)
	}
	return nil
}

// markRawsArgs returns the parameters of markRawsSQL for ms of orgID.
func markRawsArgs(orgID uuid.UUID, ms []mark) []any {
	n := len(ms)
	ids, statuses := make([]string, n), make([]string, n)
	leads, fingerprints, reasons := make([]*string, n), make([]*string, n), make([]*string, n)
	for i, m := range ms {
		ids[i], statuses[i], fingerprints[i], reasons[i] = m.id.String(), m.status, m.fingerprint, m.reason
		if m.leadID != nil {
			id := m.leadID.String()
			leads[i] = &id
		}
	}
	return []any{orgID.String(), ids, statuses, leads, fingerprints, reasons}
}
