// Generic HTTP double, httpbin-like: echo, arbitrary statuses, delays,
// sized binary bodies, header echo and a bearer-token check.

import { STATUS_CODES } from 'node:http';
import { bearerToken, parseJson, sleep } from './common.mjs';

const MAX_DELAY_MS = 120_000;
const MAX_BYTES = 256 * 1024 * 1024;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

const json = (ctx, status, body, extra = {}) => ctx.send(status, body, { 'content-type': 'application/json', ...extra });

function anything(ctx) {
  const parsed = ctx.rawBody === '' ? { ok: false } : parseJson(ctx.rawBody);
  json(ctx, 200, {
    method: ctx.method,
    path: ctx.path,
    query: ctx.query,
    headers: ctx.headers,
    body: ctx.rawBody,
    json: parsed.ok ? parsed.value : null,
  });
}

function bytes(ctx, n) {
  const res = ctx.res;
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
  // Deterministic content (byte i = i mod 256) so a client can check what it got.
  const chunk = Buffer.alloc(Math.min(n, 64 * 1024));
  for (let i = 0; i < chunk.length; i++) chunk[i] = i % 256;
  let left = n;
  const pump = () => {
    while (left > 0) {
      const size = Math.min(left, chunk.length);
      left -= size;
      // chunk length is a multiple of 256, so every chunk starts at byte value 0
      if (!res.write(size === chunk.length ? chunk : chunk.subarray(0, size))) return res.once('drain', pump);
    }
    res.end();
  };
  pump();
}

async function handle(ctx) {
  const { method, path: p } = ctx;
  let m;
  if (p === '/anything' || p.startsWith('/anything/')) return anything(ctx);
  if ((m = /^\/status\/(\d{3})$/.exec(p))) {
    const code = Number(m[1]);
    if (code < 200 || code > 599) return json(ctx, 400, { error: 'status must be 200..599' });
    const extra = REDIRECTS.has(code) ? { location: '/anything' } : {};
    if (code === 401) extra['www-authenticate'] = 'Bearer';
    return json(ctx, code, { status: code }, extra);
  }
  if ((m = /^\/delay\/(\d+)$/.exec(p)) && method === 'GET') {
    const ms = Math.min(Number(m[1]), MAX_DELAY_MS);
    await sleep(ms);
    return json(ctx, 200, { delayed_ms: ms });
  }
  if ((m = /^\/bytes\/(\d+)$/.exec(p)) && method === 'GET') {
    const n = Number(m[1]);
    if (n > MAX_BYTES) return json(ctx, 400, { error: `at most ${MAX_BYTES} bytes` });
    return bytes(ctx, n);
  }
  if (p === '/headers' && method === 'GET') return json(ctx, 200, { headers: ctx.headers });
  if (p === '/bearer' && method === 'GET') {
    const token = bearerToken(ctx);
    if (ctx.state.tokens.check(token) !== 'valid') return json(ctx, 401, { authenticated: false }, { 'www-authenticate': 'Bearer' });
    return json(ctx, 200, { authenticated: true, token });
  }
  return json(ctx, 404, { error: 'not found', path: p });
}

function failure(ctx, rule) {
  return { headers: { 'content-type': 'application/json' }, body: { status: rule.status, error: STATUS_CODES[rule.status] || 'Error' } };
}

export default function httpDouble() {
  return {
    name: 'http',
    configDefaults: {},
    reset(state) {
      state.data = {};
    },
    handle,
    failure,
    control: {},
  };
}
