// Signs and verifies webhook deliveries with the standardwebhooks npm package, an implementation
// of Standard Webhooks written outside this project, for the gateway's TestStandardWebhooksLibrary
// and for regenerating pkg/intake/testdata/standardwebhooks_vectors.json.
//
// Reads one JSON object on stdin and writes one on stdout:
//   in:  {"sign":   [{"secret", "raw"?, "id", "timestamp", "bodyBase64"}],
//         "verify": [{"secret", "raw"?, "bodyBase64", "headers": {...}}],
//         "construct": ["whsec_..."]}
//   out: {"signatures": ["v1,..."], "verified": [true | "<error>"], "construct": [true | "<error>"]}
// A secret is given as shown ("whsec_<base64>"), which the package decodes itself, or, with
// "raw": true, as the base64url of its key bytes, handed to the package as raw bytes (the way
// to sign with a secret of the old format, which the package cannot decode).
"use strict";
const { Webhook } = require("standardwebhooks");

function webhook(s) {
  if (s.raw) {
    return new Webhook(new Uint8Array(Buffer.from(s.secret, "base64url")), { format: "raw" });
  }
  return new Webhook(s.secret);
}

function errorText(e) {
  return String((e && e.message) || e) || "error";
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  input += chunk;
});
process.stdin.on("end", () => {
  const req = JSON.parse(input);
  const out = { signatures: [], verified: [], construct: [] };
  for (const s of req.sign || []) {
    const body = Buffer.from(s.bodyBase64, "base64");
    out.signatures.push(webhook(s).sign(s.id, new Date(s.timestamp * 1000), body));
  }
  for (const v of req.verify || []) {
    try {
      webhook(v).verify(Buffer.from(v.bodyBase64, "base64"), v.headers, { jsonParse: false });
      out.verified.push(true);
    } catch (e) {
      out.verified.push(errorText(e));
    }
  }
  for (const secret of req.construct || []) {
    try {
      new Webhook(secret);
      out.construct.push(true);
    } catch (e) {
      out.construct.push(errorText(e));
    }
  }
  process.stdout.write(JSON.stringify(out));
});
