// Slack double: Web API methods under /api/<method> like https://slack.com/api.
// Slack answers nearly everything with HTTP 200 and {"ok": false, "error": ...};
// only unknown methods (404) and rate limits (429) use other statuses.

import { bearerToken, nowSec, parseBody, randomHex, randomString, controlReply, controlBody } from './common.mjs';

const TEAM = { id: 'T0TEAM', name: 'Test Team', domain: 'testteam' };
const BOT = { user_id: 'U0BOT', bot_id: 'B0BOT', app_id: 'A0APP', name: 'switchboard-bot' };
const SCOPES = 'channels:read,chat:write,chat:write.public,groups:read';
const CHANNEL_CREATED_BASE = Date.UTC(2023, 0, 1) / 1000;

// ------------------------------------------------------------------ seed

function makeChannel(i, name) {
  const id = `C06${String(i + 1).padStart(8, '0')}`;
  const created = CHANNEL_CREATED_BASE + i * 86400;
  const archived = /^dev-(5|13|21)$/.test(name);
  return {
    id,
    name,
    is_channel: true,
    is_group: false,
    is_im: false,
    is_mpim: false,
    is_private: false,
    created,
    is_archived: archived,
    is_general: name === 'general',
    unlinked: 0,
    name_normalized: name,
    is_shared: false,
    is_org_shared: false,
    is_pending_ext_shared: false,
    pending_shared: [],
    context_team_id: TEAM.id,
    updated: created * 1000,
    parent_conversation: null,
    creator: 'U0ADMIN',
    is_ext_shared: false,
    shared_team_ids: [TEAM.id],
    pending_connected_team_ids: [],
    is_member: !archived,
    topic: { value: '', creator: '', last_set: 0 },
    purpose: { value: name === 'general' ? 'This channel is for team-wide communication and announcements.' : `The #${name} channel.`, creator: 'U0ADMIN', last_set: created },
    previous_names: [],
    num_members: 3 + (i % 17),
  };
}

function seed(state) {
  const names = ['general', 'random', ...Array.from({ length: 23 }, (_, i) => `dev-${i + 1}`)];
  // teams: access token -> the workspace it belongs to (default TEAM).
  state.data = { channels: names.map((n, i) => makeChannel(i, n)), messages: [], tsSeq: 0, teams: {} };
}

// ------------------------------------------------------------- responses

function reply(ctx, status, body, extra = {}) {
  ctx.send(status, body, { 'content-type': 'application/json; charset=utf-8', 'x-slack-req-id': randomHex(16), ...extra });
}
const ok = (ctx, body) => reply(ctx, 200, { ok: true, ...body }, { 'x-oauth-scopes': SCOPES });
const fail = (ctx, error, extra = {}) => reply(ctx, 200, { ok: false, error, ...extra });

/** Method arguments: query string, then form or JSON body (body wins). */
function args(ctx) {
  const parsed = parseBody(ctx);
  const body = parsed.kind === 'form' || (parsed.kind === 'json' && parsed.value && typeof parsed.value === 'object') ? parsed.value : {};
  return { params: { ...ctx.query, ...body }, parsed };
}

/** Slack's auth errors: not_authed / invalid_auth / token_expired. Returns true when authorised. */
function authorise(ctx, params, parsed) {
  // A token form field is accepted; a token inside a JSON body is not (as on Slack).
  const token = bearerToken(ctx) || (parsed.kind === 'form' ? params.token : undefined);
  const status = ctx.state.tokens.check(token);
  if (status === 'valid') return true;
  fail(ctx, { missing: 'not_authed', unknown: 'invalid_auth', expired: 'token_expired' }[status]);
  return false;
}

const boolParam = (v) => v === true || v === 'true' || v === '1' || v === 1;

// -------------------------------------------------------------- methods

function authTest(ctx, params) {
  const token = bearerToken(ctx) || params.token;
  const team = ctx.state.data.teams[token] || TEAM;
  ok(ctx, {
    url: `https://${team.domain}.slack.com/`,
    team: team.name,
    user: BOT.name,
    team_id: team.id,
    user_id: BOT.user_id,
    bot_id: BOT.bot_id,
    is_enterprise_install: false,
  });
}

const encodeCursor = (channelId) => Buffer.from(`team:${channelId}`).toString('base64');
function decodeCursor(cursor) {
  const m = /^team:(C\w+)$/.exec(Buffer.from(String(cursor), 'base64').toString('utf8'));
  return m ? m[1] : null;
}

function conversationsList(ctx, params) {
  let limit = 100;
  if (params.limit !== undefined && params.limit !== '') {
    limit = Number(params.limit);
    if (!Number.isInteger(limit) || limit < 1) return fail(ctx, 'invalid_limit');
    limit = Math.min(limit, 1000);
  }
  const types = String(params.types || 'public_channel').split(',').map((t) => t.trim()).filter(Boolean);
  if (types.some((t) => !['public_channel', 'private_channel', 'mpim', 'im'].includes(t))) return fail(ctx, 'invalid_types');
  let channels = types.includes('public_channel') ? ctx.state.data.channels : [];
  if (boolParam(params.exclude_archived)) channels = channels.filter((c) => !c.is_archived);

  let start = 0;
  if (params.cursor) {
    const id = decodeCursor(params.cursor);
    start = id ? channels.findIndex((c) => c.id === id) : -1;
    if (start < 0) return fail(ctx, 'invalid_cursor');
  }
  const page = channels.slice(start, start + limit);
  const next = channels[start + limit];
  ok(ctx, { channels: page, response_metadata: { next_cursor: next ? encodeCursor(next.id) : '' } });
}

function findChannel(ctx, ref) {
  const s = String(ref);
  const byName = s.startsWith('#') ? s.slice(1) : s;
  return ctx.state.data.channels.find((c) => c.id === s || c.name === byName);
}

function postMessage(ctx, params) {
  if (!params.channel) return fail(ctx, 'channel_not_found');
  const channel = findChannel(ctx, params.channel);
  if (!channel) return fail(ctx, 'channel_not_found');
  if (channel.is_archived) return fail(ctx, 'is_archived');

  let blocks;
  if (params.blocks !== undefined && params.blocks !== '') {
    blocks = params.blocks;
    if (typeof blocks === 'string') {
      try {
        blocks = JSON.parse(blocks);
      } catch {
        return fail(ctx, 'invalid_blocks_format');
      }
    }
    if (!Array.isArray(blocks)) return fail(ctx, 'invalid_blocks_format');
    if (blocks.some((b) => !b || typeof b !== 'object' || typeof b.type !== 'string')) return fail(ctx, 'invalid_blocks');
    if (blocks.length === 0) blocks = undefined;
  }
  const text = params.text === undefined || params.text === null ? '' : String(params.text);
  if (text === '' && !blocks) return fail(ctx, 'no_text');
  if (text.length > 40000) return fail(ctx, 'msg_too_long');

  ctx.state.data.tsSeq += 1;
  const ts = `${nowSec()}.${String(ctx.state.data.tsSeq).padStart(6, '0')}`;
  const message = {
    type: 'message',
    text,
    user: BOT.user_id,
    bot_id: BOT.bot_id,
    app_id: BOT.app_id,
    ts,
    team: TEAM.id,
    bot_profile: { id: BOT.bot_id, app_id: BOT.app_id, name: BOT.name, deleted: false, team_id: TEAM.id, updated: CHANNEL_CREATED_BASE },
    ...(blocks ? { blocks } : {}),
    ...(params.thread_ts ? { thread_ts: String(params.thread_ts), parent_user_id: BOT.user_id } : {}),
    ...(params.username ? { username: String(params.username) } : {}),
    ...(params.icon_emoji ? { icons: { emoji: String(params.icon_emoji) } } : {}),
  };
  ctx.state.data.messages.push({
    channel: channel.id,
    channel_name: channel.name,
    ts,
    text,
    blocks: blocks ?? null,
    thread_ts: params.thread_ts ? String(params.thread_ts) : null,
    username: params.username ?? null,
    icon_emoji: params.icon_emoji ?? null,
    unfurl_links: params.unfurl_links === undefined ? null : boolParam(params.unfurl_links),
    mrkdwn: params.mrkdwn === undefined ? null : boolParam(params.mrkdwn),
    params,
  });
  ok(ctx, { channel: channel.id, ts, message });
}

// ---------------------------------------------------------- OAuth token

function oauthAccess(ctx, params) {
  const { state } = ctx;
  const client = state.oauth.authenticateClient(ctx, params);
  if (client.error) {
    state.stats.refresh_failures += 1;
    return fail(ctx, client.reason === 'unknown_client' ? 'invalid_client_id' : 'bad_client_secret');
  }
  if (params.grant_type !== 'refresh_token') {
    state.stats.refresh_failures += 1;
    return fail(ctx, params.code ? 'invalid_code' : 'invalid_grant_type');
  }
  const grant = state.oauth.redeem({
    clientId: client.clientId,
    refreshToken: params.refresh_token,
    tokens: state.tokens,
    accessTtl: state.config.access_token_ttl,
    refreshTtl: state.config.refresh_token_ttl,
    newAccessToken: () => `xoxe.xoxb-1-${randomString(60)}`,
    newRefreshToken: () => `xoxe-1-${randomString(70)}`,
  });
  if (grant.error) {
    state.stats.refresh_failures += 1;
    return fail(ctx, 'invalid_refresh_token');
  }
  state.stats.refreshes += 1;
  ok(ctx, {
    app_id: BOT.app_id,
    authed_user: { id: 'U0ADMIN' },
    scope: SCOPES,
    token_type: 'bot',
    access_token: grant.access_token,
    bot_user_id: BOT.user_id,
    refresh_token: grant.refresh_token,
    expires_in: grant.expires_in,
    team: { id: TEAM.id, name: TEAM.name },
    enterprise: null,
    is_enterprise_install: false,
  });
}

// --------------------------------------------------------------- router

const METHODS = {
  'auth.test': { verbs: ['GET', 'POST'], run: authTest },
  'conversations.list': { verbs: ['GET', 'POST'], run: conversationsList },
  'chat.postMessage': { verbs: ['POST'], run: postMessage },
};

async function handle(ctx) {
  const m = /^\/api\/([A-Za-z0-9_.]+)$/.exec(ctx.path);
  if (!m) return ctx.send(404, '<html><body>404 Not Found</body></html>', { 'content-type': 'text/html; charset=utf-8' });
  const name = m[1];
  const { params, parsed } = args(ctx);

  if (name === 'oauth.v2.access') return oauthAccess(ctx, params); // client credentials, no bearer token
  const method = METHODS[name];
  if (!method) return reply(ctx, 404, { ok: false, error: 'unknown_method', req_method: name });
  if (parsed.kind === 'json' && parsed.error) return fail(ctx, 'invalid_json');
  if (!authorise(ctx, params, parsed)) return;
  if (!method.verbs.includes(ctx.method)) return fail(ctx, 'invalid_arguments');
  return method.run(ctx, params);
}

function failure(ctx, rule) {
  const headers = { 'content-type': 'application/json; charset=utf-8', 'x-slack-req-id': randomHex(16) };
  if (rule.status === 429) return { headers, body: { ok: false, error: 'ratelimited' } };
  if (rule.status >= 500) return { headers, body: { ok: false, error: rule.status === 503 ? 'service_unavailable' : 'internal_error' } };
  return { headers, body: { ok: false, error: 'request_failed' } };
}

export default function slack() {
  return {
    name: 'slack',
    configDefaults: { access_token_ttl: 28800, refresh_token_ttl: null },
    reset: seed,
    handle,
    failure,
    control: {
      'GET /__control/messages': (ctx) => controlReply(ctx, 200, { messages: ctx.state.data.messages }),
      // {"token", "team_id", "team_name"?}: auth.test with this token answers that workspace.
      'POST /__control/teams': (ctx) => {
        const b = controlBody(ctx);
        if (!b) return;
        if (typeof b.token !== 'string' || typeof b.team_id !== 'string') {
          return controlReply(ctx, 400, { error: '"token" and "team_id" (strings) are required' });
        }
        const name = typeof b.team_name === 'string' ? b.team_name : b.team_id;
        ctx.state.data.teams[b.token] = { id: b.team_id, name, domain: name.toLowerCase().replace(/[^a-z0-9]/g, '') || 'team' };
        controlReply(ctx, 200, { ok: true });
      },
      'DELETE /__control/messages': (ctx) => {
        ctx.state.data.messages = [];
        controlReply(ctx, 200, { ok: true });
      },
    },
  };
}
