#!/usr/bin/env node
// Starts one HTTP double per provider on 127.0.0.1 (ephemeral ports), prints
// one JSON line {"github": url, "slack": url, ...} to stdout and keeps running
// until its stdin closes (the test harness holds the pipe) or it gets
// SIGTERM/SIGINT. Set DOUBLES_IGNORE_STDIN=1 to keep running with a closed
// stdin (manual use, backgrounding with </dev/null).
// Nothing else is written to stdout; diagnostics go to stderr.

import { startProvider } from './common.mjs';
import github from './github.mjs';
import slack from './slack.mjs';
import stripe from './stripe.mjs';
import rss from './rss.mjs';
import httpDouble from './http.mjs';
import hubspot from './hubspot.mjs';
import aws from './aws.mjs';
import trello from './trello.mjs';

const PROVIDERS = { github, slack, stripe, rss, http: httpDouble, hubspot, aws, trello };

function shutdown(code) {
  process.exit(code);
}

async function main() {
  const urls = {};
  for (const [name, factory] of Object.entries(PROVIDERS)) {
    const { url } = await startProvider(factory());
    urls[name] = url;
  }
  process.on('SIGTERM', () => shutdown(0));
  process.on('SIGINT', () => shutdown(0));
  process.stdout.on('error', () => {}); // reader gone: keep serving until stdin closes

  await new Promise((resolve) => process.stdout.write(`${JSON.stringify(urls)}\n`, resolve));

  if (process.env.DOUBLES_IGNORE_STDIN !== '1') {
    process.stdin.on('data', () => {}); // drain whatever the harness writes
    process.stdin.on('end', () => shutdown(0));
    process.stdin.on('close', () => shutdown(0));
    process.stdin.on('error', () => shutdown(0));
    process.stdin.resume();
  }
}

main().catch((err) => {
  process.stderr.write(`[doubles] failed to start: ${err.stack || err}\n`);
  process.exit(1);
});
