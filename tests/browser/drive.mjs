#!/usr/bin/env node
// Drives Debian's headless Chromium (through playwright-core) through one
// scenario and prints ONE JSON line with what a person would have seen.
//   node drive.mjs '{"url":"http://127.0.0.1:P/...","steps":[...]}'
// Exit 0 whenever a result was printed (a step that fails is reported in
// `error`; the Rust test decides), 2 if Chromium is missing, 1 if the driver
// itself broke. See README.md for the scenario and result format.
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';

const fail = (code, msg) => {
  process.stderr.write(`drive.mjs: ${msg}\n`);
  process.exit(code);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let sc;
try {
  sc = JSON.parse(process.argv[2] ?? '');
  if (typeof sc.url !== 'string') throw new Error('"url" (a string) is required');
} catch (e) {
  fail(1, `usage: node drive.mjs '<scenario JSON>': ${e.message}`);
}
const exe = process.env.SWITCHBOARD_TEST_CHROMIUM || '/usr/bin/chromium';
if (!existsSync(exe)) fail(2, `no Chromium at ${exe}; install Debian's chromium: apt-get install chromium`);
setTimeout(() => fail(1, 'scenario still running after 120 s'), 120_000).unref();

const LOCAL = new Set(['127.0.0.1', 'localhost', '[::1]']);
const isLocal = (u) => LOCAL.has(u.hostname);

// iframe mode: our own embedding page, recording postMessage payloads.
let parent = null;
let parentOrigin = null;
if (sc.iframe) {
  const attr = sc.url.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>embedder</title></head><body>
<script>window.__messages = []; addEventListener('message', (e) => window.__messages.push(e.data));</script>
<iframe id="connect" src="${attr}" width="800" height="900" style="border:0"></iframe>
</body></html>`;
  parent = createServer((req, res) => {
    if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
    else res.writeHead(404).end();
  });
  await new Promise((ok, ko) => parent.listen(sc.parent_port ?? 0, '127.0.0.1').once('listening', ok).once('error', ko));
  parentOrigin = `http://127.0.0.1:${parent.address().port}`;
}

let browser;
try {
  browser = await chromium.launch({ executablePath: exe, headless: true, args: ['--no-sandbox'] });
} catch (e) {
  fail(1, `cannot launch ${exe}: ${e.message}`);
}
const context = await browser.newContext({ viewport: { width: 1024, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(15_000);

// The frame under test: the page itself, or the embedded iframe.
const isTarget = (f) => (sc.iframe ? f.parentFrame() === page.mainFrame() : f === page.mainFrame());
const target = () => (sc.iframe ? page.mainFrame().childFrames()[0] : page.mainFrame());

const errors = [];
let status = null;
let navStarted = 0; // navigation requests of the target frame (each redirect hop counts)
let navEnded = 0;
const listen = (p) => {
  p.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') {
      const at = m.location()?.url;
      errors.push(`console.${m.type()}: ${m.text()}${at ? ` (${at})` : ''}`);
    }
  });
  p.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
};
listen(page);
// Popups (the framed page's OAuth window): their errors count too, and a
// step settles once they have closed.
const popups = new Set();
context.on('page', (p) => {
  if (p === page) return;
  listen(p);
  popups.add(p);
  p.on('close', () => popups.delete(p));
});
page.on('request', (r) => {
  if (r.isNavigationRequest() && isTarget(r.frame())) navStarted += 1;
});
page.on('requestfinished', (r) => {
  if (r.isNavigationRequest() && isTarget(r.frame())) navEnded += 1;
});
let external = null; // an external URL a redirect hop failed to reach
page.on('requestfailed', (r) => {
  const nav = r.isNavigationRequest();
  if (nav && isTarget(r.frame())) {
    navEnded += 1;
    // page.route is not consulted for redirect hops (documented), so a
    // server redirect to https://acme.example/ok fails to resolve: we then
    // navigate there ourselves, which the route below answers.
    if (!isLocal(new URL(r.url()))) return void (external = r.url());
  }
  const why = r.failure()?.errorText ?? '';
  // A navigation superseded by another one is aborted: not an error.
  if (!(nav && why === 'net::ERR_ABORTED')) errors.push(`requestfailed: ${r.method()} ${r.url()} ${why}`);
});
page.on('response', (r) => {
  const req = r.request();
  // The document's own status is `status`; its subresources' errors count.
  if (req.isNavigationRequest() && isTarget(r.frame())) status = r.status();
  else if (r.status() >= 400) errors.push(`http ${r.status()}: ${req.method()} ${r.url()}`);
});

// Anything off loopback: documents are answered with a stub page (so a
// redirect to https://acme.example/ok ends there, visibly), other requests
// fail at once (an external asset is a bug, reported in console_errors).
await context.route(
  (u) => !isLocal(u),
  (route) => {
    if (route.request().isNavigationRequest()) {
      return route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>redirected</title><p>redirected</p>' });
    }
    return route.abort('internetdisconnected');
  },
);

async function followExternal() {
  if (!external) return;
  const url = external;
  external = null;
  await target()?.goto(url, { waitUntil: 'load' }).catch(() => {});
}

async function settle(before) {
  const t0 = Date.now();
  // Did the action start a navigation of the target frame?
  while (navStarted === before && Date.now() - t0 < 1500) await sleep(50);
  while (navEnded < navStarted && Date.now() - t0 < 15_000) await sleep(50);
  await followExternal();
  while (popups.size > 0 && Date.now() - t0 < 15_000) await sleep(50);
  await target()?.waitForLoadState('load', { timeout: 15_000 }).catch(() => {});
  await target()?.waitForLoadState('networkidle', { timeout: 5_000 }).catch(() => {});
}

async function byText(frame, roles, name) {
  for (const exact of [true, false]) {
    for (const role of roles) {
      const l = frame.getByRole(role, { name, exact });
      if ((await l.count()) > 0) return l.first();
    }
  }
  throw new Error(`no ${roles.join(' or ')} named ${JSON.stringify(name)}`);
}

async function byLabel(frame, label) {
  for (const exact of [true, false]) {
    const l = frame.getByLabel(label, { exact });
    if ((await l.count()) > 0) return l.first();
  }
  throw new Error(`no input labelled ${JSON.stringify(label)}`);
}

async function step(s) {
  const frame = target();
  if (!frame) throw new Error('no iframe in the embedding page');
  if ('click' in s || 'submit' in s) {
    const el = 'click' in s ? await byText(frame, ['link', 'button'], s.click) : await byText(frame, ['button'], s.submit);
    const before = navStarted;
    await el.click();
    await settle(before);
  } else if ('fill' in s) {
    for (const [label, value] of Object.entries(s.fill)) await (await byLabel(frame, label)).fill(String(value));
  } else if ('screenshot' in s) {
    await page.screenshot({ path: s.screenshot, fullPage: true });
  } else if ('wait_for_url_prefix' in s) {
    const t0 = Date.now();
    while (!target()?.url().startsWith(s.wait_for_url_prefix)) {
      await followExternal();
      if (Date.now() - t0 > 15_000) throw new Error(`URL is ${target()?.url()}, not ${s.wait_for_url_prefix}… after 15 s`);
      await sleep(100);
    }
    await target().waitForLoadState('load').catch(() => {});
  } else {
    throw new Error(`unknown step ${JSON.stringify(s)}`);
  }
}

let error = null;
try {
  const before = navStarted;
  // goto fails when a redirect hop of it failed; settle() follows it.
  await page.goto(sc.iframe ? `${parentOrigin}/` : sc.url, { waitUntil: 'load' }).catch((e) => {
    if (!external) throw e;
  });
  await settle(before);
  if (sc.screenshot) await page.screenshot({ path: sc.screenshot, fullPage: true });
  for (const [i, s] of (sc.steps ?? []).entries()) {
    try {
      await step(s);
    } catch (e) {
      throw new Error(`step ${i} ${JSON.stringify(s)}: ${e.message.split('\n')[0]}`);
    }
  }
} catch (e) {
  error = e.message.split('\n')[0];
}

let messages = [];
if (sc.iframe) {
  // Wait up to 3 s for messages; stop 500 ms after the last one arrived.
  const t0 = Date.now();
  let seen = -1;
  let since = Date.now();
  while (Date.now() - t0 < 3000) {
    messages = await page.evaluate(() => window.__messages).catch(() => messages);
    if (messages.length !== seen) [seen, since] = [messages.length, Date.now()];
    else if (seen > 0 && Date.now() - since >= 500) break;
    await sleep(100);
  }
}

await followExternal();
const frame = target();
const result = {
  final_url: frame?.url() ?? null,
  title: (await frame?.title().catch(() => '')) ?? '',
  text: ((await frame?.locator('body').innerText({ timeout: 2000 }).catch(() => '')) ?? '').slice(0, 2000),
  console_errors: errors,
  messages,
  status,
  error,
};
if (sc.iframe) result.parent_origin = parentOrigin;
process.stdout.write(`${JSON.stringify(result)}\n`);
await browser.close();
parent?.close();
process.exit(0);
