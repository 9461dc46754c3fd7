// The components scenario with the real @pipedream/sdk: catalog, remote
// options, reload props, runAction and the proxy, against the provider
// doubles. Env: SB_BASE_URL, SB_PROJECT_ID, SB_CLIENT_ID, SB_CLIENT_SECRET,
// SB_USER, SB_SLACK_ACCOUNT, SB_GITHUB_ACCOUNT.
import assert from "node:assert/strict";
import { env, serverClient, stepper } from "./common.mjs";

const client = serverClient("production");
const externalUserId = env("SB_USER");
const slack = { authProvisionId: env("SB_SLACK_ACCOUNT") };
const github = { authProvisionId: env("SB_GITHUB_ACCOUNT") };
const step = stepper("js components");

step("1. list and retrieve components, actions and triggers");
const keys = [];
for await (const c of await client.components.list({ app: "slack" })) keys.push(c.key);
assert.ok(keys.includes("slack-send-message"), keys.join());
const actions = [];
for await (const c of await client.actions.list({ q: "issue" })) actions.push(c.key);
assert.ok(actions.includes("github-create-issue"), actions.join());
const triggers = [];
for await (const c of await client.triggers.list()) triggers.push(c.key);
assert.ok(triggers.includes("schedule-custom-interval"), triggers.join());
const { data: send } = await client.actions.retrieve("slack-send-message");
assert.equal(send.key, "slack-send-message");
assert.ok(send.configurableProps.find((p) => p.name === "channel").remoteOptions);

step("2. configure a remote-options prop");
const opts = await client.actions.configureProp({
  id: "slack-send-message",
  externalUserId,
  propName: "channel",
  configuredProps: { slack },
  query: "general",
});
assert.equal(opts.options.length, 1, JSON.stringify(opts));
const channel = opts.options[0].value;

step("3. reload props");
const reloaded = await client.actions.reloadProps({
  id: "stripe-create-customer",
  externalUserId,
  configuredProps: { include_address: true },
});
assert.ok(reloaded.dynamicProps.configurableProps.some((p) => p.name === "address_line1"));

step("4. run slack-send-message and github-create-issue");
const sent = await client.actions.run({
  id: "slack-send-message",
  externalUserId,
  configuredProps: { slack, channel, text: "from the JS SDK" },
});
assert.match(sent.exports.$summary, /Successfully sent/);
assert.equal(sent.ret.ok, true);
const issue = await client.actions.run({
  id: "github-create-issue",
  externalUserId,
  configuredProps: { github, repoFullname: "octocat/hello-world", title: "From the JS SDK" },
});
assert.equal(issue.ret.title, "From the JS SDK");
await assert.rejects(
  client.actions.run({ id: "github-create-issue", externalUserId, configuredProps: { github } }),
  (e) => e.statusCode === 400 && /repoFullname: missing/.test(JSON.stringify(e.body)),
);

step("5. the proxy");
const repo = await client.proxy.get({
  url: "/repos/octocat/hello-world",
  externalUserId,
  accountId: github.authProvisionId,
});
assert.equal(repo.full_name, "octocat/hello-world");
const issues = await client.proxy.get({
  url: "/repos/octocat/hello-world/issues",
  externalUserId,
  accountId: github.authProvisionId,
  params: { per_page: "3" },
});
assert.equal(issues.length, 3);
const created = await client.proxy.post({
  url: "/repos/octocat/hello-world/issues",
  externalUserId,
  accountId: github.authProvisionId,
  body: { title: "Via the JS proxy" },
});
assert.equal(created.title, "Via the JS proxy");
console.log("js components: scenario passed");
