// Stripe double: /v1/... like https://api.stripe.com. Requests carry
// form-encoded bodies in Stripe's bracket notation; responses are JSON with
// Stripe's error envelope {"error": {type, code, message, param, doc_url}}.

import crypto from 'node:crypto';
import { authorization, basicAuth, contentType, nowSec, randomString, seededString, controlBody, controlReply } from './common.mjs';

const DEFAULT_API_VERSION = '2024-06-20';
const SEED_BASE_SEC = Date.UTC(2024, 0, 1) / 1000;

// ------------------------------------------------ bracket-notation decoding

/**
 * Decode Stripe form encoding into nested values:
 *   metadata[plan]=pro            -> {metadata: {plan: "pro"}}
 *   enabled_events[]=a&...[]=b    -> {enabled_events: ["a", "b"]}
 *   items[0][price]=p             -> {items: [{price: "p"}]}
 */
export function decodeStripeForm(raw) {
  const root = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    const m = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(key);
    if (!m) {
      root[key] = value;
      continue;
    }
    const segs = [m[1], ...[...m[2].matchAll(/\[([^[\]]*)\]/g)].map((x) => x[1])];
    let node = root;
    for (let i = 0; i < segs.length; i++) {
      let seg = segs[i];
      if (seg === '') seg = String(Object.keys(node).length); // "[]" appends
      if (i === segs.length - 1) {
        node[seg] = value;
      } else {
        if (typeof node[seg] !== 'object' || node[seg] === null) node[seg] = {};
        node = node[seg];
      }
    }
  }
  return arraysFromIndexedObjects(root);
}

function arraysFromIndexedObjects(v) {
  if (typeof v !== 'object' || v === null) return v;
  for (const k of Object.keys(v)) v[k] = arraysFromIndexedObjects(v[k]);
  const keys = Object.keys(v);
  if (keys.length > 0 && keys.every((k, i) => k === String(i))) return keys.map((k) => v[k]);
  return v;
}

function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

// ------------------------------------------------------------------ ids

const newId = (prefix, len = 24) => `${prefix}_${randomString(len)}`;
const seededId = (prefix, seed, len = 24) => `${prefix}_${seededString(seed, len)}`;

// ------------------------------------------------------------ objects

function makeCustomer({ id, created, email = null, name = null, description = null, phone = null, metadata = {} }) {
  return {
    id,
    object: 'customer',
    address: null,
    balance: 0,
    created,
    currency: null,
    default_source: null,
    delinquent: false,
    description,
    discount: null,
    email,
    invoice_prefix: crypto.createHash('sha1').update(id).digest('hex').slice(0, 8).toUpperCase(),
    invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
    livemode: false,
    metadata,
    name,
    next_invoice_sequence: 1,
    phone,
    preferred_locales: [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: null,
  };
}

function makeCharge({ id, created, amount, customer, receiptEmail }) {
  const pi = `pi_${id.slice(3)}`;
  return {
    id,
    object: 'charge',
    amount,
    amount_captured: amount,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: `txn_${id.slice(3)}`,
    billing_details: {
      address: { city: null, country: null, line1: null, line2: null, postal_code: '42424', state: null },
      email: receiptEmail,
      name: null,
      phone: null,
    },
    calculated_statement_descriptor: 'SWITCHBOARD',
    captured: true,
    created,
    currency: 'usd',
    customer,
    description: `Seeded charge ${id}`,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: null,
    failure_message: null,
    fraud_details: {},
    invoice: null,
    livemode: false,
    metadata: {},
    on_behalf_of: null,
    outcome: {
      network_status: 'approved_by_network',
      reason: null,
      risk_level: 'normal',
      risk_score: 20 + (amount % 40),
      seller_message: 'Payment complete.',
      type: 'authorized',
    },
    paid: true,
    payment_intent: pi,
    payment_method: `pm_${id.slice(3)}`,
    payment_method_details: {
      card: {
        amount_authorized: amount,
        brand: 'visa',
        checks: { address_line1_check: null, address_postal_code_check: 'pass', cvc_check: 'pass' },
        country: 'US',
        exp_month: 12,
        exp_year: 2034,
        fingerprint: seededString(`fp:${id}`, 16),
        funding: 'credit',
        last4: '4242',
        network: 'visa',
        three_d_secure: null,
        wallet: null,
      },
      type: 'card',
    },
    receipt_email: receiptEmail,
    receipt_number: null,
    receipt_url: `https://pay.stripe.com/receipts/payment/${seededString(`rcpt:${id}`, 40)}`,
    refunded: false,
    review: null,
    shipping: null,
    source_transfer: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: 'succeeded',
    transfer_data: null,
    transfer_group: null,
  };
}

function makeEvent(state, type, object, created, request = { id: null, idempotency_key: null }) {
  return {
    id: newId('evt', 24),
    object: 'event',
    api_version: DEFAULT_API_VERSION,
    created,
    data: { object: structuredClone(object) },
    livemode: false,
    pending_webhooks: state.data.webhooks.filter((w) => w.enabled_events.includes('*') || w.enabled_events.includes(type)).length,
    request,
    type,
  };
}

// ----------------------------------------------------------------- seed

function seed(state) {
  const customers = [0, 1, 2].map((i) =>
    makeCustomer({
      id: seededId('cus', `customer:${i}`, 14),
      created: SEED_BASE_SEC + i * 86400,
      email: `customer${i + 1}@example.com`,
      name: `Seeded Customer ${i + 1}`,
      metadata: { seed: String(i + 1) },
    }),
  );
  customers.reverse(); // newest first
  const charges = [];
  for (let i = 0; i < 30; i++) {
    const customer = customers[i % 3];
    charges.push(
      makeCharge({
        id: `ch_3${seededString(`charge:${i}`, 23)}`, // shaped like ch_3MmlLrLkdIwHu7ix0snN0B15
        created: SEED_BASE_SEC + 7 * 86400 + (30 - i) * 3600, // descending
        amount: 1000 + i * 150,
        customer: customer.id,
        receiptEmail: customer.email,
      }),
    );
  }
  state.data = { customers, charges, webhooks: [], events: [], idempotency: new Map() };
  const events = [
    ...customers.map((c) => ({ ...makeEvent(state, 'customer.created', c, c.created), id: seededId('evt', `ev:${c.id}`) })),
    ...charges.map((c) => ({ ...makeEvent(state, 'charge.succeeded', c, c.created), id: seededId('evt', `ev:${c.id}`) })),
  ];
  events.sort((a, b) => b.created - a.created);
  state.data.events = events;
}

// ------------------------------------------------------------- errors

const DOC_CODES = 'https://stripe.com/docs/error-codes';

class StripeError {
  constructor(status, { type = 'invalid_request_error', code, message, param }) {
    this.status = status;
    this.error = {
      ...(code ? { code, doc_url: `${DOC_CODES}/${code.replace(/_/g, '-')}` } : {}),
      message,
      ...(param ? { param } : {}),
      type,
    };
  }
}

const invalid = (message, code, param, status = 400) => new StripeError(status, { code, message, param });
const missingParam = (param) => invalid(`Missing required param: ${param}.`, 'parameter_missing', param);
const unknownParam = (param) => invalid(`Received unknown parameter: ${param}`, 'parameter_unknown', param);
const noSuch = (what, id, param = 'id', status = 404) => invalid(`No such ${what}: '${id}'`, 'resource_missing', param, status);

function checkParams(params, allowed) {
  for (const k of Object.keys(params)) {
    if (!allowed.includes(k)) throw unknownParam(k);
  }
}

const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

// ---------------------------------------------------------------- lists

const CREATED_OPS = ['gt', 'gte', 'lt', 'lte'];

function parseIntParam(value, param) {
  const s = String(value);
  if (!/^-?\d+$/.test(s)) throw invalid(`Invalid integer: ${s}`, 'parameter_invalid_integer', param);
  return Number(s);
}

/** `created` as an integer (equality) or a hash of gt/gte/lt/lte -> predicate, or null. */
function createdFilter(created) {
  if (created === undefined) return null;
  if (typeof created !== 'object' || created === null || Array.isArray(created)) {
    const t = parseIntParam(created, 'created');
    return (x) => x.created === t;
  }
  const bounds = [];
  for (const [op, v] of Object.entries(created)) {
    if (!CREATED_OPS.includes(op)) throw unknownParam(`created[${op}]`);
    bounds.push([op, parseIntParam(v, `created[${op}]`)]);
  }
  return (x) =>
    bounds.every(([op, t]) => (op === 'gt' ? x.created > t : op === 'gte' ? x.created >= t : op === 'lt' ? x.created < t : x.created <= t));
}

/**
 * Stripe cursor pagination. `all` is the whole collection, newest first;
 * `keep` the list's filters (customer, email, type, created...). Cursors are
 * positions in the whole collection: like Stripe, a cursor object need not
 * match the filters, it only has to exist.
 */
function list(all, params, { url, what, keep = () => true }) {
  let limit = 10;
  if (params.limit !== undefined) {
    limit = parseIntParam(params.limit, 'limit');
    if (limit < 1) throw invalid('This value must be greater than or equal to 1.', 'parameter_invalid_integer', 'limit');
    if (limit > 100) throw invalid('This value must be less than or equal to 100.', 'parameter_invalid_integer', 'limit');
  }
  if (params.starting_after && params.ending_before) {
    throw invalid('You may only specify one of these parameters: ending_before, starting_after.', undefined, undefined);
  }
  const created = createdFilter(params.created);
  const pass = (x) => keep(x) && (!created || created(x));
  const cursorIndex = (id, param) => {
    const idx = all.findIndex((x) => x.id === id);
    if (idx < 0) throw noSuch(what, id, param, 400);
    return idx;
  };
  let data;
  let hasMore;
  if (params.starting_after) {
    const idx = cursorIndex(params.starting_after, 'starting_after');
    const rest = all.slice(idx + 1).filter(pass);
    data = rest.slice(0, limit);
    hasMore = rest.length > limit;
  } else if (params.ending_before) {
    const idx = cursorIndex(params.ending_before, 'ending_before');
    const before = all.slice(0, idx).filter(pass);
    data = before.slice(Math.max(0, before.length - limit));
    hasMore = before.length > limit;
  } else {
    const matching = all.filter(pass);
    data = matching.slice(0, limit);
    hasMore = matching.length > limit;
  }
  return { object: 'list', data, has_more: hasMore, url };
}

/** Insert keeping `items` newest first (a new object goes before older and same-second ones). */
function insertNewestFirst(items, obj) {
  const i = items.findIndex((x) => x.created <= obj.created);
  items.splice(i < 0 ? items.length : i, 0, obj);
}

const LIST_PARAMS = ['limit', 'starting_after', 'ending_before', 'expand', 'created'];

// --------------------------------------------------------------- routes

const CUSTOMER_PARAMS = ['address', 'balance', 'description', 'email', 'invoice_prefix', 'invoice_settings', 'metadata', 'name', 'next_invoice_sequence', 'payment_method', 'phone', 'preferred_locales', 'shipping', 'source', 'tax', 'tax_exempt', 'tax_id_data', 'test_clock', 'expand'];

function applyCustomerParams(c, params) {
  if (params.email !== undefined) {
    if (params.email !== '' && !EMAIL_RE.test(params.email)) throw invalid(`Invalid email address: ${params.email}`, 'email_invalid', 'email');
    c.email = params.email === '' ? null : params.email;
  }
  for (const k of ['name', 'description', 'phone']) if (params[k] !== undefined) c[k] = params[k] === '' ? null : params[k];
  if (params.address !== undefined) {
    if (params.address === '') c.address = null;
    else if (typeof params.address !== 'object' || Array.isArray(params.address)) throw invalid('Invalid object', 'parameter_invalid_empty', 'address');
    else c.address = { city: null, country: null, line1: null, line2: null, postal_code: null, state: null, ...params.address };
  }
  if (params.metadata !== undefined) {
    if (params.metadata === '') c.metadata = {};
    else if (typeof params.metadata !== 'object' || Array.isArray(params.metadata)) throw invalid('Invalid object', 'parameter_invalid_empty', 'metadata');
    else {
      for (const [k, v] of Object.entries(params.metadata)) {
        if (v === '') delete c.metadata[k];
        else c.metadata[k] = String(v);
      }
    }
  }
}

function createCustomer(ctx, params) {
  checkParams(params, CUSTOMER_PARAMS);
  const c = makeCustomer({ id: newId('cus', 14), created: nowSec() });
  applyCustomerParams(c, params);
  insertNewestFirst(ctx.state.data.customers, c);
  insertNewestFirst(ctx.state.data.events, makeEvent(ctx.state, 'customer.created', c, c.created, { id: ctx.requestId, idempotency_key: ctx.headers['idempotency-key'] ?? null }));
  return [200, c];
}

function findOr404(items, id, what) {
  const x = items.find((i) => i.id === id);
  if (!x) throw noSuch(what, id);
  return x;
}

function createWebhookEndpoint(ctx, params) {
  checkParams(params, ['url', 'enabled_events', 'description', 'metadata', 'api_version', 'connect', 'expand']);
  if (!params.url) throw missingParam('url');
  if (!params.enabled_events) throw missingParam('enabled_events');
  let u;
  try {
    u = new URL(params.url);
  } catch {
    throw invalid(`Invalid URL: ${params.url}`, 'url_invalid', 'url');
  }
  if (!['http:', 'https:'].includes(u.protocol)) throw invalid(`Invalid URL: ${params.url}`, 'url_invalid', 'url');
  const events = Array.isArray(params.enabled_events) ? params.enabled_events : [params.enabled_events];
  const we = {
    id: newId('we', 24),
    object: 'webhook_endpoint',
    api_version: params.api_version ?? null,
    application: null,
    created: nowSec(),
    description: params.description ?? null,
    enabled_events: events,
    livemode: false,
    metadata: typeof params.metadata === 'object' ? params.metadata : {},
    secret: `whsec_${randomString(32)}`,
    status: 'enabled',
    url: params.url,
  };
  ctx.state.data.webhooks.unshift(we);
  return [200, we];
}

/** The secret is only ever shown when the endpoint is created. */
const webhookView = ({ secret, ...rest }) => rest;

function route(ctx, params) {
  const { method, path: p, state } = ctx;
  const d = state.data;
  let m;
  if (p === '/v1/customers' && method === 'POST') return createCustomer(ctx, params);
  if (p === '/v1/customers' && method === 'GET') {
    checkParams(params, [...LIST_PARAMS, 'email', 'test_clock']);
    return [200, list(d.customers, params, { url: '/v1/customers', what: 'customer', keep: (c) => !params.email || c.email === params.email })];
  }
  if ((m = /^\/v1\/customers\/([^/]+)$/.exec(p))) {
    const id = decodeURIComponent(m[1]);
    const c = findOr404(d.customers, id, 'customer');
    if (method === 'GET') return [200, c];
    if (method === 'POST') {
      checkParams(params, CUSTOMER_PARAMS);
      applyCustomerParams(c, params);
      return [200, c];
    }
    if (method === 'DELETE') {
      d.customers.splice(d.customers.indexOf(c), 1);
      return [200, { id, object: 'customer', deleted: true }];
    }
  }
  if (p === '/v1/charges' && method === 'GET') {
    checkParams(params, [...LIST_PARAMS, 'customer', 'payment_intent', 'transfer_group']);
    const keep = (c) => (!params.customer || c.customer === params.customer) && (!params.payment_intent || c.payment_intent === params.payment_intent);
    return [200, list(d.charges, params, { url: '/v1/charges', what: 'charge', keep })];
  }
  if ((m = /^\/v1\/charges\/([^/]+)$/.exec(p)) && method === 'GET') return [200, findOr404(d.charges, decodeURIComponent(m[1]), 'charge')];
  if (p === '/v1/events' && method === 'GET') {
    checkParams(params, [...LIST_PARAMS, 'type', 'types', 'delivery_success']);
    const types = params.types ? [].concat(params.types) : params.type ? [params.type] : null;
    const match = (t) => types.some((w) => (w.endsWith('.*') ? t.startsWith(w.slice(0, -1)) : t === w));
    return [200, list(d.events, params, { url: '/v1/events', what: 'event', keep: (e) => !types || match(e.type) })];
  }
  if ((m = /^\/v1\/events\/([^/]+)$/.exec(p)) && method === 'GET') return [200, findOr404(d.events, decodeURIComponent(m[1]), 'event')];
  if (p === '/v1/webhook_endpoints' && method === 'POST') return createWebhookEndpoint(ctx, params);
  if (p === '/v1/webhook_endpoints' && method === 'GET') {
    checkParams(params, LIST_PARAMS);
    const l = list(d.webhooks, params, { url: '/v1/webhook_endpoints', what: 'webhook endpoint' });
    return [200, { ...l, data: l.data.map(webhookView) }];
  }
  if ((m = /^\/v1\/webhook_endpoints\/([^/]+)$/.exec(p))) {
    const id = decodeURIComponent(m[1]);
    const we = findOr404(d.webhooks, id, 'webhook endpoint');
    if (method === 'GET') return [200, webhookView(we)];
    if (method === 'DELETE') {
      d.webhooks.splice(d.webhooks.indexOf(we), 1);
      return [200, { id, object: 'webhook_endpoint', deleted: true }];
    }
  }
  throw invalid(`Unrecognized request URL (${method}: ${p}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`, undefined, undefined, 404);
}

// --------------------------------------------------------------- auth

function maskKey(key) {
  const m = /^((?:sk|pk|rk)_(?:test|live)_)(.*)$/s.exec(key);
  const prefix = m ? m[1] : '';
  const rest = m ? m[2] : key;
  if (rest.length <= 4) return prefix + '*'.repeat(rest.length);
  return prefix + '*'.repeat(rest.length - 4) + rest.slice(-4);
}

function apiKey(ctx) {
  const a = authorization(ctx);
  if (!a) return null;
  if (a.scheme === 'bearer') return a.credentials || null;
  if (a.scheme === 'basic') return basicAuth(ctx).user || null;
  return null;
}

function authenticate(ctx) {
  const key = apiKey(ctx);
  const status = ctx.state.tokens.check(key);
  if (status === 'valid') return key;
  if (status === 'missing') {
    throw invalid(
      "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
      undefined,
      undefined,
      401,
    );
  }
  if (status === 'expired') throw invalid(`Expired API Key provided: ${maskKey(key)}`, 'api_key_expired', undefined, 401);
  throw invalid(`Invalid API Key provided: ${maskKey(key)}`, undefined, undefined, 401);
}

// ------------------------------------------------------------- handler

function headersFor(ctx, extra = {}) {
  return {
    'content-type': 'application/json',
    'request-id': ctx.requestId,
    'stripe-version': ctx.headers['stripe-version'] || DEFAULT_API_VERSION,
    'access-control-allow-origin': '*',
    'cache-control': 'no-cache, no-store',
    ...extra,
  };
}

function sendError(ctx, e, extra = {}) {
  const headers = headersFor(ctx, extra);
  if (e.status === 401) headers['www-authenticate'] = 'Basic realm="Stripe"';
  const error = { ...e.error };
  if (e.status !== 401 && error.type === 'invalid_request_error') {
    error.request_log_url = `https://dashboard.stripe.com/test/logs/${ctx.requestId}?t=${nowSec()}`;
  }
  ctx.send(e.status, JSON.stringify({ error }, null, 2), headers);
  return [e.status, { error }];
}

async function handle(ctx) {
  ctx.requestId = `req_${randomString(14)}`;
  let key;
  try {
    key = authenticate(ctx);
  } catch (e) {
    if (e instanceof StripeError) return sendError(ctx, e);
    throw e;
  }

  // Parameters: the query for GET/DELETE, the form body for POST. JSON is refused.
  let params;
  if (ctx.method === 'POST' && ctx.rawBody.length > 0 && contentType(ctx) !== 'application/x-www-form-urlencoded') {
    return sendError(
      ctx,
      invalid('Invalid request (check that your POST content type is application/x-www-form-urlencoded). If you have any questions, we can help at https://support.stripe.com/.', undefined, undefined, 400),
    );
  }
  params = decodeStripeForm(ctx.method === 'POST' ? ctx.rawBody : ctx.searchParams.toString());

  // Idempotency (POST only): replay, or refuse a key reused with other parameters.
  const idemKey = ctx.method === 'POST' ? ctx.headers['idempotency-key'] : undefined;
  const idemHeaders = idemKey ? { 'idempotency-key': idemKey } : {};
  const fingerprint = `${ctx.method} ${ctx.path} ${canonical(params)}`;
  const storeKey = `${key}\u0000${idemKey}`;
  if (idemKey) {
    const prior = ctx.state.data.idempotency.get(storeKey);
    if (prior) {
      if (prior.fingerprint !== fingerprint) {
        return sendError(
          ctx,
          new StripeError(400, {
            type: 'idempotency_error',
            message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idemKey}' if you meant to execute a different request.`,
          }),
          idemHeaders,
        );
      }
      return ctx.send(prior.status, prior.text, headersFor(ctx, { ...idemHeaders, 'idempotent-replayed': 'true', 'original-request': prior.requestId }));
    }
  }

  let status;
  let text;
  try {
    const [s, body] = route(ctx, params);
    status = s;
    text = JSON.stringify(body, null, 2);
    ctx.send(status, text, headersFor(ctx, { ...idemHeaders, ...(idemKey ? { 'original-request': ctx.requestId } : {}) }));
  } catch (e) {
    if (!(e instanceof StripeError)) throw e;
    const [s, body] = sendError(ctx, e, idemHeaders);
    status = s;
    text = JSON.stringify(body, null, 2);
  }
  if (idemKey && status < 500) ctx.state.data.idempotency.set(storeKey, { fingerprint, status, text, requestId: ctx.requestId });
}

// ------------------------------------------------------------- control

/**
 * POST /__control/charges | /__control/customers {"count": n, ...}: n objects
 * created now, one second apart going forward (each `created` is later than
 * every object of that kind so far), each with its charge.succeeded /
 * customer.created event.
 */
function addObjects(ctx, kind) {
  const b = controlBody(ctx);
  if (!b) return;
  const count = b.count ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > 10000) return controlReply(ctx, 400, { error: '"count" must be an integer 1..10000' });
  const d = ctx.state.data;
  const items = kind === 'charge' ? d.charges : d.customers;
  if (kind === 'charge' && b.customer !== undefined && !d.customers.some((c) => c.id === b.customer)) {
    return controlReply(ctx, 400, { error: `unknown customer ${JSON.stringify(b.customer)}` });
  }
  if (b.amount !== undefined && !(Number.isInteger(b.amount) && b.amount > 0)) return controlReply(ctx, 400, { error: '"amount" must be a positive integer (cents)' });
  let created = Math.max(nowSec(), (items[0]?.created ?? 0) + 1);
  const added = [];
  for (let i = 0; i < count; i++, created++) {
    let obj;
    if (kind === 'charge') {
      const customer = b.customer ? d.customers.find((c) => c.id === b.customer) : d.customers[(d.charges.length + i) % d.customers.length];
      obj = makeCharge({
        id: `ch_3${randomString(23)}`,
        created,
        amount: b.amount ?? 1000 + ((d.charges.length * 150) % 9000),
        customer: customer ? customer.id : null,
        receiptEmail: customer ? customer.email : null,
      });
      obj.description = `Charge ${obj.id}`;
    } else {
      const k = d.customers.length + 1;
      obj = makeCustomer({ id: newId('cus', 14), created, email: b.email ?? `customer${k}@example.com`, name: b.name ?? `Customer ${k}` });
    }
    insertNewestFirst(items, obj);
    insertNewestFirst(d.events, makeEvent(ctx.state, kind === 'charge' ? 'charge.succeeded' : 'customer.created', obj, obj.created));
    added.push(obj);
  }
  const key = kind === 'charge' ? 'charges' : 'customers';
  controlReply(ctx, 200, { ok: true, [key]: added.reverse() }); // newest first, as the API lists them
}

// ---------------------------------------------------- failure injection

function failure(ctx, rule) {
  const requestId = `req_${randomString(14)}`;
  const headers = { 'content-type': 'application/json', 'request-id': requestId, 'stripe-version': ctx.headers['stripe-version'] || DEFAULT_API_VERSION };
  if (rule.status === 429) {
    headers['stripe-should-retry'] = 'true';
    const lock = rule.code === 'lock_timeout';
    return {
      headers,
      body: {
        error: lock
          ? {
              code: 'lock_timeout',
              doc_url: `${DOC_CODES}/lock-timeout`,
              message: 'This object cannot be accessed right now because another API request or Stripe process is currently accessing it. If you see this error intermittently, retry the request. If you see this error frequently and are making multiple concurrent requests to a single object, make your requests serially or at a lower rate.',
              type: 'invalid_request_error',
            }
          : {
              code: 'rate_limit',
              doc_url: `${DOC_CODES}/rate-limit`,
              message: 'Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.',
              type: 'rate_limit_error',
            },
      },
    };
  }
  if (rule.status >= 500) {
    headers['stripe-should-retry'] = 'true';
    return { headers, body: { error: { message: 'An unknown error occurred', type: 'api_error' } } };
  }
  return { headers, body: { error: { message: `Request failed with status ${rule.status}`, type: 'invalid_request_error', ...(rule.code ? { code: rule.code } : {}) } } };
}

export default function stripe() {
  return {
    name: 'stripe',
    configDefaults: {},
    reset: seed,
    handle,
    failure,
    control: {
      'GET /__control/webhook_endpoints': (ctx) => controlReply(ctx, 200, { webhook_endpoints: ctx.state.data.webhooks }),
      'POST /__control/charges': (ctx) => addObjects(ctx, 'charge'),
      'POST /__control/customers': (ctx) => addObjects(ctx, 'customer'),
    },
  };
}
