// Every public method of @pipedream/sdk, called once against switchboard.
// The methods are found by walking the client (so a new SDK method fails
// this script until it is called here); each call asserts success and the
// parsed shape. Prints `N of M`; methods documented as not applicable are
// named with the readable error they give.
// Env: SB_BASE_URL, SB_PROJECT_ID, SB_CLIENT_ID, SB_CLIENT_SECRET,
// SB_OPERATOR_ID, SB_OPERATOR_SECRET (an operator client), SB_USER,
// SB_SLACK_ACCOUNT, SB_GITHUB_ACCOUNT, SB_HTTP_DOUBLE; SB_PENDING: methods
// other work implements, whose failure is reported but not fatal.
import assert from "node:assert/strict";
import fs from "node:fs";
import { PipedreamClient } from "@pipedream/sdk";
import { env } from "./common.mjs";

const baseUrl = env("SB_BASE_URL");
const projectId = env("SB_PROJECT_ID");
const client = (id, secret) =>
  new PipedreamClient({
    baseUrl,
    projectId,
    projectEnvironment: "production",
    clientId: env(id),
    clientSecret: env(secret),
    // A Switchboard HTTP trigger's URL is the endpoint `workflows.invoke` calls.
    workflowDomain: new URL(baseUrl).hostname,
  });
const pd = client("SB_CLIENT_ID", "SB_CLIENT_SECRET");
const op = client("SB_OPERATOR_ID", "SB_OPERATOR_SECRET");
const W = env("SB_USER");
const slack = { authProvisionId: env("SB_SLACK_ACCOUNT") };
const double = env("SB_HTTP_DOUBLE");
const pending = new Set((process.env.SB_PENDING || "").split(/\s+/).filter(Boolean));
const user = `surface-js-${Date.now()}`;
const PNG = "data:image/png;base64," + Buffer.from("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "latin1").toString("base64");

/// `resource.method` for every public method (TypeScript `private` ones,
/// which JavaScript cannot hide, are read from the SDK's declarations).
function publicMethods(c) {
  const out = [];
  for (let p = Object.getPrototypeOf(c); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const [name, d] of Object.entries(Object.getOwnPropertyDescriptors(p))) {
      if (!d.get || name.startsWith("_") || out.some((m) => m.split(".")[0] === name)) continue;
      const r = c[name];
      if (typeof r?.then === "function") {
        out.push(name);
        continue;
      }
      const dts = new URL(`./node_modules/@pipedream/sdk/dist/cjs/api/resources/${name}/client/Client.d.ts`, import.meta.url);
      const decl = fs.existsSync(dts) ? fs.readFileSync(dts, "utf8") : "";
      for (let rp = Object.getPrototypeOf(r); rp && rp !== Object.prototype; rp = Object.getPrototypeOf(rp)) {
        for (const m of Object.getOwnPropertyNames(rp)) {
          if (m === "constructor" || m.startsWith("_") || typeof rp[m] !== "function") continue;
          if (new RegExp(`private (static )?${m}\\b`).test(decl)) continue;
          out.push(`${name}.${m}`);
        }
      }
    }
  }
  return out;
}

const all = async (page) => {
  const out = [];
  for await (const x of await page) out.push(x);
  return out;
};
const s = {}; // what earlier calls made
// `workflows.invoke*` POST to a workflow's own URL (`*.m.pipedream.net`),
// not to the Connect API; Switchboard has no workflows. Called with an HTTP
// trigger's URL, the nearest thing, they still fail: the SDK lower-cases the
// URL and inbound hook ids are case-sensitive (docs/errors.md).
const WORKFLOW_INVOKE = new Set(["workflows.invoke", "workflows.invokeForExternalUser"]);
const notApplicable = (name, e) =>
  WORKFLOW_INVOKE.has(name) || (e.statusCode === 422 && e.body?.code === "workflows_not_supported");

const calls = [
  ["rawAccessToken", async () => assert.ok((await pd.rawAccessToken).length > 20)],
  ["oauthTokens.create", async () => {
    const t = await pd.oauthTokens.create({ clientId: env("SB_CLIENT_ID"), clientSecret: env("SB_CLIENT_SECRET") });
    assert.equal(t.tokenType, "Bearer");
    assert.ok(t.accessToken && t.expiresIn > 0);
  }],
  ["tokens.create", async () => {
    s.tok = await pd.tokens.create({ externalUserId: user, allowedOrigins: ["http://localhost:3000"] });
    assert.match(s.tok.token, /^ctok_/);
    assert.ok(s.tok.expiresAt instanceof Date);
  }],
  ["tokens.validate", async () => {
    const v = await pd.tokens.validate(s.tok.token);
    assert.ok(v && typeof v === "object", JSON.stringify(v));
  }],
  ["apps.list", async () => {
    const r = await pd.apps.list({ hasActions: true, limit: 5 });
    assert.ok(r.data.length > 0 && r.data.every((a) => a.nameSlug && a.imgSrc));
  }],
  ["apps.retrieve", async () => assert.equal((await pd.apps.retrieve("slack")).data.nameSlug, "slack")],
  ["appCategories.list", async () => {
    s.cats = await pd.appCategories.list();
    assert.ok(Array.isArray(s.cats) && s.cats.length > 0);
  }],
  ["appCategories.retrieve", async () => assert.equal((await pd.appCategories.retrieve(s.cats[0].id)).id, s.cats[0].id)],
  ["accounts.create", async () => {
    s.acct = await pd.accounts.create({
      externalUserId: user, appSlug: "openai", connectToken: s.tok.token,
      cfmapJson: JSON.stringify({ api_key: "sk-surface" }),
    });
    assert.match(s.acct.id, /^apn_/);
  }],
  ["accounts.list", async () => assert.deepEqual((await all(pd.accounts.list({ externalUserId: user }))).map((a) => a.id), [s.acct.id])],
  ["accounts.retrieve", async () => assert.equal((await pd.accounts.retrieve(s.acct.id)).app.nameSlug, "openai")],
  ["accounts.listByExternalUser", async () => assert.equal((await pd.accounts.listByExternalUser(user)).length, 1)],
  ...["get", "post", "put", "patch", "delete"].map((m) => [`proxy.${m}`, async () => {
    const opts = { url: `/anything/surface-${m}`, externalUserId: user, accountId: s.acct.id };
    if (m !== "get" && m !== "delete") opts.body = { m };
    const r = await pd.proxy[m](opts);
    assert.equal(r.method, m.toUpperCase(), JSON.stringify(r));
  }]),
  ["users.list", async () => assert.ok((await all(pd.users.list())).some((u) => u.externalId === user))],
  ...["components", "actions", "triggers"].flatMap((kind) => {
    const [key, prop, cfg, reload] = {
      components: ["slack-send-message", "channel", { slack }, "stripe-create-customer"],
      actions: ["slack-send-message", "channel", { slack }, "stripe-create-customer"],
      triggers: ["slack-new-message-in-channels", "conversations", { slack }, "http-new-requests"],
    }[kind];
    return [
      [`${kind}.list`, async () => assert.ok((await all(pd[kind].list({ app: key.split("-")[0] }))).some((c) => c.key === key))],
      [`${kind}.retrieve`, async () => assert.equal((await pd[kind].retrieve(key)).data.key, key)],
      [`${kind}.configureProp`, async () => {
        const r = await pd[kind].configureProp({ id: key, externalUserId: W, propName: prop, configuredProps: cfg, query: "general" });
        assert.ok(r.options.length > 0, JSON.stringify(r));
      }],
      [`${kind}.reloadProps`, async () => {
        const r = await pd[kind].reloadProps({ id: reload, externalUserId: W, configuredProps: {} });
        assert.ok(Array.isArray(r.dynamicProps.configurableProps), JSON.stringify(r));
      }],
    ];
  }),
  ["actions.run", async () => {
    const channel = (await pd.actions.configureProp({ id: "slack-send-message", externalUserId: W, propName: "channel", configuredProps: { slack }, query: "general" })).options[0].value;
    const r = await pd.actions.run({ id: "slack-send-message", externalUserId: W, configuredProps: { slack, channel, text: "surface" } });
    assert.equal(r.ret.ok, true);
  }],
  ["triggers.deploy", async () => {
    s.dc = (await pd.triggers.deploy({ id: "http-new-requests", externalUserId: W, configuredProps: {} })).data;
    assert.equal(s.dc.type, "DeployedComponent");
  }],
  ["workflows.invoke", async () => {
    await pd.workflows.invoke({ urlOrEndpoint: s.dc.configuredProps.http.endpoint_url, body: { n: 1 } });
  }],
  ["workflows.invokeForExternalUser", async () => {
    await pd.workflows.invokeForExternalUser({ urlOrEndpoint: s.dc.configuredProps.http.endpoint_url, externalUserId: W, body: { n: 2 } });
  }],
  ["deployedTriggers.list", async () => assert.ok((await all(pd.deployedTriggers.list({ externalUserId: W }))).some((d) => d.id === s.dc.id))],
  ["deployedTriggers.retrieve", async () => assert.equal((await pd.deployedTriggers.retrieve(s.dc.id, { externalUserId: W })).data.id, s.dc.id)],
  ["deployedTriggers.update", async () => assert.equal((await pd.deployedTriggers.update(s.dc.id, { externalUserId: W, active: true })).data.active, true)],
  ["deployedTriggers.listEvents", async () => {
    // An event of its own (`workflows.invoke` is not applicable).
    const post = await fetch(s.dc.configuredProps.http.endpoint_url, { method: "POST", body: "{}" });
    assert.equal(post.status, 200);
    const r = await pd.deployedTriggers.listEvents(s.dc.id, { externalUserId: W, n: 5 });
    assert.ok(r.data.length >= 1, JSON.stringify(r));
  }],
  ["deployedTriggers.updateWebhooks", async () => {
    const r = await pd.deployedTriggers.updateWebhooks(s.dc.id, { externalUserId: W, webhookUrls: [`${double}/anything/surface-sink`] });
    assert.equal(r.webhookUrls.length, 1, JSON.stringify(r));
  }],
  ["deployedTriggers.listWebhooks", async () => {
    s.hook = (await pd.deployedTriggers.listWebhooks(s.dc.id, { externalUserId: W })).webhooks[0];
    assert.ok(s.hook.id);
  }],
  ["deployedTriggers.retrieveWebhook", async () => assert.equal((await pd.deployedTriggers.retrieveWebhook(s.dc.id, s.hook.id, { externalUserId: W })).data.id, s.hook.id)],
  ["deployedTriggers.regenerateWebhookSigningKey", async () => assert.match((await pd.deployedTriggers.regenerateWebhookSigningKey(s.dc.id, s.hook.id, { externalUserId: W })).data.signingKey, /^whsec_/)],
  ["deployedTriggers.listWorkflows", () => pd.deployedTriggers.listWorkflows(s.dc.id, { externalUserId: W })],
  ["deployedTriggers.updateWorkflows", () => pd.deployedTriggers.updateWorkflows(s.dc.id, { externalUserId: W, workflowIds: [] })],
  ["deployedTriggers.delete", () => pd.deployedTriggers.delete(s.dc.id, { externalUserId: W })],
  ["projectEnvironment.updateWebhook", async () => assert.equal((await pd.projectEnvironment.updateWebhook({ url: `${double}/anything/project-hook` })).data.url, `${double}/anything/project-hook`)],
  ["projectEnvironment.retrieveWebhook", async () => assert.ok((await pd.projectEnvironment.retrieveWebhook()).data.id)],
  ["projectEnvironment.regenerateWebhookSigningKey", async () => assert.ok((await pd.projectEnvironment.regenerateWebhookSigningKey()).data.signingKey)],
  ["projectEnvironment.deleteWebhook", () => pd.projectEnvironment.deleteWebhook()],
  ["oauthApps.create", async () => {
    s.oa = await pd.oauthApps.create({ app: "github", clientId: "surface-js", clientSecret: "surface-secret" });
    assert.ok(s.oa.id && s.oa.nameSlug === "github" && s.oa.imgSrc && s.oa.ownerId === projectId, JSON.stringify(s.oa));
    assert.ok(Array.isArray(s.oa.categories) && typeof s.oa.featuredWeight === "number" && Array.isArray(s.oa.scopeProfiles));
  }],
  ["oauthApps.list", async () => assert.ok((await all(pd.oauthApps.list())).some((a) => a.id === s.oa.id && a.nameSlug === "github"))],
  ["oauthApps.retrieve", async () => assert.equal((await pd.oauthApps.retrieve(s.oa.id)).clientId, "surface-js")],
  ["oauthApps.update", async () => assert.equal((await pd.oauthApps.update(s.oa.id, { clientId: "surface-js-2" })).clientId, "surface-js-2")],
  ["appOverrides.create", async () => {
    s.ao = await pd.appOverrides.create({ app: "github", name: "surface", oauthAppId: s.oa.id });
    assert.ok(s.ao.id);
  }],
  ["appOverrides.list", async () => assert.ok((await all(pd.appOverrides.list())).some((o) => o.id === s.ao.id))],
  ["appOverrides.retrieve", async () => assert.equal((await pd.appOverrides.retrieve(s.ao.id)).name, "surface")],
  ["appOverrides.update", async () => assert.equal((await pd.appOverrides.update(s.ao.id, { name: "surface-2" })).name, "surface-2")],
  ["appOverrides.delete", () => pd.appOverrides.delete(s.ao.id)],
  ["oauthApps.delete", () => pd.oauthApps.delete(s.oa.id)],
  ["usage.list", async () => {
    const now = Math.floor(Date.now() / 1000);
    assert.ok(Array.isArray((await pd.usage.list({ startTs: now - 3600, endTs: now })).data));
  }],
  ["fileStash.downloadFile", async () => {
    // A file an action answered with is stashed; its key brings it back.
    const run = await pd.actions.run({ id: "http-custom-request", externalUserId: W, configuredProps: { url: `${double}/bytes/1000` } });
    const file = await pd.fileStash.downloadFile({ s3Key: run.ret.$stash.s3_key });
    assert.equal(new Uint8Array(await file.arrayBuffer()).length, 1000);
  }],
  ["projects.list", async () => assert.deepEqual((await all(pd.projects.list())).map((p) => p.id), [projectId])],
  ["projects.create", async () => {
    s.proj = await op.projects.create({ name: "Surface JS", appName: "Surface" });
    assert.match(s.proj.id, /^proj_/);
  }],
  ["projects.retrieve", async () => assert.equal((await op.projects.retrieve(s.proj.id)).name, "Surface JS")],
  ["projects.update", async () => assert.equal((await op.projects.update(s.proj.id, { supportEmail: "help@surface.test" })).supportEmail, "help@surface.test")],
  ["projects.updateLogo", () => pd.projects.updateLogo(projectId, { logo: PNG })],
  ["projects.retrieveInfo", async () => assert.ok(Array.isArray((await pd.projects.retrieveInfo()).apps))],
  ["projects.delete", () => op.projects.delete(s.proj.id)],
  ["accounts.delete", () => pd.accounts.delete(s.acct.id)],
  ["accounts.deleteByApp", () => pd.accounts.deleteByApp("openai")],
  ["users.deleteExternalUser", () => pd.users.deleteExternalUser(user)],
];

const methods = publicMethods(pd);
const called = new Set(calls.map(([n]) => n));
const uncalled = methods.filter((m) => !called.has(m));
assert.deepEqual(uncalled, [], `SDK methods this script does not call: ${uncalled}`);
const unknown = [...called].filter((m) => !methods.includes(m));
assert.deepEqual(unknown, [], `called methods the SDK does not have: ${unknown}`);

let ok = 0;
const na = [];
const failed = [];
const nowWorking = [];
for (const [name, fn] of calls) {
  try {
    await fn();
    ok += 1;
    if (pending.has(name)) nowWorking.push(name);
  } catch (e) {
    if (notApplicable(name, e)) {
      na.push(`${name}: ${e.statusCode} ${e.body?.error ?? "(no workflows: the SDK's own error) " + e.message}`);
      continue;
    }
    const why = e.statusCode ? `${e.statusCode} ${JSON.stringify(e.body)}` : String(e.stack || e);
    failed.push(`${name}: ${why.slice(0, 600)}`);
  }
}
console.log(`js surface: ${ok} of ${methods.length} methods work`);
for (const n of na) console.log(`js surface: not applicable (documented): ${n}`);
for (const f of failed) console.log(`js surface: FAILED ${f}`);
for (const n of nowWorking) console.log(`js surface: ${n} works now: drop it from SB_PENDING`);
const fatal = failed.filter((f) => !pending.has(f.split(":")[0]));
if (fatal.length || nowWorking.length) process.exit(1);
