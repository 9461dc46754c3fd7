// Prints Slack request-signing headers for Switchboard's tests, computed as
// Slack documents it ("Verifying requests from Slack"): HMAC-SHA256 of
// `v0:<timestamp>:<raw body>` with the app's signing secret, hex, `v0=`.
// Usage: node sign-slack.mjs <signing secret> <raw body> [timestamp]
// Output: {"X-Slack-Request-Timestamp": "…", "X-Slack-Signature": "v0=…"}
import { createHmac } from "node:crypto";

const [secret, body, timestamp] = process.argv.slice(2);
const ts = timestamp ?? String(Math.floor(Date.now() / 1000));
const signature = "v0=" + createHmac("sha256", secret).update(`v0:${ts}:${body}`).digest("hex");
process.stdout.write(JSON.stringify({ "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature }));
