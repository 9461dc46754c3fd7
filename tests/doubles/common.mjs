// Shared machinery for the provider doubles: body parsing, token store,
// OAuth clients and refresh-token rotation, request log, control endpoints
// and failure injection. Each provider module (github.mjs, slack.mjs, ...)
// exports a factory returning a provider definition; startProvider() turns
// it into a listening HTTP server on 127.0.0.1 with an ephemeral port.
//
// Provider definition shape:
//   {
//     name,                         // "github"
//     configDefaults: {...},        // keys accepted by POST /__control/config
//     reset(state),                 // (re)seed provider data
//     handle(ctx),                  // serve one non-control request
//     failure(ctx, rule),           // -> {status, headers, body} for injected failures
//     control: {"GET /__control/x": (ctx) => ...},   // provider-specific control routes
//     onConfig(state, changed),     // optional hook after POST /__control/config
//     controlRoute(ctx),            // optional: handler for control paths with parameters
//                                   // (e.g. /__control/items/<name>) or null
//   }
//
// Every provider also accepts the common config key `log` (default true):
// false stops recording requests in the log (stats still count them).

import http from 'node:http';
import crypto from 'node:crypto';

const MAX_BODY_BYTES = 50 * 1024 * 1024;

// ---------------------------------------------------------------- helpers

export const nowMs = () => Date.now();
export const nowSec = () => Math.floor(Date.now() / 1000);
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Random string over [A-Za-z0-9] (or a given alphabet). */
export function randomString(len, alphabet = ALNUM) {
  const bytes = crypto.randomBytes(len);
  let out = '';
  for (let i = 0; i < len; i++) out += alphabet[bytes[i] % alphabet.length];
  return out;
}

/** Deterministic string over [A-Za-z0-9] derived from a seed (stable seeded ids). */
export function seededString(seed, len, alphabet = ALNUM) {
  let out = '';
  let counter = 0;
  while (out.length < len) {
    const digest = crypto.createHash('sha256').update(`${seed}:${counter++}`).digest();
    for (const b of digest) {
      if (out.length < len) out += alphabet[b % alphabet.length];
    }
  }
  return out;
}

export const randomHex = (bytes) => crypto.randomBytes(bytes).toString('hex');

/** URLSearchParams -> plain object; repeated keys become arrays. */
export function paramsToObject(searchParams) {
  const out = {};
  for (const [k, v] of searchParams) {
    if (Object.prototype.hasOwnProperty.call(out, k)) {
      out[k] = Array.isArray(out[k]) ? [...out[k], v] : [out[k], v];
    } else {
      out[k] = v;
    }
  }
  return out;
}

/** Flat form decoding (application/x-www-form-urlencoded). */
export function parseForm(raw) {
  return paramsToObject(new URLSearchParams(raw));
}

/** JSON decoding that never throws. */
export function parseJson(raw) {
  try {
    return { ok: true, value: JSON.parse(raw) };
  } catch (err) {
    return { ok: false, error: err.message };
  }
}

export function contentType(ctx) {
  return (ctx.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
}

/**
 * Decode the request body by content type.
 * Returns {kind: 'empty'|'json'|'form'|'other', value, error?}.
 * JSON that fails to parse gives kind 'json' with `error` set.
 */
export function parseBody(ctx) {
  if (ctx.rawBody.length === 0) return { kind: 'empty', value: {} };
  const ct = contentType(ctx);
  if (ct === 'application/json' || ct.endsWith('+json')) {
    const parsed = parseJson(ctx.rawBody);
    return parsed.ok ? { kind: 'json', value: parsed.value } : { kind: 'json', value: null, error: parsed.error };
  }
  if (ct === 'application/x-www-form-urlencoded') return { kind: 'form', value: parseForm(ctx.rawBody) };
  return { kind: 'other', value: null };
}

/** {scheme, credentials} from the Authorization header, scheme lower-cased. */
export function authorization(ctx) {
  const h = ctx.headers.authorization;
  if (!h) return null;
  const m = /^\s*(\S+)(?:\s+(.*))?$/.exec(h);
  if (!m) return null;
  return { scheme: m[1].toLowerCase(), credentials: (m[2] || '').trim() };
}

/** Basic credentials {user, pass} or null. */
export function basicAuth(ctx) {
  const a = authorization(ctx);
  if (!a || a.scheme !== 'basic') return null;
  const decoded = Buffer.from(a.credentials, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  return i < 0 ? { user: decoded, pass: '' } : { user: decoded.slice(0, i), pass: decoded.slice(i + 1) };
}

/** Token from `Authorization: Bearer <t>` (and any extra accepted schemes). */
export function bearerToken(ctx, schemes = ['bearer']) {
  const a = authorization(ctx);
  if (!a || !schemes.includes(a.scheme) || !a.credentials) return null;
  return a.credentials;
}

// ------------------------------------------------------------ token store

/** Valid access tokens of one provider. */
export class TokenStore {
  constructor() {
    this.tokens = new Map();
  }
  /** expiresIn: seconds, or null/undefined for never. */
  add(token, expiresIn, meta = {}) {
    const expires_at = expiresIn === null || expiresIn === undefined ? null : nowMs() + Number(expiresIn) * 1000;
    this.tokens.set(token, { token, expires_at, created_at: nowMs(), ...meta });
  }
  /** 'missing' | 'unknown' | 'expired' | 'valid' */
  check(token) {
    if (!token) return 'missing';
    const t = this.tokens.get(token);
    if (!t) return 'unknown';
    if (t.expires_at !== null && nowMs() >= t.expires_at) return 'expired';
    return 'valid';
  }
  revoke(token) {
    return this.tokens.delete(token);
  }
  list() {
    return [...this.tokens.values()].map((t) => ({
      ...t,
      expired: t.expires_at !== null && nowMs() >= t.expires_at,
    }));
  }
  clear() {
    this.tokens.clear();
  }
}

// ------------------------------------------------------ OAuth (refresh grant)

/** Registered OAuth clients and refresh tokens, with rotation on use. */
export class OAuthStore {
  constructor() {
    this.clients = new Map(); // client_id -> client_secret
    this.refreshTokens = new Map(); // refresh_token -> {client_id, expires_at, revoked}
  }
  clear() {
    this.clients.clear();
    this.refreshTokens.clear();
  }
  addClient(clientId, clientSecret) {
    this.clients.set(clientId, clientSecret);
  }
  addRefreshToken(token, clientId, expiresIn = null) {
    const expires_at = expiresIn === null || expiresIn === undefined ? null : nowMs() + Number(expiresIn) * 1000;
    this.refreshTokens.set(token, { client_id: clientId, expires_at, revoked: false });
  }
  /**
   * Client credentials from the params (client_id/client_secret) or HTTP Basic.
   * Returns {error: 'invalid_client', reason: 'unknown_client'|'bad_secret'} or {clientId}.
   */
  authenticateClient(ctx, params) {
    const basic = basicAuth(ctx);
    const clientId = params.client_id || (basic && decodeURIComponent(basic.user)) || '';
    const secret = params.client_secret || (basic && decodeURIComponent(basic.pass)) || '';
    if (!clientId || !this.clients.has(clientId)) return { error: 'invalid_client', reason: 'unknown_client' };
    if (this.clients.get(clientId) !== secret) return { error: 'invalid_client', reason: 'bad_secret' };
    return { clientId };
  }
  /**
   * Redeem a refresh token for `clientId`: revoke it, issue and register a new
   * access token (in `tokens`) and a new refresh token.
   * Returns {error: 'invalid_grant', reason} or the grant.
   */
  redeem({ clientId, refreshToken, tokens, accessTtl, refreshTtl, newAccessToken, newRefreshToken }) {
    const rt = refreshToken ? this.refreshTokens.get(refreshToken) : undefined;
    if (!rt) return { error: 'invalid_grant', reason: 'unknown_refresh_token' };
    if (rt.revoked) return { error: 'invalid_grant', reason: 'refresh_token_already_used' };
    if (rt.client_id !== clientId) return { error: 'invalid_grant', reason: 'refresh_token_of_other_client' };
    if (rt.expires_at !== null && nowMs() >= rt.expires_at) return { error: 'invalid_grant', reason: 'refresh_token_expired' };
    rt.revoked = true;
    const access_token = newAccessToken();
    const refresh_token = newRefreshToken();
    tokens.add(access_token, accessTtl, { source: 'refresh', client_id: clientId });
    this.addRefreshToken(refresh_token, clientId, refreshTtl);
    return { access_token, expires_in: accessTtl, refresh_token, refresh_token_expires_in: refreshTtl };
  }
  listRefreshTokens() {
    return [...this.refreshTokens.entries()].map(([refresh_token, v]) => ({ refresh_token, ...v }));
  }
}

// ---------------------------------------------------------- provider state

/** Config keys every provider accepts, on top of its own configDefaults. */
const COMMON_CONFIG = { log: true };
const configDefaultsOf = (def) => ({ ...COMMON_CONFIG, ...def.configDefaults });

function createState(def) {
  const state = {
    name: def.name,
    tokens: new TokenStore(),
    oauth: new OAuthStore(),
    log: [],
    failures: [],
    config: configDefaultsOf(def),
    stats: { requests: 0, refreshes: 0, refresh_failures: 0 },
    data: {},
  };
  state.resetAll = () => {
    state.tokens.clear();
    state.oauth.clear();
    state.log = [];
    state.failures = [];
    state.config = configDefaultsOf(def);
    state.stats = { requests: 0, refreshes: 0, refresh_failures: 0 };
    state.data = {};
    def.reset(state);
  };
  return state;
}

// ------------------------------------------------------------- responses

function send(res, status, body, headers = {}) {
  if (res.writableEnded || res.destroyed) return;
  let payload;
  const hdrs = { ...headers };
  const hasCt = Object.keys(hdrs).some((k) => k.toLowerCase() === 'content-type');
  if (body === undefined || body === null) {
    payload = '';
  } else if (Buffer.isBuffer(body) || typeof body === 'string') {
    payload = body;
    if (!hasCt) hdrs['content-type'] = 'text/plain; charset=utf-8';
  } else {
    payload = JSON.stringify(body);
    if (!hasCt) hdrs['content-type'] = 'application/json; charset=utf-8';
  }
  if (status === 204 || status === 304) {
    payload = ''; // no body, and no Content-Length (RFC 9110 8.6)
    for (const k of Object.keys(hdrs)) if (['content-type', 'content-length'].includes(k.toLowerCase())) delete hdrs[k];
  } else {
    hdrs['content-length'] = Buffer.byteLength(payload);
  }
  res.writeHead(status, hdrs);
  res.end(payload);
}

const controlReply = (ctx, status, body) => send(ctx.res, status, body, { 'content-type': 'application/json' });

/** Parse a control request's JSON body; replies 400 and returns null when invalid. */
function controlBody(ctx) {
  if (ctx.rawBody.trim() === '') return {};
  const parsed = parseJson(ctx.rawBody);
  if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value)) {
    controlReply(ctx, 400, { error: `control body must be a JSON object (${parsed.error || 'not an object'})` });
    return null;
  }
  return parsed.value;
}

function isNonNegativeNumberOrNull(v) {
  return v === null || v === undefined || (typeof v === 'number' && Number.isFinite(v));
}

// ------------------------------------------------------ control endpoints

const commonControl = {
  'GET /__control/requests': (ctx) => controlReply(ctx, 200, { requests: ctx.state.log }),
  'DELETE /__control/requests': (ctx) => {
    ctx.state.log = [];
    controlReply(ctx, 200, { ok: true });
  },
  'GET /__control/tokens': (ctx) =>
    controlReply(ctx, 200, { tokens: ctx.state.tokens.list(), refresh_tokens: ctx.state.oauth.listRefreshTokens() }),
  'POST /__control/tokens': (ctx) => {
    const b = controlBody(ctx);
    if (!b) return;
    if (typeof b.token !== 'string' || b.token === '') return controlReply(ctx, 400, { error: '"token" (non-empty string) is required' });
    if (!isNonNegativeNumberOrNull(b.expires_in)) return controlReply(ctx, 400, { error: '"expires_in" must be a number of seconds or null' });
    ctx.state.tokens.add(b.token, b.expires_in ?? null, { source: 'control' });
    controlReply(ctx, 200, { ok: true, token: b.token, expires_in: b.expires_in ?? null });
  },
  'DELETE /__control/tokens': (ctx) => {
    const b = controlBody(ctx);
    if (!b) return;
    if (typeof b.token !== 'string') return controlReply(ctx, 400, { error: '"token" is required' });
    controlReply(ctx, 200, { ok: true, revoked: ctx.state.tokens.revoke(b.token) });
  },
  'POST /__control/clients': (ctx) => {
    const b = controlBody(ctx);
    if (!b) return;
    if (typeof b.client_id !== 'string' || typeof b.client_secret !== 'string' || !b.client_id) {
      return controlReply(ctx, 400, { error: '"client_id" and "client_secret" (strings) are required' });
    }
    ctx.state.oauth.addClient(b.client_id, b.client_secret);
    controlReply(ctx, 200, { ok: true });
  },
  'POST /__control/refresh_tokens': (ctx) => {
    const b = controlBody(ctx);
    if (!b) return;
    if (typeof b.refresh_token !== 'string' || !b.refresh_token || typeof b.client_id !== 'string') {
      return controlReply(ctx, 400, { error: '"refresh_token" and "client_id" (strings) are required' });
    }
    if (!ctx.state.oauth.clients.has(b.client_id)) {
      return controlReply(ctx, 400, { error: `unknown client_id ${JSON.stringify(b.client_id)}: register it with POST /__control/clients first` });
    }
    if (!isNonNegativeNumberOrNull(b.expires_in)) return controlReply(ctx, 400, { error: '"expires_in" must be a number of seconds or null' });
    ctx.state.oauth.addRefreshToken(b.refresh_token, b.client_id, b.expires_in ?? null);
    controlReply(ctx, 200, { ok: true });
  },
  'GET /__control/config': (ctx) => controlReply(ctx, 200, { config: ctx.state.config }),
  'POST /__control/config': (ctx) => {
    const b = controlBody(ctx);
    if (!b) return;
    const defaults = configDefaultsOf(ctx.def);
    const known = Object.keys(defaults);
    const unknown = Object.keys(b).filter((k) => !known.includes(k));
    if (unknown.length) return controlReply(ctx, 400, { error: `unknown config key(s) ${unknown.join(', ')}; known: ${known.join(', ')}` });
    for (const [k, v] of Object.entries(b)) {
      if (typeof defaults[k] === 'boolean') {
        if (typeof v !== 'boolean') return controlReply(ctx, 400, { error: `config "${k}" must be true or false` });
      } else if (!isNonNegativeNumberOrNull(v)) {
        return controlReply(ctx, 400, { error: `config "${k}" must be a number or null` });
      }
    }
    Object.assign(ctx.state.config, b);
    if (ctx.def.onConfig) ctx.def.onConfig(ctx.state, b);
    controlReply(ctx, 200, { ok: true, config: ctx.state.config });
  },
  'GET /__control/stats': (ctx) => controlReply(ctx, 200, { ...ctx.state.stats }),
  'POST /__control/fail': (ctx) => {
    const b = controlBody(ctx);
    if (!b) return;
    const rule = {
      status: b.status ?? null,
      count: b.count ?? 1,
      retry_after: b.retry_after ?? null,
      path_prefix: b.path_prefix ?? null,
      method: b.method ? String(b.method).toUpperCase() : null,
      body: b.body ?? null,
      headers: b.headers ?? null,
      delay_ms: b.delay_ms ?? null,
      code: b.code ?? null,
    };
    if (rule.status !== null && !(Number.isInteger(rule.status) && rule.status >= 100 && rule.status <= 599)) {
      return controlReply(ctx, 400, { error: '"status" must be an HTTP status code' });
    }
    if (rule.status === null && rule.delay_ms === null) return controlReply(ctx, 400, { error: 'give "status" and/or "delay_ms"' });
    if (!Number.isInteger(rule.count) || rule.count < 1) return controlReply(ctx, 400, { error: '"count" must be a positive integer' });
    if (rule.delay_ms !== null && !(typeof rule.delay_ms === 'number' && rule.delay_ms >= 0)) {
      return controlReply(ctx, 400, { error: '"delay_ms" must be a non-negative number' });
    }
    if (rule.retry_after !== null && typeof rule.retry_after !== 'number') return controlReply(ctx, 400, { error: '"retry_after" must be a number of seconds' });
    ctx.state.failures.push(rule);
    controlReply(ctx, 200, { ok: true, pending: ctx.state.failures });
  },
  'GET /__control/fail': (ctx) => controlReply(ctx, 200, { pending: ctx.state.failures }),
  'DELETE /__control/fail': (ctx) => {
    ctx.state.failures = [];
    controlReply(ctx, 200, { ok: true });
  },
  'POST /__control/reset': (ctx) => {
    ctx.state.resetAll();
    controlReply(ctx, 200, { ok: true });
  },
};

export { controlReply, controlBody };

/** Take one use of the first injected-failure rule matching this request, if any. */
function takeFailure(state, ctx) {
  const i = state.failures.findIndex(
    (r) => (!r.path_prefix || ctx.path.startsWith(r.path_prefix)) && (!r.method || r.method === ctx.method),
  );
  if (i < 0) return null;
  const rule = state.failures[i];
  rule.count -= 1;
  if (rule.count <= 0) state.failures.splice(i, 1);
  return rule;
}

// ------------------------------------------------------------- the server

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(Object.assign(new Error('body too large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Start one provider's server on 127.0.0.1:0.
 * Returns {server, url, state}.
 */
export async function startProvider(def) {
  const state = createState(def);
  def.reset(state);

  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://placeholder');
      const host = req.headers.host || `127.0.0.1:${server.address().port}`;
      const ctx = {
        def,
        state,
        req,
        res,
        method: req.method.toUpperCase(),
        path: url.pathname,
        searchParams: url.searchParams,
        query: paramsToObject(url.searchParams),
        headers: req.headers,
        rawBody: await readBody(req),
        baseUrl: `http://${host}`,
        send: (status, body, headers) => send(res, status, body, headers),
      };

      if (ctx.path.startsWith('/__control/')) {
        const handler =
          commonControl[`${ctx.method} ${ctx.path}`] ||
          (def.control && def.control[`${ctx.method} ${ctx.path}`]) ||
          (def.controlRoute && def.controlRoute(ctx));
        if (!handler) return controlReply(ctx, 404, { error: `no control endpoint ${ctx.method} ${ctx.path}` });
        return await handler(ctx);
      }

      state.stats.requests += 1;
      if (state.config.log !== false) {
        const entry = {
          method: ctx.method,
          path: ctx.path,
          query: ctx.query,
          headers: { ...req.headers },
          body: ctx.rawBody,
          ts: nowMs(),
          status: null,
        };
        state.log.push(entry);
        res.on('finish', () => {
          entry.status = res.statusCode;
        });
      }

      const rule = takeFailure(state, ctx);
      if (rule) {
        if (rule.delay_ms) {
          await sleep(rule.delay_ms);
          if (res.destroyed) return;
        }
        if (rule.status !== null) {
          const f = def.failure(ctx, rule);
          const headers = { ...f.headers };
          if (rule.retry_after !== null) headers['retry-after'] = String(rule.retry_after);
          if (rule.headers) Object.assign(headers, rule.headers);
          let body = rule.body !== null ? rule.body : f.body;
          if (typeof body === 'string' && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) {
            headers['content-type'] = 'text/plain; charset=utf-8';
          }
          return send(res, rule.status, body, headers);
        }
      }

      await def.handle(ctx);
      if (!res.headersSent) send(res, 500, { error: `double ${def.name} produced no response` });
    } catch (err) {
      process.stderr.write(`[doubles:${def.name}] ${req.method} ${req.url}: ${err.stack || err}\n`);
      if (!res.headersSent) send(res, err.status || 500, { error: String(err.message || err) });
      else res.destroy();
    }
  });
  server.keepAliveTimeout = 5000;

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return { server, url: `http://127.0.0.1:${port}`, state };
}

// ------------------------------------------------------- list pagination

/** Clamp an integer query parameter; NaN -> fallback. */
export function intParam(value, fallback, min, max) {
  if (value === undefined || value === null || value === '') return fallback;
  const n = Number.parseInt(String(value), 10);
  if (!Number.isFinite(n)) return fallback;
  return Math.min(max, Math.max(min, n));
}
