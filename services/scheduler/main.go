// Command scheduler turns cron_tasks and scheduled_tasks into jobs every
// SCHEDULER_POLL_INTERVAL_MS. Any number of replicas may run: each slot becomes one job
// (see pkg/schedule). It serves /healthz, /readyz and /metrics on HTTP_ADDR (default :3003).
//
// Usage:
//
//	scheduler [serve]                   run until SIGINT/SIGTERM
//	scheduler migrate up|down|version   migrate the database
package main

import (
	"example.com/crm/pkg/cli"
	"example.com/crm/pkg/config"
)

func main() {
	cli.Main(config.Scheduler, serve, nil)
}
