// Drives the real @pipedream/sdk against a running switchboard binary.
// Env: SB_BASE_URL, SB_PROJECT_ID, SB_CLIENT_ID, SB_CLIENT_SECRET.
// Exits non-zero (with the failing step) on any mismatch.
import assert from "node:assert/strict";
import { env, serverClient, stepper } from "./common.mjs";
import { createFrontendClient } from "@pipedream/sdk/browser";

const baseUrl = env("SB_BASE_URL");
const client = serverClient("development");
const user = `js-user-${Date.now()}`;
const step = stepper("js");

step("1. access token");
const bearer = await client.rawAccessToken;
assert.ok(bearer && bearer.length > 20, "an access token was issued");

step("2. connect token");
const tok = await client.tokens.create({
  externalUserId: user,
  allowedOrigins: ["http://localhost:3000"],
  successRedirectUri: "https://example.com/ok",
  errorRedirectUri: "https://example.com/err",
  webhookUri: "https://example.com/hook",
  expiresIn: 3600,
});
assert.match(tok.token, /^ctok_[0-9a-f]{32}$/);
assert.ok(tok.expiresAt instanceof Date && tok.expiresAt > new Date(), "expiresAt parsed as a future Date");
assert.ok(tok.connectLinkUrl.startsWith(baseUrl), "connect link points at this server");

step("2b. the browser client lists the user's (empty) accounts with the connect token");
const fe = createFrontendClient({ externalUserId: user, token: tok.token, baseUrl, projectEnvironment: "development" });
const feAccounts = [];
for await (const a of await fe.accounts.list({ app: "openai" })) feAccounts.push(a);
assert.equal(feAccounts.length, 0);

step("3. key-based account");
const created = await client.accounts.create({
  externalUserId: user,
  appSlug: "openai",
  cfmapJson: JSON.stringify({ api_key: "sk-js-secret" }),
  connectToken: tok.token,
  name: "JS account",
});
assert.match(created.id, /^apn_/);
assert.equal(created.externalId, user);
assert.equal(created.app.nameSlug, "openai");
assert.equal(created.credentials, undefined, "no credentials unless asked");

step("4. list and retrieve, with and without credentials");
const listed = [];
for await (const a of await client.accounts.list({ externalUserId: user, app: "openai" })) listed.push(a);
assert.deepEqual(listed.map((a) => a.id), [created.id]);
assert.equal(listed[0].credentials, undefined);
const withCreds = [];
for await (const a of await client.accounts.list({ externalUserId: user, includeCredentials: true })) withCreds.push(a);
assert.equal(withCreds[0].credentials.api_key, "sk-js-secret");
const got = await client.accounts.retrieve(created.id);
assert.equal(got.id, created.id);
assert.equal(got.credentials, undefined);
const gotCreds = await client.accounts.retrieve(created.id, { includeCredentials: true });
assert.equal(gotCreds.credentials.api_key, "sk-js-secret");
const byUser = await client.accounts.listByExternalUser(user);
assert.deepEqual(byUser.map((a) => a.id), [created.id]);
const apps = [];
for await (const a of await client.apps.list({ q: "open" })) apps.push(a.nameSlug);
assert.ok(apps.includes("openai"));

step("5. delete the account");
await client.accounts.delete(created.id);
await assert.rejects(client.accounts.retrieve(created.id), (e) => e.statusCode === 404);

step("6. delete the user");
await client.users.deleteExternalUser(user);
const after = [];
for await (const u of await client.users.list()) after.push(u.externalId);
assert.ok(!after.includes(user), "user is gone");
console.log("js: scenario passed");
