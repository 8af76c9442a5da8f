package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"

	"github.com/google/uuid"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/cli"
	"example.com/crm/pkg/org"
)

// orgCmd is `api org create --name NAME`.
func orgCmd(ctx context.Context, env cli.Env) error {
	if len(env.Args) == 0 || env.Args[0] != "create" {
		return cli.Usagef("org create --name NAME")
	}
	fs := flag.NewFlagSet("org create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("name", "", "org name")
	if err := fs.Parse(env.Args[1:]); err != nil || *name == "" || fs.NArg() > 0 {
		return cli.Usagef("org create --name NAME")
	}
	d, err := cli.OpenDB(ctx, env, "crm-api-cli")
	if err != nil {
		return err
	}
	defer d.Close()
	created, err := org.Create(ctx, d, *name, catalog.New().CronTasks...)
	if err != nil {
		return err
	}
	return json.NewEncoder(env.Stdout).Encode(created)
}

// apikeyCmd is `api apikey create --org ID [--name N]` and `api apikey revoke --org ID --key KEYID`.
func apikeyCmd(ctx context.Context, env cli.Env) error {
	const usage = "apikey create --org ID [--name N] | apikey revoke --org ID --key KEYID"
	if len(env.Args) == 0 || (env.Args[0] != "create" && env.Args[0] != "revoke") {
		return cli.Usagef(usage)
	}
	fs := flag.NewFlagSet("apikey", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	orgFlag := fs.String("org", "", "org id")
	name := fs.String("name", "", "key name")
	keyFlag := fs.String("key", "", "key id")
	if err := fs.Parse(env.Args[1:]); err != nil || fs.NArg() > 0 {
		return cli.Usagef(usage)
	}
	orgID, err := uuid.Parse(*orgFlag)
	if err != nil {
		return cli.Usagef("--org must be an org id (uuid)")
	}
	d, err := cli.OpenDB(ctx, env, "crm-api-cli")
	if err != nil {
		return err
	}
	defer d.Close()
	if env.Args[0] == "create" {
		k, err := org.CreateKey(ctx, d, orgID, *name)
		if err != nil {
			return err
		}
		return json.NewEncoder(env.Stdout).Encode(k)
	}
	keyID, err := uuid.Parse(*keyFlag)
	if err != nil {
		return cli.Usagef("--key must be a key id (uuid)")
	}
	if err := org.RevokeKey(ctx, d, orgID, keyID); err != nil {
		return err
	}
	return json.NewEncoder(env.Stdout).Encode(map[string]any{"keyId": keyID, "revoked": true})
}
