// Trello double: an OAuth 1.0a provider (RFC 5849, HMAC-SHA1) with Trello's
// endpoints. Every token request and API call must be signed; signatures
// are recomputed with the `oauth-1.0a` npm package over the request's own
// URL, query, form body and `oauth_*` parameters.
//   POST /1/OAuthGetRequestToken   (consumer-signed, oauth_callback)
//   GET  /1/OAuthAuthorizeToken    (the user approves: 302 to the callback
//                                   with oauth_token and oauth_verifier)
//   POST /1/OAuthGetAccessToken    (signed with the request token, oauth_verifier)
//   GET  /1/members/me             (signed with the access token)
// Control: POST /__control/consumers {"key","secret"} registers a client;
// POST /__control/deny {"deny":true} makes the next approval a denial.

import crypto from 'node:crypto';
import OAuth from 'oauth-1.0a';
import { controlBody, controlReply, randomString } from './common.mjs';

const MAX_SKEW_S = 300;
const text = (ctx, status, body) => ctx.send(status, body, { 'content-type': 'text/plain; charset=utf-8' });
const json = (ctx, status, body) => ctx.send(status, body, { 'content-type': 'application/json' });

function oauthParams(header) {
  if (!header || !header.startsWith('OAuth ')) return null;
  const out = {};
  for (const part of header.slice(6).split(',')) {
    const m = /^\s*([a-z_]+)="([^"]*)"\s*$/.exec(part);
    if (!m) return null;
    out[m[1]] = decodeURIComponent(m[2]);
  }
  return out;
}

/** The verified oauth params, or null after sending 401. `tokenSecret(p)` finds the token's secret. */
function verify(ctx, tokenSecret) {
  const p = oauthParams(ctx.headers.authorization);
  if (!p || p.oauth_signature_method !== 'HMAC-SHA1') return text(ctx, 401, 'missing or unsupported OAuth header'), null;
  const consumerSecret = ctx.state.data.consumers.get(p.oauth_consumer_key);
  if (consumerSecret === undefined) return text(ctx, 401, 'invalid consumer key'), null;
  if (Math.abs(Date.now() / 1000 - Number(p.oauth_timestamp)) > MAX_SKEW_S) return text(ctx, 401, 'timestamp out of range'), null;
  const nonceKey = `${p.oauth_consumer_key}:${p.oauth_timestamp}:${p.oauth_nonce}`;
  if (ctx.state.data.nonces.has(nonceKey)) return text(ctx, 401, 'nonce already used'), null;
  const secret = tokenSecret(p);
  if (secret === null) return text(ctx, 401, 'invalid token'), null;
  const form = (ctx.headers['content-type'] || '').startsWith('application/x-www-form-urlencoded')
    ? Object.fromEntries(new URLSearchParams(ctx.rawBody))
    : {};
  const signer = OAuth({
    consumer: { key: p.oauth_consumer_key, secret: consumerSecret },
    signature_method: 'HMAC-SHA1',
    hash_function: (base, key) => crypto.createHmac('sha1', key).update(base).digest('base64'),
  });
  const { oauth_signature: given, ...signed } = p;
  const query = ctx.searchParams.toString();
  const url = `${ctx.baseUrl}${ctx.path}${query ? `?${query}` : ''}`;
  const expected = signer.getSignature({ url, method: ctx.method, data: form }, secret, signed);
  if (expected !== given) return text(ctx, 401, 'invalid signature'), null;
  ctx.state.data.nonces.add(nonceKey);
  return p;
}

function handle(ctx) {
  const d = ctx.state.data;
  const route = `${ctx.method} ${ctx.path}`;
  if (route === 'POST /1/OAuthGetRequestToken') {
    const p = verify(ctx, () => '');
    if (!p) return;
    if (!p.oauth_callback) return text(ctx, 400, 'oauth_callback is required');
    const token = randomString(32);
    d.requestTokens.set(token, { secret: randomString(32), consumer: p.oauth_consumer_key, callback: p.oauth_callback, verifier: null });
    return text(ctx, 200, `oauth_token=${token}&oauth_token_secret=${d.requestTokens.get(token).secret}&oauth_callback_confirmed=true`);
  }
  if (route === 'GET /1/OAuthAuthorizeToken') {
    const rt = d.requestTokens.get(ctx.query.oauth_token);
    if (!rt) return text(ctx, 400, 'unknown request token');
    d.authorizeQueries.push(ctx.query);
    const cb = new URL(rt.callback);
    if (d.deny) {
      d.deny = false;
      d.requestTokens.delete(ctx.query.oauth_token);
      cb.searchParams.set('oauth_problem', 'user_refused');
    } else {
      rt.verifier = randomString(24);
      cb.searchParams.set('oauth_token', ctx.query.oauth_token);
      cb.searchParams.set('oauth_verifier', rt.verifier);
    }
    return ctx.send(302, '', { location: cb.toString() });
  }
  if (route === 'POST /1/OAuthGetAccessToken') {
    let rt;
    const p = verify(ctx, (p) => {
      rt = d.requestTokens.get(p.oauth_token);
      return rt && rt.consumer === p.oauth_consumer_key ? rt.secret : null;
    });
    if (!p) return;
    if (!rt.verifier || p.oauth_verifier !== rt.verifier) return text(ctx, 401, 'invalid verifier');
    d.requestTokens.delete(p.oauth_token); // single use
    const token = randomString(40);
    d.accessTokens.set(token, { secret: randomString(40), consumer: p.oauth_consumer_key });
    return text(ctx, 200, `oauth_token=${token}&oauth_token_secret=${d.accessTokens.get(token).secret}`);
  }
  if (route === 'GET /1/members/me') {
    const p = verify(ctx, (p) => {
      const at = d.accessTokens.get(p.oauth_token);
      return at && at.consumer === p.oauth_consumer_key ? at.secret : null;
    });
    if (!p) return;
    return json(ctx, 200, { id: '5f0c0ffee', username: 'doubleuser', fullName: 'Double User', query: ctx.query });
  }
  return json(ctx, 404, { message: 'not found' });
}

export default function trello() {
  return {
    name: 'trello',
    configDefaults: {},
    reset(state) {
      state.data = { consumers: new Map(), requestTokens: new Map(), accessTokens: new Map(), nonces: new Set(), authorizeQueries: [], deny: false };
    },
    handle,
    failure: (ctx, rule) => ({ headers: { 'content-type': 'text/plain' }, body: `error ${rule.status}` }),
    control: {
      'POST /__control/consumers': (ctx) => {
        const b = controlBody(ctx);
        if (!b) return;
        if (typeof b.key !== 'string' || typeof b.secret !== 'string') return controlReply(ctx, 400, { error: '"key" and "secret" must be strings' });
        ctx.state.data.consumers.set(b.key, b.secret);
        controlReply(ctx, 200, { ok: true });
      },
      'POST /__control/deny': (ctx) => {
        const b = controlBody(ctx);
        if (!b) return;
        ctx.state.data.deny = b.deny === true;
        controlReply(ctx, 200, { ok: true });
      },
      'GET /__control/authorize_queries': (ctx) => controlReply(ctx, 200, { queries: ctx.state.data.authorizeQueries }),
    },
  };
}
