// Package catalog gathers the vocabulary of work that the domains declare: every job kind, every
// event -> job mapping and every recurring task an org is seeded with. The binaries build it
// once: the worker works its kinds, every emitter enqueues by its mappings, and new orgs get its
// cron tasks. Check, run by the binaries at start-up and by a test, refuses a catalog in which a
// mapping or a cron task names a kind that nothing works.
package catalog

import (
	"errors"
	"fmt"
	"slices"

	"example.com/crm/pkg/call"
	"example.com/crm/pkg/client"
	"example.com/crm/pkg/contract"
	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/invoice"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/org"
	"example.com/crm/pkg/pipeline"
)

// EventNoop is the event of smoke checks and benchmarks of the event path: it enqueues a noop job.
const EventNoop = "system.noop"

// Catalog is the system's job kinds, event mappings and seeded cron tasks.
type Catalog struct {
	// Kinds are the job kinds the worker works.
	Kinds []jobs.Args
	// EventJobs are the jobs each event type enqueues.
	EventJobs []events.Mapping
	// CronTasks are the recurring tasks every new org starts with.
	CronTasks []org.CronTask
}

// New is the catalog of the domains.
func New() Catalog {
	var c Catalog
	c.Kinds = append(c.Kinds, jobs.NoopArgs{})
	c.Kinds = append(c.Kinds, intake.JobKinds()...)
	c.Kinds = append(c.Kinds, pipeline.JobKinds()...)
	c.Kinds = append(c.Kinds, call.JobKinds()...)
	c.Kinds = append(c.Kinds, deal.JobKinds()...)
	c.Kinds = append(c.Kinds, invoice.JobKinds()...)
	c.Kinds = append(c.Kinds, contract.JobKinds()...)
	c.Kinds = append(c.Kinds, client.JobKinds()...)
	c.Kinds = append(c.Kinds, lead.JobKinds()...)
	c.EventJobs = append(c.EventJobs, events.Map(EventNoop, jobs.NoopArgs{}))
	c.EventJobs = append(c.EventJobs, pipeline.EventJobs()...)
	c.EventJobs = append(c.EventJobs, call.EventJobs()...)
	c.EventJobs = append(c.EventJobs, deal.EventJobs()...)
	c.EventJobs = append(c.EventJobs, invoice.EventJobs()...)
	c.EventJobs = append(c.EventJobs, contract.EventJobs()...)
	c.EventJobs = append(c.EventJobs, client.EventJobs()...)
	return c
}

// KindNames are the names of the catalog's kinds, in its order.
func (c Catalog) KindNames() []string {
	names := make([]string, len(c.Kinds))
	for i, k := range c.Kinds {
		names[i] = k.Kind()
	}
	return names
}

// Check reports every event mapping and cron task of c that names a job kind c does not have,
// and every kind c names twice.
func (c Catalog) Check() error {
	known := c.KindNames()
	var errs []error
	for i, name := range known {
		if slices.Contains(known[:i], name) {
			errs = append(errs, fmt.Errorf("job kind %q is declared twice", name))
		}
	}
	for _, m := range c.EventJobs {
		for _, a := range m.Jobs {
			if !slices.Contains(known, a.Kind()) {
				errs = append(errs, fmt.Errorf("event %s maps to job kind %q, which has no handler", m.Event, a.Kind()))
			}
		}
	}
	for _, t := range c.CronTasks {
		if !slices.Contains(known, t.JobType) {
			errs = append(errs, fmt.Errorf("cron task %q names job kind %q, which has no handler", t.Name, t.JobType))
		}
	}
	return errors.Join(errs...)
}

// CheckWorked reports every kind of c that worked (the names of the kinds a worker registered)
// lacks, and every worked kind c does not declare.
func (c Catalog) CheckWorked(worked []string) error {
	known := c.KindNames()
	var errs []error
	for _, name := range known {
		if !slices.Contains(worked, name) {
			errs = append(errs, fmt.Errorf("job kind %q has no handler", name))
		}
	}
	for _, name := range worked {
		if !slices.Contains(known, name) {
			errs = append(errs, fmt.Errorf("handler of job kind %q is not in the catalog", name))
		}
	}
	return errors.Join(errs...)
}
