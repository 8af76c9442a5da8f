package client

import (
	"fmt"
	"time"

	"example.com/crm/pkg/events"
	"example.com/crm/pkg/invoice"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/org"
)

// The event types of clients.
const (
	EventCreated       = "client.created"
	EventOnboarded     = "client.onboarded"
	EventStatusChanged = "client.status_changed"
	// EventRenewalDue is emitted once per renewal by renewal_reminder (RenewalDuePayload).
	EventRenewalDue = "client.renewal_due"
	// EventOnboardingStarted is emitted once per client by start_onboarding, when it gives the
	// client its tasks (OnboardingStartedPayload).
	EventOnboardingStarted = "client.onboarding_started"
	// EventTaskStatusChanged is about an onboarding task (TaskEntityType) whose status a person
	// changed (TaskStatusChangedPayload).
	EventTaskStatusChanged = "onboarding_task.status_changed"
)

// The job kinds of clients.
const (
	KindCreateClient    = "create_client"
	KindStartOnboarding = "start_onboarding"
	// KindRenewalReminder is the job kind of the renewal_reminder cron task.
	KindRenewalReminder = "renewal_reminder"
)

// CreateClientArgs are the arguments of create_client: the invoice.paid event that caused it.
type CreateClientArgs struct{ events.JobPayload }

// Kind is create_client.
func (CreateClientArgs) Kind() string { return KindCreateClient }

// Check refuses an event that is not about an invoice.
func (a CreateClientArgs) Check() error {
	if a.EntityID == nil || a.EntityType != invoice.EntityType {
		return fmt.Errorf("event %d is not about an invoice", a.EventID)
	}
	return nil
}

// StartOnboardingArgs are the arguments of start_onboarding: the client.created event that
// caused it.
type StartOnboardingArgs struct{ events.JobPayload }

// Kind is start_onboarding.
func (StartOnboardingArgs) Kind() string { return KindStartOnboarding }

// Check refuses an event that is not about a client.
func (a StartOnboardingArgs) Check() error {
	if a.EntityID == nil || a.EntityType != EntityType {
		return fmt.Errorf("event %d is not about a client", a.EventID)
	}
	return nil
}

// RenewalReminderArgs are the arguments of renewal_reminder: the cron slot it was fired for (the
// scheduler adds it to the payload). A run counts the window from the day it runs; the slot only
// names the run in the logs.
type RenewalReminderArgs struct {
	Slot time.Time `json:"slot"`
}

// Kind is renewal_reminder.
func (RenewalReminderArgs) Kind() string { return KindRenewalReminder }

// EventJobs are the jobs events enqueue here: a paid invoice makes a client, a new client starts
// onboarding.
func EventJobs() []events.Mapping {
	return []events.Mapping{
		events.Map(invoice.EventPaid, CreateClientArgs{}),
		events.Map(EventCreated, StartOnboardingArgs{}),
	}
}

// JobKinds are the client job kinds.
func JobKinds() []jobs.Args {
	return []jobs.Args{CreateClientArgs{}, StartOnboardingArgs{}, RenewalReminderArgs{}}
}

// CronTasks are the recurring tasks every org starts with for the client kinds: the renewal
// reminder every morning.
func CronTasks() []org.CronTask {
	return []org.CronTask{{Name: "renewal reminder", JobType: KindRenewalReminder, Cron: "0 8 * * *"}}
}
