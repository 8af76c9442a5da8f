package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/intake"
	"example.com/crm/services/intake-gateway/internal/httpapi"
)

// oldFormatSecret is a signing secret of the format issued before Standard Webhooks came: "whsec_"
// + unpadded base64url of 32 bytes, which the Standard Webhooks libraries cannot decode.
func oldFormatSecret(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(0xff - 3*i) // "-" and "_" among the characters
	}
	s := "whsec_" + base64.RawURLEncoding.EncodeToString(key)
	require.Len(t, s, len("whsec_")+43)
	return s
}

// standard posts body to the webhook route of src with Standard Webhooks headers.
func (b *bundle) standard(t *testing.T, src uuid.UUID, id string, at time.Time, signature string, body []byte) response {
	t.Helper()
	return b.do(t, http.MethodPost, "/intake/webhook/"+src.String(), map[string]string{
		"Content-Type": "application/json", "webhook-id": id, "webhook-timestamp": strconv.FormatInt(at.Unix(), 10),
		"webhook-signature": signature,
	}, body)
}

func signStandard(t *testing.T, secret, id string, at time.Time, body []byte) string {
	t.Helper()
	s, err := intake.SignStandard(secret, id, at, body)
	require.NoError(t, err)
	return s
}

// TestWebhookStandardWebhooks proves the route's second scheme end to end: a delivery signed by
// Standard Webhooks is accepted; its webhook-id is its delivery key, so the same id again, even
// re-signed later or with another body, is 202 with the first intakeId and writes nothing; a
// source with a secret of the old format signs with both schemes; during a rotation from an
// old-format secret to a new one both secrets sign, also side by side in one header; and bad
// signatures, stale timestamps and malformed headers are refused with nothing written.
func TestWebhookStandardWebhooks(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{})
	src := b.source(t, intake.NewSource{Kind: intake.KindWebhook, Name: "standard"})
	now := b.clock.now()

	body := []byte(`{"email":"ada@example.com","name":"Ada Lovelace"}`)
	r := b.standard(t, src.ID, "msg_1", now, signStandard(t, src.SigningSecret, "msg_1", now, body), body)
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	first := r.json(t)["intakeId"]
	require.NotEmpty(t, first)

	// The sender retries the message a minute later: new timestamp, new signature, same id.
	b.clock.advance(time.Minute)
	later := b.clock.now()
	r = b.standard(t, src.ID, "msg_1", later, signStandard(t, src.SigningSecret, "msg_1", later, body), body)
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	require.Equal(t, first, r.json(t)["intakeId"], "a repeated webhook-id is the first delivery")
	other := []byte(`{"email":"someone-else@example.com"}`)
	r = b.standard(t, src.ID, "msg_1", later, signStandard(t, src.SigningSecret, "msg_1", later, other), other)
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	require.Equal(t, first, r.json(t)["intakeId"], "even with another body")
	raw, jobs := b.stored(t)
	require.Equal(t, 1, raw)
	require.Equal(t, 1, jobs)
	var key string
	var stored []byte
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT delivery_key, body FROM lead_intake_raw`).Scan(&key, &stored))
	require.Equal(t, "swh:msg_1", key)
	require.Equal(t, body, stored)

	// The same id at another source is another delivery.
	src2 := b.source(t, intake.NewSource{Kind: intake.KindWebhook, Name: "standard 2"})
	r = b.standard(t, src2.ID, "msg_1", later, signStandard(t, src2.SigningSecret, "msg_1", later, body), body)
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	require.NotEqual(t, first, r.json(t)["intakeId"])

	// X-Signature keeps working with a new-format secret: its key is the secret as shown.
	r = b.webhook(t, src.ID, src.SigningSecret, later, []byte(`{"email":"x-signature@example.com"}`))
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))

	// A source whose secret is of the old format (issued before): both schemes sign.
	legacy := b.source(t, intake.NewSource{Kind: intake.KindWebhook, Name: "legacy"})
	old := oldFormatSecret(t)
	b.exec(t, `UPDATE intake_sources SET signing_secret = $1 WHERE id = $2`, old, legacy.ID)
	r = b.webhook(t, legacy.ID, old, later, []byte(`{"email":"legacy-x@example.com"}`))
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	lb := []byte(`{"email":"legacy-std@example.com"}`)
	r = b.standard(t, legacy.ID, "msg_legacy", later, signStandard(t, old, "msg_legacy", later, lb), lb)
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))

	// Rotated to a new-format secret with grace: the old and the new sign, alone or together.
	grace := time.Hour
	rotated, err := b.svc.RotateSecret(t.Context(), b.org, "apikey:test", legacy.ID, &grace)
	require.NoError(t, err)
	for i, secret := range []string{old, rotated.SigningSecret} {
		id := "msg_rot_" + strconv.Itoa(i)
		rb := []byte(`{"email":"` + id + `@example.com"}`)
		r = b.standard(t, legacy.ID, id, later, signStandard(t, secret, id, later, rb), rb)
		require.Equal(t, http.StatusAccepted, r.status, string(r.body))
		r = b.webhook(t, legacy.ID, secret, later, []byte(`{"email":"x-`+id+`@example.com"}`))
		require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	}
	both := signStandard(t, old, "msg_both", later, lb) + " " + signStandard(t, rotated.SigningSecret, "msg_both", later, lb)
	r = b.standard(t, legacy.ID, "msg_both", later, both, lb)
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	b.exec(t, `UPDATE intake_sources SET previous_secret_expires_at = now() - interval '1 second' WHERE id = $1`, legacy.ID)
	requireProblem(t, b.standard(t, legacy.ID, "msg_expired", later, signStandard(t, old, "msg_expired", later, lb), lb), http.StatusUnauthorized)

	raw, _ = b.stored(t)
	const wantRaw = 10
	require.Equal(t, wantRaw, raw)

	// Refusals write nothing.
	sb := []byte(`{"email":"refused@example.com"}`)
	refused := map[string]struct {
		id, sig string
		at      time.Time
		status  int
	}{
		"wrong secret":      {"msg_r1", signStandard(t, rotated.SigningSecret, "msg_r1", later, sb), later, http.StatusUnauthorized},
		"stale":             {"msg_r2", signStandard(t, src.SigningSecret, "msg_r2", later.Add(-301*time.Second), sb), later.Add(-301 * time.Second), http.StatusUnauthorized},
		"future":            {"msg_r3", signStandard(t, src.SigningSecret, "msg_r3", later.Add(301*time.Second), sb), later.Add(301 * time.Second), http.StatusUnauthorized},
		"signed another id": {"msg_r4", signStandard(t, src.SigningSecret, "msg_r5", later, sb), later, http.StatusUnauthorized},
		"id with a dot":     {"msg.r6", signStandard(t, src.SigningSecret, "msg.r6", later, sb), later, http.StatusBadRequest},
		"hex signature":     {"msg_r7", "v1=" + "00", later, http.StatusBadRequest},
		"replayed late":     {"msg_1", signStandard(t, src.SigningSecret, "msg_1", later.Add(-10*time.Minute), body), later.Add(-10 * time.Minute), http.StatusUnauthorized},
	}
	for name, c := range refused {
		p := requireProblem(t, b.standard(t, src.ID, c.id, c.at, c.sig, sb), c.status)
		require.NotEmpty(t, p["detail"], name)
	}
	requireProblem(t, b.do(t, http.MethodPost, "/intake/webhook/"+src.ID.String(), map[string]string{
		"Content-Type": "application/json", "webhook-id": "msg_r8", httpapi.SignatureHeader: intake.Sign(src.SigningSecret, later, sb),
	}, sb), http.StatusBadRequest)
	raw, _ = b.stored(t)
	require.Equal(t, wantRaw, raw)
}

// swhRequest and swhAnswer are what testdata/standardwebhooks/sign.cjs reads and writes.
type swhSign struct {
	Secret     string `json:"secret"`
	Raw        bool   `json:"raw,omitempty"`
	ID         string `json:"id"`
	Timestamp  int64  `json:"timestamp"`
	BodyBase64 string `json:"bodyBase64"`
}

type swhVerify struct {
	Secret     string            `json:"secret"`
	BodyBase64 string            `json:"bodyBase64"`
	Headers    map[string]string `json:"headers"`
}

type swhRequest struct {
	Sign      []swhSign   `json:"sign"`
	Verify    []swhVerify `json:"verify"`
	Construct []string    `json:"construct"`
}

type swhAnswer struct {
	Signatures []string `json:"signatures"`
	Verified   []any    `json:"verified"`
	Construct  []any    `json:"construct"`
}

// standardWebhooksPackage installs the standardwebhooks npm package (the version pinned in
// testdata/standardwebhooks/package-lock.json) into a temporary directory and returns a function
// that runs sign.cjs there. It skips the test where node or npm is not installed.
func standardWebhooksPackage(t *testing.T) func(swhRequest) swhAnswer {
	t.Helper()
	node, errNode := exec.LookPath("node")
	npm, errNpm := exec.LookPath("npm")
	if errNode != nil || errNpm != nil {
		t.Skip("node and npm are not installed: the standardwebhooks npm package cannot sign here; " +
			"pkg/intake's TestStandardWebhooksVectors checks signatures it made before")
	}
	dir := t.TempDir()
	for _, name := range []string{"package.json", "package-lock.json", "sign.cjs"} {
		b, err := os.ReadFile(filepath.Join("testdata", "standardwebhooks", name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o600))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error")
	install.Dir = dir
	out, err := install.CombinedOutput()
	require.NoError(t, err, "npm ci standardwebhooks: %s", out)
	return func(req swhRequest) swhAnswer {
		t.Helper()
		in, err := json.Marshal(req)
		require.NoError(t, err)
		cmd := exec.CommandContext(t.Context(), node, "sign.cjs")
		cmd.Dir = dir
		cmd.Stdin = bytes.NewReader(in)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		require.NoError(t, err, "node sign.cjs: %s", stderr.String())
		var a swhAnswer
		require.NoError(t, json.Unmarshal(out, &a), string(out))
		return a
	}
}

// TestStandardWebhooksLibrary holds the gateway to an implementation of Standard Webhooks that
// nobody here wrote: the standardwebhooks npm package signs deliveries with the secrets the
// service issues (as shown, which the package decodes itself), the gateway accepts them and
// takes a re-signed repeat of an id as the first delivery; the package also verifies what
// intake.SignStandard makes. It shows why the secret format changed: the package refuses a
// secret of the old format, and signs for one only when handed its decoded key bytes, which the
// gateway then accepts too.
func TestStandardWebhooksLibrary(t *testing.T) {
	t.Parallel()
	run := standardWebhooksPackage(t)
	b := setup(t, httpapi.Config{})
	src := b.source(t, intake.NewSource{Kind: intake.KindWebhook, Name: "library"})
	legacy := b.source(t, intake.NewSource{Kind: intake.KindWebhook, Name: "legacy"})
	old := oldFormatSecret(t)
	b.exec(t, `UPDATE intake_sources SET signing_secret = $1 WHERE id = $2`, old, legacy.ID)
	now := b.clock.now()
	b64 := base64.StdEncoding.EncodeToString

	bodies := [][]byte{
		[]byte(`{"email":"ada@example.com","name":"Ada Lovelace"}`),
		[]byte("{\n  \"name\": \"Zoë Ünal\",\n  \"phone\": \"+44 20 7946 0000\"\n}\n"),
	}
	oldKey, err := intake.SecretKey(old)
	require.NoError(t, err)
	req := swhRequest{Construct: []string{src.SigningSecret, old}}
	for i, body := range bodies {
		id := "msg_lib_" + strconv.Itoa(i)
		req.Sign = append(req.Sign,
			swhSign{Secret: src.SigningSecret, ID: id, Timestamp: now.Unix(), BodyBase64: b64(body)},
			swhSign{Secret: src.SigningSecret, ID: id, Timestamp: now.Unix() + 60, BodyBase64: b64(body)},
			swhSign{Secret: base64.RawURLEncoding.EncodeToString(oldKey), Raw: true, ID: id, Timestamp: now.Unix(), BodyBase64: b64(body)},
		)
	}
	// The package verifies what the service's own signer makes (against its own clock).
	wall := time.Now()
	goSig := signStandard(t, src.SigningSecret, "msg_go", wall, bodies[0])
	req.Verify = []swhVerify{
		{Secret: src.SigningSecret, BodyBase64: b64(bodies[0]), Headers: map[string]string{
			"webhook-id": "msg_go", "webhook-timestamp": strconv.FormatInt(wall.Unix(), 10), "webhook-signature": goSig,
		}},
		{Secret: src.SigningSecret, BodyBase64: b64(bodies[1]), Headers: map[string]string{
			"webhook-id": "msg_go", "webhook-timestamp": strconv.FormatInt(wall.Unix(), 10), "webhook-signature": goSig,
		}},
	}
	a := run(req)
	require.Len(t, a.Signatures, len(req.Sign))
	require.Equal(t, true, a.Construct[0], "the package takes a secret issued now")
	require.IsType(t, "", a.Construct[1], "the package refuses a secret of the old format")
	require.Equal(t, true, a.Verified[0], "the package verifies intake.SignStandard")
	require.NotEqual(t, true, a.Verified[1], "and refuses it for another body")

	for i, body := range bodies {
		id := "msg_lib_" + strconv.Itoa(i)
		sigNow, sigLater, sigOld := a.Signatures[3*i], a.Signatures[3*i+1], a.Signatures[3*i+2]
		require.Equal(t, signStandard(t, src.SigningSecret, id, now, body), sigNow, "the package and intake.SignStandard agree")

		r := b.standard(t, src.ID, id, now, sigNow, body)
		require.Equal(t, http.StatusAccepted, r.status, string(r.body))
		first := r.json(t)["intakeId"]
		r = b.standard(t, src.ID, id, now.Add(time.Minute), sigLater, body)
		require.Equal(t, http.StatusAccepted, r.status, string(r.body))
		require.Equal(t, first, r.json(t)["intakeId"], "a retry of the id is the first delivery")

		r = b.standard(t, legacy.ID, id, now, sigOld, body)
		require.Equal(t, http.StatusAccepted, r.status, "an old-format secret, signed with its key bytes: %s", r.body)
	}
	raw, jobs := b.stored(t)
	require.Equal(t, 2*len(bodies), raw)
	require.Equal(t, raw, jobs)
}
