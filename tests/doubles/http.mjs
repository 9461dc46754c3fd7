// Generic HTTP double, httpbin-like: echo, arbitrary statuses, delays,
// sized binary bodies, header echo and a bearer-token check; plus named JSON
// item lists for polling (GET /items/<name>, filled by POST /__control/items/<name>).

import { STATUS_CODES } from 'node:http';
import { bearerToken, controlBody, controlReply, nowMs, parseJson, sleep } from './common.mjs';

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

// ------------------------------------------------------ polling source

const LIST_NAME_RE = /^[A-Za-z0-9._~-]+$/;

/** GET /items/<name>?since=<epoch ms>&limit=n -> {"items":[…]} newest first (empty when unknown). */
function listItems(ctx, name) {
  const q = ctx.query;
  let items = ctx.state.data.lists.get(name) || [];
  if (q.since !== undefined) {
    const since = Number(q.since);
    if (!/^\d+$/.test(String(q.since))) return json(ctx, 400, { error: '"since" must be epoch milliseconds' });
    items = items.filter((it) => it.created_at_ms >= since);
  }
  if (q.limit !== undefined) {
    if (!/^\d+$/.test(String(q.limit))) return json(ctx, 400, { error: '"limit" must be a non-negative integer' });
    items = items.slice(0, Number(q.limit));
  }
  return json(ctx, 200, { items: items.map(({ created_at_ms, ...it }) => it) });
}

/** POST /__control/items/<name> {"count":n} | {"items":[…]}: prepends (newest first). */
function addItems(ctx, name) {
  const b = controlBody(ctx);
  if (!b) return;
  const lists = ctx.state.data.lists;
  const list = lists.get(name) || [];
  let nextId = list.reduce((m, it) => (typeof it.id === 'number' && it.id > m ? it.id : m), 0) + 1;
  let lastMs = list.reduce((m, it) => Math.max(m, it.created_at_ms), 0);
  // created_at strictly increases, so newest first is well defined even within one millisecond.
  const stamp = () => (lastMs = Math.max(nowMs(), lastMs + 1));
  let added;
  if (Array.isArray(b.items)) {
    if (!b.items.every((it) => it && typeof it === 'object' && !Array.isArray(it))) return controlReply(ctx, 400, { error: '"items" must be an array of objects' });
    // Given newest first: stamp from the end so items[0] is the newest.
    added = [...b.items].reverse().map((it) => {
      const out = { id: it.id ?? nextId++, title: it.title ?? null, ...it };
      let ms;
      if (it.created_at === undefined) {
        ms = stamp();
        out.created_at = new Date(ms).toISOString();
      } else {
        ms = typeof it.created_at === 'number' ? it.created_at : Date.parse(it.created_at);
        if (Number.isNaN(ms)) return null;
      }
      out.title ??= `Item ${out.id}`;
      return { ...out, created_at_ms: ms };
    });
    if (added.includes(null)) return controlReply(ctx, 400, { error: '"created_at" must be ISO 8601 or epoch milliseconds' });
    added.reverse();
  } else {
    const count = b.count ?? 1;
    if (!Number.isInteger(count) || count < 1 || count > 100000) return controlReply(ctx, 400, { error: 'give "items" (array) or "count" (integer 1..100000)' });
    added = [];
    for (let i = 0; i < count; i++) {
      const ms = stamp();
      const id = nextId++;
      added.unshift({ id, created_at: new Date(ms).toISOString(), title: `Item ${id}`, created_at_ms: ms });
    }
  }
  const merged = [...added, ...list];
  merged.sort((a, z) => z.created_at_ms - a.created_at_ms); // stable: given order kept on equal times
  lists.set(name, merged);
  controlReply(ctx, 200, { ok: true, name, count: merged.length, added: added.map(({ created_at_ms, ...it }) => it) });
}

function itemsControl(ctx) {
  const m = /^\/__control\/items\/([^/]+)$/.exec(ctx.path);
  if (!m) return null;
  const name = decodeURIComponent(m[1]);
  if (!LIST_NAME_RE.test(name)) return (c) => controlReply(c, 400, { error: 'list names are [A-Za-z0-9._~-]' });
  if (ctx.method === 'POST') return (c) => addItems(c, name);
  if (ctx.method === 'GET') return (c) => controlReply(c, 200, { name, items: (c.state.data.lists.get(name) || []).map(({ created_at_ms, ...it }) => it) });
  if (ctx.method === 'DELETE') {
    return (c) => {
      c.state.data.lists.delete(name);
      controlReply(c, 200, { ok: true });
    };
  }
  return null;
}

// ------------------------------------------------------------- handler

async function handle(ctx) {
  const { method, path: p } = ctx;
  let m;
  if (ctx.state.config.delay_ms) await sleep(ctx.state.config.delay_ms);
  if ((m = /^\/items\/([^/]+)$/.exec(p)) && (method === 'GET' || method === 'HEAD')) return listItems(ctx, decodeURIComponent(m[1]));
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
    configDefaults: { delay_ms: 0 }, // delay_ms: every non-control response waits this long
    reset(state) {
      state.data = { lists: new Map() };
    },
    handle,
    failure,
    control: {},
    controlRoute: itemsControl,
  };
}
