package deploy_test

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/require"
)

// composeFile is the repository's compose file, relative to this package.
const composeFile = "../docker-compose.yml"

// httpShutdownGrace is how long the api and the intake-gateway give requests in flight after
// their drain (cli.HTTPComponent's grace in services/api/app.go and
// services/intake-gateway/app.go).
const httpShutdownGrace = 10 * time.Second

// longRunning are the services that run until stopped, each with its image's SERVICE.
var longRunning = map[string]string{
	"api":            "api",
	"intake-gateway": "intake-gateway",
	"worker":         "worker",
	"scheduler":      "scheduler",
}

// loadCompose loads path as `docker compose config` does (the compose-spec loader: schema
// validation, interpolation, env_file resolution, merging of the x-service anchor), with an
// empty environment, so that nothing of the machine's shell leaks into the result.
func loadCompose(t *testing.T, path string) (*types.Project, error) {
	t.Helper()
	abs, err := filepath.Abs(path)
	require.NoError(t, err)
	opts, err := cli.NewProjectOptions([]string{abs},
		cli.WithName("crm"),
		cli.WithWorkingDirectory(filepath.Dir(abs)),
		cli.WithEnv(nil),
	)
	require.NoError(t, err)
	return opts.LoadProject(t.Context())
}

// envDuration reads a millisecond setting from a service's resolved environment.
func envDuration(t *testing.T, svc types.ServiceConfig, key string) time.Duration {
	t.Helper()
	v, ok := svc.Environment[key]
	require.True(t, ok && v != nil, "%s: %s is not set (deploy/example.env)", svc.Name, key)
	ms, err := strconv.Atoi(*v)
	require.NoError(t, err, "%s: %s", svc.Name, key)
	return time.Duration(ms) * time.Millisecond
}

// TestComposeFile loads docker-compose.yml with the compose-spec loader (the stand-in for
// `docker compose config`, which needs Docker) and checks the properties the deployment
// relies on.
func TestComposeFile(t *testing.T) {
	t.Parallel()
	p, err := loadCompose(t, composeFile)
	require.NoError(t, err)

	names := p.ServiceNames()
	slices.Sort(names)
	require.Equal(t, []string{"api", "intake-gateway", "migrate", "postgres", "scheduler", "worker"}, names)

	pg := p.Services["postgres"]
	require.True(t, strings.HasPrefix(pg.Image, "postgres:16"), "postgres image %q", pg.Image)
	require.NotNil(t, pg.HealthCheck, "postgres has a healthcheck")
	require.Contains(t, strings.Join(pg.HealthCheck.Test, " "), "pg_isready")

	// The one-shot migration: the api image's `migrate up`, once PostgreSQL is healthy, never
	// restarted.
	mig := p.Services["migrate"]
	require.Equal(t, types.ShellCommand{"migrate", "up"}, mig.Command)
	require.Equal(t, types.ServiceConditionHealthy, mig.DependsOn["postgres"].Condition)
	require.Contains(t, []string{"", "no"}, mig.Restart)
	require.NotNil(t, mig.Build)
	require.Equal(t, "api", *mig.Build.Args["SERVICE"])
	require.Equal(t, "deploy/Dockerfile", mig.Build.Dockerfile)
	require.NotNil(t, mig.Environment["DATABASE_URL"], "migrate: the owner's DATABASE_URL from the env file")

	worker := p.Services["worker"]
	grace := envDuration(t, worker, "WORKER_SHUTDOWN_GRACE_MS")
	require.Positive(t, grace)

	for name, image := range longRunning {
		svc := p.Services[name]
		require.NotNil(t, svc.Build, name)
		require.Equal(t, "deploy/Dockerfile", svc.Build.Dockerfile, name)
		require.Equal(t, image, *svc.Build.Args["SERVICE"], "%s: the image's SERVICE", name)
		require.Equal(t, types.ServiceConditionCompletedSuccessfully, svc.DependsOn["migrate"].Condition,
			"%s starts after the migration", name)
		require.NotNil(t, svc.Environment["DATABASE_URL"], name)

		// A healthcheck on /readyz through the image's probe (deploy/probe).
		require.NotNil(t, svc.HealthCheck, "%s has a healthcheck", name)
		require.False(t, svc.HealthCheck.Disable, name)
		require.Equal(t, types.HealthCheckTest{"CMD", "/probe", "/readyz"}, svc.HealthCheck.Test, name)
		require.NotNil(t, svc.HealthCheck.Interval, name)

		// docker stop never kills a process that is still winding down.
		require.NotNil(t, svc.StopGracePeriod, "%s: stop_grace_period", name)
		stop := time.Duration(*svc.StopGracePeriod)
		require.Greater(t, stop, grace, "%s: stop_grace_period %s must exceed WORKER_SHUTDOWN_GRACE_MS %s", name, stop, grace)
		if name == "api" || name == "intake-gateway" {
			drain := envDuration(t, svc, "SHUTDOWN_DRAIN_MS")
			require.Greater(t, stop, drain+httpShutdownGrace, "%s: stop_grace_period %s must exceed the drain and the request grace", name, stop)
		}
	}

	// Replicas: no fixed host port and no container name, so `--scale worker=N` works and two
	// schedulers run side by side.
	for _, name := range []string{"worker", "scheduler"} {
		svc := p.Services[name]
		require.Empty(t, svc.ContainerName, "%s: container_name", name)
		require.Empty(t, svc.Ports, "%s: published ports", name)
	}
	scheduler := p.Services["scheduler"]
	require.Equal(t, 2, scheduler.GetScale(), "two schedulers")
	for _, name := range []string{"api", "intake-gateway"} {
		svc := p.Services[name]
		require.Empty(t, svc.ContainerName, name)
		require.Len(t, svc.Ports, 1, name)
		require.Equal(t, uint32(8080), svc.Ports[0].Target, "%s: the image's port (deploy/Dockerfile EXPOSE)", name)
	}
	// The api and the gateway log in as the role that row-level security binds.
	for _, name := range []string{"api", "intake-gateway"} {
		require.Contains(t, *p.Services[name].Environment["DATABASE_URL"], "crm_api:", name)
	}
}

// TestComposeFileRejectsUnknownKeys shows that the loader is strict: a misspelt key fails the
// load rather than being ignored.
func TestComposeFileRejectsUnknownKeys(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(composeFile)
	require.NoError(t, err)
	bad := strings.Replace(string(src), "stop_grace_period: 40s", "stop_grace_periods: 40s", 1)
	require.NotEqual(t, string(src), bad, "the worker's stop_grace_period line is in the file")

	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "deploy"), 0o755))
	for _, f := range []string{"example.env", "postgres-init.sql"} {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "deploy", f), b, 0o600))
	}
	path := filepath.Join(dir, "docker-compose.yml")
	require.NoError(t, os.WriteFile(path, []byte(bad), 0o600))
	_, err = loadCompose(t, path)
	require.ErrorContains(t, err, "stop_grace_periods")
}
