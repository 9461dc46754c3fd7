// The deployed-trigger scenario with the real @pipedream/sdk: deploy
// http-new-requests with a webhook_url, post to its endpoint, check the
// delivery with the real `standardwebhooks` verifier, list events, pause,
// resume, regenerate the signing key, delete.
// Env: SB_BASE_URL, SB_PROJECT_ID, SB_CLIENT_ID, SB_CLIENT_SECRET, SB_HTTP_DOUBLE.
import assert from "node:assert/strict";
import { env, serverClient, stepper } from "./common.mjs";
import { Webhook } from "standardwebhooks";

const client = serverClient("production");
const double = env("SB_HTTP_DOUBLE");
const externalUserId = `js-trigger-user-${Date.now()}`;
const sinkPath = `/anything/js-sink-${Date.now()}`;
const step = stepper("js triggers");

async function deliveries() {
  const r = await fetch(`${double}/__control/requests`);
  return (await r.json()).requests.filter((q) => q.path === sinkPath);
}
async function waitFor(n) {
  for (let i = 0; i < 200; i++) {
    const got = await deliveries();
    if (got.length >= n) return got;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`expected ${n} deliveries, got ${(await deliveries()).length}`);
}
const verify = (key, d) =>
  new Webhook(key).verify(d.body, {
    "webhook-id": d.headers["webhook-id"],
    "webhook-timestamp": d.headers["webhook-timestamp"],
    "webhook-signature": d.headers["webhook-signature"],
  });

step("1. deploy http-new-requests with a webhook_url");
const { data: dc } = await client.triggers.deploy({
  id: "http-new-requests",
  externalUserId,
  configuredProps: {},
  webhookUrl: `${double}${sinkPath}`,
});
assert.equal(dc.type, "DeployedComponent");
const endpoint = dc.configuredProps.http.endpoint_url;
assert.ok(endpoint.includes("/hooks/"), endpoint);
const key = dc.webhookSigningKey;
assert.match(key, /^whsec_/);

step("2. POST to the endpoint_url; 3. the delivery verifies with standardwebhooks");
assert.equal((await fetch(endpoint, { method: "POST", body: JSON.stringify({ n: 1 }), headers: { "content-type": "application/json" } })).status, 200);
const [first] = await waitFor(1);
const payload = verify(key, first);
assert.deepEqual(payload.event.body, { n: 1 });
assert.equal(payload.context.deployment_id, dc.id);

step("4. list events");
const events = await client.deployedTriggers.listEvents(dc.id, { externalUserId, n: 5 });
assert.equal(events.data[0].e.body.n, 1);

step("5. pause: the URL answers 404; 6. resume");
await client.deployedTriggers.update(dc.id, { externalUserId, active: false });
assert.equal((await fetch(endpoint, { method: "POST", body: "{}" })).status, 404);
const resumed = await client.deployedTriggers.update(dc.id, { externalUserId, active: true });
assert.equal(resumed.data.active, true);

step("7. regenerate the signing key; the next delivery verifies with the new key");
const hooks = await client.deployedTriggers.listWebhooks(dc.id, { externalUserId });
const webhookId = hooks.webhooks[0].id;
const regen = await client.deployedTriggers.regenerateWebhookSigningKey(dc.id, webhookId, { externalUserId });
const newKey = regen.data.signingKey;
assert.notEqual(newKey, key);
await fetch(endpoint, { method: "POST", body: JSON.stringify({ n: 2 }), headers: { "content-type": "application/json" } });
const all = await waitFor(2);
const second = all.find((d) => JSON.parse(d.body).event.body?.n === 2);
assert.equal(verify(newKey, second).event.body.n, 2);

step("8. delete");
await client.deployedTriggers.delete(dc.id, { externalUserId });
assert.equal((await fetch(endpoint, { method: "POST", body: "{}" })).status, 404);
console.log("js triggers: scenario passed");
