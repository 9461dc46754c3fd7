// Prints a Stripe-signed delivery for Switchboard's tests, signed by the
// official `stripe` library's test-header helper.
// Usage: node sign-stripe.mjs <secret> <payload JSON> [timestamp]
// Output: the Stripe-Signature header value.
import Stripe from "stripe";

const [secret, payload, timestamp] = process.argv.slice(2);
const stripe = new Stripe("sk_test_unused");
const header = stripe.webhooks.generateTestHeaderString({
  payload,
  secret,
  ...(timestamp ? { timestamp: Number(timestamp) } : {}),
});
process.stdout.write(header);
