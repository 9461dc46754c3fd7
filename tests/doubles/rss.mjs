// RSS/Atom double: GET /feed.xml (RSS 2.0) and GET /atom.xml (Atom 1.0)
// over the same items, newest first, with ETag / Last-Modified validators.
// POST /__control/items prepends an item. Public: no auth.

import crypto from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { controlBody, controlReply, nowMs } from './common.mjs';

const SEED_BASE_MS = Date.UTC(2024, 0, 1, 9, 0, 0);

function seed(state) {
  const items = [];
  for (let n = 1; n <= 20; n++) {
    items.push({
      n,
      title: `Seeded item ${n}`,
      link: null, // null -> <base>/items/<n>
      description: `Description of seeded item ${n}.`,
      published_ms: SEED_BASE_MS + (n - 1) * 86400000,
    });
  }
  items.reverse(); // newest first
  state.data = { items, lastModifiedMs: items[0].published_ms };
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const rfc822 = (ms) => new Date(ms).toUTCString(); // "Mon, 01 Jan 2024 09:00:00 GMT"
const rfc3339 = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const itemLink = (ctx, it) => it.link || `${ctx.baseUrl}/items/${it.n}`;
const guid = (it) => `tag:switchboard.test,2024:item-${it.n}`;

function rssXml(ctx) {
  const { items, lastModifiedMs } = ctx.state.data;
  const entries = items
    .map(
      (it) => `    <item>
      <title>${esc(it.title)}</title>
      <link>${esc(itemLink(ctx, it))}</link>
      <guid isPermaLink="false">${esc(guid(it))}</guid>
      <pubDate>${rfc822(it.published_ms)}</pubDate>
      <description>${esc(it.description)}</description>
    </item>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title>Switchboard Test Feed</title>
    <link>${esc(ctx.baseUrl)}/</link>
    <description>Seeded feed served by the Switchboard test doubles.</description>
    <language>en-us</language>
    <lastBuildDate>${rfc822(lastModifiedMs)}</lastBuildDate>
    <atom:link href="${esc(ctx.baseUrl)}/feed.xml" rel="self" type="application/rss+xml"/>
${entries}
  </channel>
</rss>
`;
}

function atomXml(ctx) {
  const { items, lastModifiedMs } = ctx.state.data;
  const entries = items
    .map(
      (it) => `  <entry>
    <title>${esc(it.title)}</title>
    <link href="${esc(itemLink(ctx, it))}"/>
    <id>${esc(guid(it))}</id>
    <published>${rfc3339(it.published_ms)}</published>
    <updated>${rfc3339(it.published_ms)}</updated>
    <summary>${esc(it.description)}</summary>
  </entry>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Switchboard Test Feed</title>
  <link href="${esc(ctx.baseUrl)}/"/>
  <link rel="self" href="${esc(ctx.baseUrl)}/atom.xml"/>
  <id>tag:switchboard.test,2024:feed</id>
  <updated>${rfc3339(lastModifiedMs)}</updated>
  <author><name>Switchboard</name></author>
${entries}
</feed>
`;
}

/** 200 with validators, or 304 when If-None-Match / If-Modified-Since say the client is current. */
function sendConditional(ctx, body, type) {
  const etag = `"${crypto.createHash('sha1').update(body).digest('hex').slice(0, 20)}"`;
  const lastModified = new Date(ctx.state.data.lastModifiedMs).toUTCString();
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
    notModified = !Number.isNaN(since) && Math.floor(ctx.state.data.lastModifiedMs / 1000) * 1000 <= since;
  }
  if (notModified) return ctx.send(304, '', { etag, 'last-modified': lastModified, 'cache-control': headers['cache-control'] });
  ctx.send(200, body, headers);
}

async function handle(ctx) {
  const { method, path: p } = ctx;
  if (method !== 'GET' && method !== 'HEAD') return ctx.send(405, 'Method Not Allowed', { allow: 'GET, HEAD' });
  if (p === '/feed.xml') return sendConditional(ctx, rssXml(ctx), 'application/rss+xml; charset=utf-8');
  if (p === '/atom.xml') return sendConditional(ctx, atomXml(ctx), 'application/atom+xml; charset=utf-8');
  const m = /^\/items\/(\d+)$/.exec(p);
  const it = m && ctx.state.data.items.find((i) => i.n === Number(m[1]));
  if (it) {
    return ctx.send(200, `<!doctype html><html><head><title>${esc(it.title)}</title></head><body><h1>${esc(it.title)}</h1><p>${esc(it.description)}</p></body></html>`, {
      'content-type': 'text/html; charset=utf-8',
    });
  }
  ctx.send(404, 'Not Found', { 'content-type': 'text/plain; charset=utf-8' });
}

function addItem(ctx) {
  const b = controlBody(ctx);
  if (!b) return;
  if (typeof b.title !== 'string' || b.title === '') return controlReply(ctx, 400, { error: '"title" (non-empty string) is required' });
  const d = ctx.state.data;
  // Strictly newer than everything so far, even within the same second.
  const published = Math.max(nowMs(), d.lastModifiedMs + 1000);
  const item = {
    n: d.items.reduce((m, i) => Math.max(m, i.n), 0) + 1,
    title: b.title,
    link: typeof b.link === 'string' ? b.link : null,
    description: typeof b.description === 'string' ? b.description : '',
    published_ms: published,
  };
  d.items.unshift(item);
  d.lastModifiedMs = published;
  controlReply(ctx, 200, { ok: true, item: { ...item, link: itemLink(ctx, item), guid: guid(item), pubDate: rfc822(published) } });
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
      'GET /__control/items': (ctx) => controlReply(ctx, 200, { items: ctx.state.data.items }),
    },
  };
}
