// GitHub double: api.github.com paths at the root, plus the OAuth token
// endpoint of github.com (POST /login/oauth/access_token) on the same server.
// Object shapes come from @octokit/fixtures recordings, adapted to the
// seeded data (octocat/hello-world, octocat/spoon-knife).
//
// API URLs inside response bodies are written as https://api.github.com/...
// and rewritten to this server's base URL (from the Host header) on output,
// so `url` fields point back at the double as they point at the API for real.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import crypto from 'node:crypto';
import { bearerToken, controlBody, controlReply, intParam, nowSec, parseBody, parseJson, randomString, randomHex } from './common.mjs';

const API = 'https://api.github.com';
const DOCS = 'https://docs.github.com/rest';

// ------------------------------------------------------- fixture templates

const require = createRequire(import.meta.url);
const fixturesDir = path.join(path.dirname(require.resolve('@octokit/fixtures/package.json')), 'scenarios', 'api.github.com');
const scenario = (name) => JSON.parse(readFileSync(path.join(fixturesDir, name, 'normalized-fixture.json'), 'utf8'));
const clone = (v) => structuredClone(v);

const REPO_TEMPLATE = scenario('get-repository').find((f) => f.method === 'get').response;
const ISSUE_TEMPLATE = scenario('paginate-issues')[0].response[0];
const CREATED_ISSUE_TEMPLATE = scenario('add-labels-to-issue')[0].response; // includes closed_by
const LABEL_TEMPLATE = scenario('add-labels-to-issue')[1].response[0];
const USER_TEMPLATE = ISSUE_TEMPLATE.user;

/** Replace every occurrence of `from` in string values of a JSON-able object. */
function replaceDeep(obj, from, to) {
  return JSON.parse(JSON.stringify(obj).split(from).join(to));
}

// Legacy global node ids, e.g. "MDQ6VXNlcjE=" = base64("04:User1"), "MDEwOlJlcG9zaXRvcnkxMjk2MjY5" = base64("010:Repository1296269").
const nodeId = (type, id) => Buffer.from(`0${type.length}:${type}${id}`).toString('base64');
const iso = (sec) => new Date(sec * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

function makeUser(login, id, type = 'User') {
  const u = replaceDeep(USER_TEMPLATE, USER_TEMPLATE.login, login);
  u.id = id;
  u.node_id = nodeId(type, id);
  u.avatar_url = `https://avatars.githubusercontent.com/u/${id}?v=4`;
  u.type = type;
  return u;
}

const OCTOCAT_ID = 1;
const OCTOCAT = makeUser('octocat', OCTOCAT_ID);

function makeAuthenticatedUser(publicRepos) {
  return {
    ...clone(OCTOCAT),
    name: 'The Octocat',
    company: '@github',
    blog: 'https://github.blog',
    location: 'San Francisco',
    email: 'octocat@github.com',
    hireable: null,
    bio: null,
    twitter_username: null,
    public_repos: publicRepos,
    public_gists: 8,
    followers: 20,
    following: 0,
    created_at: '2011-01-25T18:44:36Z',
    updated_at: '2024-01-01T00:00:00Z',
    private_gists: 0,
    total_private_repos: 0,
    owned_private_repos: 0,
    disk_usage: 10000,
    collaborators: 0,
    two_factor_authentication: true,
    plan: { name: 'pro', space: 976562499, collaborators: 0, private_repos: 9999 },
  };
}

function makeRepo({ name, id, description, defaultBranch, createdSec }) {
  const full = `octocat/${name}`;
  let r = replaceDeep(REPO_TEMPLATE, `${REPO_TEMPLATE.owner.login}/${REPO_TEMPLATE.name}`, full);
  r = replaceDeep(r, REPO_TEMPLATE.owner.login, 'octocat');
  delete r.organization; // owned by a user, not an org
  Object.assign(r, {
    id,
    node_id: nodeId('Repository', id),
    name,
    full_name: full,
    owner: clone(OCTOCAT),
    description,
    default_branch: defaultBranch,
    created_at: iso(createdSec),
    updated_at: iso(createdSec + 86400),
    pushed_at: iso(createdSec + 86400),
    stargazers_count: 0,
    watchers_count: 0,
    watchers: 0,
    forks_count: 0,
    forks: 0,
    network_count: 0,
    subscribers_count: 1,
    topics: [],
  });
  return r;
}

function makeLabel(repoFull, name, id, color = 'ededed') {
  const l = clone(LABEL_TEMPLATE);
  Object.assign(l, {
    id,
    node_id: nodeId('Label', id),
    url: `${API}/repos/${repoFull}/labels/${encodeURIComponent(name)}`,
    name,
    color,
    default: ['bug', 'documentation', 'enhancement'].includes(name),
    description: null,
  });
  return l;
}

function makeIssue(repo, { number, title, body, state, createdSec, updatedSec, labels, assignees, withClosedBy, pullRequest = false }) {
  const template = withClosedBy ? CREATED_ISSUE_TEMPLATE : ISSUE_TEMPLATE;
  const templateRepo = template.repository_url.split('/repos/')[1];
  let i = replaceDeep(template, templateRepo, repo.full_name);
  i = replaceDeep(i, USER_TEMPLATE.login, 'octocat');
  const base = `${API}/repos/${repo.full_name}/issues/${number}`;
  const id = 1_000_000 + repo.id * 1000 + number; // unique across repos
  Object.assign(i, {
    url: base,
    labels_url: `${base}/labels{/name}`,
    comments_url: `${base}/comments`,
    events_url: `${base}/events`,
    html_url: `https://github.com/${repo.full_name}/issues/${number}`,
    timeline_url: `${base}/timeline`,
    id,
    node_id: nodeId('Issue', id),
    number,
    title,
    body: body ?? null,
    user: clone(OCTOCAT),
    labels,
    state,
    state_reason: state === 'closed' ? 'completed' : null,
    assignee: assignees[0] ? clone(assignees[0]) : null,
    assignees: assignees.map(clone),
    comments: number % 4,
    created_at: iso(createdSec),
    updated_at: iso(updatedSec),
    closed_at: state === 'closed' ? iso(updatedSec) : null,
    author_association: 'OWNER',
  });
  i.reactions.url = `${base}/reactions`;
  if ('closed_by' in i) i.closed_by = state === 'closed' ? clone(OCTOCAT) : null;
  if (pullRequest) {
    // The issues API lists pull requests too, marked by a `pull_request` key.
    i.html_url = `https://github.com/${repo.full_name}/pull/${number}`;
    i.node_id = nodeId('PullRequest', id);
    const pr = {
      draft: false,
      pull_request: {
        url: `${API}/repos/${repo.full_name}/pulls/${number}`,
        html_url: `https://github.com/${repo.full_name}/pull/${number}`,
        diff_url: `https://github.com/${repo.full_name}/pull/${number}.diff`,
        patch_url: `https://github.com/${repo.full_name}/pull/${number}.patch`,
        merged_at: null,
      },
    };
    // Same key order as GitHub: draft and pull_request come right before body.
    const out = {};
    for (const [k, v] of Object.entries(i)) {
      if (k === 'body') Object.assign(out, pr);
      out[k] = v;
    }
    return out;
  }
  return i;
}

const SEED_BASE_SEC = Date.UTC(2024, 0, 1) / 1000; // 2024-01-01T00:00:00Z

function seed(state) {
  const helloWorld = makeRepo({ name: 'hello-world', id: 1296269, description: 'My first repository on GitHub!', defaultBranch: 'master', createdSec: Date.UTC(2011, 0, 26, 19, 1, 12) / 1000 });
  const spoonKnife = makeRepo({ name: 'spoon-knife', id: 1300192, description: 'This repo is for demonstration purposes only.', defaultBranch: 'main', createdSec: Date.UTC(2011, 0, 27, 19, 30, 43) / 1000 });
  const repos = new Map(); // lower-case full_name -> {repo, issues, labels, hooks}
  for (const repo of [helloWorld, spoonKnife]) repos.set(repo.full_name.toLowerCase(), { repo, issues: [], labels: new Map(), hooks: [] });

  const hw = repos.get('octocat/hello-world');
  let labelId = 208045946;
  for (const [name, color] of [['bug', 'd73a4a'], ['enhancement', 'a2eeef'], ['documentation', '0075ca']]) {
    hw.labels.set(name.toLowerCase(), makeLabel(helloWorld.full_name, name, labelId++, color));
  }
  for (let n = 1; n <= 45; n++) {
    const createdSec = SEED_BASE_SEC + n * 3600; // increasing with the number
    const closed = n % 3 === 0; // 15 closed, 30 open
    const labels = [];
    if (n % 5 === 0) labels.push(clone(hw.labels.get('bug')));
    if (n % 7 === 0) labels.push(clone(hw.labels.get('enhancement')));
    hw.issues.push(
      makeIssue(helloWorld, {
        number: n,
        title: `Seeded issue ${n}`,
        body: `Body of seeded issue ${n}.`,
        state: closed ? 'closed' : 'open',
        createdSec,
        updatedSec: createdSec + (closed ? 1800 : 600) + ((n * 7919) % 50) * 60,
        labels,
        assignees: n % 2 === 0 ? [OCTOCAT] : [],
      }),
    );
  }
  state.data = { repos, nextHookId: 400000001, nextLabelId: labelId, rate: new Map() };
}

// ------------------------------------------------------------ responses

/** Shaped like GitHub's, e.g. "C0DE:3A1C27:1A2B3C:1B2C3D:65A1B2C3". */
function requestId() {
  const hex = (bytes) => randomHex(bytes).toUpperCase();
  return `${hex(2)}:${hex(3)}:${hex(3)}:${hex(3)}:${nowSec().toString(16).toUpperCase()}`;
}

/** Rate-limit bucket of a token ("" = anonymous, 60/h like GitHub). */
function bucket(state, token) {
  const limit = token ? state.config.rate_limit : 60;
  let b = state.data.rate.get(token);
  const now = nowSec();
  if (!b || now >= b.reset) {
    b = { used: 0, reset: now + state.config.rate_limit_window };
    state.data.rate.set(token, b);
  }
  b.limit = limit;
  return b;
}

function rateHeaders(b) {
  return {
    'x-ratelimit-limit': String(b.limit),
    'x-ratelimit-remaining': String(Math.max(0, b.limit - b.used)),
    'x-ratelimit-reset': String(b.reset),
    'x-ratelimit-used': String(b.used),
    'x-ratelimit-resource': 'core',
  };
}

function baseHeaders(extra = {}) {
  return {
    'content-type': 'application/json; charset=utf-8',
    'x-github-request-id': requestId(),
    'x-github-api-version-selected': '2022-11-28',
    'x-github-media-type': 'github.v3; format=json',
    'access-control-allow-origin': '*',
    'cache-control': 'private, max-age=60, s-maxage=60',
    ...extra,
  };
}

function apiSend(ctx, status, body, extraHeaders = {}) {
  const text = body === undefined ? '' : JSON.stringify(body).split(API).join(ctx.baseUrl);
  ctx.send(status, text, baseHeaders({ ...ctx.rate, ...extraHeaders }));
}

const errorBody = (status, message, documentation_url = DOCS) => ({ message, documentation_url, status: String(status) });
const notFound = (ctx) => apiSend(ctx, 404, errorBody(404, 'Not Found'));

/** 200 JSON with ETag; answers If-None-Match with 304, which (as on GitHub) is not counted. */
function sendCacheable(ctx, body, extraHeaders = {}) {
  const text = JSON.stringify(body).split(API).join(ctx.baseUrl);
  const etag = `W/"${crypto.createHash('sha256').update(text).digest('hex').slice(0, 32)}"`;
  const inm = ctx.headers['if-none-match'];
  if (inm && inm.split(',').map((s) => s.trim().replace(/^W\//, '')).includes(etag.replace(/^W\//, ''))) {
    if (ctx.bucket) {
      ctx.bucket.used = Math.max(0, ctx.bucket.used - 1);
      ctx.rate = rateHeaders(ctx.bucket);
    }
    return ctx.send(304, '', baseHeaders({ ...ctx.rate, etag, ...extraHeaders }));
  }
  ctx.send(200, text, baseHeaders({ ...ctx.rate, etag, ...extraHeaders }));
}

// ------------------------------------------------------------ pagination

/**
 * Slice `items` by per_page/page and build GitHub's Link header
 * (rel order as GitHub sends it: prev, next, last, first).
 */
function paginate(ctx, items, defaultPerPage = 30) {
  const perPage = intParam(ctx.query.per_page, defaultPerPage, 1, 100);
  const page = intParam(ctx.query.page, 1, 1, Number.MAX_SAFE_INTEGER);
  const lastPage = Math.max(1, Math.ceil(items.length / perPage));
  const slice = items.slice((page - 1) * perPage, page * perPage);

  const pageUrl = (p) => {
    const params = new URLSearchParams();
    for (const [k, v] of ctx.searchParams) if (k !== 'page') params.append(k, v);
    params.append('page', String(p));
    return `<${ctx.baseUrl}${ctx.path}?${params}>`;
  };
  const rels = [];
  if (page > 1) rels.push(`${pageUrl(page - 1)}; rel="prev"`);
  if (page < lastPage) rels.push(`${pageUrl(page + 1)}; rel="next"`);
  if (page !== lastPage) rels.push(`${pageUrl(lastPage)}; rel="last"`);
  if (page > 1) rels.push(`${pageUrl(1)}; rel="first"`);
  return { slice, link: rels.length ? { link: rels.join(', ') } : {} };
}

// ----------------------------------------------------------- OAuth token

const OAUTH_ERROR_URI = 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors';

/** github.com answers in form encoding unless the client asks for JSON. */
function oauthReply(ctx, body) {
  const accept = (ctx.headers.accept || '').toLowerCase();
  if (accept.includes('json')) return ctx.send(200, body, { 'content-type': 'application/json; charset=utf-8' });
  const form = new URLSearchParams(Object.entries(body).map(([k, v]) => [k, v === null ? '' : String(v)])).toString();
  ctx.send(200, form, { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' });
}

function tokenEndpoint(ctx) {
  const parsed = parseBody(ctx);
  const params = { ...ctx.query, ...(parsed.kind === 'json' || parsed.kind === 'form' ? parsed.value || {} : {}) };
  const { state } = ctx;
  const client = state.oauth.authenticateClient(ctx, params);
  if (client.error) {
    state.stats.refresh_failures += 1;
    return oauthReply(ctx, {
      error: 'incorrect_client_credentials',
      error_description: 'The client_id and/or client_secret passed are incorrect.',
      error_uri: `${OAUTH_ERROR_URI}#incorrect-client-credentials`,
    });
  }
  if (params.grant_type !== 'refresh_token') {
    state.stats.refresh_failures += 1;
    if (params.code) {
      return oauthReply(ctx, {
        error: 'bad_verification_code',
        error_description: 'The code passed is incorrect or expired.',
        error_uri: `${OAUTH_ERROR_URI}#bad-verification-code`,
      });
    }
    return oauthReply(ctx, { error: 'unsupported_grant_type', error_description: 'The grant type is not supported.', error_uri: OAUTH_ERROR_URI });
  }
  const grant = state.oauth.redeem({
    clientId: client.clientId,
    refreshToken: params.refresh_token,
    tokens: state.tokens,
    accessTtl: state.config.access_token_ttl,
    refreshTtl: state.config.refresh_token_ttl,
    newAccessToken: () => `ghu_${randomString(36)}`,
    newRefreshToken: () => `ghr_${randomString(76)}`,
  });
  if (grant.error) {
    state.stats.refresh_failures += 1;
    return oauthReply(ctx, {
      error: 'bad_refresh_token',
      error_description: 'The refresh token passed is incorrect or expired.',
      error_uri: `${OAUTH_ERROR_URI}#bad-refresh-token`,
    });
  }
  state.stats.refreshes += 1;
  oauthReply(ctx, {
    access_token: grant.access_token,
    expires_in: grant.expires_in,
    refresh_token: grant.refresh_token,
    refresh_token_expires_in: grant.refresh_token_expires_in,
    scope: '',
    token_type: 'bearer',
  });
}

// ------------------------------------------------------------- handlers

function repoEntry(ctx, owner, name) {
  return ctx.state.data.repos.get(`${owner}/${name}`.toLowerCase());
}

function withOpenCount(entry) {
  const open = entry.issues.filter((i) => i.state === 'open').length;
  return { ...entry.repo, open_issues_count: open, open_issues: open };
}

function listIssues(ctx, entry) {
  const q = ctx.query;
  const stateFilter = q.state ?? 'open';
  if (!['open', 'closed', 'all'].includes(stateFilter)) {
    return apiSend(ctx, 422, {
      message: 'Validation Failed',
      errors: [{ value: stateFilter, resource: 'Issue', field: 'state', code: 'invalid' }],
      documentation_url: 'https://docs.github.com/rest/issues/issues#list-repository-issues',
      status: '422',
    });
  }
  const sort = ['created', 'updated', 'comments'].includes(q.sort) ? q.sort : 'created';
  const direction = q.direction === 'asc' ? 'asc' : 'desc';
  let items = entry.issues.filter((i) => stateFilter === 'all' || i.state === stateFilter);
  if (q.since) {
    const since = Date.parse(q.since);
    if (!Number.isNaN(since)) items = items.filter((i) => Date.parse(i.updated_at) >= since);
  }
  if (q.labels) {
    const wanted = String(q.labels).split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    items = items.filter((i) => wanted.every((w) => i.labels.some((l) => l.name.toLowerCase() === w)));
  }
  const key = (i) => (sort === 'comments' ? i.comments : Date.parse(sort === 'updated' ? i.updated_at : i.created_at));
  items = [...items].sort((a, b) => (key(a) - key(b) || a.number - b.number) * (direction === 'asc' ? 1 : -1));
  const { slice, link } = paginate(ctx, items);
  sendCacheable(ctx, slice, link);
}

function createIssue(ctx, entry) {
  const parsed = parseJson(ctx.rawBody.trim() === '' ? '{}' : ctx.rawBody);
  const docs = 'https://docs.github.com/rest/issues/issues#create-an-issue';
  if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value)) {
    return apiSend(ctx, 400, { message: 'Problems parsing JSON', documentation_url: docs, status: '400' });
  }
  const b = parsed.value;
  if (b.title === undefined || b.title === null || b.title === '') {
    return apiSend(ctx, 422, {
      message: 'Validation Failed',
      errors: [{ resource: 'Issue', code: 'missing_field', field: 'title' }],
      documentation_url: docs,
      status: '422',
    });
  }
  const assigneeLogins = [...(Array.isArray(b.assignees) ? b.assignees : []), ...(b.assignee ? [b.assignee] : [])];
  const bad = assigneeLogins.filter((l) => String(l).toLowerCase() !== 'octocat');
  if (bad.length) {
    return apiSend(ctx, 422, {
      message: 'Validation Failed',
      errors: bad.map((value) => ({ value, resource: 'Issue', field: 'assignees', code: 'invalid' })),
      documentation_url: docs,
      status: '422',
    });
  }
  const labels = [];
  for (const l of Array.isArray(b.labels) ? b.labels : []) {
    const name = typeof l === 'string' ? l : l && l.name;
    if (!name) continue;
    let label = entry.labels.get(name.toLowerCase());
    if (!label) {
      label = makeLabel(entry.repo.full_name, name, ctx.state.data.nextLabelId++);
      entry.labels.set(name.toLowerCase(), label);
    }
    if (!labels.some((x) => x.id === label.id)) labels.push(clone(label));
  }
  const number = entry.issues.reduce((m, i) => Math.max(m, i.number), 0) + 1;
  const now = nowSec();
  const issue = makeIssue(entry.repo, {
    number,
    title: String(b.title),
    body: b.body ?? null,
    state: 'open',
    createdSec: now,
    updatedSec: now,
    labels,
    assignees: assigneeLogins.length ? [OCTOCAT] : [],
    withClosedBy: true,
  });
  entry.issues.push(issue);
  apiSend(ctx, 201, issue, { location: issue.url.split(API).join(ctx.baseUrl) });
}

function hookView(hook) {
  const h = clone(hook);
  if (h.config.secret) h.config.secret = '********';
  return h;
}

function createHook(ctx, entry) {
  const parsed = parseJson(ctx.rawBody.trim() === '' ? '{}' : ctx.rawBody);
  const docs = 'https://docs.github.com/rest/repos/webhooks#create-a-repository-webhook';
  if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value)) {
    return apiSend(ctx, 400, { message: 'Problems parsing JSON', documentation_url: docs, status: '400' });
  }
  const b = parsed.value;
  const config = b.config && typeof b.config === 'object' ? b.config : {};
  if (!config.url) {
    return apiSend(ctx, 422, {
      message: 'Validation Failed',
      errors: [{ resource: 'Hook', code: 'custom', message: 'Config must contain URL.' }],
      documentation_url: docs,
      status: '422',
    });
  }
  if (entry.hooks.some((h) => h.config.url === config.url)) {
    return apiSend(ctx, 422, {
      message: 'Validation Failed',
      errors: [{ resource: 'Hook', code: 'custom', message: 'Hook already exists on this repository' }],
      documentation_url: docs,
      status: '422',
    });
  }
  const id = ctx.state.data.nextHookId++;
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const base = `${API}/repos/${entry.repo.full_name}/hooks/${id}`;
  const hook = {
    type: 'Repository',
    id,
    name: b.name || 'web',
    active: b.active === undefined ? true : Boolean(b.active),
    events: Array.isArray(b.events) && b.events.length ? b.events : ['push'],
    config: {
      content_type: config.content_type || 'form',
      insecure_ssl: String(config.insecure_ssl ?? '0'),
      url: config.url,
      ...(config.secret ? { secret: config.secret } : {}),
    },
    updated_at: now,
    created_at: now,
    url: base,
    test_url: `${base}/test`,
    ping_url: `${base}/pings`,
    deliveries_url: `${base}/deliveries`,
    last_response: { code: null, status: 'unused', message: null },
  };
  entry.hooks.push(hook);
  apiSend(ctx, 201, hookView(hook), { location: base.split(API).join(ctx.baseUrl) });
}

function rateLimitResource(b) {
  return { limit: b.limit, used: b.used, remaining: Math.max(0, b.limit - b.used), reset: b.reset };
}

async function handle(ctx) {
  const { method, path: p, state } = ctx;

  if (p === '/login/oauth/access_token') {
    if (method !== 'POST') return ctx.send(404, 'Not Found', { 'content-type': 'text/plain; charset=utf-8' });
    return tokenEndpoint(ctx);
  }

  // ---- authentication (Authorization: Bearer <t> | token <t>)
  const token = bearerToken(ctx, ['bearer', 'token']);
  const status = state.tokens.check(token);
  if (status !== 'valid') {
    const anon = bucket(state, '');
    anon.used = Math.min(anon.limit, anon.used + 1);
    ctx.rate = rateHeaders(anon);
    return apiSend(ctx, 401, errorBody(401, 'Bad credentials'));
  }

  // ---- primary rate limit (per token)
  const b = bucket(state, token);
  if (p === '/rate_limit' && method === 'GET') {
    ctx.rate = rateHeaders(b);
    const core = rateLimitResource(b);
    return apiSend(ctx, 200, { resources: { core }, rate: core });
  }
  if (b.used >= b.limit) {
    ctx.rate = rateHeaders(b);
    return apiSend(
      ctx,
      403,
      {
        message: 'API rate limit exceeded for user ID 1.',
        documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
        status: '403',
      },
      { 'retry-after': String(Math.max(0, b.reset - nowSec())) },
    );
  }
  b.used += 1;
  ctx.bucket = b;
  ctx.rate = rateHeaders(b);

  // ---- routes
  let m;
  if (p === '/user' && method === 'GET') {
    return sendCacheable(ctx, makeAuthenticatedUser(state.data.repos.size));
  }
  if (p === '/user/repos' && method === 'GET') {
    const sort = ['created', 'updated', 'pushed', 'full_name'].includes(ctx.query.sort) ? ctx.query.sort : 'full_name';
    const direction = ctx.query.direction || (sort === 'full_name' ? 'asc' : 'desc');
    const repos = [...state.data.repos.values()].map(withOpenCount);
    repos.sort((a, b2) => {
      const c = sort === 'full_name' ? a.full_name.localeCompare(b2.full_name) : Date.parse(a[`${sort}_at`]) - Date.parse(b2[`${sort}_at`]);
      return direction === 'asc' ? c : -c;
    });
    const { slice, link } = paginate(ctx, repos);
    return sendCacheable(ctx, slice, link);
  }
  if ((m = /^\/repositories\/(\d+)$/.exec(p)) && method === 'GET') {
    const entry = [...state.data.repos.values()].find((e) => String(e.repo.id) === m[1]);
    return entry ? sendCacheable(ctx, withOpenCount(entry)) : notFound(ctx);
  }
  if ((m = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(p))) {
    const entry = repoEntry(ctx, decodeURIComponent(m[1]), decodeURIComponent(m[2]));
    if (!entry) return notFound(ctx);
    const rest = m[3] || '';
    if (rest === '' && method === 'GET') return sendCacheable(ctx, withOpenCount(entry));
    if (rest === '/issues' && method === 'GET') return listIssues(ctx, entry);
    if (rest === '/issues' && method === 'POST') return createIssue(ctx, entry);
    let n;
    if ((n = /^\/issues\/(\d+)$/.exec(rest)) && method === 'GET') {
      const issue = entry.issues.find((i) => i.number === Number(n[1]));
      return issue ? sendCacheable(ctx, issue) : notFound(ctx);
    }
    if (rest === '/hooks' && method === 'GET') {
      const { slice, link } = paginate(ctx, entry.hooks.map(hookView));
      return sendCacheable(ctx, slice, link);
    }
    if (rest === '/hooks' && method === 'POST') return createHook(ctx, entry);
    if ((n = /^\/hooks\/(\d+)$/.exec(rest))) {
      const idx = entry.hooks.findIndex((h) => h.id === Number(n[1]));
      if (idx < 0) return notFound(ctx);
      if (method === 'GET') return sendCacheable(ctx, hookView(entry.hooks[idx]));
      if (method === 'DELETE') {
        entry.hooks.splice(idx, 1);
        return ctx.send(204, '', baseHeaders({ ...ctx.rate }));
      }
    }
  }
  return notFound(ctx);
}

// ------------------------------------------------------ failure injection

function failure(ctx, rule) {
  const token = bearerToken(ctx, ['bearer', 'token']);
  const b = bucket(ctx.state, ctx.state.tokens.check(token) === 'valid' ? token : '');
  const headers = baseHeaders(rateHeaders(b));
  if (rule.status === 429 || rule.status === 403) {
    return {
      headers,
      body: {
        message:
          'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID ' +
          `${headers['x-github-request-id']}.`,
        documentation_url: 'https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
        status: String(rule.status),
      },
    };
  }
  const messages = { 500: 'Server Error', 502: 'Server Error', 503: 'Service Unavailable', 504: 'We couldn\u2019t respond to your request in time. Sorry about that. Please try resubmitting your request and contact us if the problem persists.' };
  return { headers, body: { message: messages[rule.status] || 'Error', documentation_url: DOCS, status: String(rule.status) } };
}

// ------------------------------------------------------------- control

/**
 * POST /__control/issues {"repo":"octocat/Hello-World","count":n,"pull_request"?:bool,"title"?,"state"?}:
 * n open issues (or pull requests) numbered after the repo's highest number,
 * created_at = updated_at = now truncated to the second (as GitHub writes
 * them). Lists change, so their ETags change.
 */
function addIssues(ctx) {
  const b = controlBody(ctx);
  if (!b) return;
  const entry = typeof b.repo === 'string' ? ctx.state.data.repos.get(b.repo.toLowerCase()) : undefined;
  if (!entry) return controlReply(ctx, 404, { error: `unknown repo ${JSON.stringify(b.repo)}; known: ${[...ctx.state.data.repos.values()].map((e) => e.repo.full_name).join(', ')}` });
  const count = b.count ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > 10000) return controlReply(ctx, 400, { error: '"count" must be an integer 1..10000' });
  const state = b.state ?? 'open';
  if (!['open', 'closed'].includes(state)) return controlReply(ctx, 400, { error: '"state" must be open or closed' });
  const pullRequest = Boolean(b.pull_request);
  const now = nowSec();
  const added = [];
  let number = entry.issues.reduce((m, i) => Math.max(m, i.number), 0);
  for (let k = 0; k < count; k++) {
    number += 1;
    const issue = makeIssue(entry.repo, {
      number,
      title: `${b.title ?? (pullRequest ? 'Pull request' : 'Issue')} ${number}`,
      body: null,
      state,
      createdSec: now,
      updatedSec: now,
      labels: [],
      assignees: [],
      pullRequest,
    });
    entry.issues.push(issue);
    added.push(issue);
  }
  const brief = (i) => ({ number: i.number, id: i.id, title: i.title, state: i.state, created_at: i.created_at, updated_at: i.updated_at, pull_request: 'pull_request' in i });
  controlReply(ctx, 200, { ok: true, repo: entry.repo.full_name, issues: added.map(brief) });
}

export default function github() {
  return {
    name: 'github',
    configDefaults: { access_token_ttl: 28800, refresh_token_ttl: 15897600, rate_limit: 5000, rate_limit_window: 3600 },
    reset: seed,
    handle,
    failure,
    onConfig(state, changed) {
      if ('rate_limit' in changed || 'rate_limit_window' in changed) state.data.rate.clear();
    },
    control: {
      'POST /__control/issues': addIssues,
    },
  };
}
