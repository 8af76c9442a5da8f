// Command api is the HTTP API of the UI team. It also carries the operator commands that manage
// tenants and their keys.
//
// Usage:
//
//	api [serve]                                  run until SIGINT/SIGTERM (HTTP_ADDR, default :3000)
//	api migrate up|down|version                  migrate the database
//	api org create --name NAME                   create an org; prints {"orgId","apiKey"}
//	api apikey create --org ID [--name N]        add a key; prints {"apiKey","keyId"}
//	api apikey revoke --org ID --key KEYID       revoke a key
package main

import (
	"example.com/crm/pkg/cli"
	"example.com/crm/pkg/config"
)

func main() {
	cli.Main(config.API, serve, map[string]cli.Command{
		"org":    {Usage: "org create --name NAME      create an org with its defaults; prints {\"orgId\",\"apiKey\"}", Run: orgCmd},
		"apikey": {Usage: "apikey create|revoke ...    create (--org ID [--name N]) or revoke (--org ID --key KEYID) a key", Run: apikeyCmd},
	})
}
