// Command intake-gateway is the public front door for lead sources: webhooks, forms and CSV
// files. It only ever writes lead_intake_raw and a process_intake job, in one transaction.
//
// Usage:
//
//	intake-gateway [serve]                  run until SIGINT/SIGTERM (HTTP_ADDR, default :3001)
//	intake-gateway migrate up|down|version  migrate the database
package main

import (
	"example.com/crm/pkg/cli"
	"example.com/crm/pkg/config"
)

func main() {
	cli.Main(config.IntakeGateway, serve, nil)
}
