// A real OAuth 2.0 authorization server for the connect-flow tests:
// oauth2-mock-server (npm), on a free loopback port. It checks PKCE
// (code_verifier against the authorize request's code_challenge) and issues
// signed JWT access tokens. Around it, this file reproduces what real
// providers do after the connect: rotating single-use refresh tokens
// (reused / revoked / unknown → 400 invalid_grant), access tokens that
// expire, and a protected API (`GET /api/*`) that 401s invalid tokens and
// says which header carried the token (`Authorization: Bearer`, or any
// header whose value is a live token, as Shopify's x-shopify-access-token),
// echoing the path, query and headers it received.
// Client-credentials grants are counted like the others; the client secret
// `wrong-secret` (form, JSON or Basic) is refused with 401 invalid_client.
// `/authorize` and `/token` requests are recorded (`seen` in stats: method,
// path, query, content type) so tests can check what the URLs carried.
// `/__control/*` lets tests change the token lifetime, revoke or expire
// everything issued so far, and read counters (see README.md).
// `/authorize` sends `X-Frame-Options: DENY`, as real providers do.
// Prints `{"port": N}` once listening. `--deny` makes /authorize send the
// user back with error=access_denied instead of a code (refused consent).
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';

const deny = process.argv.includes('--deny');
const issuer = new OAuth2Issuer();
await issuer.keys.generate('RS256');
const service = new OAuth2Service(issuer);

let expiresIn = 3600; // lifetime of access tokens issued from now on (s)
const refreshTokens = new Map(); // token -> 'live' | 'used' | 'revoked'
const accessTokens = new Map(); // token -> { expiresAt (ms), revoked }
const newStats = () => ({
  token_requests: { authorization_code: 0, refresh_token: 0, client_credentials: 0 },
  refresh_rejected: 0,
  client_rejected: 0,
  api_requests: 0,
  api_rejected: 0,
  seen: [],
});
const SEEN_MAX = 200;
let stats = newStats();

service.on('beforeAuthorizeRedirect', (authorizeRedirectUri) => {
  if (deny) {
    const u = authorizeRedirectUri.url;
    u.searchParams.delete('code');
    u.searchParams.set('error', 'access_denied');
    u.searchParams.set('error_description', 'The user refused');
  }
});

// Emitted for the access token and the id_token; the library signs both with
// a fixed 3600 s `exp`, so make the JWT agree with the lifetime in force.
service.on('beforeTokenSigning', (token) => {
  token.payload.exp = token.payload.iat + expiresIn;
  // Unique, as real providers' tokens are: without it two tokens issued in
  // the same second for the same grant would be byte-identical.
  token.payload.jti = randomUUID();
});

// Emitted after the tokens are built (PKCE already checked), before the
// response is sent; the response's status and body may be replaced.
service.on('beforeResponse', (response, req) => {
  const { grant_type: grant, refresh_token: presented } = req.body;
  if (grant === 'client_credentials') {
    const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization || '');
    const secret = basic ? Buffer.from(basic[1], 'base64').toString().split(':').slice(1).join(':') : req.body.client_secret;
    if (secret === 'wrong-secret') {
      stats.client_rejected += 1;
      response.statusCode = 401;
      response.body = { error: 'invalid_client', error_description: 'Client authentication failed' };
      return;
    }
  }
  if (grant === 'refresh_token') {
    if (refreshTokens.get(presented) !== 'live') {
      stats.refresh_rejected += 1;
      response.statusCode = 400;
      response.body = { error: 'invalid_grant' };
      return;
    }
    refreshTokens.set(presented, 'used'); // each refresh token works once
  }
  const body = response.body;
  body.expires_in = expiresIn;
  accessTokens.set(body.access_token, { expiresAt: Date.now() + expiresIn * 1000, revoked: false });
  // The library hands out a fresh random refresh_token for every grant but
  // client_credentials: remember it.
  if (body.refresh_token) refreshTokens.set(body.refresh_token, 'live');
});

const send = (res, status, body, headers = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

async function readJson(req) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return raw ? JSON.parse(raw) : {};
}

function api(req, res) {
  stats.api_requests += 1;
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization || '');
  let via = 'authorization';
  let token = m && m[1];
  if (!token) {
    const h = Object.entries(req.headers).find(([, v]) => typeof v === 'string' && accessTokens.has(v));
    if (h) [via, token] = h;
  }
  const t = token && accessTokens.get(token);
  if (!t || t.revoked || Date.now() >= t.expiresAt) {
    stats.api_rejected += 1;
    return send(res, 401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
  }
  const u = new URL(req.url, 'http://x');
  send(res, 200, {
    id: 'user-1',
    email: 'jane@example.com',
    token_suffix: token.slice(-6),
    via,
    path: u.pathname,
    query: Object.fromEntries(u.searchParams),
    headers: req.headers,
  });
}

async function control(req, res, path) {
  const route = `${req.method} ${path}`;
  if (route === 'POST /__control/config') {
    let cfg;
    try {
      cfg = await readJson(req);
    } catch {
      return send(res, 400, { error: 'bad JSON' });
    }
    if (!Number.isInteger(cfg.expires_in) || cfg.expires_in < 0) return send(res, 400, { error: 'expires_in: a non-negative integer' });
    expiresIn = cfg.expires_in;
    return send(res, 200, { expires_in: expiresIn });
  }
  if (route === 'POST /__control/revoke') {
    for (const k of refreshTokens.keys()) refreshTokens.set(k, 'revoked');
    for (const t of accessTokens.values()) t.revoked = true;
    return send(res, 200, { revoked: true });
  }
  if (route === 'POST /__control/expire') {
    const now = Date.now();
    for (const t of accessTokens.values()) t.expiresAt = Math.min(t.expiresAt, now);
    return send(res, 200, { expired: true });
  }
  if (route === 'GET /__control/stats') return send(res, 200, stats);
  if (route === 'POST /__control/reset-stats') {
    stats = newStats();
    return send(res, 200, stats);
  }
  send(res, 404, { error: 'unknown control endpoint' });
}

// One port: our routes first, everything else to the library's express app.
const server = createServer((req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  if (path.startsWith('/__control/')) return void control(req, res, path);
  if (req.method === 'GET' && path.startsWith('/api/')) return api(req, res);
  // As real providers: the consent page refuses to be framed.
  if (path === '/authorize') res.setHeader('X-Frame-Options', 'DENY');
  if (path === '/authorize' || path === '/token') {
    if (stats.seen.length < SEEN_MAX) {
      const u = new URL(req.url, 'http://x');
      stats.seen.push({
        method: req.method,
        path,
        query: Object.fromEntries(u.searchParams),
        content_type: req.headers['content-type'] ?? null,
      });
    }
  }
  if (req.method === 'POST' && path === '/token') {
    // Count every request that reaches the token endpoint, including those
    // the library refuses (bad PKCE...): express has parsed req.body by then.
    res.on('finish', () => {
      const g = req.body?.grant_type;
      if (g in stats.token_requests) stats.token_requests[g] += 1;
    });
  }
  service.requestHandler(req, res);
});
await new Promise((resolve, reject) => server.listen(0, '127.0.0.1').once('listening', resolve).once('error', reject));
const { port } = server.address();
issuer.url = `http://127.0.0.1:${port}`;
console.log(JSON.stringify({ port }));
process.on('SIGTERM', () => process.exit(0));
