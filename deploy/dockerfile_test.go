package deploy_test

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/stretchr/testify/require"
)

// imageUser is the numeric user of the images (distroless' nonroot), which the Kubernetes
// manifests' runAsUser repeats.
const imageUser = 65532

// imagePort is the port every image listens on (its HTTP_ADDR), which compose and the
// manifests name.
const imagePort = 8080

// dockerfile is the parsed deploy/Dockerfile: its stages and the ARGs before the first FROM.
type dockerfile struct {
	stages   []instructions.Stage
	metaArgs []instructions.ArgCommand
}

func parseDockerfile(t *testing.T, src string) dockerfile {
	t.Helper()
	res, err := parser.Parse(strings.NewReader(src))
	require.NoError(t, err)
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	require.NoError(t, err)
	return dockerfile{stages: stages, metaArgs: metaArgs}
}

// commands returns the commands of type T in stage.
func commands[T instructions.Command](stage instructions.Stage) []T {
	var out []T
	for _, c := range stage.Commands {
		if v, ok := c.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// TestDockerfile parses deploy/Dockerfile with BuildKit's own parser and checks the image's
// properties: one file for the four services (a SERVICE build argument), a build stage and a
// distroless final stage, a numeric non-root user, the port, the OCI labels, the probe.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("Dockerfile")
	require.NoError(t, err)
	df := parseDockerfile(t, string(src))

	require.Len(t, df.stages, 2, "multi-stage: build, then the runtime image")
	build, final := df.stages[0], df.stages[1]
	require.Equal(t, "build", build.Name)
	require.True(t, strings.HasPrefix(build.BaseName, "golang:"), build.BaseName)
	require.True(t, strings.HasPrefix(final.BaseName, "gcr.io/distroless/"), "distroless final stage, got %s", final.BaseName)

	// SERVICE picks the binary, and each of the four has a module to build.
	require.True(t, slices.ContainsFunc(df.metaArgs, func(a instructions.ArgCommand) bool {
		return slices.ContainsFunc(a.Args, func(kv instructions.KeyValuePairOptional) bool { return kv.Key == "SERVICE" })
	}), "a global ARG SERVICE")
	var buildsService bool
	for _, run := range commands[*instructions.RunCommand](build) {
		line := strings.Join(run.CmdLine, " ")
		buildsService = buildsService || (strings.Contains(line, "services/${SERVICE}") && strings.Contains(line, "go build"))
	}
	require.True(t, buildsService, "the build stage builds services/${SERVICE}")
	for _, s := range []string{"api", "intake-gateway", "worker", "scheduler"} {
		require.FileExists(t, "../services/"+s+"/go.mod", "SERVICE=%s", s)
	}

	// The final stage copies the binary and the probe from the build stage only.
	copies := commands[*instructions.CopyCommand](final)
	var dests []string
	for _, c := range copies {
		require.Equal(t, "build", c.From, "the final stage copies from the build stage: %s", c.String())
		dests = append(dests, c.DestPath)
	}
	require.ElementsMatch(t, []string{"/app", "/probe"}, dests)

	// Non-root, by number (Kubernetes' runAsNonRoot cannot check a user name).
	users := commands[*instructions.UserCommand](final)
	require.NotEmpty(t, users, "the final stage sets USER")
	uid, _, _ := strings.Cut(users[len(users)-1].User, ":")
	n, err := strconv.Atoi(uid)
	require.NoError(t, err, "USER %q is numeric", users[len(users)-1].User)
	require.Equal(t, imageUser, n)

	// The port: EXPOSEd, and the one HTTP_ADDR listens on.
	var exposed []string
	for _, e := range commands[*instructions.ExposeCommand](final) {
		exposed = append(exposed, e.Ports...)
	}
	require.Equal(t, []string{strconv.Itoa(imagePort)}, exposed)
	env := map[string]string{}
	for _, e := range commands[*instructions.EnvCommand](final) {
		for _, kv := range e.Env {
			env[kv.Key] = kv.Value
		}
	}
	require.Equal(t, ":"+strconv.Itoa(imagePort), env["HTTP_ADDR"])

	// OCI labels.
	labels := map[string]string{}
	for _, l := range commands[*instructions.LabelCommand](final) {
		for _, kv := range l.Labels {
			labels[kv.Key] = kv.Value
		}
	}
	for _, k := range []string{"title", "description", "version", "revision", "vendor", "licenses", "base.name"} {
		require.NotEmpty(t, labels["org.opencontainers.image."+k], "OCI label org.opencontainers.image.%s", k)
	}
	require.Contains(t, labels["org.opencontainers.image.title"], "${SERVICE}")

	entry := commands[*instructions.EntrypointCommand](final)
	require.Len(t, entry, 1)
	require.Equal(t, []string{"/app"}, entry[0].CmdLine)
}

// TestDockerfileRejectsUnknownInstruction shows that the parser is strict: a misspelt
// instruction fails.
func TestDockerfileRejectsUnknownInstruction(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("Dockerfile")
	require.NoError(t, err)
	bad := strings.Replace(string(src), "EXPOSE 8080", "EXPOSES 8080", 1)
	require.NotEqual(t, string(src), bad)
	res, err := parser.Parse(strings.NewReader(bad))
	require.NoError(t, err)
	_, _, err = instructions.Parse(res.AST, nil)
	require.ErrorContains(t, err, "unknown instruction")
}

// TestDockerignore checks that the build context leaves out the local PostgreSQL clusters,
// the built binaries and the git history, and keeps every source the build needs.
func TestDockerignore(t *testing.T) {
	t.Parallel()
	f, err := os.Open("../.dockerignore")
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	patterns, err := ignorefile.ReadAll(f)
	require.NoError(t, err)
	pm, err := patternmatcher.New(patterns)
	require.NoError(t, err)
	for path, ignored := range map[string]bool{
		".data/pg-test/base/1/112":        true,
		"bin/worker":                      true,
		".git/HEAD":                       true,
		"services/api/api.test":           true,
		"go.work":                         false,
		"services/worker/main.go":         false,
		"pkg/go.mod":                      false,
		"migrations/000001_init.up.sql":   false,
		"deploy/probe/main.go":            false,
		"deploy/go.mod":                   false,
		"services/intake-gateway/app.go":  false,
		"services/scheduler/go.sum":       false,
		"tools/go.mod":                    false,
		"deploy/k8s/base/kustomization.y": false,
	} {
		got, err := pm.MatchesOrParentMatches(path)
		require.NoError(t, err)
		require.Equal(t, ignored, got, "%s ignored", path)
	}
}
