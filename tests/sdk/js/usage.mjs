// Usage, app overrides and the file stash with the real @pipedream/sdk.
// Env: SB_BASE_URL, SB_PROJECT_ID, SB_CLIENT_ID, SB_CLIENT_SECRET, SB_HTTP_DOUBLE.
import assert from "node:assert/strict";
import { env, serverClient, stepper } from "./common.mjs";

const client = serverClient("production");
const step = stepper("js usage");

step("1. an action whose answer is a file returns a $stash; fileStash.downloadFile gives it back");
const run = await client.actions.run({
  id: "http-custom-request",
  externalUserId: "sdk-js",
  configuredProps: { url: `${env("SB_HTTP_DOUBLE")}/bytes/70000` },
});
const stash = run.ret.$stash;
assert.equal(stash.size, 70000, JSON.stringify(run.ret));
const file = await client.fileStash.downloadFile({ s3Key: stash.s3_key });
const bytes = new Uint8Array(await file.arrayBuffer());
assert.equal(bytes.length, 70000);
assert.ok(bytes.every((b, i) => b === i % 256), "the same bytes");

step("2. usage.list counts the run");
const now = Math.floor(Date.now() / 1000);
const usage = await client.usage.list({ startTs: now - 3600, endTs: now + 60 });
const runs = usage.data.reduce((n, w) => n + (w.actionRunCreditsUsed ?? 0), 0);
assert.ok(runs >= 1, JSON.stringify(usage));
assert.ok(usage.data.every((w) => w.usageEndTs - w.usageStartTs === 3600 && w.creditsUsed >= 0));

step("3. appOverrides: create, list, retrieve, update, delete");
const created = await client.appOverrides.create({
  app: "openai",
  name: "js-override",
  cfmap: { organization: "org-js" },
});
assert.equal(created.app.nameSlug, "openai");
assert.deepEqual(created.cfmap, { organization: "org-js" });
assert.equal(created.ownerId, env("SB_PROJECT_ID"));
assert.ok(created.createdAt instanceof Date);
const listed = [];
for await (const o of await client.appOverrides.list({ app: "openai" })) listed.push(o.id);
assert.ok(listed.includes(created.id), listed.join());
assert.equal((await client.appOverrides.retrieve(created.id)).name, "js-override");
const updated = await client.appOverrides.update(created.id, { cfmap: { organization: "org-js2" } });
assert.equal(updated.cfmap.organization, "org-js2");
await client.appOverrides.delete(created.id);
await assert.rejects(client.appOverrides.retrieve(created.id), (e) => e.statusCode === 404);
step("done");
