// Actions generated from GitHub's OpenAPI description (@octokit/openapi,
// `[[catalog.openapi]]`) through the real @pipedream/sdk: listed, retrieved,
// run against the GitHub double, bad props refused. Env: SB_BASE_URL,
// SB_PROJECT_ID, SB_CLIENT_ID, SB_CLIENT_SECRET, SB_USER, SB_GITHUB_ACCOUNT.
import assert from "node:assert/strict";
import { env, serverClient, stepper } from "./common.mjs";

const client = serverClient("production");
const externalUserId = env("SB_USER");
const github = { authProvisionId: env("SB_GITHUB_ACCOUNT") };
const step = stepper("js openapi");

step("1. the generated actions are listed beside the built-in ones, and retrieved");
const keys = [];
for await (const c of await client.actions.list({ app: "github" })) keys.push(c.key);
for (const k of ["github-issues-create", "github-repos-get", "github-issues-list-for-repo", "github-create-issue"]) {
  assert.ok(keys.includes(k), `${k} not listed`);
}
assert.ok(keys.length > 200, `${keys.length} actions`);
const { data: create } = await client.actions.retrieve("github-issues-create");
assert.equal(create.name, "Create an issue");
assert.deepEqual(
  create.configurableProps.slice(0, 4).map((p) => [p.name, p.type]),
  [["github", "app"], ["owner", "string"], ["repo", "string"], ["title", "string"]],
);

step("2. run the generated create-issue");
const title = "Generated, from the JS SDK";
const run = await client.actions.run({
  id: "github-issues-create",
  externalUserId,
  configuredProps: { github, owner: "octocat", repo: "hello-world", title, body: "via OpenAPI", labels: ["bug"] },
});
assert.equal(run.ret.title, title);
assert.equal(run.ret.labels[0].name, "bug");
assert.equal(run.exports.$summary, "Create an issue succeeded");

step("3. a generated list follows the app's pages");
const list = await client.actions.run({
  id: "github-issues-list-for-repo",
  externalUserId,
  configuredProps: { github, owner: "octocat", repo: "hello-world", per_page: 2, maxResults: 3, state: "all" },
});
assert.equal(list.ret.length, 3, JSON.stringify(list.ret).slice(0, 300));

step("4. bad props are refused with the prop named");
await assert.rejects(
  client.actions.run({ id: "github-issues-create", externalUserId, configuredProps: { github, repo: "hello-world", title: 5 } }),
  (e) => e.statusCode === 400 && /owner: missing/.test(JSON.stringify(e.body)) && /title: must be a string/.test(JSON.stringify(e.body)),
);
await assert.rejects(
  client.actions.run({ id: "github-issues-list-for-repo", externalUserId, configuredProps: { github, owner: "octocat", repo: "hello-world", state: "shut" } }),
  (e) => e.statusCode === 400 && /not one of the allowed options/.test(JSON.stringify(e.body)),
);
console.log("js openapi: scenario passed");
