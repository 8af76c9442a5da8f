// Package cli is the command line that the four binaries share: `serve` (the default) runs the
// service until SIGINT/SIGTERM, `migrate up|down|version` migrates the database with the
// embedded migrations, and a binary may add commands of its own (the api's `org create`, the
// worker's `enqueue`). Each main names its service, its serve function and its extra commands;
// configuration, logging and exit codes are handled here once.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"go.uber.org/zap"

	"example.com/crm/pkg/config"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/logging"
)

// Env is what a command receives: the loaded configuration, a logger for the service, and the
// command's own arguments. Stdout is where a command prints its result (one JSON line).
type Env struct {
	Config config.Config
	Log    *zap.Logger
	Args   []string
	Stdout io.Writer
}

// Command is one subcommand of a binary.
type Command struct {
	// Usage is the one-line synopsis printed by help.
	Usage string
	Run   func(ctx context.Context, env Env) error
}

// ErrUsage marks a command line that could not be understood; Main exits with status 2.
var ErrUsage = errors.New("usage")

// Usagef returns an error wrapping ErrUsage.
func Usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// Main runs the binary of service: args[0] picks the command ("serve" when absent), and the
// process exits 0 on success, 2 on a usage error and 1 on any other error.
func Main(service string, serve func(ctx context.Context, env Env) error, extra map[string]Command) {
	code := Run(context.Background(), service, os.Args[1:], os.Stdout, serve, extra)
	os.Exit(code)
}

// Run is Main without the exit, for tests: it returns the exit status.
func Run(ctx context.Context, service string, args []string, stdout io.Writer, serve func(ctx context.Context, env Env) error, extra map[string]Command) int {
	cmds := map[string]Command{
		"serve":   {Usage: "serve                      run until SIGINT/SIGTERM (default)", Run: serve},
		"migrate": {Usage: "migrate up|down|version    migrate the database with the embedded migrations", Run: migrateCmd},
	}
	for name, c := range extra {
		cmds[name] = c
	}
	name, rest := "serve", args
	if len(args) > 0 {
		name, rest = args[0], args[1:]
	}
	if name == "help" || name == "-h" || name == "--help" {
		printUsage(stdout, service, cmds)
		return 0
	}
	cmd, ok := cmds[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "%s: unknown command %q\n", service, name)
		printUsage(os.Stderr, service, cmds)
		return 2
	}
	cfg, err := config.Load(service)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", service, err)
		return 1
	}
	log, err := logging.New(cfg.Log, service)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", service, err)
		return 1
	}
	defer func() { _ = log.Sync() }()
	err = cmd.Run(ctx, Env{Config: cfg, Log: log, Args: rest, Stdout: stdout})
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrUsage):
		fmt.Fprintf(os.Stderr, "%s %s: %v\n", service, name, err)
		return 2
	default:
		log.Error("command failed", zap.String("command", name), zap.Error(err))
		return 1
	}
}

func migrateCmd(_ context.Context, env Env) error {
	if len(env.Args) != 1 {
		return Usagef("migrate up|down|version")
	}
	switch env.Args[0] {
	case "up", "down", "version":
	default:
		return Usagef("migrate up|down|version, not %q", env.Args[0])
	}
	return db.RunMigrateCommand(env.Stdout, env.Config.DatabaseURL, env.Args)
}

func printUsage(w io.Writer, service string, cmds map[string]Command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s <command>\n\ncommands:\n", service)
	for _, n := range names {
		fmt.Fprintf(&b, "  %s\n", cmds[n].Usage)
	}
	b.WriteString("\nconfiguration comes from environment variables (see README.md).\n")
	_, _ = io.WriteString(w, b.String())
}
