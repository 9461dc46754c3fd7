// RSS/Atom double: GET /feed.xml (RSS 2.0) and GET /atom.xml (Atom 1.0)
// over the same items, newest first, with ETag / Last-Modified validators.
// More feeds by name: /feeds/<name>.xml (RSS) and /feeds/<name>.atom (Atom),
// each with its own items ("default" is the feed of /feed.xml).
// POST /__control/items prepends an item. Public: no auth.

import crypto from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { controlBody, controlReply, nowMs } from './common.mjs';

const SEED_BASE_MS = Date.UTC(2024, 0, 1, 9, 0, 0);
const DEFAULT_FEED = 'default';
const FEED_NAME_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

function seed(state) {
  const items = [];
  for (let n = 1; n <= 20; n++) {
    items.push({
      n,
      title: `Seeded item ${n}`,
      link: null, // null -> <base>/items/<n>; false -> no link
      guid: null, // null -> tag:switchboard.test,2024:item-<n>; false -> no guid
      description: `Description of seeded item ${n}.`,
      published_ms: SEED_BASE_MS + (n - 1) * 86400000,
    });
  }
  items.reverse(); // newest first
  state.data = { feeds: new Map([[DEFAULT_FEED, { name: DEFAULT_FEED, items, lastModifiedMs: items[0].published_ms }]]) };
}

/** A feed nobody has added items to is served empty (200), dated 2024-01-01. */
const emptyFeed = (name) => ({ name, items: [], lastModifiedMs: SEED_BASE_MS });
const feedOf = (state, name) => state.data.feeds.get(name) || emptyFeed(name);

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const rfc822 = (ms) => new Date(ms).toUTCString(); // "Mon, 01 Jan 2024 09:00:00 GMT"
const rfc3339 = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const feedTag = (feed) => (feed.name === DEFAULT_FEED ? '' : `${feed.name}/`);
const itemPath = (feed, it) => (feed.name === DEFAULT_FEED ? `/items/${it.n}` : `/feeds/${encodeURIComponent(feed.name)}/items/${it.n}`);
/** The item's link, or null when it has none. */
const itemLink = (ctx, feed, it) => (it.link === false ? null : it.link || `${ctx.baseUrl}${itemPath(feed, it)}`);
/** The item's guid, or null when it has none. */
const itemGuid = (feed, it) => (it.guid === false ? null : it.guid || `tag:switchboard.test,2024:${feedTag(feed)}item-${it.n}`);
const selfPath = (feed, kind) =>
  feed.name === DEFAULT_FEED ? (kind === 'rss' ? '/feed.xml' : '/atom.xml') : `/feeds/${encodeURIComponent(feed.name)}.${kind === 'rss' ? 'xml' : 'atom'}`;
const feedTitle = (feed) => (feed.name === DEFAULT_FEED ? 'Switchboard Test Feed' : `Switchboard Test Feed: ${feed.name}`);

function rssXml(ctx, feed) {
  const { items, lastModifiedMs } = feed;
  const entries = items
    .map((it) => {
      const link = itemLink(ctx, feed, it);
      const guid = itemGuid(feed, it);
      return [
        '    <item>',
        `      <title>${esc(it.title)}</title>`,
        ...(link ? [`      <link>${esc(link)}</link>`] : []),
        ...(guid ? [`      <guid isPermaLink="false">${esc(guid)}</guid>`] : []),
        `      <pubDate>${rfc822(it.published_ms)}</pubDate>`,
        `      <description>${esc(it.description)}</description>`,
        '    </item>',
      ].join('\n');
    })
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title>${esc(feedTitle(feed))}</title>
    <link>${esc(ctx.baseUrl)}/</link>
    <description>Seeded feed served by the Switchboard test doubles.</description>
    <language>en-us</language>
    <lastBuildDate>${rfc822(lastModifiedMs)}</lastBuildDate>
    <atom:link href="${esc(ctx.baseUrl)}${esc(selfPath(feed, 'rss'))}" rel="self" type="application/rss+xml"/>
${entries}
  </channel>
</rss>
`;
}

function atomXml(ctx, feed) {
  const { items, lastModifiedMs } = feed;
  const entries = items
    .map((it) => {
      const link = itemLink(ctx, feed, it);
      const guid = itemGuid(feed, it);
      return [
        '  <entry>',
        `    <title>${esc(it.title)}</title>`,
        ...(link ? [`    <link href="${esc(link)}"/>`] : []),
        ...(guid ? [`    <id>${esc(guid)}</id>`] : []),
        `    <published>${rfc3339(it.published_ms)}</published>`,
        `    <updated>${rfc3339(it.published_ms)}</updated>`,
        `    <summary>${esc(it.description)}</summary>`,
        '  </entry>',
      ].join('\n');
    })
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>${esc(feedTitle(feed))}</title>
  <link href="${esc(ctx.baseUrl)}/"/>
  <link rel="self" href="${esc(ctx.baseUrl)}${esc(selfPath(feed, 'atom'))}"/>
  <id>tag:switchboard.test,2024:${feed.name === DEFAULT_FEED ? 'feed' : `feed:${esc(feed.name)}`}</id>
  <updated>${rfc3339(lastModifiedMs)}</updated>
  <author><name>Switchboard</name></author>
${entries}
</feed>
`;
}

/** 200 with validators, or 304 when If-None-Match / If-Modified-Since say the client is current. */
function sendConditional(ctx, feed, body, type) {
  const etag = `"${crypto.createHash('sha1').update(body).digest('hex').slice(0, 20)}"`;
  const lastModified = new Date(feed.lastModifiedMs).toUTCString();
  const headers = { 'content-type': type, etag, 'last-modified': lastModified, 'cache-control': 'max-age=0, must-revalidate' };
  const inm = ctx.headers['if-none-match'];
  const ims = ctx.headers['if-modified-since'];
  let notModified = false;
  if (inm !== undefined) {
    // If-None-Match takes precedence over If-Modified-Since (RFC 9110 13.2.2); weak comparison.
    const tags = inm.split(',').map((t) => t.trim().replace(/^W\//, ''));
    notModified = tags.includes('*') || tags.includes(etag);
  } else if (ims !== undefined) {
    const since = Date.parse(ims);
    notModified = !Number.isNaN(since) && Math.floor(feed.lastModifiedMs / 1000) * 1000 <= since;
  }
  if (notModified) return ctx.send(304, '', { etag, 'last-modified': lastModified, 'cache-control': headers['cache-control'] });
  ctx.send(200, body, headers);
}

const RSS_TYPE = 'application/rss+xml; charset=utf-8';
const ATOM_TYPE = 'application/atom+xml; charset=utf-8';

function itemPage(ctx, it) {
  return ctx.send(200, `<!doctype html><html><head><title>${esc(it.title)}</title></head><body><h1>${esc(it.title)}</h1><p>${esc(it.description)}</p></body></html>`, {
    'content-type': 'text/html; charset=utf-8',
  });
}

async function handle(ctx) {
  const { method, path: p, state } = ctx;
  if (method !== 'GET' && method !== 'HEAD') return ctx.send(405, 'Method Not Allowed', { allow: 'GET, HEAD' });
  if (p === '/feed.xml') return sendConditional(ctx, feedOf(state, DEFAULT_FEED), rssXml(ctx, feedOf(state, DEFAULT_FEED)), RSS_TYPE);
  if (p === '/atom.xml') return sendConditional(ctx, feedOf(state, DEFAULT_FEED), atomXml(ctx, feedOf(state, DEFAULT_FEED)), ATOM_TYPE);
  let m;
  if ((m = /^\/feeds\/([^/]+)\.(xml|atom)$/.exec(p))) {
    const name = decodeURIComponent(m[1]);
    if (FEED_NAME_RE.test(name)) {
      const feed = feedOf(state, name);
      return m[2] === 'xml' ? sendConditional(ctx, feed, rssXml(ctx, feed), RSS_TYPE) : sendConditional(ctx, feed, atomXml(ctx, feed), ATOM_TYPE);
    }
  }
  let it;
  if ((m = /^\/items\/(\d+)$/.exec(p))) it = feedOf(state, DEFAULT_FEED).items.find((i) => i.n === Number(m[1]));
  if ((m = /^\/feeds\/([^/]+)\/items\/(\d+)$/.exec(p))) it = feedOf(state, decodeURIComponent(m[1])).items.find((i) => i.n === Number(m[2]));
  if (it) return itemPage(ctx, it);
  ctx.send(404, 'Not Found', { 'content-type': 'text/plain; charset=utf-8' });
}

function itemView(ctx, feed, it) {
  return { ...it, feed: feed.name, link: itemLink(ctx, feed, it), guid: itemGuid(feed, it), pubDate: rfc822(it.published_ms) };
}

function addItem(ctx) {
  const b = controlBody(ctx);
  if (!b) return;
  if (typeof b.title !== 'string' || b.title === '') return controlReply(ctx, 400, { error: '"title" (non-empty string) is required' });
  const name = b.feed ?? DEFAULT_FEED;
  if (typeof name !== 'string' || !FEED_NAME_RE.test(name)) return controlReply(ctx, 400, { error: '"feed" must be a name of [A-Za-z0-9._-]' });
  if (!(b.link === undefined || b.link === null || typeof b.link === 'string')) return controlReply(ctx, 400, { error: '"link" must be a string or null' });
  if (!(b.guid === undefined || b.guid === false || typeof b.guid === 'string')) return controlReply(ctx, 400, { error: '"guid" must be a string or false' });
  const d = ctx.state.data;
  if (!d.feeds.has(name)) d.feeds.set(name, emptyFeed(name));
  const feed = d.feeds.get(name);
  // Strictly newer than everything so far, even within the same second.
  const published = Math.max(nowMs(), feed.lastModifiedMs + 1000);
  const item = {
    n: feed.items.reduce((m, i) => Math.max(m, i.n), 0) + 1,
    title: b.title,
    // "link": null -> neither link nor guid (unless a guid string is given); "guid": false -> no guid.
    link: b.link === null ? false : typeof b.link === 'string' ? b.link : null,
    guid: typeof b.guid === 'string' ? b.guid : b.guid === false || b.link === null ? false : null,
    description: typeof b.description === 'string' ? b.description : '',
    published_ms: published,
  };
  feed.items.unshift(item);
  feed.lastModifiedMs = published;
  controlReply(ctx, 200, { ok: true, item: itemView(ctx, feed, item) });
}

function listItems(ctx) {
  const feed = feedOf(ctx.state, ctx.query.feed ?? DEFAULT_FEED);
  controlReply(ctx, 200, { feed: feed.name, items: feed.items.map((it) => itemView(ctx, feed, it)) });
}

function failure(ctx, rule) {
  return { headers: { 'content-type': 'text/plain; charset=utf-8' }, body: `${rule.status} ${STATUS_CODES[rule.status] || 'Error'}\n` };
}

export default function rss() {
  return {
    name: 'rss',
    configDefaults: {},
    reset: seed,
    handle,
    failure,
    control: {
      'POST /__control/items': addItem,
      'GET /__control/items': listItems,
      'GET /__control/feeds': (ctx) =>
        controlReply(ctx, 200, { feeds: [...ctx.state.data.feeds.values()].map((f) => ({ name: f.name, items: f.items.length, last_modified: new Date(f.lastModifiedMs).toUTCString() })) }),
    },
  };
}
