package report

import (
	"errors"
	"time"

	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/org"
)

// EventGenerated is the event of a stored report; no job is mapped to it.
const EventGenerated = "report.generated"

// KindGenerateWeeklyReport is the job kind of the weekly report's cron task.
const KindGenerateWeeklyReport = "generate_weekly_report"

// GenerateWeeklyReportArgs are the arguments of generate_weekly_report: the cron slot that fired
// it (the scheduler adds it to the task's payload). The report covers the ISO week before the
// slot's (WeekBefore).
type GenerateWeeklyReportArgs struct {
	Slot time.Time `json:"slot"`
}

// Kind is generate_weekly_report.
func (GenerateWeeklyReportArgs) Kind() string { return KindGenerateWeeklyReport }

// Check refuses a payload without a slot: there is no week to report on.
func (a GenerateWeeklyReportArgs) Check() error {
	if a.Slot.IsZero() {
		return errors.New("the payload has no slot")
	}
	return nil
}

// GeneratedPayload is the payload of report.generated.
type GeneratedPayload struct {
	Kind        string    `json:"kind"`
	PeriodStart time.Time `json:"periodStart"`
	PeriodEnd   time.Time `json:"periodEnd"`
	Model       string    `json:"model"`
	// Fallback says why the built-in writer wrote the narrative although a model is configured
	// (the model's answer was malformed or refused); empty otherwise.
	Fallback string `json:"fallback,omitempty"`
}

// JobKinds are the report job kinds.
func JobKinds() []jobs.Args { return []jobs.Args{GenerateWeeklyReportArgs{}} }

// CronTasks are the recurring tasks every org starts with for the reports: the weekly report on
// Monday morning, about the week just ended.
func CronTasks() []org.CronTask {
	return []org.CronTask{{Name: "weekly report", JobType: KindGenerateWeeklyReport, Cron: "0 7 * * 1"}}
}
