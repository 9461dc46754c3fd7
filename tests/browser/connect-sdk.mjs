#!/usr/bin/env node
// The official browser SDK's connectAccount, in headless Chromium, against
// a Switchboard server behind a TLS front (the SDK always loads
// `https://{frontendHost}/_static/connect.html`).
//   node connect-sdk.mjs '{"backend":"http://127.0.0.1:P","front_port":F,"customer_port":C,"sdk_dir":"…/dist/esm","cases":[…]}'
// Serves, in this process:
// - the TLS front on https://127.0.0.1:F, proxying to `backend` (a
//   self-signed certificate made with openssl; Chromium ignores its errors);
// - the customer's page on https://localhost:C (another site), which
//   imports the SDK's own ESM files (`@pipedream/sdk/browser`, unbundled).
// Each case: {name, token, app, steps}; steps: {fill:{label:value}},
// {click:"text"} (a popup it opens is followed until it closes),
// {block_popup_once:true} (the iframe's next window.open returns null, as
// a pop-up blocker does), {wait_text:"…"} (in the iframe),
// {wait_for:"success"|"error"|"close"} (an SDK callback, 15 s).
// Prints one JSON line: {cases:[{name, events, iframe_present,
// popups, iframe_text, console_errors, error}]}.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { createServer as createHttps } from 'node:https';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { chromium } from 'playwright-core';

const fail = (code, msg) => {
  process.stderr.write(`connect-sdk.mjs: ${msg}\n`);
  process.exit(code);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let sc;
try {
  sc = JSON.parse(process.argv[2] ?? '');
} catch (e) {
  fail(1, `usage: node connect-sdk.mjs '<scenario JSON>': ${e.message}`);
}
const exe = process.env.SWITCHBOARD_TEST_CHROMIUM || '/usr/bin/chromium';
if (!existsSync(exe)) fail(2, `no Chromium at ${exe}; install Debian's chromium: apt-get install chromium`);
setTimeout(() => fail(1, 'scenario still running after 150 s'), 150_000).unref();

// A self-signed certificate for 127.0.0.1 and localhost.
const dir = mkdtempSync(join(tmpdir(), 'sb-tls-'));
try {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
  { stdio: 'ignore' });
} catch (e) {
  fail(1, `openssl could not make a certificate (install openssl): ${e.message}`);
}
const tls = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
const listen = (srv, port, host) => new Promise((ok, ko) => srv.listen(port, host).once('listening', ok).once('error', ko));

// The TLS front: every request to the backend as it came.
const backend = new URL(sc.backend);
const front = createHttps(tls, (req, res) => {
  // A fresh connection each time: a pooled one the server already closed
  // as idle would fail with "socket hang up".
  const up = request({ host: backend.hostname, port: backend.port, method: req.method, path: req.url, headers: req.headers, agent: false }, (r) => {
    res.writeHead(r.statusCode, r.rawHeaders);
    r.pipe(res);
  });
  up.on('error', (e) => res.writeHead(502).end(String(e)));
  req.pipe(up);
});
await listen(front, sc.front_port, '127.0.0.1');
const frontendHost = `127.0.0.1:${sc.front_port}`;

// The customer's page, and the SDK's files.
const html = `<!doctype html><html><head><meta charset="utf-8"><title>customer</title></head><body><h1>Customer app</h1>
<script type="module">
import { createFrontendClient } from '/sdk/browser/index.mjs';
window.__events = [];
window.__connect = (token, app) => {
  const pd = createFrontendClient({
    frontendHost: ${JSON.stringify(frontendHost)},
    externalUserId: 'browser-user',
    tokenCallback: async () => ({ token, expiresAt: new Date(Date.now() + 3600e3), connectLinkUrl: '' }),
  });
  pd.connectAccount({
    token, app,
    onSuccess: (r) => window.__events.push({ cb: 'success', id: r.id }),
    onError: (e) => window.__events.push({ cb: 'error', message: e.message }),
    onClose: (s) => window.__events.push({ cb: 'close', ...s }),
  });
};
window.__ready = true;
</script></body></html>`;
const sdkDir = normalize(sc.sdk_dir);
const customer = createHttps(tls, (req, res) => {
  const path = new URL(req.url, 'https://x').pathname;
  if (path === '/favicon.ico') return void res.writeHead(204).end();
  if (path === '/') return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
  const file = normalize(join(sdkDir, path.replace(/^\/sdk\//, '')));
  if (path.startsWith('/sdk/') && file.startsWith(sdkDir) && existsSync(file)) {
    return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(file));
  }
  res.writeHead(404).end();
});
await listen(customer, sc.customer_port, '127.0.0.1');
const customerUrl = `https://localhost:${sc.customer_port}/`;

let browser;
try {
  browser = await chromium.launch({ executablePath: exe, headless: true, args: ['--no-sandbox', '--ignore-certificate-errors'] });
} catch (e) {
  fail(1, `cannot launch ${exe}: ${e.message}`);
}

async function runCase(c) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1024, height: 900 } });
  const errors = [];
  const popups = [];
  const watch = (p, where) => {
    p.on('console', (m) => {
      const at = m.location()?.url;
      if (m.type() === 'error' || m.type() === 'warning') errors.push(`${where} console.${m.type()}: ${m.text()}${at ? ` (${at})` : ''}`);
    });
    p.on('pageerror', (e) => errors.push(`${where} pageerror: ${e.message}`));
    p.on('requestfailed', (r) => {
      const why = r.failure()?.errorText ?? '';
      if (why !== 'net::ERR_ABORTED') errors.push(`${where} requestfailed: ${r.url()} ${why}`);
    });
    p.on('response', (r) => {
      if (r.status() >= 400) errors.push(`${where} http ${r.status()}: ${r.url()}`);
    });
  };
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  watch(page, 'page');
  context.on('page', (p) => {
    if (p === page) return;
    watch(p, 'popup');
    popups.push(p);
  });
  const events = () => page.evaluate(() => window.__events);
  const iframe = () => page.frameLocator('iframe[id^="pipedream-connect-iframe"]');
  let error = null;
  try {
    await page.goto(customerUrl, { waitUntil: 'load' });
    await page.waitForFunction(() => window.__ready === true);
    await page.evaluate(([t, a]) => window.__connect(t, a), [c.token, c.app]);
    await page.waitForSelector('iframe[id^="pipedream-connect-iframe"]');
    await iframe().locator('main').waitFor();
    for (const [i, s] of (c.steps ?? []).entries()) {
      try {
        if (s.fill) {
          for (const [label, value] of Object.entries(s.fill)) await iframe().getByLabel(label).fill(String(value));
        } else if (s.click) {
          const before = popups.length;
          await iframe().getByRole('button', { name: s.click }).or(iframe().getByRole('link', { name: s.click })).first().click();
          await sleep(300);
          for (const p of popups.slice(before)) {
            if (!p.isClosed()) await p.waitForEvent('close', { timeout: 15_000 });
          }
        } else if (s.block_popup_once) {
          const f = page.frames().find((f) => f.url().includes('/_static/connect.html'));
          await f.evaluate(() => {
            const open = window.open;
            window.open = function () {
              window.open = open;
              return null;
            };
          });
        } else if (s.wait_text) {
          await iframe().getByText(s.wait_text).first().waitFor();
        } else if (s.wait_for) {
          const t0 = Date.now();
          while (!(await events()).some((e) => e.cb === s.wait_for)) {
            if (Date.now() - t0 > 15_000) throw new Error(`no ${s.wait_for} callback after 15 s`);
            await sleep(100);
          }
        } else {
          throw new Error('unknown step');
        }
      } catch (e) {
        throw new Error(`step ${i} ${JSON.stringify(s)}: ${e.message.split('\n')[0]}`);
      }
    }
  } catch (e) {
    error = e.message.split('\n')[0];
  }
  const iframeText = await iframe().locator('body').innerText({ timeout: 1000 }).catch(() => null);
  const result = {
    name: c.name,
    events: await events().catch(() => null),
    iframe_present: (await page.locator('iframe[id^="pipedream-connect-iframe"]').count()) > 0,
    popups: popups.length,
    iframe_text: iframeText?.slice(0, 1000) ?? null,
    console_errors: errors,
    error,
  };
  await context.close();
  return result;
}

const cases = [];
for (const c of sc.cases ?? []) cases.push(await runCase(c));
process.stdout.write(`${JSON.stringify({ cases })}\n`);
await browser.close();
front.close();
customer.close();
process.exit(0);
