package main

import (
	"fmt"
	"strings"
	"time"
)

// pipelineTarget is issue 4's target for the pipeline on 2 cores.
const pipelineTarget = 500

// pipelineMarkdown is the report of the pipeline scenario ("" when it did not run).
func (r *report) pipelineMarkdown() string {
	pr := r.pipeline
	if pr == nil {
		return ""
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	r.machineTable(p)
	rate := float64(pr.leads) / pr.routed.Seconds()
	p("%s distinct signed webhook leads (a quarter each: a CTO at a business domain, a name at a free-mail address, a contact at a domain the org's ICP excludes, a VP at a business domain) posted by %d concurrent senders to `bin/intake-gateway` (production defaults, as a `crm_app` member), while %d `bin/worker` processes (built-in scorer, connected as the database owner, a non-superuser bound by row-level security) run `process_intake`, `enrich_lead`, `qualify_lead` and `route_outreach`. Worker settings (the Go runtime settings are those `make run` and `docker-compose.yml` give workers; everything else at its default): %s. *End to end* runs from the first post to the last `route_outreach` completion (`completed_at`); *per lead* from a delivery's `received_at` to its lead's `route_outreach` completion (database clock).",
		num(float64(pr.leads)), pr.senders, pr.workers, envList(pr.workerEnv))
	p("")
	p("| Leads | Posted in | Routed in | Leads/s end to end | Per lead p50 | p99 | max | Retried posts (429/503) | Target ≥ %d leads/s |", pipelineTarget)
	p("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	p("| %s | %s | %s | **%s** | %s | %s | %s | %d | %s |", num(float64(pr.leads)), pr.posted.Round(10*time.Millisecond),
		pr.routed.Round(10*time.Millisecond), num(rate), latency(pr.latP50), latency(pr.latP99), latency(pr.latMax), pr.retries,
		verdict(rate >= pipelineTarget, fmt.Sprintf("by %s leads/s", num(pipelineTarget-rate))))
	p("")
	if pr.cpuGatewayDB >= 0 && pr.cpuWorkerDB >= 0 {
		per := func(d time.Duration) string { return us(d / time.Duration(pr.leads)) }
		total := pr.cpuGateway + pr.cpuGatewayDB + pr.cpuWorkers + pr.cpuWorkerDB
		p("CPU per lead (load-independent): gateway %s + its backends %s, workers %s + their backends %s = %s, i.e. at most about %s leads/s if these processes had all %d cores to themselves (the load generator, WAL writer and checkpointer not counted).",
			per(pr.cpuGateway), per(pr.cpuGatewayDB), per(pr.cpuWorkers), per(pr.cpuWorkerDB), per(total),
			num(float64(r.machine.NProc)*float64(time.Second)/float64(total/time.Duration(pr.leads))), r.machine.NProc)
		p("")
	}
	if w := pr.work; w != nil {
		per := func(n int64) string { return fmt.Sprintf("%.1f", float64(n)/float64(pr.leads)) }
		p("Database work per lead (`pg_stat_database` of the run's database, counted from the first post until the processes ended; independent of the machine's load, so builds compare by it exactly): %s transactions committed (read-only ones and the harness's polls included), %s rolled back, %s rows inserted, %s updated, %s deleted.",
			per(w.commits), per(w.rollbacks), per(w.inserted), per(w.updated), per(w.deleted))
		p("")
	}
	p("Checked after the run: %s leads, one per delivery, each scored by the built-in scorer with one `lead.enriched` and one `lead.qualified`; paths book_call %s (each priority high with a task), nurture %s (each with its follow-up in `scheduled_tasks`), disqualify %s (stage disqualified); jobs %s, every one completed on its first attempt, none dead-lettered; %s events in all. Warnings or errors logged by the workers: %d.",
		num(float64(pr.leads)), num(float64(pr.paths["book_call"])), num(float64(pr.paths["nurture"])), num(float64(pr.paths["disqualify"])),
		jobList(pr.jobs), num(float64(pr.events)), pr.warnings)
	p("")
	return b.String()
}

// latency is d in ms, or in s from 10 s on.
func latency(d time.Duration) string {
	if d >= 10*time.Second {
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return ms(d)
}

func envList(env []string) string {
	if len(env) == 0 {
		return "none"
	}
	return "`" + strings.Join(env, "` `") + "`"
}

func jobList(jobs map[string]int) string {
	var parts []string
	for _, t := range []string{"process_intake", "enrich_lead", "qualify_lead", "route_outreach"} {
		parts = append(parts, fmt.Sprintf("`%s` %s", t, num(float64(jobs[t]))))
	}
	return strings.Join(parts, ", ")
}
