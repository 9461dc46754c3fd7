// HubSpot double: the CRM v3 contacts search endpoint as a polling trigger
// uses it (POST /crm/v3/objects/contacts/search), with HubSpot's request and
// response shapes, offset paging (`after`), the 10,000-result search cap,
// HubSpot's error envelope {"status":"error","message","correlationId","category"},
// X-HubSpot-RateLimit-* headers and its 429 bodies.
// Contacts are added with POST /__control/contacts.

import crypto from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { bearerToken, controlBody, controlReply, nowMs, parseJson } from './common.mjs';

const PORTAL_ID = 12345678;
const SEARCH_CAP = 10_000; // HubSpot search never pages past 10,000 results
const MAX_LIMIT = 200;
const DEFAULT_LIMIT = 10;
const ID_STEP = 50; // HubSpot hands out contact ids in steps (1, 51, 101, ...): never assume contiguous ids
const OAUTH_DOCS = 'https://developers.hubspot.com/docs/methods/auth/oauth-overview';
const DEFAULT_PROPERTIES = ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'];
const ALWAYS_PROPERTIES = ['createdate', 'hs_object_id', 'lastmodifieddate'];
const DATETIME_PROPERTIES = new Set(['createdate', 'lastmodifieddate']);
const NUMBER_PROPERTIES = new Set(['hs_object_id']);
const OPERATORS = ['EQ', 'NEQ', 'LT', 'LTE', 'GT', 'GTE', 'BETWEEN', 'IN', 'NOT_IN', 'HAS_PROPERTY', 'NOT_HAS_PROPERTY', 'CONTAINS_TOKEN', 'NOT_CONTAINS_TOKEN'];

const isoMs = (ms) => new Date(ms).toISOString(); // "2024-01-01T09:00:00.000Z", as HubSpot writes them

// ------------------------------------------------------------------ data

function makeContact(id, createdMs, props = {}) {
  return {
    id: String(id),
    created_ms: createdMs,
    updated_ms: createdMs,
    added_ms: nowMs(), // wall time it was added: search visibility (index_delay_ms) counts from here
    properties: {
      email: `contact-${id}@example.com`,
      firstname: 'Test',
      lastname: `Contact ${id}`,
      ...Object.fromEntries(Object.entries(props).map(([k, v]) => [k, v === null ? null : String(v)])),
    },
  };
}

function seed(state) {
  // A new HubSpot portal comes with two sample contacts.
  const a = makeContact(1, Date.UTC(2024, 0, 1, 9, 0, 0, 123), { email: 'emailmaria@hubspot.com', firstname: 'Maria', lastname: 'Johnson (Sample Contact)' });
  const b = makeContact(51, Date.UTC(2024, 0, 1, 9, 0, 0, 456), { email: 'bh@hubspot.com', firstname: 'Brian', lastname: 'Halligan (Sample Contact)' });
  for (const c of [a, b]) c.added_ms = 0;
  state.data = { contacts: [a, b], nextId: 101, windows: new Map(), searchWindows: new Map(), daily: new Map() };
}

/** Property value as HubSpot returns it (strings; null when unset). */
function propValue(c, name) {
  if (name === 'hs_object_id') return c.id;
  if (name === 'createdate') return isoMs(c.created_ms);
  if (name === 'lastmodifieddate') return isoMs(c.updated_ms);
  const v = c.properties[name];
  return v === undefined ? null : v;
}

function view(c, requested) {
  const names = [...new Set([...(requested && requested.length ? requested : DEFAULT_PROPERTIES), ...ALWAYS_PROPERTIES])].sort();
  return {
    id: c.id,
    properties: Object.fromEntries(names.map((n) => [n, propValue(c, n)])),
    createdAt: isoMs(c.created_ms),
    updatedAt: isoMs(c.updated_ms),
    archived: false,
  };
}

// ---------------------------------------------------------------- errors

class HubSpotError {
  constructor(status, message, category = 'VALIDATION_ERROR', extra = {}) {
    this.status = status;
    this.body = { status: 'error', message, correlationId: crypto.randomUUID(), category, ...extra };
  }
}
const validation = (message) => new HubSpotError(400, message, 'VALIDATION_ERROR');
const badJson = (detail) => validation(`Invalid input JSON on line 1, column 1: ${detail}`);

// ---------------------------------------------------------------- filters

/** Comparable value of a filter operand for `prop`; NaN when it cannot be read. */
function operand(prop, raw) {
  if (DATETIME_PROPERTIES.has(prop)) {
    const s = String(raw).trim();
    if (/^-?\d+$/.test(s)) return Number(s); // epoch milliseconds
    const t = Date.parse(s); // HubSpot also takes ISO 8601 for datetime properties
    return Number.isNaN(t) ? NaN : t;
  }
  if (NUMBER_PROPERTIES.has(prop)) return Number(raw);
  return String(raw).toLowerCase(); // string comparisons are case-insensitive
}

function contactValue(c, prop) {
  if (prop === 'createdate') return c.created_ms;
  if (prop === 'lastmodifieddate') return c.updated_ms;
  if (prop === 'hs_object_id') return Number(c.id);
  const v = c.properties[prop];
  return v === undefined || v === null || v === '' ? null : String(v).toLowerCase();
}

function checkFilter(f) {
  if (!f || typeof f !== 'object' || Array.isArray(f)) throw badJson('each filter must be an object');
  if (typeof f.propertyName !== 'string' || f.propertyName === '') throw badJson('Cannot build PublicFilter, some of required attributes are not set [propertyName]');
  if (!OPERATORS.includes(f.operator)) {
    throw badJson(`Cannot deserialize value of type \`FilterOperatorEnum\` from String ${JSON.stringify(f.operator ?? null)}: not one of the values accepted for Enum class: [${OPERATORS.join(', ')}]`);
  }
  const needsValue = !['HAS_PROPERTY', 'NOT_HAS_PROPERTY', 'IN', 'NOT_IN'].includes(f.operator);
  if (needsValue && (f.value === undefined || f.value === null)) throw validation(`Filter on ${f.propertyName} with operator ${f.operator} requires a value`);
  if (f.operator === 'BETWEEN' && (f.highValue === undefined || f.highValue === null)) throw validation(`Filter on ${f.propertyName} with operator BETWEEN requires a highValue`);
  if (['IN', 'NOT_IN'].includes(f.operator) && !Array.isArray(f.values)) throw validation(`Filter on ${f.propertyName} with operator ${f.operator} requires values`);
  for (const v of [f.value, f.highValue, ...(f.values || [])]) {
    if (v !== undefined && v !== null && Number.isNaN(operand(f.propertyName, v))) throw validation(`${JSON.stringify(v)} is not a valid value for ${f.propertyName}`);
  }
}

/** Whole-word match; `*` in the token is a wildcard ("*@example.com"). */
function containsToken(v, token) {
  const t = String(token);
  if (t.includes('*')) {
    const re = new RegExp(`^${t.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    return re.test(String(v)) || String(v).split(/\s+/).some((w) => re.test(w));
  }
  return String(v).split(/[^a-z0-9]+/).includes(t);
}

function matches(c, f) {
  const v = contactValue(c, f.propertyName);
  const op = f.operator;
  if (op === 'HAS_PROPERTY') return v !== null;
  if (op === 'NOT_HAS_PROPERTY') return v === null;
  if (op === 'NEQ') return v === null || v !== operand(f.propertyName, f.value);
  if (op === 'NOT_IN') return v === null || !f.values.map((x) => operand(f.propertyName, x)).includes(v);
  if (v === null) return false;
  const x = f.value === undefined ? undefined : operand(f.propertyName, f.value);
  switch (op) {
    case 'EQ': return v === x;
    case 'LT': return v < x;
    case 'LTE': return v <= x;
    case 'GT': return v > x;
    case 'GTE': return v >= x;
    case 'BETWEEN': return v >= x && v <= operand(f.propertyName, f.highValue);
    case 'IN': return f.values.map((y) => operand(f.propertyName, y)).includes(v);
    case 'CONTAINS_TOKEN': return containsToken(v, x);
    case 'NOT_CONTAINS_TOKEN': return !containsToken(v, x);
    default: return false;
  }
}

// ---------------------------------------------------------------- search

function parseLimit(raw) {
  if (raw === undefined || raw === null) return DEFAULT_LIMIT;
  const n = typeof raw === 'number' ? raw : /^\s*-?\d+\s*$/.test(String(raw)) ? Number(raw) : NaN;
  if (!Number.isInteger(n)) throw badJson(`Cannot deserialize value of type \`int\` from String ${JSON.stringify(String(raw))}: not a valid \`int\` value`);
  if (n < 1 || n > MAX_LIMIT) throw validation(`limit must be between 1 and ${MAX_LIMIT} (was ${n})`);
  return n;
}

function parseAfter(raw) {
  if (raw === undefined || raw === null || raw === '') return 0;
  const s = String(raw).trim();
  if (!/^\d+$/.test(s)) throw validation(`Invalid paging token: after=${JSON.stringify(raw)} must be a non-negative integer offset`);
  return Number(s);
}

function parseSort(sorts) {
  if (sorts === undefined || sorts === null) return null;
  if (!Array.isArray(sorts)) throw badJson('sorts must be an array');
  if (sorts.length === 0) return null;
  const s = sorts[0]; // HubSpot applies one sort rule
  if (typeof s === 'string') return s.startsWith('-') ? { prop: s.slice(1), dir: -1 } : { prop: s, dir: 1 };
  if (!s || typeof s.propertyName !== 'string') throw badJson('Cannot build PublicSort, some of required attributes are not set [propertyName]');
  const direction = s.direction ?? 'ASCENDING';
  if (!['ASCENDING', 'DESCENDING'].includes(direction)) {
    throw badJson(`Cannot deserialize value of type \`Direction\` from String ${JSON.stringify(direction)}: not one of the values accepted for Enum class: [ASCENDING, DESCENDING]`);
  }
  return { prop: s.propertyName, dir: direction === 'DESCENDING' ? -1 : 1 };
}

function search(ctx) {
  const parsed = parseJson(ctx.rawBody.trim() === '' ? '{}' : ctx.rawBody);
  if (!parsed.ok) throw badJson(parsed.error);
  const b = parsed.value;
  if (!b || typeof b !== 'object' || Array.isArray(b)) throw badJson('expected a JSON object');
  const limit = parseLimit(b.limit);
  const after = parseAfter(b.after);
  if (after + limit > SEARCH_CAP) {
    throw validation(
      `Paging beyond 10000 results is not supported: the search endpoints return at most 10000 results for any query (after=${after}, limit=${limit}). Narrow the query (for example with a createdate filter) instead.`,
    );
  }
  const groups = b.filterGroups ?? [];
  if (!Array.isArray(groups)) throw badJson('filterGroups must be an array');
  for (const g of groups) {
    if (!g || !Array.isArray(g.filters)) throw badJson('Cannot build PublicFilterGroup, some of required attributes are not set [filters]');
    g.filters.forEach(checkFilter);
  }
  if (b.properties !== undefined && !(Array.isArray(b.properties) && b.properties.every((p) => typeof p === 'string'))) throw badJson('properties must be an array of strings');
  const sort = parseSort(b.sorts);
  const query = typeof b.query === 'string' && b.query.trim() ? b.query.trim().toLowerCase() : null;

  const now = nowMs();
  const delay = ctx.state.config.index_delay_ms || 0;
  let items = ctx.state.data.contacts.filter((c) => c.added_ms + delay <= now);
  // filterGroups are ORed; the filters inside a group are ANDed.
  if (groups.length) items = items.filter((c) => groups.some((g) => g.filters.every((f) => matches(c, f))));
  if (query) items = items.filter((c) => ['email', 'firstname', 'lastname', 'phone', 'company'].some((p) => String(c.properties[p] ?? '').toLowerCase().includes(query)));
  if (sort) {
    const key = (c) => contactValue(c, sort.prop);
    items = [...items].sort((x, y) => {
      const a = key(x);
      const z = key(y);
      if (a === null || z === null) return a === z ? Number(x.id) - Number(y.id) : a === null ? 1 : -1; // unset values last
      if (a !== z) return (a < z ? -1 : 1) * sort.dir;
      return (Number(x.id) - Number(y.id)) * sort.dir; // ties: by id, same direction
    });
  } else {
    items = [...items].sort((x, y) => Number(x.id) - Number(y.id)); // default: object id ascending
  }
  const page = items.slice(after, after + limit);
  const body = { total: items.length, results: page.map((c) => view(c, b.properties)) };
  if (after + limit < items.length) body.paging = { next: { after: String(after + limit) } };
  return body;
}

// ---------------------------------------------------------- rate limits

/** Count this request in the token's rolling window (and the daily count); enforce if configured. */
function rateLimit(ctx, token, isSearch) {
  const { state } = ctx;
  const cfg = state.config;
  const now = nowMs();
  const prune = (map, key, windowMs) => {
    const arr = (map.get(key) || []).filter((t) => t > now - windowMs);
    map.set(key, arr);
    return arr;
  };
  const win = prune(state.data.windows, token, cfg.rate_limit_interval_ms);
  const day = new Date(now).toISOString().slice(0, 10);
  const d = state.data.daily.get(token);
  const daily = d && d.day === day ? d : { day, used: 0 };
  state.data.daily.set(token, daily);
  const headers = () => rateHeaders(cfg, win.length, daily.used);
  if (cfg.enforce_rate_limit) {
    if (daily.used >= cfg.rate_limit_daily) return { error: rate429('DAILY'), headers: headers() };
    if (win.length >= cfg.rate_limit_max) return { error: rate429('TEN_SECONDLY_ROLLING'), headers: headers() };
    if (isSearch) {
      const sw = prune(state.data.searchWindows, token, 1000);
      if (sw.length >= cfg.search_rate_limit_per_second) return { error: rate429('SECONDLY'), headers: headers() };
      sw.push(now);
    }
  }
  win.push(now);
  daily.used += 1;
  return { headers: headers() };
}

function rateHeaders(cfg, usedInWindow, usedToday) {
  if (!cfg.rate_limit_headers) return {};
  return {
    'X-HubSpot-RateLimit-Daily': String(cfg.rate_limit_daily),
    'X-HubSpot-RateLimit-Daily-Remaining': String(Math.max(0, cfg.rate_limit_daily - usedToday)),
    'X-HubSpot-RateLimit-Interval-Milliseconds': String(cfg.rate_limit_interval_ms),
    'X-HubSpot-RateLimit-Max': String(cfg.rate_limit_max),
    'X-HubSpot-RateLimit-Remaining': String(Math.max(0, cfg.rate_limit_max - usedInWindow)),
  };
}

const POLICY_MESSAGES = {
  SECONDLY: 'You have reached your secondly limit.',
  TEN_SECONDLY_ROLLING: 'You have reached your ten_secondly_rolling limit.',
  DAILY: 'You have reached your daily limit.',
};

/** HubSpot's 429 body (errorType instead of category). */
function rate429(policy = 'SECONDLY') {
  const policyName = POLICY_MESSAGES[policy] ? policy : 'SECONDLY';
  const e = new HubSpotError(429, POLICY_MESSAGES[policyName]);
  e.body = {
    status: 'error',
    message: POLICY_MESSAGES[policyName],
    errorType: 'RATE_LIMIT',
    correlationId: e.body.correlationId,
    policyName,
    groupName: `publicapi:oauth:${PORTAL_ID}`,
  };
  return e;
}

// ------------------------------------------------------------- handler

function baseHeaders(correlationId, extra = {}) {
  return {
    'content-type': 'application/json;charset=utf-8',
    'x-hubspot-correlation-id': correlationId,
    vary: 'origin',
    'access-control-allow-credentials': 'false',
    ...extra,
  };
}

function sendError(ctx, e, extra = {}) {
  ctx.send(e.status, e.body, baseHeaders(e.body.correlationId, extra));
}

function ago(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} second(s)`;
  if (s < 3600) return `${Math.floor(s / 60)} minute(s)`;
  if (s < 86400) return `${Math.floor(s / 3600)} hour(s)`;
  return `${Math.floor(s / 86400)} day(s)`;
}

function authenticate(ctx) {
  const token = bearerToken(ctx);
  const status = ctx.state.tokens.check(token);
  if (status === 'valid') return token;
  if (status === 'expired') {
    const t = ctx.state.tokens.tokens.get(token);
    throw new HubSpotError(401, `The OAuth token used to make this call expired ${ago(nowMs() - t.expires_at)} ago.`, 'EXPIRED_AUTHENTICATION', {
      context: { 'expire time': [isoMs(t.expires_at)] },
    });
  }
  throw new HubSpotError(401, `Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at ${OAUTH_DOCS}`, 'INVALID_AUTHENTICATION');
}

async function handle(ctx) {
  let token;
  try {
    token = authenticate(ctx);
  } catch (e) {
    if (e instanceof HubSpotError) return sendError(ctx, e, { 'x-hubspot-auth-failure': '401 Unauthorized' });
    throw e;
  }
  const isSearch = ctx.path === '/crm/v3/objects/contacts/search';
  const rl = rateLimit(ctx, token, isSearch && ctx.method === 'POST');
  if (rl.error) return sendError(ctx, rl.error, rl.headers);
  try {
    if (isSearch && ctx.method === 'POST') {
      const correlationId = crypto.randomUUID();
      return ctx.send(200, search(ctx), baseHeaders(correlationId, rl.headers));
    }
    throw new HubSpotError(404, `Unable to route ${ctx.method} request to ${ctx.path}`, 'OBJECT_NOT_FOUND');
  } catch (e) {
    if (e instanceof HubSpotError) return sendError(ctx, e, rl.headers);
    throw e;
  }
}

function failure(ctx, rule) {
  if (rule.status === 429) {
    const e = rate429(rule.code || 'SECONDLY');
    return { headers: baseHeaders(e.body.correlationId), body: e.body };
  }
  const correlationId = crypto.randomUUID();
  const message = rule.status === 500 ? 'internal error' : STATUS_CODES[rule.status] || 'Error';
  const category = rule.status >= 500 ? undefined : rule.code || 'VALIDATION_ERROR';
  return { headers: baseHeaders(correlationId), body: { status: 'error', message, correlationId, ...(category ? { category } : {}) } };
}

// ------------------------------------------------------------- control

function addContacts(ctx) {
  const b = controlBody(ctx);
  if (!b) return;
  const count = b.count ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > 200_000) return controlReply(ctx, 400, { error: '"count" must be an integer 1..200000' });
  const start = b.createdate_ms ?? nowMs();
  const step = b.step_ms ?? 1000;
  if (typeof start !== 'number' || !Number.isFinite(start)) return controlReply(ctx, 400, { error: '"createdate_ms" must be epoch milliseconds' });
  if (typeof step !== 'number' || !Number.isFinite(step)) return controlReply(ctx, 400, { error: '"step_ms" must be a number of milliseconds' });
  if (b.properties !== undefined && (typeof b.properties !== 'object' || b.properties === null || Array.isArray(b.properties))) {
    return controlReply(ctx, 400, { error: '"properties" must be an object' });
  }
  const d = ctx.state.data;
  const added = [];
  for (let i = 0; i < count; i++) {
    const id = d.nextId;
    d.nextId += ID_STEP;
    const c = makeContact(id, Math.round(start + i * step), b.properties || {});
    d.contacts.push(c);
    added.push(c);
  }
  const brief = (c) => view(c, null);
  controlReply(ctx, 200, {
    ok: true,
    added: count,
    total: d.contacts.length,
    first: brief(added[0]),
    last: brief(added.at(-1)),
    ...(count <= 50 ? { contacts: added.map(brief) } : {}),
  });
}

function listContacts(ctx) {
  const n = Math.max(0, Math.min(1000, Number.parseInt(ctx.query.limit ?? '10', 10) || 0));
  const all = ctx.state.data.contacts;
  controlReply(ctx, 200, { count: all.length, contacts: all.slice(Math.max(0, all.length - n)).map((c) => view(c, null)) });
}

export default function hubspot() {
  return {
    name: 'hubspot',
    configDefaults: {
      rate_limit_max: 100, // X-HubSpot-RateLimit-Max per rate_limit_interval_ms
      rate_limit_interval_ms: 10000,
      rate_limit_daily: 500000,
      search_rate_limit_per_second: 5,
      enforce_rate_limit: false, // true: answer real 429s (TEN_SECONDLY_ROLLING, SECONDLY on search, DAILY)
      index_delay_ms: 0, // new contacts show up in search only this long after they are added
      rate_limit_headers: true, // false: no X-HubSpot-RateLimit-* (HubSpot's search endpoints reportedly send none)
    },
    reset: seed,
    handle,
    failure,
    onConfig(state, changed) {
      if (Object.keys(changed).some((k) => k.includes('rate_limit'))) {
        state.data.windows.clear();
        state.data.searchWindows.clear();
        state.data.daily.clear();
      }
    },
    control: {
      'POST /__control/contacts': addContacts,
      'GET /__control/contacts': listContacts,
      'DELETE /__control/contacts': (ctx) => {
        ctx.state.data.contacts = [];
        controlReply(ctx, 200, { ok: true });
      },
    },
  };
}
