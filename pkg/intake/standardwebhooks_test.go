package intake_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/intake"
)

// The secrets of these tests, in the two formats: the one issued now (standard padded base64)
// and the one issued before (unpadded base64url), each of 32 bytes.
var (
	newKey    = []byte("0123456789abcdef0123456789abcdef")
	oldKey    = []byte{0xfb, 0xff, 0xfe, 0x3e, 0x3f, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00, 0xf0}
	newSecret = "whsec_" + base64.StdEncoding.EncodeToString(newKey)
	oldSecret = "whsec_" + base64.RawURLEncoding.EncodeToString(oldKey)
)

// standardVector is one signature of pkg/intake/testdata/standardwebhooks_vectors.json.
type standardVector struct {
	Name      string `json:"name"`
	Secret    string `json:"secret"`
	ID        string `json:"id"`
	Timestamp int64  `json:"timestamp"`
	Body      string `json:"body"`
	Signature string `json:"signature"`
}

// TestStandardWebhooksVectors proves the Standard Webhooks scheme against signatures made by
// an implementation written elsewhere: the standardwebhooks npm package signed each vector (the
// first is the reference vector of the standard's own library tests), with new-format secrets
// and with an old-format secret's decoded key. Each verifies, SignStandard makes it byte for
// byte, and a change of id, timestamp, body or secret refuses it. The gateway's
// TestStandardWebhooksLibrary runs the package itself where node is installed.
func TestStandardWebhooksVectors(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/standardwebhooks_vectors.json")
	require.NoError(t, err)
	var file struct {
		Vectors []standardVector `json:"vectors"`
	}
	require.NoError(t, json.Unmarshal(raw, &file))
	require.Len(t, file.Vectors, 5)
	require.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", file.Vectors[0].Signature, "the reference vector")

	for _, v := range file.Vectors {
		at := time.Unix(v.Timestamp, 0)
		ts := strconv.FormatInt(v.Timestamp, 10)
		body := []byte(v.Body)
		s := intake.Secret{Value: v.Secret}
		require.NoError(t, intake.VerifyStandardWebhook(v.ID, ts, v.Signature, body, at, s), v.Name)
		got, err := intake.SignStandard(v.Secret, v.ID, at, body)
		require.NoError(t, err, v.Name)
		require.Equal(t, v.Signature, got, v.Name)

		key, err := intake.VerifyDelivery(intake.WebhookHeaders{ID: v.ID, Timestamp: ts, StandardSignature: v.Signature}, body, at, s)
		require.NoError(t, err, v.Name)
		require.Equal(t, "swh:"+v.ID, key, v.Name)

		requireRefusal(t, intake.VerifyStandardWebhook(v.ID+"x", ts, v.Signature, body, at, s), apperr.Unauthorized, intake.ErrSignatureMismatch, v.Name+": id")
		next := strconv.FormatInt(v.Timestamp+1, 10)
		requireRefusal(t, intake.VerifyStandardWebhook(v.ID, next, v.Signature, body, at, s), apperr.Unauthorized, intake.ErrSignatureMismatch, v.Name+": timestamp")
		requireRefusal(t, intake.VerifyStandardWebhook(v.ID, ts, v.Signature, append(body, ' '), at, s), apperr.Unauthorized, intake.ErrSignatureMismatch, v.Name+": body")
		requireRefusal(t, intake.VerifyStandardWebhook(v.ID, ts, v.Signature, body, at, intake.Secret{Value: newSecret}), apperr.Unauthorized, intake.ErrSignatureMismatch, v.Name+": secret")
		requireRefusal(t, intake.VerifyStandardWebhook(v.ID, ts, v.Signature, body, at.Add(intake.SignatureTolerance+time.Second), s),
			apperr.Unauthorized, intake.ErrSignatureStale, v.Name+": late")
	}
}

// TestStandardWebhooksContract computes the signature of API.md independently: base64 of
// HMAC-SHA256 keyed with the decoded secret over "<id>.<timestamp>.<raw body>", for a secret of
// either format; the X-Signature scheme keeps keying with the secret string as shown, for both
// formats too.
func TestStandardWebhooksContract(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		secret string
		key    []byte
	}{{newSecret, newKey}, {oldSecret, oldKey}} {
		got, err := intake.SecretKey(c.secret)
		require.NoError(t, err, c.secret)
		require.Equal(t, c.key, got, c.secret)

		m := hmac.New(sha256.New, c.key)
		m.Write([]byte("msg_1." + strconv.FormatInt(sigNow.Unix(), 10) + "." + string(sigBody)))
		want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
		sig, err := intake.SignStandard(c.secret, "msg_1", sigNow, sigBody)
		require.NoError(t, err)
		require.Equal(t, want, sig, c.secret)
		require.NoError(t, intake.VerifyStandardWebhook("msg_1", strconv.FormatInt(sigNow.Unix(), 10), want, sigBody, sigNow, intake.Secret{Value: c.secret}))

		x := hmac.New(sha256.New, []byte(c.secret))
		x.Write([]byte(strconv.FormatInt(sigNow.Unix(), 10) + "." + string(sigBody)))
		require.Contains(t, intake.Sign(c.secret, sigNow, sigBody), "v1="+hex.EncodeToString(x.Sum(nil)), "X-Signature's key is the secret as shown")
		_, err = intake.VerifyDelivery(intake.WebhookHeaders{Signature: intake.Sign(c.secret, sigNow, sigBody)}, sigBody, sigNow, intake.Secret{Value: c.secret})
		require.NoError(t, err, c.secret)
	}

	for _, bad := range []string{"", "whsec_", "whsec_not base64!", "whsec_a=b=", "whsec_a+b/c"} {
		_, err := intake.SecretKey(bad)
		require.ErrorIs(t, err, intake.ErrSecretFormat, bad)
	}
	// A secret that cannot be decoded signs nothing in this scheme, and is no error either.
	sig, err := intake.SignStandard(newSecret, "msg_1", sigNow, sigBody)
	require.NoError(t, err)
	requireRefusal(t, intake.VerifyStandardWebhook("msg_1", strconv.FormatInt(sigNow.Unix(), 10), sig, sigBody, sigNow, intake.Secret{Value: "whsec_%%%"}),
		apperr.Unauthorized, intake.ErrSignatureMismatch, "undecodable secret")
}

// TestVerifyStandardWebhook proves the rules the scheme shares with X-Signature: the
// tolerance in both directions, the signature judged before the clock, two secrets during a
// rotation with the previous one refused from its expiry, several signatures of which one match
// is enough and other versions ignored; and that headers out of shape are 400, none at all 401.
func TestVerifyStandardWebhook(t *testing.T) {
	t.Parallel()
	tol := intake.SignatureTolerance
	cur := intake.Secret{Value: newSecret}
	ts := strconv.FormatInt(sigNow.Unix(), 10)
	sign := func(secret string, at time.Time) (string, string) {
		t.Helper()
		s, err := intake.SignStandard(secret, "msg_1", at, sigBody)
		require.NoError(t, err)
		return strconv.FormatInt(at.Unix(), 10), s
	}
	verify := func(at time.Time, now time.Time, secret string, secrets ...intake.Secret) error {
		t.Helper()
		ts, s := sign(secret, at)
		return intake.VerifyStandardWebhook("msg_1", ts, s, sigBody, now, secrets...)
	}
	for name, at := range map[string]time.Time{"now": sigNow, "exactly 300 s old": sigNow.Add(-tol), "exactly 300 s ahead": sigNow.Add(tol)} {
		require.NoError(t, verify(at, sigNow, newSecret, cur), name)
	}
	requireRefusal(t, verify(sigNow.Add(-tol-time.Second), sigNow, newSecret, cur), apperr.Unauthorized, intake.ErrSignatureStale, "301 s old")
	requireRefusal(t, verify(sigNow.Add(tol+time.Second), sigNow, newSecret, cur), apperr.Unauthorized, intake.ErrSignatureFuture, "301 s ahead")
	requireRefusal(t, verify(sigNow.Add(-time.Hour), sigNow, oldSecret, cur), apperr.Unauthorized, intake.ErrSignatureMismatch, "stale and wrong: the signature first")

	// Rotation: the previous secret (old format) until its expiry, the current (new) always.
	expires := sigNow.Add(time.Hour)
	prev := intake.Secret{Value: oldSecret, ExpiresAt: &expires}
	require.NoError(t, verify(sigNow, sigNow, oldSecret, cur, prev))
	require.NoError(t, verify(sigNow, sigNow, newSecret, cur, prev))
	requireRefusal(t, verify(expires, expires, oldSecret, cur, prev), apperr.Unauthorized, intake.ErrSignatureMismatch, "previous secret at expiry")
	require.NoError(t, verify(expires, expires, newSecret, cur, prev))

	_, sOld := sign(oldSecret, sigNow)
	_, sNew := sign(newSecret, sigNow)
	valid := func(sig string) error {
		return intake.VerifyStandardWebhook("msg_1", ts, sig, sigBody, sigNow, cur)
	}
	for name, sig := range map[string]string{
		"two signatures, the match second": sOld + " " + sNew,
		"other versions ignored":           "v1a,aGVsbG8= " + sNew + " v2,xyz",
		"extra spaces":                     "  " + sOld + "   " + sNew + " ",
		"a v1 not base64 before the match": "v1,AAAA " + sNew,
	} {
		require.NoError(t, valid(sig), name)
	}
	requireRefusal(t, valid(sOld), apperr.Unauthorized, intake.ErrSignatureMismatch, "only a signature of another secret")
	for name, sig := range map[string]string{
		"v1 not base64": "v1,@@@@",
		"v1 too short":  "v1,aGVsbG8=",
		"v1 unpadded":   strings.TrimRight(sNew, "="),
	} {
		requireRefusal(t, valid(sig), apperr.Unauthorized, intake.ErrSignatureMismatch, name)
	}

	requireRefusal(t, intake.VerifyStandardWebhook("", "", "", sigBody, sigNow, cur), apperr.Unauthorized, intake.ErrNoSignature, "no headers")
	malformed := map[string][3]string{
		"no id":                    {"", ts, sNew},
		"no timestamp":             {"msg_1", "", sNew},
		"no signature":             {"msg_1", ts, ""},
		"id with a dot":            {"msg.1", ts, sNew},
		"id with a space":          {"msg 1", ts, sNew},
		"id not ASCII":             {"msg_é", ts, sNew},
		"id too long":              {strings.Repeat("a", 256), ts, sNew},
		"timestamp not digits":     {"msg_1", "now", sNew},
		"timestamp negative":       {"msg_1", "-1", sNew},
		"timestamp in ms overflow": {"msg_1", "99999999999999999999", sNew},
		"timestamp leading zero":   {"msg_1", "0" + ts, sNew},
		"signature without comma":  {"msg_1", ts, "v1" + strings.TrimPrefix(sNew, "v1,")},
		"no v1 at all":             {"msg_1", ts, "v1a,aGVsbG8="},
		"nine v1":                  {"msg_1", ts, strings.Repeat(sOld+" ", 9)},
		"signature far too long":   {"msg_1", ts, sNew + " v2," + strings.Repeat("a", 3000)},
	}
	for name, h := range malformed {
		requireRefusal(t, intake.VerifyStandardWebhook(h[0], h[1], h[2], sigBody, sigNow, cur), apperr.BadRequest, intake.ErrMalformedSignature, name)
	}
	require.NoError(t, intake.VerifyStandardWebhook(strings.Repeat("a", 255), ts, mustSign(t, newSecret, strings.Repeat("a", 255)), sigBody, sigNow, cur), "id of 255")
}

func mustSign(t *testing.T, secret, id string) string {
	t.Helper()
	s, err := intake.SignStandard(secret, id, sigNow, sigBody)
	require.NoError(t, err)
	return s
}

// TestVerifyDeliveryScheme proves how the scheme is chosen: any webhook-* header makes the
// delivery a Standard Webhooks one, judged by those headers alone (an X-Signature next to them
// does not rescue it), and its delivery key is its id; otherwise X-Signature is judged and the
// key is the digest of what it signed.
func TestVerifyDeliveryScheme(t *testing.T) {
	t.Parallel()
	s := intake.Secret{Value: newSecret}
	ts := strconv.FormatInt(sigNow.Unix(), 10)
	x := intake.Sign(newSecret, sigNow, sigBody)
	std := mustSign(t, newSecret, "msg_1")

	key, err := intake.VerifyDelivery(intake.WebhookHeaders{Signature: x}, sigBody, sigNow, s)
	require.NoError(t, err)
	wantKey, err := intake.WebhookDeliveryKey(x, sigBody)
	require.NoError(t, err)
	require.Equal(t, wantKey, key)

	key, err = intake.VerifyDelivery(intake.WebhookHeaders{Signature: x, ID: "msg_1", Timestamp: ts, StandardSignature: std}, sigBody, sigNow, s)
	require.NoError(t, err)
	require.Equal(t, "swh:msg_1", key, "both schemes: the standard one decides")

	_, err = intake.VerifyDelivery(intake.WebhookHeaders{Signature: x, ID: "msg_1"}, sigBody, sigNow, s)
	requireRefusal(t, err, apperr.BadRequest, intake.ErrMalformedSignature, "a lone webhook-id")
	_, err = intake.VerifyDelivery(intake.WebhookHeaders{Signature: x, ID: "msg_2", Timestamp: ts, StandardSignature: std}, sigBody, sigNow, s)
	requireRefusal(t, err, apperr.Unauthorized, intake.ErrSignatureMismatch, "a bad standard signature next to a good X-Signature")
	_, err = intake.VerifyDelivery(intake.WebhookHeaders{}, sigBody, sigNow, s)
	requireRefusal(t, err, apperr.Unauthorized, intake.ErrNoSignature, "unsigned")
}
