// Prints a real GitHub webhook delivery for Switchboard's tests: an example
// payload from @octokit/webhooks-examples, signed by @octokit/webhooks-methods.
// Usage: node sign-github.mjs <secret> <event> <action>
// Output: {"body": "<raw JSON>", "signature": "sha256=…"}
import { createRequire } from "node:module";
import { sign } from "@octokit/webhooks-methods";

const [secret, event, action] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const examples = require("@octokit/webhooks-examples");
const group = (examples.default ?? examples).find((e) => e.name === event);
if (!group) throw new Error(`no examples for ${event}`);
const example = group.examples.find((x) => !action || x.action === action);
if (!example) throw new Error(`no ${event}.${action} example`);
const body = JSON.stringify(example);
const signature = await sign(secret, body);
process.stdout.write(JSON.stringify({ body, signature }));
