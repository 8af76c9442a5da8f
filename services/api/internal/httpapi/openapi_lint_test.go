package httpapi_test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// redoclyCLI is the pinned Redocly CLI; the Makefile's lint/openapi target names the same.
const redoclyCLI = "@redocly/cli@2.77.0"

// TestOpenAPIDocumentLints proves openapi.yaml passes Redocly's recommended rules without an
// error (warnings are allowed): a second reading of the document by a tool nobody here wrote,
// stricter than kin-openapi's validation on what OpenAPI 3.0 allows (nullable without a type, a
// path with a trailing slash, no servers). It needs npx (Node.js), which fetches the CLI from the
// npm registry the first time; where npx is absent the test is skipped.
func TestOpenAPIDocumentLints(t *testing.T) {
	t.Parallel()
	npx, err := exec.LookPath("npx")
	if err != nil {
		t.Skip("npx not found: install Node.js to lint openapi.yaml with " + redoclyCLI + " (make lint/openapi)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, npx, "--yes", redoclyCLI, "lint", "openapi.yaml").CombinedOutput()
	require.NoError(t, err, "redocly lint openapi.yaml:\n%s", out)
}
