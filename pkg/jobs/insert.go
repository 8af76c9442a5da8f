package jobs

import (
	"fmt"
	"reflect"
	"strings"
)

// Insert describes, as SQL, a set of jobs that one INSERT ... SELECT writes inside a larger
// statement of the caller's (an event and its jobs, an intake row and its job), so that such
// writers keep their one statement and round trip while the jobs table keeps one writer: the SQL
// that Insert.SQL builds. Every field but From is a SQL expression over the relations of From.
type Insert struct {
	OrgID, JobType string
	// Payload is the job's jsonb payload; PayloadSQL builds it from the payload's Go type.
	Payload string
	// Key is the idempotency key (EventKeySQL, IntakeKeySQL).
	Key string
	// MaxAttempts is the job's attempts, usually a parameter given Config.Attempts.
	MaxAttempts string
	// EventID links the job to the event that caused it; empty stores NULL.
	EventID string
	// RunAt is when the job first becomes runnable; empty is now().
	RunAt string
	// From is the FROM clause with anything that follows it (WHERE, ORDER BY), without "FROM".
	From string
}

// SQL is the INSERT statement (usable as a WITH item) that writes the jobs described by in; a job whose (org, type, key) exists already is skipped. The jobs insert trigger
// wakes the workers for it, at once or, in a transaction that deferred that, after the commit
// (InsertedSQL).
func (in Insert) SQL() string {
	event, runAt := in.EventID, in.RunAt
	if event == "" {
		event = "NULL::bigint"
	}
	if runAt == "" {
		runAt = "now()"
	}
	return `
    INSERT INTO jobs (org_id, job_type, payload, idempotency_key, max_attempts, run_at, event_id)
    SELECT ` + in.OrgID + `, ` + in.JobType + `, ` + in.Payload + `, ` + in.Key + `, ` + in.MaxAttempts + `, ` + runAt + `, ` + event + `
    FROM ` + in.From + `
    ON CONFLICT (org_id, job_type, idempotency_key) DO NOTHING`
}

// The scopes of idempotency keys "<scope>:<id>" of jobs that a row of another table causes.
const (
	eventKeyScope  = "event"
	intakeKeyScope = "intake"
)

// EventKey is the idempotency key of a job that the event id caused: "event:<id>".
func EventKey(id int64) string { return fmt.Sprintf("%s:%d", eventKeyScope, id) }

// EventKeySQL is EventKey of the SQL expression idExpr.
func EventKeySQL(idExpr string) string { return "'" + eventKeyScope + ":' || " + idExpr }

// IntakeKeySQL is the idempotency key of the job that processes the intake row idExpr:
// "intake:<id>".
func IntakeKeySQL(idExpr string) string { return "'" + intakeKeyScope + ":' || " + idExpr }

// PayloadSQL builds, from the Go type of a job's payload, the jsonb expression that a statement
// writes for it from the row alias: so a payload that SQL writes has one definition, its struct.
// Each field names its JSON key by its json tag and the column of alias it comes from by a col
// tag; a pointer field tagged omitempty is left out when its column is NULL, as encoding/json
// leaves out a nil pointer. jsonb_build_object renders a bigint as a number and a uuid as its
// canonical lower-case text, as encoding/json does for int64 and uuid.UUID. It panics on a field
// without both tags: payloads are declared once, at start-up.
func PayloadSQL(payload any, alias string) string {
	t := reflect.TypeOf(payload)
	if t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("jobs.PayloadSQL: %s is not a struct", t))
	}
	var always, optional []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		col := f.Tag.Get("col")
		if name == "" || name == "-" || col == "" {
			panic(fmt.Sprintf("jobs.PayloadSQL: %s.%s needs a json and a col tag", t.Name(), f.Name))
		}
		pair := "'" + name + "', " + alias + "." + col
		if f.Type.Kind() == reflect.Pointer && strings.Contains(opts, "omitempty") {
			optional = append(optional, " || CASE WHEN "+alias+"."+col+" IS NULL THEN '{}'::jsonb ELSE jsonb_build_object("+pair+") END")
			continue
		}
		always = append(always, pair)
	}
	return "jsonb_build_object(" + strings.Join(always, ", ") + ")" + strings.Join(optional, "")
}
