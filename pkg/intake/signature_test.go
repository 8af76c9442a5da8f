package intake_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/intake"
)

var (
	sigNow  = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sigBody = []byte(`{"email":"ada@example.com","name":"Ada Lovelace"}`)
)

const (
	secretA = "whsec_first-secret-for-tests"
	secretB = "whsec_second-secret-for-tests"
)

// requireRefusal requires err to be an apperr error of code that wraps reason.
func requireRefusal(t *testing.T, err error, code apperr.Code, reason error, what string) {
	t.Helper()
	require.Error(t, err, what)
	require.Equal(t, code, apperr.CodeOf(err), "%s: %v", what, err)
	require.ErrorIs(t, err, reason, what)
}

// TestSignMatchesTheContract proves Sign makes exactly the header of API.md: t=<unix seconds>,
// v1 = hex HMAC-SHA256(secret, "<t>.<raw body>"), computed here independently.
func TestSignMatchesTheContract(t *testing.T) {
	t.Parallel()
	m := hmac.New(sha256.New, []byte(secretA))
	m.Write([]byte(strconv.FormatInt(sigNow.Unix(), 10) + "." + string(sigBody)))
	want := "t=" + strconv.FormatInt(sigNow.Unix(), 10) + ",v1=" + hex.EncodeToString(m.Sum(nil))
	require.Equal(t, want, intake.Sign(secretA, sigNow, sigBody))
	require.NoError(t, intake.VerifyWebhook(want, sigBody, sigNow, intake.Secret{Value: secretA}))
}

// TestVerifyWebhook proves the X-Signature rules of API.md: the right secret passes, up to the
// tolerance in both directions; a wrong secret, a changed body or timestamp, a stale or a
// future timestamp are 401 with their reason, and the signature is judged before the clock.
func TestVerifyWebhook(t *testing.T) {
	t.Parallel()
	a := intake.Secret{Value: secretA}
	tol := intake.SignatureTolerance

	for name, at := range map[string]time.Time{
		"now":                    sigNow,
		"exactly 300 s old":      sigNow.Add(-tol),
		"exactly 300 s ahead":    sigNow.Add(tol),
		"a little old":           sigNow.Add(-time.Minute),
		"a little ahead":         sigNow.Add(time.Minute),
		"sub-second clock noise": sigNow.Add(-tol + 500*time.Millisecond),
	} {
		require.NoError(t, intake.VerifyWebhook(intake.Sign(secretA, at, sigBody), sigBody, sigNow, a), name)
	}

	valid := intake.Sign(secretA, sigNow, sigBody)
	requireRefusal(t, intake.VerifyWebhook(valid, sigBody, sigNow, intake.Secret{Value: secretB}),
		apperr.Unauthorized, intake.ErrSignatureMismatch, "wrong secret")
	requireRefusal(t, intake.VerifyWebhook(valid, append([]byte(nil), append(sigBody, ' ')...), sigNow, a),
		apperr.Unauthorized, intake.ErrSignatureMismatch, "body changed by one byte")
	moved := strings.Replace(valid, "t="+strconv.FormatInt(sigNow.Unix(), 10), "t="+strconv.FormatInt(sigNow.Unix()+1, 10), 1)
	requireRefusal(t, intake.VerifyWebhook(moved, sigBody, sigNow, a), apperr.Unauthorized, intake.ErrSignatureMismatch, "timestamp moved")
	requireRefusal(t, intake.VerifyWebhook(valid, sigBody, sigNow), apperr.Unauthorized, intake.ErrSignatureMismatch, "no secrets at all")
	requireRefusal(t, intake.VerifyWebhook(valid, sigBody, sigNow, intake.Secret{}), apperr.Unauthorized, intake.ErrSignatureMismatch, "an empty secret")

	stale := intake.Sign(secretA, sigNow.Add(-tol-time.Second), sigBody)
	requireRefusal(t, intake.VerifyWebhook(stale, sigBody, sigNow, a), apperr.Unauthorized, intake.ErrSignatureStale, "301 s old")
	requireRefusal(t, intake.VerifyWebhook(valid, sigBody, sigNow.Add(tol+time.Millisecond), a), apperr.Unauthorized, intake.ErrSignatureStale,
		"received a millisecond past the window")
	future := intake.Sign(secretA, sigNow.Add(tol+time.Second), sigBody)
	requireRefusal(t, intake.VerifyWebhook(future, sigBody, sigNow, a), apperr.Unauthorized, intake.ErrSignatureFuture, "301 s ahead")
	farFuture := intake.Sign(secretA, time.Unix(999999999999999999, 0), sigBody)
	requireRefusal(t, intake.VerifyWebhook(farFuture, sigBody, sigNow, a), apperr.Unauthorized, intake.ErrSignatureFuture, "year 31 billion")
	requireRefusal(t, intake.VerifyWebhook(intake.Sign(secretB, sigNow.Add(-time.Hour), sigBody), sigBody, sigNow, a),
		apperr.Unauthorized, intake.ErrSignatureMismatch, "stale and wrong: the signature is judged first")
	requireRefusal(t, intake.VerifyWebhook("", sigBody, sigNow, a), apperr.Unauthorized, intake.ErrNoSignature, "no header")
	requireRefusal(t, intake.VerifyWebhook("  ", sigBody, sigNow, a), apperr.Unauthorized, intake.ErrNoSignature, "blank header")
}

// TestVerifyWebhookMalformedHeader proves every header out of shape is 400 with
// ErrMalformedSignature, never a pass and never a 500.
func TestVerifyWebhookMalformedHeader(t *testing.T) {
	t.Parallel()
	a := intake.Secret{Value: secretA}
	valid := intake.Sign(secretA, sigNow, sigBody)
	ts, v1, _ := strings.Cut(valid, ",")
	mac := strings.TrimPrefix(v1, "v1=")
	cases := map[string]string{
		"v1 only":               v1,
		"t only":                ts,
		"no key=value":          "garbage",
		"empty item":            ts + ",," + v1,
		"trailing comma":        valid + ",",
		"empty key":             "=1," + v1,
		"t twice":               ts + "," + ts + "," + v1,
		"t not a number":        "t=now," + v1,
		"t negative":            "t=-1," + v1,
		"t with leading zero":   "t=0" + strings.TrimPrefix(ts, "t=") + "," + v1,
		"t in milliseconds++":   "t=1234567890123456789," + v1,
		"t empty":               "t=," + v1,
		"t fractional":          ts + ".5," + v1,
		"v1 not hex":            ts + ",v1=" + strings.Repeat("zz", 32),
		"v1 too short":          ts + ",v1=" + mac[:62],
		"v1 too long":           ts + ",v1=" + mac + "00",
		"v1 empty":              ts + ",v1=",
		"nine v1 values":        ts + strings.Repeat(","+v1, 9),
		"far too long":          ts + "," + v1 + ",v0=" + strings.Repeat("a", 3000),
		"semicolons":            strings.ReplaceAll(valid, ",", ";"),
		"scheme name in header": "sha256=" + mac,
	}
	for name, header := range cases {
		requireRefusal(t, intake.VerifyWebhook(header, sigBody, sigNow, a), apperr.BadRequest, intake.ErrMalformedSignature, name)
		_, err := intake.WebhookDeliveryKey(header, sigBody)
		requireRefusal(t, err, apperr.BadRequest, intake.ErrMalformedSignature, name+" (delivery key)")
	}

	// Tolerated: white space around items, upper-case hex, unknown schemes, several v1 values.
	for name, header := range map[string]string{
		"spaces":          " " + ts + " , " + v1 + " ",
		"upper-case hex":  ts + ",v1=" + strings.ToUpper(mac),
		"unknown schemes": ts + ",v0=abc," + v1 + ",v2=whatever",
		"v1 first":        v1 + "," + ts,
		"eight v1 values": ts + strings.Repeat(",v1="+strings.Repeat("0", 64), 7) + "," + v1,
	} {
		require.NoError(t, intake.VerifyWebhook(header, sigBody, sigNow, a), name)
	}
}

// TestVerifyWebhookRotation proves two secrets during a rotation: a delivery signed with
// the previous secret passes until the secret's expiry and is refused from that instant on,
// while the current secret, which has no expiry, keeps passing; a header with a v1 per secret
// passes on either.
func TestVerifyWebhookRotation(t *testing.T) {
	t.Parallel()
	expires := sigNow.Add(time.Hour)
	current := intake.Secret{Value: secretB}
	previous := intake.Secret{Value: secretA, ExpiresAt: &expires}

	for name, now := range map[string]time.Time{"in the grace period": sigNow, "a second before expiry": expires.Add(-time.Second)} {
		require.NoError(t, intake.VerifyWebhook(intake.Sign(secretA, now, sigBody), sigBody, now, current, previous), name)
		require.NoError(t, intake.VerifyWebhook(intake.Sign(secretB, now, sigBody), sigBody, now, current, previous), name)
	}
	for name, now := range map[string]time.Time{"at expiry": expires, "after expiry": expires.Add(time.Minute)} {
		requireRefusal(t, intake.VerifyWebhook(intake.Sign(secretA, now, sigBody), sigBody, now, current, previous),
			apperr.Unauthorized, intake.ErrSignatureMismatch, name)
		require.NoError(t, intake.VerifyWebhook(intake.Sign(secretB, now, sigBody), sigBody, now, current, previous), name)
	}

	signBoth := func(at time.Time) string {
		return intake.Sign(secretA, at, sigBody) + "," + strings.SplitN(intake.Sign(secretB, at, sigBody), ",", 2)[1]
	}
	require.NoError(t, intake.VerifyWebhook(signBoth(sigNow), sigBody, sigNow, current, previous))
	require.NoError(t, intake.VerifyWebhook(signBoth(sigNow), sigBody, sigNow, previous), "the previous secret's v1 matches alone")
	require.NoError(t, intake.VerifyWebhook(signBoth(expires), sigBody, expires, current, previous), "the current secret's v1 still matches")
	requireRefusal(t, intake.VerifyWebhook(signBoth(expires), sigBody, expires, previous),
		apperr.Unauthorized, intake.ErrSignatureMismatch, "the previous secret alone, expired")
}

// TestWebhookDeliveryKey proves the delivery key is the digest of what was signed: the same for
// an exact replay whatever v1 values it carries (so dropping one of two cannot make a replay
// new), and different for another body or timestamp.
func TestWebhookDeliveryKey(t *testing.T) {
	t.Parallel()
	key := func(header string, body []byte) string {
		t.Helper()
		k, err := intake.WebhookDeliveryKey(header, body)
		require.NoError(t, err)
		return k
	}
	a := intake.Sign(secretA, sigNow, sigBody)
	b := intake.Sign(secretB, sigNow, sigBody)
	both := a + "," + strings.SplitN(b, ",", 2)[1]

	sum := sha256.Sum256([]byte(strconv.FormatInt(sigNow.Unix(), 10) + "." + string(sigBody)))
	require.Equal(t, "wh:"+hex.EncodeToString(sum[:]), key(a, sigBody))
	require.Equal(t, key(a, sigBody), key(b, sigBody), "the same delivery signed with another secret")
	require.Equal(t, key(a, sigBody), key(both, sigBody), "both v1 values")
	require.Equal(t, key(a, sigBody), key(" "+a+" ", sigBody), "spacing")
	require.NotEqual(t, key(a, sigBody), key(intake.Sign(secretA, sigNow.Add(time.Second), sigBody), sigBody), "another second")
	require.NotEqual(t, key(a, sigBody), key(a, []byte(`{"email":"bob@example.com"}`)), "another body")
	require.LessOrEqual(t, len(key(a, sigBody)), 512, "fits lead_intake_raw.delivery_key")
}
