#!/usr/bin/env node
// Self-test of the doubles: starts server.mjs as a child, reads its JSON
// line and exercises every provider over HTTP. Exits non-zero on failure.
// Run: node tests/doubles/selftest.mjs

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import aws4 from 'aws4';
import crypto from 'node:crypto';
import OAuth from 'oauth-1.0a';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SERVER = join(dirname(fileURLToPath(import.meta.url)), 'server.mjs');

// ------------------------------------------------------------ harness

function startServer(stdin = 'pipe') {
  const child = spawn(process.execPath, [SERVER], { stdio: [stdin, 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const firstLine = new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('no JSON line from server.mjs within 10s')), 10_000);
    child.stdout.on('data', (chunk) => {
      buf += chunk;
      const i = buf.indexOf('\n');
      if (i >= 0) {
        clearTimeout(timer);
        resolve(buf.slice(0, i));
      }
    });
    child.once('exit', () => reject(new Error(`server.mjs exited before printing (stdout: ${JSON.stringify(buf)})`)));
  });
  return { child, exited, firstLine, stdout: () => child.stdout };
}

const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: timed out after ${ms}ms`)), ms))]);

async function call(url, { method = 'GET', headers = {}, body, json, form, signal } = {}) {
  const h = { ...headers };
  let payload = body;
  if (json !== undefined) {
    payload = JSON.stringify(json);
    h['content-type'] ??= 'application/json';
  }
  if (form !== undefined) {
    payload = new URLSearchParams(form).toString();
    h['content-type'] ??= 'application/x-www-form-urlencoded';
  }
  const res = await fetch(url, { method, headers: h, body: payload, signal, redirect: 'manual' });
  const text = await res.text();
  let parsed = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, text, json: parsed };
}

const ctl = async (base, method, path, json) => {
  const r = await call(`${base}${path}`, { method, json });
  assert.ok(r.status === 200, `control ${method} ${path} -> ${r.status} ${r.text}`);
  return r.json;
};

const bearer = (t) => ({ authorization: `Bearer ${t}` });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

/** Parse a Link header into {rel: url}. */
function links(header) {
  const out = {};
  for (const part of (header || '').split(',')) {
    const m = /<([^>]+)>;\s*rel="([^"]+)"/.exec(part.trim());
    if (m) out[m[2]] = m[1];
  }
  return out;
}

// --------------------------------------------------------------- GitHub

let U; // urls

test('github: auth errors (missing, unknown, expired) are 401 Bad credentials', async () => {
  const G = U.github;
  await ctl(G, 'POST', '/__control/tokens', { token: 'gh-expired', expires_in: 0 });
  const expected = { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' };
  for (const headers of [{}, bearer('nope'), { authorization: 'token gh-expired' }]) {
    const r = await call(`${G}/user`, { headers });
    assert.equal(r.status, 401);
    assert.deepEqual(r.json, expected);
    assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.ok(r.headers.get('x-ratelimit-limit'));
  }
});

test('github: registered token, user, repo shapes, rate-limit headers, 404', async () => {
  const G = U.github;
  await ctl(G, 'POST', '/__control/tokens', { token: 'gh-1', expires_in: null });
  const r1 = await call(`${G}/user`, { headers: { authorization: 'token gh-1' } });
  assert.equal(r1.status, 200);
  assert.equal(r1.json.login, 'octocat');
  assert.equal(r1.json.id, 1);
  assert.equal(r1.headers.get('x-ratelimit-limit'), '5000');
  assert.equal(r1.headers.get('x-ratelimit-remaining'), '4999');
  assert.equal(r1.headers.get('x-ratelimit-used'), '1');
  assert.equal(r1.headers.get('x-ratelimit-resource'), 'core');
  assert.match(r1.headers.get('x-ratelimit-reset'), /^\d{10}$/);
  assert.ok(r1.headers.get('x-github-request-id'));
  const r2 = await call(`${G}/repos/octocat/hello-world`, { headers: bearer('gh-1') });
  assert.equal(r2.headers.get('x-ratelimit-remaining'), '4998');
  const repo = r2.json;
  assert.equal(repo.full_name, 'octocat/hello-world');
  assert.equal(repo.name, 'hello-world');
  assert.equal(repo.owner.login, 'octocat');
  assert.equal(repo.private, false);
  assert.equal(repo.html_url, 'https://github.com/octocat/hello-world');
  assert.equal(repo.url, `${G}/repos/octocat/hello-world`);
  assert.equal(repo.default_branch, 'master');
  assert.equal(repo.open_issues_count, 30);
  assert.equal(typeof repo.id, 'number');
  assert.ok(!JSON.stringify(repo).includes('octokit-fixture'));
  const r3 = await call(`${G}/repos/octocat/nope`, { headers: bearer('gh-1') });
  assert.equal(r3.status, 404);
  assert.deepEqual(r3.json, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' });
  const r4 = await call(`${G}/user/repos?per_page=1`, { headers: bearer('gh-1') });
  assert.equal(r4.json.length, 1);
  assert.equal(r4.json[0].full_name, 'octocat/hello-world');
  assert.equal(links(r4.headers.get('link')).last, `${G}/user/repos?per_page=1&page=2`);
});

test('github: issues Link pagination to the last page, newest first', async () => {
  const G = U.github;
  let url = `${G}/repos/octocat/hello-world/issues?state=all&per_page=10`;
  const seen = [];
  let pages = 0;
  let first;
  while (url) {
    const r = await call(url, { headers: bearer('gh-1') });
    assert.equal(r.status, 200);
    pages += 1;
    if (pages === 1) {
      first = r;
      assert.equal(
        r.headers.get('link'),
        `<${G}/repos/octocat/hello-world/issues?state=all&per_page=10&page=2>; rel="next", <${G}/repos/octocat/hello-world/issues?state=all&per_page=10&page=5>; rel="last"`,
      );
    }
    if (pages === 2) {
      const l = links(r.headers.get('link'));
      assert.deepEqual(Object.keys(l), ['prev', 'next', 'last', 'first']);
    }
    seen.push(...r.json);
    const l = links(r.headers.get('link'));
    if (!l.next) {
      assert.deepEqual(Object.keys(l), ['prev', 'first']);
      assert.equal(r.json.length, 5);
    }
    url = l.next;
  }
  assert.equal(pages, 5);
  assert.deepEqual(seen.map((i) => i.number), Array.from({ length: 45 }, (_, i) => 45 - i));
  const issue = first.json[0];
  for (const k of ['id', 'node_id', 'number', 'title', 'body', 'state', 'user', 'labels', 'html_url', 'url', 'created_at', 'updated_at']) assert.ok(k in issue, k);
  const open = await call(`${G}/repos/octocat/hello-world/issues?per_page=100`, { headers: bearer('gh-1') });
  assert.equal(open.json.length, 30);
  assert.ok(open.json.every((i) => i.state === 'open'));
  assert.equal(open.headers.get('link'), null);
  const closed = await call(`${G}/repos/octocat/hello-world/issues?state=closed&direction=asc&per_page=100`, { headers: bearer('gh-1') });
  assert.equal(closed.json.length, 15);
  assert.equal(closed.json[0].number, 3);
  const bad = await call(`${G}/repos/octocat/hello-world/issues?state=bogus`, { headers: bearer('gh-1') });
  assert.equal(bad.status, 422);
});

test('github: create issue (201), 422 missing title, 400 bad JSON', async () => {
  const G = U.github;
  const r = await call(`${G}/repos/octocat/hello-world/issues`, { method: 'POST', headers: bearer('gh-1'), json: { title: 'Hi', body: 'there', labels: ['bug', 'new-label'] } });
  assert.equal(r.status, 201);
  assert.equal(r.json.number, 46);
  assert.equal(r.json.state, 'open');
  assert.equal(r.json.title, 'Hi');
  assert.equal(r.json.user.login, 'octocat');
  assert.deepEqual(r.json.labels.map((l) => l.name), ['bug', 'new-label']);
  assert.equal(r.headers.get('location'), `${G}/repos/octocat/hello-world/issues/46`);
  const missing = await call(`${G}/repos/octocat/hello-world/issues`, { method: 'POST', headers: bearer('gh-1'), json: { body: 'x' } });
  assert.equal(missing.status, 422);
  assert.deepEqual(missing.json.errors, [{ resource: 'Issue', code: 'missing_field', field: 'title' }]);
  assert.equal(missing.json.message, 'Validation Failed');
  assert.equal(missing.json.status, '422');
  const badJson = await call(`${G}/repos/octocat/hello-world/issues`, { method: 'POST', headers: { ...bearer('gh-1'), 'content-type': 'application/json' }, body: '{nope' });
  assert.equal(badJson.status, 400);
  assert.equal(badJson.json.message, 'Problems parsing JSON');
});

test('github: conditional GET answers 304 without spending rate limit', async () => {
  const G = U.github;
  const a = await call(`${G}/repos/octocat/spoon-knife`, { headers: bearer('gh-1') });
  const etag = a.headers.get('etag');
  assert.ok(etag);
  const b = await call(`${G}/repos/octocat/spoon-knife`, { headers: { ...bearer('gh-1'), 'if-none-match': etag } });
  assert.equal(b.status, 304);
  assert.equal(b.headers.get('x-ratelimit-remaining'), a.headers.get('x-ratelimit-remaining'));
});

test('github: primary rate limit -> 403 with remaining 0 and retry-after', async () => {
  const G = U.github;
  await ctl(G, 'POST', '/__control/tokens', { token: 'gh-rl' });
  await ctl(G, 'POST', '/__control/config', { rate_limit: 2 });
  for (const left of ['1', '0']) {
    const r = await call(`${G}/user`, { headers: bearer('gh-rl') });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-ratelimit-remaining'), left);
  }
  const r = await call(`${G}/user`, { headers: bearer('gh-rl') });
  assert.equal(r.status, 403);
  assert.equal(r.json.message, 'API rate limit exceeded for user ID 1.');
  assert.equal(r.headers.get('x-ratelimit-remaining'), '0');
  assert.ok(Number(r.headers.get('retry-after')) > 0);
  await ctl(G, 'POST', '/__control/config', { rate_limit: 5000 });
});

test('github: injected 429 secondary rate limit with Retry-After, then recovery', async () => {
  const G = U.github;
  await ctl(G, 'POST', '/__control/fail', { status: 429, count: 1, retry_after: 1, path_prefix: '/repos' });
  const other = await call(`${G}/user`, { headers: bearer('gh-1') });
  assert.equal(other.status, 200, 'path_prefix must limit the injection');
  const r = await call(`${G}/repos/octocat/hello-world`, { headers: bearer('gh-1') });
  assert.equal(r.status, 429);
  assert.equal(r.headers.get('retry-after'), '1');
  assert.match(r.json.message, /^You have exceeded a secondary rate limit/);
  const again = await call(`${G}/repos/octocat/hello-world`, { headers: bearer('gh-1') });
  assert.equal(again.status, 200);
});

test('github: refresh-token rotation, reuse fails, client errors, stats', async () => {
  const G = U.github;
  await ctl(G, 'POST', '/__control/clients', { client_id: 'Iv1.client', client_secret: 's3cret' });
  await ctl(G, 'POST', '/__control/refresh_tokens', { refresh_token: 'ghr_old', client_id: 'Iv1.client' });
  const endpoint = `${G}/login/oauth/access_token`;
  const accept = { accept: 'application/json' };
  const r = await call(endpoint, { method: 'POST', headers: accept, form: { grant_type: 'refresh_token', refresh_token: 'ghr_old', client_id: 'Iv1.client', client_secret: 's3cret' } });
  assert.equal(r.status, 200);
  assert.match(r.json.access_token, /^ghu_/);
  assert.match(r.json.refresh_token, /^ghr_/);
  assert.equal(r.json.expires_in, 28800);
  assert.equal(r.json.refresh_token_expires_in, 15897600);
  assert.equal(r.json.token_type, 'bearer');
  assert.equal(r.json.scope, '');
  assert.equal((await call(`${G}/user`, { headers: bearer(r.json.access_token) })).status, 200);
  const reuse = await call(endpoint, { method: 'POST', headers: accept, form: { grant_type: 'refresh_token', refresh_token: 'ghr_old', client_id: 'Iv1.client', client_secret: 's3cret' } });
  assert.equal(reuse.status, 200);
  assert.equal(reuse.json.error, 'bad_refresh_token');
  const badClient = await call(endpoint, { method: 'POST', headers: accept, form: { grant_type: 'refresh_token', refresh_token: r.json.refresh_token, client_id: 'Iv1.client', client_secret: 'wrong' } });
  assert.equal(badClient.json.error, 'incorrect_client_credentials');
  // Basic client auth, JSON request body, default (form-encoded) response.
  await ctl(G, 'POST', '/__control/config', { access_token_ttl: 60 });
  const basic = await call(endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from('Iv1.client:s3cret').toString('base64')}` },
    json: { grant_type: 'refresh_token', refresh_token: r.json.refresh_token },
  });
  assert.match(basic.headers.get('content-type'), /^application\/x-www-form-urlencoded/);
  const f = new URLSearchParams(basic.text);
  assert.match(f.get('access_token'), /^ghu_/);
  assert.equal(f.get('expires_in'), '60');
  const stats = await ctl(G, 'GET', '/__control/stats');
  assert.equal(stats.refreshes, 2);
  assert.ok(stats.requests > 0);
});

test('github: tokens with a TTL expire', async () => {
  const G = U.github;
  await ctl(G, 'POST', '/__control/tokens', { token: 'gh-short', expires_in: 0.3 });
  assert.equal((await call(`${G}/user`, { headers: bearer('gh-short') })).status, 200);
  await sleep(400);
  assert.equal((await call(`${G}/user`, { headers: bearer('gh-short') })).status, 401);
});

test('github: hooks create, list, delete, 404', async () => {
  const G = U.github;
  const base = `${G}/repos/octocat/hello-world/hooks`;
  const c = await call(base, { method: 'POST', headers: bearer('gh-1'), json: { name: 'web', config: { url: 'http://127.0.0.1:9/h', content_type: 'json', secret: 'x' }, events: ['issues'], active: true } });
  assert.equal(c.status, 201);
  assert.equal(typeof c.json.id, 'number');
  assert.deepEqual(c.json.events, ['issues']);
  assert.equal(c.json.config.secret, '********');
  const l = await call(base, { headers: bearer('gh-1') });
  assert.equal(l.json.length, 1);
  assert.equal((await call(`${base}/${c.json.id}`, { method: 'DELETE', headers: bearer('gh-1') })).status, 204);
  assert.equal((await call(`${base}/${c.json.id}`, { method: 'DELETE', headers: bearer('gh-1') })).status, 404);
});

test('github: request log records non-control requests; reset restores data', async () => {
  const G = U.github;
  await ctl(G, 'DELETE', '/__control/requests');
  await call(`${G}/user?x=1`, { headers: { ...bearer('gh-1'), 'X-Custom': 'Yes' } });
  await ctl(G, 'GET', '/__control/stats');
  const log = (await ctl(G, 'GET', '/__control/requests')).requests;
  assert.equal(log.length, 1);
  assert.equal(log[0].method, 'GET');
  assert.equal(log[0].path, '/user');
  assert.deepEqual(log[0].query, { x: '1' });
  assert.equal(log[0].headers['x-custom'], 'Yes');
  assert.equal(log[0].body, '');
  assert.equal(log[0].status, 200);
  assert.equal(typeof log[0].ts, 'number');
  await ctl(G, 'POST', '/__control/reset');
  assert.equal((await call(`${G}/user`, { headers: bearer('gh-1') })).status, 401);
  await ctl(G, 'POST', '/__control/tokens', { token: 'gh-1' });
  const issues = await call(`${G}/repos/octocat/hello-world/issues?state=all&per_page=100`, { headers: bearer('gh-1') });
  assert.equal(issues.json.length, 45);
  assert.equal((await ctl(G, 'GET', '/__control/stats')).refreshes, 0);
});

// ---------------------------------------------------------------- Slack

test('slack: auth errors are 200 ok:false (not_authed, invalid_auth, token_expired)', async () => {
  const S = U.slack;
  await ctl(S, 'POST', '/__control/tokens', { token: 'xoxb-expired', expires_in: 0 });
  for (const [headers, error] of [[{}, 'not_authed'], [bearer('xoxb-nope'), 'invalid_auth'], [bearer('xoxb-expired'), 'token_expired']]) {
    const r = await call(`${S}/api/auth.test`, { method: 'POST', headers });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { ok: false, error });
    assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
  }
  await ctl(S, 'POST', '/__control/tokens', { token: 'xoxb-1' });
  const ok = await call(`${S}/api/auth.test`, { method: 'POST', headers: bearer('xoxb-1') });
  assert.equal(ok.json.ok, true);
  assert.equal(ok.json.team_id, 'T0TEAM');
  const viaForm = await call(`${S}/api/auth.test`, { method: 'POST', form: { token: 'xoxb-1' } });
  assert.equal(viaForm.json.ok, true);
  const unknown = await call(`${S}/api/nope.nope`, { method: 'POST', headers: bearer('xoxb-1') });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json.error, 'unknown_method');
});

test('slack: conversations.list cursor pagination to the end', async () => {
  const S = U.slack;
  const seen = [];
  let cursor = '';
  let pages = 0;
  do {
    const q = new URLSearchParams({ limit: '10', ...(cursor ? { cursor } : {}) });
    const r = await call(`${S}/api/conversations.list?${q}`, { headers: bearer('xoxb-1') });
    assert.equal(r.json.ok, true);
    pages += 1;
    seen.push(...r.json.channels);
    cursor = r.json.response_metadata.next_cursor;
    if (pages === 1) assert.match(Buffer.from(cursor, 'base64').toString(), /^team:C\w+$/);
  } while (cursor);
  assert.equal(pages, 3);
  assert.equal(seen.length, 25);
  assert.equal(new Set(seen.map((c) => c.id)).size, 25);
  assert.deepEqual(seen.slice(0, 3).map((c) => c.name), ['general', 'random', 'dev-1']);
  const c = seen[0];
  for (const k of ['id', 'name', 'is_channel', 'is_private', 'is_archived', 'created', 'num_members']) assert.ok(k in c, k);
  // POST form and JSON bodies take the same arguments
  const form = await call(`${S}/api/conversations.list`, { method: 'POST', headers: bearer('xoxb-1'), form: { exclude_archived: 'true', limit: '1000' } });
  assert.equal(form.json.channels.length, 22);
  assert.equal(form.json.response_metadata.next_cursor, '');
  const js = await call(`${S}/api/conversations.list`, { method: 'POST', headers: bearer('xoxb-1'), json: { limit: 5 } });
  assert.equal(js.json.channels.length, 5);
  const bad = await call(`${S}/api/conversations.list?cursor=garbage`, { headers: bearer('xoxb-1') });
  assert.deepEqual(bad.json, { ok: false, error: 'invalid_cursor' });
});

test('slack: chat.postMessage JSON and form, errors, stored messages', async () => {
  const S = U.slack;
  const r = await call(`${S}/api/chat.postMessage`, { method: 'POST', headers: bearer('xoxb-1'), json: { channel: '#general', text: 'hello', thread_ts: '1700000000.000001' } });
  assert.equal(r.json.ok, true);
  assert.match(r.json.channel, /^C/);
  assert.match(r.json.ts, /^\d{10}\.\d{6}$/);
  assert.equal(r.json.message.text, 'hello');
  assert.equal(r.json.message.user, 'U0BOT');
  assert.equal(r.json.message.bot_id, 'B0BOT');
  assert.equal(r.json.message.team, 'T0TEAM');
  const f = await call(`${S}/api/chat.postMessage`, { method: 'POST', form: { token: 'xoxb-1', channel: r.json.channel, blocks: JSON.stringify([{ type: 'section', text: { type: 'mrkdwn', text: '*hi*' } }]) } });
  assert.equal(f.json.ok, true);
  assert.notEqual(f.json.ts, r.json.ts);
  const nf = await call(`${S}/api/chat.postMessage`, { method: 'POST', headers: bearer('xoxb-1'), json: { channel: 'C999', text: 'x' } });
  assert.deepEqual(nf.json, { ok: false, error: 'channel_not_found' });
  const nt = await call(`${S}/api/chat.postMessage`, { method: 'POST', headers: bearer('xoxb-1'), json: { channel: '#random' } });
  assert.deepEqual(nt.json, { ok: false, error: 'no_text' });
  const msgs = (await ctl(S, 'GET', '/__control/messages')).messages;
  assert.equal(msgs.length, 2);
  assert.equal(msgs[0].channel_name, 'general');
  assert.equal(msgs[0].thread_ts, '1700000000.000001');
});

test('slack: oauth.v2.access refresh rotation, reuse and client errors', async () => {
  const S = U.slack;
  await ctl(S, 'POST', '/__control/clients', { client_id: '111.222', client_secret: 'shh' });
  await ctl(S, 'POST', '/__control/refresh_tokens', { refresh_token: 'xoxe-1-old', client_id: '111.222' });
  const endpoint = `${S}/api/oauth.v2.access`;
  const r = await call(endpoint, { method: 'POST', form: { grant_type: 'refresh_token', refresh_token: 'xoxe-1-old', client_id: '111.222', client_secret: 'shh' } });
  assert.equal(r.json.ok, true);
  assert.equal(r.json.token_type, 'bot');
  assert.equal(r.json.bot_user_id, 'U0BOT');
  assert.equal(r.json.app_id, 'A0APP');
  assert.deepEqual(r.json.team, { id: 'T0TEAM', name: 'Test Team' });
  assert.equal(r.json.expires_in, 28800);
  assert.ok(r.json.refresh_token && r.json.refresh_token !== 'xoxe-1-old');
  assert.equal((await call(`${S}/api/auth.test`, { method: 'POST', headers: bearer(r.json.access_token) })).json.ok, true);
  const reuse = await call(endpoint, { method: 'POST', form: { grant_type: 'refresh_token', refresh_token: 'xoxe-1-old', client_id: '111.222', client_secret: 'shh' } });
  assert.equal(reuse.status, 200);
  assert.deepEqual(reuse.json, { ok: false, error: 'invalid_refresh_token' });
  const secret = await call(endpoint, { method: 'POST', form: { grant_type: 'refresh_token', refresh_token: r.json.refresh_token, client_id: '111.222', client_secret: 'bad' } });
  assert.deepEqual(secret.json, { ok: false, error: 'bad_client_secret' });
  const basic = await call(endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from('111.222:shh').toString('base64')}` },
    form: { grant_type: 'refresh_token', refresh_token: r.json.refresh_token },
  });
  assert.equal(basic.json.ok, true);
  assert.equal((await ctl(S, 'GET', '/__control/stats')).refreshes, 2);
});

test('slack: injected 429 carries Retry-After and ratelimited', async () => {
  const S = U.slack;
  await ctl(S, 'POST', '/__control/fail', { status: 429, retry_after: 3 });
  const r = await call(`${S}/api/chat.postMessage`, { method: 'POST', headers: bearer('xoxb-1'), json: { channel: '#general', text: 'x' } });
  assert.equal(r.status, 429);
  assert.equal(r.headers.get('retry-after'), '3');
  assert.deepEqual(r.json, { ok: false, error: 'ratelimited' });
});

// --------------------------------------------------------------- Stripe

const sk = 'sk_test_abcdefgh1234';
const skAuth = { authorization: `Bearer ${sk}` };

test('stripe: missing and invalid API keys', async () => {
  const P = U.stripe;
  const m = await call(`${P}/v1/customers`);
  assert.equal(m.status, 401);
  assert.equal(m.json.error.type, 'invalid_request_error');
  assert.match(m.json.error.message, /^You did not provide an API key/);
  const i = await call(`${P}/v1/customers`, { headers: bearer('sk_test_wxyz1234') });
  assert.equal(i.status, 401);
  assert.equal(i.json.error.message, 'Invalid API Key provided: sk_test_****1234');
  assert.match(i.headers.get('request-id'), /^req_/);
  await ctl(P, 'POST', '/__control/tokens', { token: sk });
  const basic = await call(`${P}/v1/customers`, { headers: { authorization: `Basic ${Buffer.from(`${sk}:`).toString('base64')}` } });
  assert.equal(basic.status, 200);
  assert.equal(basic.json.object, 'list');
  assert.ok(basic.headers.get('stripe-version'));
});

test('stripe: form bodies with brackets, JSON refused, retrieve, 404', async () => {
  const P = U.stripe;
  const c = await call(`${P}/v1/customers`, { method: 'POST', body: 'email=a%40example.com&name=Ann&metadata[plan]=pro&metadata[seats]=3', headers: { ...skAuth, 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(c.status, 200);
  assert.match(c.json.id, /^cus_/);
  assert.equal(c.json.object, 'customer');
  assert.equal(c.json.livemode, false);
  assert.equal(c.json.email, 'a@example.com');
  assert.deepEqual(c.json.metadata, { plan: 'pro', seats: '3' });
  assert.equal(typeof c.json.created, 'number');
  const got = await call(`${P}/v1/customers/${c.json.id}`, { headers: skAuth });
  assert.deepEqual(got.json, c.json);
  const byEmail = await call(`${P}/v1/customers?email=a%40example.com`, { headers: skAuth });
  assert.deepEqual(byEmail.json.data.map((x) => x.id), [c.json.id]);
  const js = await call(`${P}/v1/customers`, { method: 'POST', headers: skAuth, json: { email: 'b@example.com' } });
  assert.equal(js.status, 400);
  assert.equal(js.json.error.type, 'invalid_request_error');
  const nf = await call(`${P}/v1/customers/cus_nope`, { headers: skAuth });
  assert.equal(nf.status, 404);
  assert.equal(nf.json.error.code, 'resource_missing');
  const unk = await call(`${P}/v1/customers`, { method: 'POST', headers: skAuth, form: { bogus: '1' } });
  assert.equal(unk.status, 400);
  assert.equal(unk.json.error.code, 'parameter_unknown');
});

test('stripe: idempotency replay and mismatch', async () => {
  const P = U.stripe;
  const h = { ...skAuth, 'idempotency-key': 'idem-1' };
  const a = await call(`${P}/v1/customers`, { method: 'POST', headers: h, form: { email: 'i@example.com' } });
  const b = await call(`${P}/v1/customers`, { method: 'POST', headers: h, form: { email: 'i@example.com' } });
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
  assert.equal(b.json.id, a.json.id);
  assert.equal(b.headers.get('idempotent-replayed'), 'true');
  assert.equal(a.headers.get('idempotent-replayed'), null);
  const c = await call(`${P}/v1/customers`, { method: 'POST', headers: h, form: { email: 'other@example.com' } });
  assert.equal(c.status, 400);
  assert.equal(c.json.error.type, 'idempotency_error');
  const list = await call(`${P}/v1/customers?email=i%40example.com`, { headers: skAuth });
  assert.equal(list.json.data.length, 1);
});

test('stripe: charges list pagination with starting_after / ending_before and errors', async () => {
  const P = U.stripe;
  const first = await call(`${P}/v1/charges`, { headers: skAuth });
  assert.equal(first.json.object, 'list');
  assert.equal(first.json.url, '/v1/charges');
  assert.equal(first.json.data.length, 10);
  assert.equal(first.json.has_more, true);
  const all = [];
  let after = null;
  for (;;) {
    const r = await call(`${P}/v1/charges?limit=7${after ? `&starting_after=${after}` : ''}`, { headers: skAuth });
    assert.equal(r.status, 200);
    all.push(...r.json.data);
    if (!r.json.has_more) break;
    after = r.json.data.at(-1).id;
  }
  assert.equal(all.length, 30);
  assert.ok(all.every((c, i) => i === 0 || all[i - 1].created > c.created), 'created descending');
  assert.ok(all.every((c) => /^ch_/.test(c.id) && c.currency === 'usd' && c.status === 'succeeded' && c.object === 'charge'));
  const before = await call(`${P}/v1/charges?limit=3&ending_before=${all[5].id}`, { headers: skAuth });
  assert.deepEqual(before.json.data.map((c) => c.id), all.slice(2, 5).map((c) => c.id));
  assert.equal(before.json.has_more, true);
  const missing = await call(`${P}/v1/charges?starting_after=ch_nope`, { headers: skAuth });
  assert.equal(missing.status, 400);
  assert.equal(missing.json.error.code, 'resource_missing');
  for (const limit of ['0', '101', 'abc']) {
    const r = await call(`${P}/v1/charges?limit=${limit}`, { headers: skAuth });
    assert.equal(r.status, 400, limit);
    assert.equal(r.json.error.code, 'parameter_invalid_integer');
    assert.equal(r.json.error.param, 'limit');
  }
  const byCustomer = await call(`${P}/v1/charges?limit=100&customer=${all[0].customer}`, { headers: skAuth });
  assert.equal(byCustomer.json.data.length, 10);
});

test('stripe: webhook endpoints and events', async () => {
  const P = U.stripe;
  const we = await call(`${P}/v1/webhook_endpoints`, { method: 'POST', body: 'url=https%3A%2F%2Fexample.com%2Fhook&enabled_events[]=charge.succeeded&enabled_events[]=customer.created', headers: { ...skAuth, 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(we.status, 200);
  assert.match(we.json.id, /^we_/);
  assert.match(we.json.secret, /^whsec_/);
  assert.deepEqual(we.json.enabled_events, ['charge.succeeded', 'customer.created']);
  assert.equal(we.json.status, 'enabled');
  const del = await call(`${P}/v1/webhook_endpoints/${we.json.id}`, { method: 'DELETE', headers: skAuth });
  assert.deepEqual(del.json, { id: we.json.id, object: 'webhook_endpoint', deleted: true });
  assert.equal((await call(`${P}/v1/webhook_endpoints/${we.json.id}`, { method: 'DELETE', headers: skAuth })).status, 404);
  const ev = await call(`${P}/v1/events?type=customer.created&limit=100`, { headers: skAuth });
  assert.ok(ev.json.data.length >= 3);
  assert.ok(ev.json.data.every((e) => e.object === 'event' && e.type === 'customer.created'));
});

test('stripe: injected 429 rate_limit_error with Retry-After', async () => {
  const P = U.stripe;
  await ctl(P, 'POST', '/__control/fail', { status: 429, retry_after: 2, path_prefix: '/v1/charges' });
  const r = await call(`${P}/v1/charges`, { headers: skAuth });
  assert.equal(r.status, 429);
  assert.equal(r.headers.get('retry-after'), '2');
  assert.equal(r.json.error.type, 'rate_limit_error');
  assert.equal((await call(`${P}/v1/charges`, { headers: skAuth })).status, 200);
});

// ------------------------------------------------------------------ RSS

test('rss: RSS and Atom with ETag / Last-Modified, 304s, new item changes ETag', async () => {
  const R = U.rss;
  const a = await call(`${R}/feed.xml`);
  assert.equal(a.status, 200);
  assert.match(a.headers.get('content-type'), /^application\/rss\+xml/);
  assert.equal((a.text.match(/<item>/g) || []).length, 20);
  assert.ok(a.text.indexOf('Seeded item 20') < a.text.indexOf('Seeded item 19'), 'newest first');
  assert.match(a.text, /<pubDate>\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT<\/pubDate>/);
  const etag = a.headers.get('etag');
  const lm = a.headers.get('last-modified');
  assert.ok(etag && lm);
  assert.equal((await call(`${R}/feed.xml`, { headers: { 'if-none-match': etag } })).status, 304);
  assert.equal((await call(`${R}/feed.xml`, { headers: { 'if-modified-since': lm } })).status, 304);
  const atom = await call(`${R}/atom.xml`);
  assert.match(atom.headers.get('content-type'), /^application\/atom\+xml/);
  assert.equal((atom.text.match(/<entry>/g) || []).length, 20);
  assert.equal((await call(`${R}/atom.xml`, { headers: { 'if-none-match': atom.headers.get('etag') } })).status, 304);
  await ctl(R, 'POST', '/__control/items', { title: 'Fresh & new', description: 'hot' });
  const b = await call(`${R}/feed.xml`, { headers: { 'if-none-match': etag } });
  assert.equal(b.status, 200);
  assert.notEqual(b.headers.get('etag'), etag);
  assert.equal((b.text.match(/<item>/g) || []).length, 21);
  assert.ok(b.text.indexOf('Fresh &amp; new') < b.text.indexOf('Seeded item 20'));
  assert.equal((await call(`${R}/feed.xml`, { headers: { 'if-modified-since': lm } })).status, 200);
});

test('rss: injected delay delays the response', async () => {
  const R = U.rss;
  await ctl(R, 'POST', '/__control/fail', { delay_ms: 300 });
  const t0 = Date.now();
  assert.equal((await call(`${R}/feed.xml`)).status, 200);
  assert.ok(Date.now() - t0 >= 290);
});

// ----------------------------------------------------------------- HTTP

test('http: anything, status, delay, bytes, headers, bearer', async () => {
  const H = U.http;
  const a = await call(`${H}/anything/x/y?q=1&q=2`, { method: 'PUT', json: { k: 'v' }, headers: { 'x-test': 't' } });
  assert.equal(a.json.method, 'PUT');
  assert.equal(a.json.path, '/anything/x/y');
  assert.deepEqual(a.json.query, { q: ['1', '2'] });
  assert.equal(a.json.headers['x-test'], 't');
  assert.equal(a.json.body, '{"k":"v"}');
  assert.deepEqual(a.json.json, { k: 'v' });
  const s = await call(`${H}/status/418`, { method: 'POST' });
  assert.equal(s.status, 418);
  assert.deepEqual(s.json, { status: 418 });
  const t0 = Date.now();
  const d = await call(`${H}/delay/200`);
  assert.deepEqual(d.json, { delayed_ms: 200 });
  assert.ok(Date.now() - t0 >= 190);
  await assert.rejects(call(`${H}/delay/2000`, { signal: AbortSignal.timeout(100) }), (e) => e.name === 'TimeoutError');
  const res = await fetch(`${H}/bytes/100000`);
  assert.equal(res.headers.get('content-type'), 'application/octet-stream');
  assert.equal((await res.arrayBuffer()).byteLength, 100000);
  const h = await call(`${H}/headers`, { headers: { 'x-a': 'b' } });
  assert.equal(h.json.headers['x-a'], 'b');
  assert.deepEqual((await call(`${H}/bearer`)).json, { authenticated: false });
  assert.equal((await call(`${H}/bearer`, { headers: bearer('h-1') })).status, 401);
  await ctl(H, 'POST', '/__control/tokens', { token: 'h-1' });
  assert.deepEqual((await call(`${H}/bearer`, { headers: bearer('h-1') })).json, { authenticated: true, token: 'h-1' });
});

test('http: injected 503 then normal; control endpoints stay out of the log', async () => {
  const H = U.http;
  await ctl(H, 'DELETE', '/__control/requests');
  await ctl(H, 'POST', '/__control/fail', { status: 503, count: 2, retry_after: 1, body: { custom: true } });
  const r1 = await call(`${H}/anything`);
  assert.equal(r1.status, 503);
  assert.deepEqual(r1.json, { custom: true });
  assert.equal(r1.headers.get('retry-after'), '1');
  assert.equal((await call(`${H}/anything`)).status, 503);
  assert.equal((await call(`${H}/anything`)).status, 200);
  const log = (await ctl(H, 'GET', '/__control/requests')).requests;
  assert.deepEqual(log.map((e) => e.status), [503, 503, 200]);
  assert.equal((await call(`${H}/__control/nope`)).status, 404);
});

// ------------------------------------------------------- polling: GitHub

test('github: control issues and PRs; pull_request items, new ETag, free 304, since/sort/direction/Link', async () => {
  const G = U.github;
  const h = bearer('gh-1');
  const url = `${G}/repos/octocat/hello-world/issues?state=all&sort=updated&direction=desc&per_page=100`;
  const a = await call(url, { headers: h });
  assert.equal(a.status, 200);
  const etag = a.headers.get('etag');
  const nm = await call(url, { headers: { ...h, 'if-none-match': etag } });
  assert.equal(nm.status, 304);
  assert.equal(nm.headers.get('x-ratelimit-remaining'), a.headers.get('x-ratelimit-remaining'), '304 does not spend rate limit');
  const sinceIso = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const issues = await ctl(G, 'POST', '/__control/issues', { repo: 'octocat/Hello-World', count: 2 });
  const prs = await ctl(G, 'POST', '/__control/issues', { repo: 'octocat/Hello-World', count: 1, pull_request: true });
  assert.deepEqual(issues.issues.map((i) => i.number), [46, 47]);
  assert.deepEqual(prs.issues.map((i) => [i.number, i.pull_request]), [[48, true]]);
  for (const i of [...issues.issues, ...prs.issues]) {
    assert.match(i.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(i.updated_at, i.created_at);
    assert.ok(Date.parse(i.created_at) >= Date.parse(sinceIso));
  }
  const b = await call(url, { headers: { ...h, 'if-none-match': etag } });
  assert.equal(b.status, 200, 'new issues change the ETag');
  assert.notEqual(b.headers.get('etag'), etag);
  assert.equal(b.json.length, 48);
  assert.deepEqual(b.json.slice(0, 3).map((i) => i.number), [48, 47, 46], 'updated desc, ties by number');
  const pr = b.json[0];
  assert.equal(pr.html_url, 'https://github.com/octocat/hello-world/pull/48');
  assert.equal(pr.pull_request.url, `${G}/repos/octocat/hello-world/pulls/48`);
  assert.equal(pr.pull_request.merged_at, null);
  assert.ok(!('pull_request' in b.json[1]) && !('pull_request' in b.json[2]));
  assert.equal(b.json[1].html_url, 'https://github.com/octocat/hello-world/issues/47');
  const since = await call(`${G}/repos/octocat/hello-world/issues?state=all&since=${sinceIso}&sort=updated&direction=asc`, { headers: h });
  assert.deepEqual(since.json.map((i) => i.number), [46, 47, 48]);
  const open = await call(`${G}/repos/octocat/hello-world/issues?since=${sinceIso}&state=closed`, { headers: h });
  assert.deepEqual(open.json, []);
  const p1 = await call(`${G}/repos/octocat/hello-world/issues?state=all&sort=created&direction=asc&per_page=10`, { headers: h });
  assert.deepEqual(Object.keys(links(p1.headers.get('link'))), ['next', 'last']);
  assert.equal(links(p1.headers.get('link')).last, `${G}/repos/octocat/hello-world/issues?state=all&sort=created&direction=asc&per_page=10&page=5`);
  const p5 = await call(links(p1.headers.get('link')).last, { headers: h });
  assert.deepEqual(Object.keys(links(p5.headers.get('link'))), ['prev', 'first']);
  assert.deepEqual(p5.json.map((i) => i.number), [41, 42, 43, 44, 45, 46, 47, 48]);
  const unknown = await call(`${G}/__control/issues`, { method: 'POST', json: { repo: 'octocat/nope', count: 1 } });
  assert.equal(unknown.status, 404);
});

// ------------------------------------------------------- polling: Stripe

test('stripe: control charges/customers one second apart; created[gt|gte|lt|lte] and created= with cursors', async () => {
  const P = U.stripe;
  const h = { headers: skAuth };
  const t0 = Math.floor(Date.now() / 1000);
  const add = await ctl(P, 'POST', '/__control/charges', { count: 3 });
  const [c0, c1, c2] = add.charges; // newest first
  assert.ok(add.charges.every((c) => /^ch_3\w{23}$/.test(c.id) && c.object === 'charge' && c.status === 'succeeded'));
  assert.equal(c0.created, c1.created + 1);
  assert.equal(c1.created, c2.created + 1);
  assert.ok(c2.created >= t0);
  const ids = (r) => r.json.data.map((c) => c.id);
  const first = await call(`${P}/v1/charges?limit=3`, h);
  assert.deepEqual(ids(first), [c0.id, c1.id, c2.id], 'newest first');
  const gte = await call(`${P}/v1/charges?created[gte]=${c2.created}`, h);
  assert.deepEqual(gte.json, { object: 'list', data: gte.json.data, has_more: false, url: '/v1/charges' });
  assert.deepEqual(ids(gte), [c0.id, c1.id, c2.id]);
  assert.deepEqual(ids(await call(`${P}/v1/charges?created%5Bgt%5D=${c2.created}`, h)), [c0.id, c1.id]);
  assert.deepEqual(ids(await call(`${P}/v1/charges?created[gte]=${c2.created}&created[lt]=${c0.created}`, h)), [c1.id, c2.id]);
  assert.deepEqual(ids(await call(`${P}/v1/charges?created=${c1.created}`, h)), [c1.id]);
  const lte = await call(`${P}/v1/charges?created[lte]=${c2.created}&limit=1`, h);
  assert.deepEqual(ids(lte), [c2.id]);
  assert.equal(lte.json.has_more, true);
  const p1 = await call(`${P}/v1/charges?created[gte]=${c2.created}&limit=1`, h);
  assert.deepEqual([ids(p1), p1.json.has_more], [[c0.id], true]);
  const p2 = await call(`${P}/v1/charges?created[gte]=${c2.created}&limit=1&starting_after=${c0.id}`, h);
  assert.deepEqual([ids(p2), p2.json.has_more], [[c1.id], true]);
  const p3 = await call(`${P}/v1/charges?created[gte]=${c2.created}&limit=5&starting_after=${c1.id}`, h);
  assert.deepEqual([ids(p3), p3.json.has_more], [[c2.id], false]);
  const eb = await call(`${P}/v1/charges?created[gte]=${c2.created}&limit=1&ending_before=${c2.id}`, h);
  assert.deepEqual([ids(eb), eb.json.has_more], [[c1.id], true]);
  const bad = await call(`${P}/v1/charges?created[gt]=soon`, h);
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.code, 'parameter_invalid_integer');
  assert.equal(bad.json.error.param, 'created[gt]');
  const unk = await call(`${P}/v1/charges?created[after]=1`, h);
  assert.equal(unk.status, 400);
  assert.equal(unk.json.error.code, 'parameter_unknown');
  const ev = await call(`${P}/v1/events?type=charge.succeeded&limit=1`, h);
  assert.equal(ev.json.data[0].data.object.id, c0.id);

  const cust = await ctl(P, 'POST', '/__control/customers', { count: 2 });
  const [k0, k1] = cust.customers;
  assert.ok(cust.customers.every((c) => /^cus_\w{14}$/.test(c.id) && c.object === 'customer'));
  assert.equal(k0.created, k1.created + 1);
  const cl = await call(`${P}/v1/customers?created[gte]=${k1.created}`, h);
  assert.deepEqual(ids(cl), [k0.id, k1.id]);
  assert.equal(cl.json.url, '/v1/customers');
  assert.deepEqual(ids(await call(`${P}/v1/customers?created[gt]=${k1.created}`, h)), [k0.id]);
  assert.deepEqual(ids(await call(`${P}/v1/customers?limit=1&ending_before=${k1.id}`, h)), [k0.id]);
  const more = await ctl(P, 'POST', '/__control/charges', { count: 1 });
  assert.ok(more.charges[0].created > c0.created, 'created keeps increasing across calls');
});

// ------------------------------------------------------ polling: HubSpot

const hsSearch = (body, token = 'hs-1') =>
  call(`${U.hubspot}/crm/v3/objects/contacts/search`, { method: 'POST', headers: token ? bearer(token) : {}, json: body });
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

test('aws: SigV4 signed by aws4 passes; a wrong secret, a stale date or no signature is refused', async () => {
  const A = new URL(U.aws);
  await call(`${U.aws}/__control/keys`, { method: 'POST', json: { access_key: 'AKIDSELFTEST', secret_key: 'right' } });
  const signed = (secret, extra = {}) =>
    aws4.sign(
      { host: A.host, path: '/?Action=ListUsers&Version=2010-05-08', service: 'iam', region: 'us-east-1', headers: { ...extra } },
      { accessKeyId: 'AKIDSELFTEST', secretAccessKey: secret },
    );
  const ok = signed('right');
  let r = await call(`${U.aws}${ok.path}`, { headers: ok.headers });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.ListUsersResponse.ListUsersResult.Users[0].UserName, 'alice');
  const bad = signed('wrong');
  r = await call(`${U.aws}${bad.path}`, { headers: bad.headers });
  assert.equal(r.status, 403);
  assert.equal(r.json.Error.Code, 'SignatureDoesNotMatch');
  const stale = signed('right', { 'X-Amz-Date': '20150830T123600Z' });
  r = await call(`${U.aws}${stale.path}`, { headers: stale.headers });
  assert.equal(r.json.Error.Code, 'RequestExpired');
  r = await call(`${U.aws}/?Action=ListUsers`);
  assert.equal(r.json.Error.Code, 'MissingAuthenticationToken');
  const post = aws4.sign(
    { host: A.host, path: '/things', method: 'POST', body: '{"a":1}', service: 'thing', region: 'eu-west-1', headers: { 'content-type': 'application/json' } },
    { accessKeyId: 'AKIDSELFTEST', secretAccessKey: 'right' },
  );
  r = await call(`${U.aws}/things`, { method: 'POST', headers: post.headers, body: post.body });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual([r.json.region, r.json.service, r.json.body], ['eu-west-1', 'thing', '{"a":1}']);
});

test('trello: the OAuth 1.0a dance signed by oauth-1.0a, then a signed API call; bad signatures and reused nonces are refused', async () => {
  const T = U.trello;
  await call(`${T}/__control/consumers`, { method: 'POST', json: { key: 'ck', secret: 'cs' } });
  const oauth = OAuth({ consumer: { key: 'ck', secret: 'cs' }, signature_method: 'HMAC-SHA1', hash_function: (b, k) => crypto.createHmac('sha1', k).update(b).digest('base64') });
  const signed = (method, url, token, data = {}) => oauth.toHeader(oauth.authorize({ url, method, data }, token));
  let url = `${T}/1/OAuthGetRequestToken`;
  let r = await call(url, { method: 'POST', headers: signed('POST', url, undefined, { oauth_callback: 'http://cb.example/back?state=s1' }) });
  assert.equal(r.status, 200, r.text);
  const rt = Object.fromEntries(new URLSearchParams(r.text));
  assert.equal(rt.oauth_callback_confirmed, 'true');
  r = await call(`${T}/1/OAuthAuthorizeToken?oauth_token=${rt.oauth_token}&expiration=never`);
  assert.equal(r.status, 302);
  const back = new URL(r.headers.get('location'));
  assert.equal(back.searchParams.get('state'), 's1');
  assert.equal(back.searchParams.get('oauth_token'), rt.oauth_token);
  url = `${T}/1/OAuthGetAccessToken`;
  const reqTok = { key: rt.oauth_token, secret: rt.oauth_token_secret };
  r = await call(url, { method: 'POST', headers: signed('POST', url, reqTok, { oauth_verifier: 'wrong' }) });
  assert.equal(r.status, 401);
  r = await call(url, { method: 'POST', headers: signed('POST', url, reqTok, { oauth_verifier: back.searchParams.get('oauth_verifier') }) });
  assert.equal(r.status, 200, r.text);
  const at = Object.fromEntries(new URLSearchParams(r.text));
  url = `${T}/1/members/me?fields=username`;
  const h = signed('GET', url, { key: at.oauth_token, secret: at.oauth_token_secret });
  r = await call(url, { headers: h });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.username, 'doubleuser');
  r = await call(url, { headers: h });
  assert.equal(r.text, 'nonce already used');
  r = await call(url, { headers: signed('GET', url, { key: at.oauth_token, secret: 'wrong' }) });
  assert.equal(r.text, 'invalid signature');
});

test('hubspot: 401 INVALID_AUTHENTICATION / EXPIRED_AUTHENTICATION in HubSpot error shape', async () => {
  const HS = U.hubspot;
  for (const token of [null, 'hs-unknown']) {
    const r = await hsSearch({}, token);
    assert.equal(r.status, 401);
    assert.deepEqual(Object.keys(r.json), ['status', 'message', 'correlationId', 'category']);
    assert.equal(r.json.status, 'error');
    assert.equal(r.json.category, 'INVALID_AUTHENTICATION');
    assert.match(r.json.message, /^Authentication credentials not found\./);
    assert.match(r.json.correlationId, UUID_RE);
    assert.equal(r.headers.get('x-hubspot-correlation-id'), r.json.correlationId);
    assert.equal(r.headers.get('content-type'), 'application/json;charset=utf-8');
  }
  await ctl(HS, 'POST', '/__control/tokens', { token: 'hs-exp', expires_in: 0 });
  const e = await hsSearch({}, 'hs-exp');
  assert.equal(e.status, 401);
  assert.equal(e.json.category, 'EXPIRED_AUTHENTICATION');
  assert.match(e.json.message, /^The OAuth token used to make this call expired \d+ second\(s\) ago\.$/);
  assert.match(e.json.context['expire time'][0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

test('hubspot: contacts search filters, sorts, properties, after paging to the end, rate-limit headers', async () => {
  const HS = U.hubspot;
  await ctl(HS, 'POST', '/__control/tokens', { token: 'hs-1' });
  const start = Date.UTC(2026, 0, 1);
  const add = await ctl(HS, 'POST', '/__control/contacts', { count: 25, createdate_ms: start, step_ms: 1000 });
  assert.equal(add.added, 25);
  const addedIds = add.contacts.map((c) => Number(c.id));
  assert.ok(addedIds.every((id, i) => i === 0 || id > addedIds[i - 1]), 'ids increase');
  const since = (op, ms) => ({ propertyName: 'createdate', operator: op, value: String(ms) });
  const body = {
    filterGroups: [{ filters: [since('GTE', start)] }],
    sorts: [{ propertyName: 'createdate', direction: 'ASCENDING' }],
    properties: ['email', 'firstname', 'lastname', 'createdate'],
    limit: 10,
  };
  const seen = [];
  let after;
  let pages = 0;
  let remaining = Infinity;
  do {
    const r = await hsSearch({ ...body, ...(after ? { after } : {}) });
    assert.equal(r.status, 200, r.text);
    pages += 1;
    assert.equal(r.json.total, 25);
    assert.deepEqual(Object.keys(r.json).slice(0, 2), ['total', 'results']);
    seen.push(...r.json.results);
    const rem = Number(r.headers.get('x-hubspot-ratelimit-remaining'));
    assert.ok(rem < remaining, 'X-HubSpot-RateLimit-Remaining decreases');
    remaining = rem;
    assert.equal(r.headers.get('x-hubspot-ratelimit-max'), '100');
    assert.equal(r.headers.get('x-hubspot-ratelimit-interval-milliseconds'), '10000');
    assert.equal(r.headers.get('x-hubspot-ratelimit-daily'), '500000');
    assert.match(r.headers.get('x-hubspot-ratelimit-daily-remaining'), /^\d+$/);
    after = r.json.paging?.next?.after;
    if (pages === 1) assert.deepEqual(r.json.paging, { next: { after: '10' } });
  } while (after);
  assert.equal(pages, 3);
  assert.equal(seen.length, 25);
  const c = seen[0];
  assert.deepEqual(Object.keys(c), ['id', 'properties', 'createdAt', 'updatedAt', 'archived']);
  assert.deepEqual(Object.keys(c.properties), ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname']);
  assert.equal(c.properties.createdate, new Date(start).toISOString());
  assert.equal(c.createdAt, c.properties.createdate);
  assert.equal(c.properties.hs_object_id, c.id);
  assert.match(c.id, /^\d+$/);
  assert.equal(c.archived, false);
  assert.deepEqual(seen.map((x) => Date.parse(x.properties.createdate)), Array.from({ length: 25 }, (_, i) => start + i * 1000));
  const gt = await hsSearch({ ...body, filterGroups: [{ filters: [since('GT', start + 9000)] }] });
  assert.equal(gt.json.total, 15);
  const desc = await hsSearch({ ...body, sorts: [{ propertyName: 'createdate', direction: 'DESCENDING' }], limit: 1 });
  assert.equal(desc.json.results[0].properties.createdate, new Date(start + 24000).toISOString());
  const window = await hsSearch({ ...body, filterGroups: [{ filters: [since('GTE', start), since('LT', start + 5000)] }] });
  assert.equal(window.json.total, 5);
  assert.equal(window.json.paging, undefined, 'no paging on the last page');
  const lte = await hsSearch({ ...body, filterGroups: [{ filters: [since('GTE', start), since('LTE', start + 5000)] }] });
  assert.equal(lte.json.total, 6);
  const or = await hsSearch({ ...body, filterGroups: [{ filters: [since('EQ', start)] }, { filters: [since('EQ', start + 24000)] }] });
  assert.equal(or.json.total, 2, 'filterGroups are ORed');
  const iso = await hsSearch({ ...body, filterGroups: [{ filters: [{ propertyName: 'createdate', operator: 'EQ', value: new Date(start).toISOString() }] }] });
  assert.equal(iso.json.total, 1);
  const dflt = await hsSearch({ filterGroups: body.filterGroups });
  assert.equal(dflt.json.results.length, 10, 'limit defaults to 10');
  assert.equal(Number(dflt.json.results[0].id), addedIds[0], 'no sort: by id ascending');
  const only = await hsSearch({ ...body, properties: ['email'] });
  assert.deepEqual(Object.keys(only.json.results[0].properties), ['createdate', 'email', 'hs_object_id', 'lastmodifieddate']);
  assert.equal((await hsSearch({ ...body, limit: 200 })).status, 200);
  for (const bad of [{ limit: 201 }, { filterGroups: [{ filters: [{ propertyName: 'createdate', operator: 'AFTER', value: '1' }] }] }, { after: 'abc' }]) {
    const r = await hsSearch({ ...body, ...bad });
    assert.equal(r.status, 400, JSON.stringify(bad));
    assert.equal(r.json.status, 'error');
    assert.equal(r.json.category, 'VALIDATION_ERROR');
  }
  const badJson = await call(`${HS}/crm/v3/objects/contacts/search`, { method: 'POST', headers: { ...bearer('hs-1'), 'content-type': 'application/json' }, body: '{nope' });
  assert.equal(badJson.status, 400);
  assert.equal(badJson.json.category, 'VALIDATION_ERROR');
  const listed = await ctl(HS, 'GET', '/__control/contacts');
  assert.equal(listed.count, 27, '2 seeded sample contacts + 25');
  assert.equal(listed.contacts.length, 10);
  assert.equal(listed.contacts.at(-1).id, String(addedIds.at(-1)));
});

test('hubspot: paging past 10,000 results is a 400 VALIDATION_ERROR', async () => {
  const HS = U.hubspot;
  await ctl(HS, 'DELETE', '/__control/contacts');
  const r = await ctl(HS, 'POST', '/__control/contacts', { count: 10001, createdate_ms: Date.UTC(2025, 0, 1), step_ms: 1 });
  assert.equal(r.added, 10001);
  assert.equal(r.total, 10001);
  const body = { sorts: [{ propertyName: 'createdate', direction: 'ASCENDING' }], properties: ['email'], limit: 200 };
  const near = await hsSearch({ ...body, after: '9800' });
  assert.equal(near.status, 200);
  assert.equal(near.json.total, 10001);
  assert.equal(near.json.results.length, 200);
  assert.deepEqual(near.json.paging, { next: { after: '10000' } }, 'HubSpot still offers the next cursor');
  const last = await hsSearch({ ...body, after: '9999', limit: 1 });
  assert.equal(last.status, 200);
  for (const [after, limit] of [['10000', 200], ['10000', 1], ['9995', 10]]) {
    const e = await hsSearch({ ...body, after, limit });
    assert.equal(e.status, 400, `${after}+${limit}`);
    assert.deepEqual(Object.keys(e.json), ['status', 'message', 'correlationId', 'category']);
    assert.equal(e.json.status, 'error');
    assert.equal(e.json.category, 'VALIDATION_ERROR');
    assert.match(e.json.message, /10000/);
    assert.match(e.json.correlationId, UUID_RE);
  }
  await ctl(HS, 'DELETE', '/__control/contacts');
});

test('hubspot: injected 429 body, enforced limits (TEN_SECONDLY_ROLLING, SECONDLY), search index delay', async () => {
  const HS = U.hubspot;
  await ctl(HS, 'POST', '/__control/fail', { status: 429, retry_after: 1, path_prefix: '/crm' });
  const r = await hsSearch({});
  assert.equal(r.status, 429);
  assert.equal(r.headers.get('retry-after'), '1');
  assert.equal(r.json.status, 'error');
  assert.equal(r.json.message, 'You have reached your secondly limit.');
  assert.equal(r.json.errorType, 'RATE_LIMIT');
  assert.equal(r.json.policyName, 'SECONDLY');
  assert.match(r.json.correlationId, UUID_RE);
  assert.equal((await hsSearch({})).status, 200);
  await ctl(HS, 'POST', '/__control/fail', { status: 429, code: 'DAILY' });
  assert.equal((await hsSearch({})).json.policyName, 'DAILY');

  await ctl(HS, 'POST', '/__control/config', { enforce_rate_limit: true, rate_limit_max: 3 });
  for (const left of ['2', '1', '0']) assert.equal((await hsSearch({})).headers.get('x-hubspot-ratelimit-remaining'), left);
  const ten = await hsSearch({});
  assert.equal(ten.status, 429);
  assert.equal(ten.json.policyName, 'TEN_SECONDLY_ROLLING');
  assert.equal(ten.json.message, 'You have reached your ten_secondly_rolling limit.');
  await ctl(HS, 'POST', '/__control/config', { rate_limit_max: 100, search_rate_limit_per_second: 2 });
  assert.equal((await hsSearch({})).status, 200);
  assert.equal((await hsSearch({})).status, 200);
  const sec = await hsSearch({});
  assert.equal(sec.status, 429);
  assert.equal(sec.json.policyName, 'SECONDLY');
  assert.equal((await call(`${HS}/__control/config`, { method: 'POST', json: { enforce_rate_limit: 1 } })).status, 400, 'boolean config');
  await ctl(HS, 'POST', '/__control/config', { enforce_rate_limit: false, search_rate_limit_per_second: 5 });

  await ctl(HS, 'POST', '/__control/config', { index_delay_ms: 300 });
  const t = Date.UTC(2031, 0, 1);
  await ctl(HS, 'POST', '/__control/contacts', { count: 1, createdate_ms: t });
  const q = { filterGroups: [{ filters: [{ propertyName: 'createdate', operator: 'GTE', value: String(t) }] }] };
  assert.equal((await hsSearch(q)).json.total, 0, 'not indexed yet');
  await sleep(350);
  assert.equal((await hsSearch(q)).json.total, 1);
  await ctl(HS, 'POST', '/__control/config', { index_delay_ms: 0, rate_limit_headers: false });
  assert.equal((await hsSearch(q)).headers.get('x-hubspot-ratelimit-remaining'), null);
  await ctl(HS, 'POST', '/__control/config', { rate_limit_headers: true });
  const nf = await call(`${HS}/crm/v3/objects/nope`, { headers: bearer('hs-1') });
  assert.equal(nf.status, 404);
  assert.equal(nf.json.status, 'error');
});

// --------------------------------------------------------- polling: RSS

test('rss: named feeds with their own items and validators; guid:false and link:null items', async () => {
  const R = U.rss;
  const defBefore = await call(`${R}/feed.xml`);
  assert.equal((await call(`${R}/feeds/default.xml`)).text, defBefore.text, '/feeds/default.xml is /feed.xml');
  const empty = await call(`${R}/feeds/news.xml`);
  assert.equal(empty.status, 200);
  assert.match(empty.headers.get('content-type'), /^application\/rss\+xml/);
  assert.equal((empty.text.match(/<item>/g) || []).length, 0);
  assert.ok(empty.text.includes(`<atom:link href="${R}/feeds/news.xml" rel="self"`));
  const a1 = await ctl(R, 'POST', '/__control/items', { feed: 'news', title: 'N1' });
  assert.equal(a1.item.link, `${R}/feeds/news/items/1`);
  assert.equal(a1.item.guid, 'tag:switchboard.test,2024:news/item-1');
  const a2 = await ctl(R, 'POST', '/__control/items', { feed: 'news', title: 'No guid', link: 'https://example.com/a?x=1&y=2', guid: false });
  assert.equal(a2.item.guid, null);
  const a3 = await ctl(R, 'POST', '/__control/items', { feed: 'news', title: 'Bare', link: null });
  assert.deepEqual([a3.item.link, a3.item.guid], [null, null]);
  const rss = await call(`${R}/feeds/news.xml`, { headers: { 'if-none-match': empty.headers.get('etag') } });
  assert.equal(rss.status, 200);
  const items = rss.text.split('<item>').slice(1);
  assert.equal(items.length, 3);
  assert.ok(items[0].includes('<title>Bare</title>') && !items[0].includes('<link>') && !items[0].includes('<guid'));
  assert.ok(items[1].includes('<title>No guid</title>') && items[1].includes('<link>https://example.com/a?x=1&amp;y=2</link>') && !items[1].includes('<guid'));
  assert.ok(items[2].includes('<guid isPermaLink="false">tag:switchboard.test,2024:news/item-1</guid>'));
  assert.equal((await call(`${R}/feeds/news.xml`, { headers: { 'if-none-match': rss.headers.get('etag') } })).status, 304);
  assert.equal((await call(`${R}/feeds/news.xml`, { headers: { 'if-modified-since': rss.headers.get('last-modified') } })).status, 304);
  const atom = await call(`${R}/feeds/news.atom`);
  assert.match(atom.headers.get('content-type'), /^application\/atom\+xml/);
  const entries = atom.text.split('<entry>').slice(1);
  assert.equal(entries.length, 3);
  assert.ok(!entries[0].includes('<link') && !entries[0].includes('<id>'));
  assert.ok(entries[1].includes('<link href="https://example.com/a?x=1&amp;y=2"/>') && !entries[1].includes('<id>'));
  assert.ok(entries[2].includes('<id>tag:switchboard.test,2024:news/item-1</id>'));
  assert.equal((await call(`${R}/feeds/news/items/1`)).status, 200);
  const def = await call(`${R}/feed.xml`, { headers: { 'if-none-match': defBefore.headers.get('etag') } });
  assert.equal(def.status, 304, 'other feeds untouched');
  assert.equal((await call(`${R}/feeds/other.atom`)).text.split('<entry>').length, 1);
  const listed = await ctl(R, 'GET', '/__control/items?feed=news');
  assert.deepEqual(listed.items.map((i) => i.title), ['Bare', 'No guid', 'N1']);
  const feeds = await ctl(R, 'GET', '/__control/feeds');
  assert.deepEqual(feeds.feeds.map((f) => [f.name, f.items]), [['default', (defBefore.text.match(/<item>/g) || []).length], ['news', 3]]);
  assert.equal((await call(`${R}/__control/items`, { method: 'POST', json: { feed: 'a/b', title: 'x' } })).status, 400);
  const dflt = await ctl(R, 'POST', '/__control/items', { title: 'Default no guid', guid: false });
  assert.equal(dflt.item.feed, 'default');
  assert.equal(dflt.item.guid, null);
  assert.ok(!(await call(`${R}/feed.xml`)).text.split('<item>')[1].includes('<guid'));
});

// -------------------------------------------------------- polling: HTTP

test('http: /items/<name> newest first with since and limit; control count and items prepend', async () => {
  const H = U.http;
  assert.deepEqual((await call(`${H}/items/nothing`)).json, { items: [] });
  const add = await ctl(H, 'POST', '/__control/items/src', { count: 3 });
  assert.deepEqual(add.added.map((i) => i.id), [3, 2, 1]);
  const r = await call(`${H}/items/src`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  const items = r.json.items;
  assert.deepEqual(items.map((i) => i.id), [3, 2, 1]);
  assert.deepEqual(Object.keys(items[0]), ['id', 'created_at', 'title']);
  assert.equal(items[0].title, 'Item 3');
  assert.match(items[0].created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.ok(items.every((it, i) => i === 0 || Date.parse(items[i - 1].created_at) > Date.parse(it.created_at)), 'created_at strictly decreasing');
  await ctl(H, 'POST', '/__control/items/src', { items: [{ title: 'custom', extra: { k: 1 } }] });
  const r2 = (await call(`${H}/items/src`)).json.items;
  assert.deepEqual(r2.map((i) => i.id), [4, 3, 2, 1]);
  assert.deepEqual(r2[0].extra, { k: 1 });
  const since = Date.parse(items[1].created_at);
  assert.deepEqual((await call(`${H}/items/src?since=${since}`)).json.items.map((i) => i.id), [4, 3, 2], 'since is inclusive');
  assert.deepEqual((await call(`${H}/items/src?limit=2`)).json.items.map((i) => i.id), [4, 3]);
  assert.deepEqual((await call(`${H}/items/src?since=${since}&limit=1`)).json.items.map((i) => i.id), [4]);
  assert.equal((await call(`${H}/items/src?since=yesterday`)).status, 400);
  assert.deepEqual((await ctl(H, 'GET', '/__control/items/src')).items.length, 4);
  await ctl(H, 'DELETE', '/__control/items/src');
  assert.deepEqual((await call(`${H}/items/src`)).json, { items: [] });
});

test('http: request log keeps query params; config log:false stops logging but still counts; delay_ms', async () => {
  const H = U.http;
  await ctl(H, 'DELETE', '/__control/requests');
  await call(`${H}/items/src?d=abc&tick=7`);
  await ctl(H, 'POST', '/__control/items/src', { count: 1 });
  const log = (await ctl(H, 'GET', '/__control/requests')).requests;
  assert.equal(log.length, 1, 'control calls are not logged');
  assert.deepEqual(log[0].query, { d: 'abc', tick: '7' });
  assert.equal(log[0].path, '/items/src');
  assert.equal((await ctl(H, 'GET', '/__control/config')).config.log, true);
  await ctl(H, 'POST', '/__control/config', { log: false });
  const before = (await ctl(H, 'GET', '/__control/stats')).requests;
  await Promise.all(Array.from({ length: 20 }, (_, i) => call(`${H}/items/src?tick=${i}`)));
  assert.equal((await ctl(H, 'GET', '/__control/stats')).requests, before + 20);
  assert.equal((await ctl(H, 'GET', '/__control/requests')).requests.length, 1, 'nothing logged with log:false');
  assert.equal((await call(`${H}/__control/config`, { method: 'POST', json: { log: 'no' } })).status, 400);
  await ctl(H, 'POST', '/__control/config', { log: true });
  await call(`${H}/items/src?tick=last`);
  assert.equal((await ctl(H, 'GET', '/__control/requests')).requests.at(-1).query.tick, 'last');
  await ctl(H, 'POST', '/__control/config', { delay_ms: 200 });
  const t0 = Date.now();
  await call(`${H}/items/src`);
  assert.ok(Date.now() - t0 >= 190);
  await ctl(H, 'POST', '/__control/config', { delay_ms: 0 });
  await ctl(H, 'POST', '/__control/config', { log: false });
  assert.equal((await ctl(U.github, 'GET', '/__control/config')).config.log, true, 'per provider');
  await ctl(H, 'POST', '/__control/reset');
  assert.equal((await ctl(H, 'GET', '/__control/config')).config.log, true, 'reset restores log:true');
});

// ------------------------------------------------- OAuth server (oauth-server.mjs)

test('oauth-server: PKCE code flow, rotating refresh tokens, /api/me, control', async () => {
  const { createHash } = await import('node:crypto');
  const child = spawn(process.execPath, [join(dirname(SERVER), 'oauth-server.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const line = await new Promise((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (c) => {
        buf += c;
        if (buf.includes('\n')) resolve(buf.slice(0, buf.indexOf('\n')));
      });
      child.once('exit', () => reject(new Error(`oauth-server.mjs exited (stdout: ${JSON.stringify(buf)})`)));
    });
    const { port } = JSON.parse(line);
    assert.deepEqual(JSON.parse(line), { port });
    const O = `http://127.0.0.1:${port}`;
    const verifier = 'v'.repeat(50);
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const authorize = async () => {
      const q = new URLSearchParams({ response_type: 'code', client_id: 'c', redirect_uri: 'http://127.0.0.1:1/cb', state: 's', code_challenge: challenge, code_challenge_method: 'S256' });
      const r = await call(`${O}/authorize?${q}`);
      assert.equal(r.status, 302);
      return new URL(r.headers.get('location')).searchParams.get('code');
    };
    const token = (form) => call(`${O}/token`, { method: 'POST', form: { client_id: 'c', ...form } });
    const me = (t) => call(`${O}/api/me`, { headers: bearer(t) });

    const wrong = await token({ grant_type: 'authorization_code', code: await authorize(), code_verifier: 'w'.repeat(50), redirect_uri: 'http://127.0.0.1:1/cb' });
    assert.equal(wrong.status, 400, 'PKCE is checked');
    const t1 = await token({ grant_type: 'authorization_code', code: await authorize(), code_verifier: verifier, redirect_uri: 'http://127.0.0.1:1/cb' });
    assert.equal(t1.status, 200, t1.text);
    assert.equal(t1.json.expires_in, 3600);
    const a = await me(t1.json.access_token);
    assert.equal(a.status, 200);
    assert.equal(a.json.headers.authorization, `Bearer ${t1.json.access_token}`);
    delete a.json.headers;
    assert.deepEqual(a.json, { id: 'user-1', email: 'jane@example.com', token_suffix: t1.json.access_token.slice(-6), via: 'authorization', path: '/api/me', query: {} });
    // Any header carrying a live token is accepted, and named.
    const viaHeader = await call(`${O}/api/shop/acme?x=1`, { headers: { 'x-shopify-access-token': t1.json.access_token } });
    assert.equal(viaHeader.status, 200, viaHeader.text);
    assert.equal(viaHeader.json.via, 'x-shopify-access-token');
    assert.equal(viaHeader.json.path, '/api/shop/acme');
    assert.deepEqual(viaHeader.json.query, { x: '1' });
    // Client credentials: granted (no refresh token), or refused for the
    // secret `wrong-secret`, in the body or with Basic.
    const cc = await call(`${O}/token?shop=acme`, { method: 'POST', json: { grant_type: 'client_credentials', client_id: 'c', client_secret: 's' } });
    assert.equal(cc.status, 200, cc.text);
    assert.ok(cc.json.access_token && !cc.json.refresh_token);
    assert.equal((await me(cc.json.access_token)).status, 200);
    const bad = await call(`${O}/token`, { method: 'POST', form: { grant_type: 'client_credentials' }, headers: { authorization: `Basic ${Buffer.from('c:wrong-secret').toString('base64')}` } });
    assert.equal(bad.status, 401);
    assert.equal(bad.json.error, 'invalid_client');

    const t2 = await token({ grant_type: 'refresh_token', refresh_token: t1.json.refresh_token });
    assert.equal(t2.status, 200, t2.text);
    assert.ok(t2.json.refresh_token && t2.json.refresh_token !== t1.json.refresh_token, 'rotated');
    for (const rt of [t1.json.refresh_token, 'never-issued']) {
      const r = await token({ grant_type: 'refresh_token', refresh_token: rt });
      assert.equal(r.status, 400);
      assert.deepEqual(r.json, { error: 'invalid_grant' });
    }

    await ctl(O, 'POST', '/__control/expire');
    const b = await me(t2.json.access_token);
    assert.equal(b.status, 401);
    assert.equal(b.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
    assert.deepEqual(b.json, { error: 'invalid_token' });

    await ctl(O, 'POST', '/__control/config', { expires_in: 1 });
    const t3 = await token({ grant_type: 'refresh_token', refresh_token: t2.json.refresh_token });
    assert.equal(t3.json.expires_in, 1);
    const [, payload] = t3.json.access_token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    assert.equal(claims.exp - claims.iat, 1, 'the JWT exp agrees');
    assert.equal((await me(t3.json.access_token)).status, 200);
    await sleep(1100);
    assert.equal((await me(t3.json.access_token)).status, 401, 'expired by its lifetime');

    await ctl(O, 'POST', '/__control/config', { expires_in: 3600 });
    const t4 = await token({ grant_type: 'refresh_token', refresh_token: t3.json.refresh_token });
    assert.equal(t4.status, 200);
    await ctl(O, 'POST', '/__control/revoke');
    assert.equal((await me(t4.json.access_token)).status, 401);
    assert.equal((await token({ grant_type: 'refresh_token', refresh_token: t4.json.refresh_token })).status, 400);

    const stats = await ctl(O, 'GET', '/__control/stats');
    assert.deepEqual(stats.seen.find((r) => r.query.shop), { method: 'POST', path: '/token', query: { shop: 'acme' }, content_type: 'application/json' });
    assert.ok(stats.seen.some((r) => r.path === '/authorize' && r.query.code_challenge === challenge));
    delete stats.seen;
    assert.deepEqual(stats, {
      token_requests: { authorization_code: 2, refresh_token: 6, client_credentials: 2 },
      refresh_rejected: 3,
      client_rejected: 1,
      api_requests: 7,
      api_rejected: 3,
    });
    await ctl(O, 'POST', '/__control/reset-stats');
    assert.equal((await ctl(O, 'GET', '/__control/stats')).api_requests, 0);
  } finally {
    child.kill('SIGTERM');
  }
});

// ---------------------------------------------------------------- main

async function main() {
  let passed = 0;
  let failed = 0;
  const srv = startServer('pipe');
  const line = await srv.firstLine;
  U = JSON.parse(line);
  assert.deepEqual(Object.keys(U), ['github', 'slack', 'stripe', 'rss', 'http', 'hubspot', 'aws', 'trello']);
  for (const v of Object.values(U)) assert.match(v, /^http:\/\/127\.0\.0\.1:\d+$/);
  let extraStdout = '';
  srv.child.stdout.on('data', (c) => (extraStdout += c));

  for (const t of tests) {
    try {
      await withTimeout(t.fn(), 15_000, t.name);
      passed += 1;
      process.stdout.write(`ok     ${t.name}\n`);
    } catch (err) {
      failed += 1;
      process.stdout.write(`FAILED ${t.name}\n${err.stack || err}\n`);
    }
  }

  const lifecycle = [
    [
      'server prints exactly one stdout line and exits when stdin closes',
      async () => {
        assert.equal(extraStdout, '', 'nothing but the JSON line on stdout');
        srv.child.stdin.end();
        const { code } = await withTimeout(srv.exited, 3000, 'exit after stdin close');
        assert.equal(code, 0);
      },
    ],
    [
      'server with stdin at /dev/null prints its line, then exits',
      async () => {
        const s = startServer('ignore');
        assert.match(await s.firstLine, /^\{"github":"http:\/\/127\.0\.0\.1:\d+"/);
        assert.equal((await withTimeout(s.exited, 3000, 'exit with /dev/null stdin')).code, 0);
      },
    ],
    [
      'server exits on SIGTERM',
      async () => {
        const s = startServer('pipe');
        await s.firstLine;
        s.child.kill('SIGTERM');
        const r = await withTimeout(s.exited, 3000, 'exit on SIGTERM');
        assert.ok(r.code === 0 || r.signal === 'SIGTERM');
      },
    ],
  ];
  for (const [name, fn] of lifecycle) {
    try {
      await fn();
      passed += 1;
      process.stdout.write(`ok     ${name}\n`);
    } catch (err) {
      failed += 1;
      process.stdout.write(`FAILED ${name}\n${err.stack || err}\n`);
    }
  }
  if (srv.child.exitCode === null) srv.child.kill('SIGTERM');

  process.stdout.write(`selftest: ${passed} passed, ${failed} failed\n`);
  process.exit(failed ? 1 : 0);
}

main().catch((err) => {
  process.stdout.write(`selftest crashed: ${err.stack || err}\nselftest: 0 passed, 1 failed\n`);
  process.exit(1);
});
