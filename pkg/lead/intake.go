package lead

// process_intake: a stored intake delivery (lead_intake_raw) becomes a new lead, a touchpoint on
// the lead it repeats, or a rejection with its reason (R14: every business rule runs here, after
// the gateway's commit).

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
	"example.com/crm/pkg/intake"
)

// ViaIntake marks, in lead.created's payload, a lead created from an intake delivery.
const ViaIntake = "intake"

// IntakeActor is the actor of the events that ProcessIntakeTx emits.
const IntakeActor = "job:process_intake"

// IntakeStatus is the state of a lead_intake_raw row.
type IntakeStatus string

// The states of a raw intake row: pending until processed, then one of the other three.
const (
	IntakePending   IntakeStatus = "pending"
	IntakeProcessed IntakeStatus = "processed" // a new lead was created from it
	IntakeDuplicate IntakeStatus = "duplicate" // it repeated a live lead: a touchpoint was added
	IntakeRejected  IntakeStatus = "rejected"  // it broke a business rule: see RejectReason
)

// honeypotField is the intake gateway's form honeypot field (intake-gateway HoneypotField): a
// delivery with it filled in is never stored, and an empty one is not lead data, so it is not
// kept as an extra field.
const honeypotField = "_gotcha"

// maxRejectReason bounds the stored reject reason, in characters.
const maxRejectReason = 1000

// IntakeResult is what ProcessIntakeTx did with a raw row.
type IntakeResult struct {
	Status IntakeStatus
	// LeadID is the lead created (processed) or repeated (duplicate); nil when rejected.
	LeadID *uuid.UUID
	// RejectReason says why a rejected row was rejected.
	RejectReason string
	// AlreadyDone is true when the row had been processed before (a rerun of the job): nothing
	// was written this time, and the other fields are the stored outcome.
	AlreadyDone bool
}

// TouchpointPayload is the payload of the touchpoint activity that a repeated delivery adds to
// the lead it repeats: where it came from and the contact data it carried (normalised, empty
// fields left out).
type TouchpointPayload struct {
	IntakeID  uuid.UUID         `json:"intakeId"`
	SourceID  *uuid.UUID        `json:"sourceId"`
	Submitted map[string]string `json:"submitted"`
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
	FieldMapping intake.FieldMapping
}

// ProcessIntakeTx processes the raw intake row intakeID of orgID inside the caller's tenant
// transaction tx (the process_intake job's CompleteInTx, so that the outcome and the job's
// completion commit together, R7):
//
//   - the body is parsed (a JSON object for webhooks, JSON forms and CSV rows; key=value pairs for
//     application/x-www-form-urlencoded forms), the source's field mapping applied (see
//     mapIntakeFields), the contact normalised with intake.Normalize and checked as a lead
//     created by hand is (one of email, phone or profile link; a plausible email; a phone with
//     digits; length limits; at most MaxExtraKeys extra fields; no NUL characters). A delivery that fails is marked rejected with its reason: that
//     is an outcome, not an error, since retrying cannot change it;
//   - otherwise the lead is inserted with INSERT ... ON CONFLICT on leads_org_id_fingerprint_key
//     (R3): a new lead gets source_id and intake_id, keeps its extra fields, and lead.created
//     ("lead.created:<lead id>", which enqueues enrich_lead and qualify_lead) is emitted; the row
//     is marked processed. When a live lead has the fingerprint, a touchpoint activity (dedup
//     key "intake:<intake id>") is added to it, its last_activity_at moved on,
//     lead.activity_added emitted, and the row marked duplicate with that lead's id.
//
// The raw row is locked first, and a row that is no longer pending is left as it is
// (AlreadyDone): a rerun of the job changes nothing. Concurrent deliveries of one person make
// one lead, since the second insert waits for the first to commit and then conflicts. A missing
// raw row is apperr.NotFound.
func (s *Service) ProcessIntakeTx(ctx context.Context, tx *gorm.DB, orgID, intakeID uuid.UUID) (IntakeResult, error) {
	raw, err := lockRawIntake(tx, orgID, intakeID)
	if err != nil {
		return IntakeResult{}, err
	}
	if raw.Status != string(IntakePending) {
		return IntakeResult{Status: IntakeStatus(raw.Status), LeadID: raw.LeadID, RejectReason: str(raw.RejectReason), AlreadyDone: true}, nil
	}
	l, c, reason := buildIntakeLead(raw, raw.FieldMapping)
	if reason != "" {
		return IntakeResult{Status: IntakeRejected, RejectReason: reason}, markRaw(tx, orgID, raw.ID, IntakeRejected, nil, nil, &reason)
	}
	// A conflicting lead may be deleted between the insert and the look-up; then the insert is
	// tried again (as Create does). Each further round needs another concurrent delete.
	for range 3 {
		stored, inserted, err := insertIntakeLead(tx, orgID, l, raw.SourceID, raw.ID)
		if err != nil {
			return IntakeResult{}, err
		}
		if inserted {
			return IntakeResult{Status: IntakeProcessed, LeadID: &stored.ID}, s.emit(ctx, tx, orgID, IntakeActor, EventCreated,
				stored.ID, "lead.created:"+stored.ID.String(), CreatedPayload{Via: ViaIntake, Lead: stored})
		}
		existing, found, err := liveLeadWithFingerprint(tx, orgID, l.Fingerprint)
		if err != nil {
			return IntakeResult{}, err
		}
		if found {
			if err := s.addTouchpoint(ctx, tx, orgID, existing, raw, c); err != nil {
				return IntakeResult{}, err
			}
			return IntakeResult{Status: IntakeDuplicate, LeadID: &existing},
				markRaw(tx, orgID, raw.ID, IntakeDuplicate, &existing, &l.Fingerprint, nil)
		}
	}
	return IntakeResult{}, fmt.Errorf("process intake %s: the matching lead was deleted concurrently; retry", intakeID)
}

// buildIntakeLead turns a raw delivery into the lead to insert and its normalised contact, or
// returns the reason it is rejected.
func buildIntakeLead(raw rawIntake, mapping intake.FieldMapping) (Lead, intake.Contact, string) {
	fields, err := parseIntakeBody(raw.ContentType, raw.Body)
	if err != nil {
		return Lead{}, intake.Contact{}, err.Error()
	}
	contact, extra, problems := mapIntakeFields(fields, mapping)
	c := intake.Normalize(contact)
	ferrs := checkContact(contact.Domain, c)
	if c.Email != "" && !plausibleEmail(c.Email) {
		ferrs = append(ferrs, apperr.FieldError{Field: "email", Message: "must be an email address"})
	}
	doc, extraErrs := extraDoc(extra)
	ferrs = append(ferrs, extraErrs...)
	if reason := rejectReason(problems, ferrs); reason != "" {
		return Lead{}, c, reason
	}
	l := Lead{Extra: doc, Priority: PriorityNormal, Fingerprint: intake.FingerprintOf(c)}
	l.setContact(c)
	return l, c, ""
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
func mapIntakeFields(fields map[string]json.RawMessage, mapping intake.FieldMapping) (intake.Contact, map[string]json.RawMessage, []string) {
	var c intake.Contact
	targets := map[string]*string{
		"email": &c.Email, "name": &c.Name, "firstName": &c.FirstName, "lastName": &c.LastName,
		"company": &c.Company, "website": &c.Website, "domain": &c.Domain, "title": &c.Title, "phone": &c.Phone,
		"profileLink": &c.ProfileLink, "source": &c.Source, "notes": &c.Notes,
	}
	canonical := make(map[string]string, len(intake.LeadFields))
	for _, f := range intake.LeadFields {
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

// addTouchpoint records a repeated delivery raw as a touchpoint on the live lead leadID, once
// per raw row (dedup key "intake:<raw id>"), moves the lead's last_activity_at on to the
// delivery's time and emits lead.activity_added. A touchpoint recorded before adds nothing.
func (s *Service) addTouchpoint(ctx context.Context, tx *gorm.DB, orgID, leadID uuid.UUID, raw rawIntake, c intake.Contact) error {
	payload, err := json.Marshal(TouchpointPayload{IntakeID: raw.ID, SourceID: raw.SourceID, Submitted: submitted(c)})
	if err != nil {
		return fmt.Errorf("encode touchpoint: %w", err)
	}
	subject := "Submitted again through intake"
	a, inserted, err := insertActivityOnce(tx, orgID, Activity{
		LeadID: leadID, Kind: ActivityTouchpoint, Subject: &subject, Payload: payload,
		OccurredAt: raw.ReceivedAt.UTC(), CreatedBy: ptr(IntakeActor),
	}, "intake:"+raw.ID.String())
	if err != nil || !inserted {
		return err
	}
	if err := touchActivity(tx, orgID, leadID, a.OccurredAt); err != nil {
		return err
	}
	return s.emit(ctx, tx, orgID, IntakeActor, EventActivityAdded, leadID, "lead.activity_added:"+a.ID.String(),
		ActivityAddedPayload{ActivityID: a.ID, Kind: a.Kind, Subject: a.Subject, OccurredAt: a.OccurredAt})
}

// submitted lists a contact's non-empty fields by their API names.
func submitted(c intake.Contact) map[string]string {
	out := map[string]string{}
	for k, v := range map[string]string{
		"email": c.Email, "name": c.Name, "firstName": c.FirstName, "lastName": c.LastName, "company": c.Company,
		"website": c.Website, "domain": c.Domain, "title": c.Title, "phone": c.Phone, "profileLink": c.ProfileLink,
		"source": c.Source, "notes": c.Notes,
	} {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

// lockRawIntake reads and locks the org's raw intake row id (lockRawIntakes of one); a missing
// one is apperr.NotFound.
func lockRawIntake(tx *gorm.DB, orgID, id uuid.UUID) (rawIntake, error) {
	rows, err := lockRawIntakes(tx.Statement.Context, tx, orgID, []uuid.UUID{id})
	if err != nil {
		return rawIntake{}, err
	}
	if len(rows) == 0 {
		return rawIntake{}, apperr.Errorf(apperr.NotFound, "raw intake %s not found", id)
	}
	return rows[0], nil
}

// markRaw records the outcome of the pending raw row id. The caller holds the row's lock
// (lockRawIntake) and has seen it pending, so the row is found by the primary key alone: a
// status condition would let the planner pick the (org_id, status, received_at) index instead,
// which on a table without statistics yet walks every pending row of the org.
func markRaw(tx *gorm.DB, orgID, id uuid.UUID, status IntakeStatus, leadID *uuid.UUID, fingerprint, reason *string) error {
	res := tx.Exec(`UPDATE lead_intake_raw SET status = ?, lead_id = ?, fingerprint = ?, reject_reason = ?, processed_at = now()
WHERE org_id = ? AND id = ?`, string(status), leadID, fingerprint, reason, orgID, id)
	if res.Error != nil {
		return fmt.Errorf("mark raw intake %s: %w", status, res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("mark raw intake %s: row %s not found", status, id)
	}
	return nil
}

// insertIntakeLead inserts the intake lead l with its source sourceID and raw row intakeID unless
// a live lead of the org has its fingerprint, and when it inserts, marks the raw row processed
// with the new lead in the same statement: insertIntakeLeads of one. The caller holds the raw
// row's lock (lockRawIntake) and has seen it pending.
func insertIntakeLead(tx *gorm.DB, orgID uuid.UUID, l Lead, sourceID *uuid.UUID, intakeID uuid.UUID) (Lead, bool, error) {
	stored, err := insertIntakeLeads(tx.Statement.Context, tx, orgID, []intakeLead{{lead: l, sourceID: sourceID, intakeID: intakeID}})
	if err != nil {
		return Lead{}, false, err
	}
	out, ok := stored[intakeID]
	return out, ok, nil
}

// insertActivityOnce inserts a system activity with dedupKey; when the org has an activity with
// that key already, it inserts nothing and returns inserted false (R3: the unique key decides).
func insertActivityOnce(tx *gorm.DB, orgID uuid.UUID, a Activity, dedupKey string) (Activity, bool, error) {
	payload := a.Payload
	if len(payload) == 0 {
		payload = Doc("{}")
	}
	var out Activity
	res := tx.Raw(`INSERT INTO lead_activities (org_id, lead_id, kind, subject, body, payload, dedup_key, occurred_at, created_by)
VALUES (?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?)
ON CONFLICT (org_id, dedup_key) DO NOTHING
RETURNING `+activityColumns,
		orgID, a.LeadID, string(a.Kind), a.Subject, a.Body, payload, dedupKey, a.OccurredAt, a.CreatedBy).Scan(&out)
	if res.Error != nil {
		return Activity{}, false, fmt.Errorf("insert %s activity: %w", a.Kind, res.Error)
	}
	if res.RowsAffected == 0 {
		return Activity{}, false, nil
	}
	out.utc()
	return out, true, nil
}

// plausibleEmail reports whether s is a bare address (local@domain) as net/mail reads it, as the
// API's validation of a lead created by hand requires.
func plausibleEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}
