//! RSS 2.0, RSS 1.0 (RDF) and Atom feeds read into one JSON shape, so a
//! polling trigger can dedupe and emit items without caring which format a
//! site serves. Lenient on purpose: real feeds bend every spec, so a missing
//! or odd field becomes `null` rather than an error.

use std::borrow::Cow;

use jiff::Timestamp;
use jiff::fmt::rfc2822;
use jiff::fmt::temporal::Pieces;
use jiff::tz::TimeZone;
use roxmltree::{Document, Node, ParsingOptions};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::limits::{self, LimitError, MAX_FEED_BYTES, MAX_FEED_DEPTH, MAX_FEED_JSON_BYTES};

const ATOM: &str = "http://www.w3.org/2005/Atom";
const ATOM03: &str = "http://purl.org/atom/ns#";
const RSS1: &str = "http://purl.org/rss/1.0/";
const RSS090: &str = "http://my.netscape.com/rdf/simple/0.9/";
const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
const DC: &str = "http://purl.org/dc/elements/1.1/";
const CONTENT: &str = "http://purl.org/rss/1.0/modules/content/";

/// Bounds memory on hostile input; a real feed is far below this.
const NODES_LIMIT: u32 = 1_000_000;

/// A feed read into `{"title", "link", "items": [...]}`, items in document order.
///
/// Each item has `id`, `guid`, `link`, `title`, `description`, `author`,
/// `categories`, `published` (RFC 3339 UTC, milliseconds) and `published_ms`.
/// `id` is the guid / Atom id, else the link (then RSS 1.0's `rdf:about`),
/// else `"sha256:" + hex(sha256(title + "\n" + description))`, so an item
/// with neither still dedupes across polls.
pub fn parse(body: &[u8]) -> Result<Value, String> {
    if body.len() > MAX_FEED_BYTES {
        return Err(format!(
            "not an RSS or Atom feed: {}",
            LimitError::TooLong {
                what: "feed",
                len: body.len(),
                max: MAX_FEED_BYTES
            }
        ));
    }
    let text = decode(body);
    // Nesting is checked before parsing; the walk below (`serialize`) is
    // bounded by the same limit, since entities can add elements.
    if limits::xml_depth(&text, MAX_FEED_DEPTH) > MAX_FEED_DEPTH {
        return Err(format!(
            "not an RSS or Atom feed: {}",
            LimitError::TooDeep {
                what: "feed XML",
                max: MAX_FEED_DEPTH
            }
        ));
    }
    // DTDs are allowed (old RSS 0.91 feeds carry one); roxmltree caps entity
    // expansion itself and resolves no external entities.
    let opt = ParsingOptions {
        allow_dtd: true,
        nodes_limit: NODES_LIMIT,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(&text, opt)
        .map_err(|e| format!("not an RSS or Atom feed: {e}"))?;
    let out = read(&doc)?;
    // Entities can expand a small document (within roxmltree's node limit):
    // the JSON handed on is capped too.
    let mut size = Counter(0);
    let _ = serde_json::to_writer(&mut size, &out);
    if size.0 > MAX_FEED_JSON_BYTES {
        return Err(format!(
            "feed expands to more than {MAX_FEED_JSON_BYTES} bytes of items"
        ));
    }
    Ok(out)
}

/// Counts bytes written, and refuses to go on past the cap.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len();
        if self.0 > MAX_FEED_JSON_BYTES {
            return Err(std::io::Error::other("too large"));
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn read(doc: &Document) -> Result<Value, String> {
    let root = doc.root_element();
    let name = root.tag_name();
    match (name.name(), name.namespace()) {
        ("rss", _) => {
            let channel = child(root, "channel", is_plain).unwrap_or(root);
            Ok(rss(channel, channel.children()))
        }
        ("RDF", _) => {
            let channel = child(root, "channel", is_plain).unwrap_or(root);
            Ok(rss(channel, root.children()))
        }
        ("feed", None | Some(ATOM) | Some(ATOM03)) => Ok(atom(root)),
        (local, ns) => Err(format!(
            "not an RSS or Atom feed: root element <{local}> in namespace {}",
            ns.unwrap_or("(none)")
        )),
    }
}

/// Feeds are nearly always UTF-8; the rest are mostly Latin-1/Windows-1252
/// or UTF-16, which roxmltree can't read, so convert them first.
fn decode(body: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(body) {
        return Cow::Borrowed(s);
    }
    let utf16 = |be: bool| {
        let units = body[2..].chunks_exact(2).map(|c| {
            if be {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_le_bytes([c[0], c[1]])
            }
        });
        Cow::Owned(
            char::decode_utf16(units)
                .map(|c| c.unwrap_or('\u{FFFD}'))
                .collect(),
        )
    };
    match body {
        [0xFE, 0xFF, ..] => utf16(true),
        [0xFF, 0xFE, ..] => utf16(false),
        _ => Cow::Owned(body.iter().map(|&b| windows_1252(b)).collect()),
    }
}

fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž',
        '\u{8F}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9F => HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

/// RSS's own elements: no namespace (2.0) or the RSS 1.0 / 0.90 one. Keeps
/// `<atom:link rel="self">` in an RSS channel from being taken as its link.
fn is_plain(ns: Option<&str>) -> bool {
    matches!(ns, None | Some(RSS1) | Some(RSS090))
}

fn is(n: &Node, local: &str, ns: &impl Fn(Option<&str>) -> bool) -> bool {
    n.is_element() && n.tag_name().name() == local && ns(n.tag_name().namespace())
}

fn child<'a, 'i>(
    node: Node<'a, 'i>,
    local: &str,
    ns: impl Fn(Option<&str>) -> bool,
) -> Option<Node<'a, 'i>> {
    node.children().find(|n| is(n, local, &ns))
}

fn children<'a, 'i: 'a>(
    node: Node<'a, 'i>,
    local: &'a str,
    ns: impl Fn(Option<&str>) -> bool + 'a,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children().filter(move |n| is(n, local, &ns))
}

fn in_ns(want: &'static str) -> impl Fn(Option<&str>) -> bool {
    move |ns| ns == Some(want)
}

/// All text below `node`, trimmed; `None` when empty. Concatenates so that
/// text split by comments or stray markup still comes out whole.
fn text(node: Node) -> Option<String> {
    let s: String = node
        .descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect();
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

fn child_text(node: Node, local: &str, ns: impl Fn(Option<&str>) -> bool) -> Option<String> {
    node.children().filter(|n| is(n, local, &ns)).find_map(text)
}

fn rss<'a, 'i: 'a>(channel: Node<'a, 'i>, items: impl Iterator<Item = Node<'a, 'i>>) -> Value {
    let items: Vec<Value> = items
        .filter(|n| is(n, "item", &is_plain))
        .map(rss_item)
        .collect();
    json!({
        "title": child_text(channel, "title", is_plain),
        "link": child_text(channel, "link", is_plain),
        "items": items,
    })
}

fn rss_item(item: Node) -> Value {
    let guid = child_text(item, "guid", is_plain);
    let link = child_text(item, "link", is_plain);
    let title =
        child_text(item, "title", is_plain).or_else(|| child_text(item, "title", in_ns(DC)));
    let description = child_text(item, "description", is_plain)
        .or_else(|| child_text(item, "encoded", in_ns(CONTENT)));
    let author =
        child_text(item, "author", is_plain).or_else(|| child_text(item, "creator", in_ns(DC)));
    let categories: Vec<String> = children(item, "category", is_plain)
        .chain(children(item, "subject", in_ns(DC)))
        .filter_map(text)
        .collect();
    let date =
        child_text(item, "pubDate", is_plain).or_else(|| child_text(item, "date", in_ns(DC)));
    // RSS 1.0 names each item by rdf:about, usually the link again.
    let about = item
        .attribute((RDF, "about"))
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let id = guid
        .clone()
        .or_else(|| link.clone())
        .or_else(|| about.map(str::to_owned));
    make_item(id, guid, link, title, description, author, categories, date)
}

fn atom(feed: Node) -> Value {
    let ns = feed.tag_name().namespace();
    let own = move |n: Option<&str>| n == ns;
    let feed_author = child(feed, "author", own).and_then(|a| child_text(a, "name", own));
    let items: Vec<Value> = children(feed, "entry", own)
        .map(|e| atom_entry(e, ns, feed_author.clone()))
        .collect();
    json!({
        "title": child_text(feed, "title", own),
        "link": atom_link(feed, ns),
        "items": items,
    })
}

fn atom_entry(entry: Node, ns: Option<&str>, feed_author: Option<String>) -> Value {
    let own = move |n: Option<&str>| n == ns;
    let guid = child_text(entry, "id", own);
    let link = atom_link(entry, ns);
    let title = child_text(entry, "title", own);
    let description = ["summary", "content"]
        .iter()
        .find_map(|name| children(entry, name, own).find_map(atom_text));
    // An entry without an author inherits the feed's (RFC 4287 §4.2.1).
    let author = child(entry, "author", own)
        .and_then(|a| child_text(a, "name", own))
        .or(feed_author);
    let categories: Vec<String> = children(entry, "category", own)
        .filter_map(|c| {
            c.attribute("term")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .or_else(|| text(c))
        })
        .collect();
    // `issued`/`modified` are Atom 0.3's names.
    let date = ["published", "updated", "issued", "modified"]
        .iter()
        .find_map(|name| child_text(entry, name, own));
    let id = guid.clone().or_else(|| link.clone());
    make_item(id, guid, link, title, description, author, categories, date)
}

/// `rel="alternate"` is the page a human would open; a link with no rel
/// means the same (RFC 4287 §4.2.7.2).
fn atom_link(node: Node, ns: Option<&str>) -> Option<String> {
    let own = move |n: Option<&str>| n == ns;
    let href = |l: Node| {
        l.attribute("href")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    children(node, "link", own)
        .filter(|l| l.attribute("rel").is_some_and(|r| r.trim() == "alternate"))
        .find_map(href)
        .or_else(|| {
            children(node, "link", own)
                .filter(|l| l.attribute("rel").is_none())
                .find_map(href)
        })
}

/// Atom text constructs: `type="xhtml"` holds markup as child elements, so
/// rebuild it as a string; text and html are plain text nodes.
fn atom_text(node: Node) -> Option<String> {
    if node.attribute("type") != Some("xhtml") {
        return text(node);
    }
    // The content is wrapped in one xhtml:div that isn't part of it.
    let inner = node.children().find(|n| n.is_element()).unwrap_or(node);
    let mut out = String::new();
    for c in inner.children() {
        serialize(c, &mut out, 0);
    }
    let s = out.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

fn serialize(node: Node, out: &mut String, depth: usize) {
    if depth > MAX_FEED_DEPTH {
        return;
    }
    if node.is_text() {
        escape(node.text().unwrap_or_default(), out);
    } else if node.is_element() {
        let name = node.tag_name().name();
        out.push('<');
        out.push_str(name);
        for a in node.attributes() {
            out.push(' ');
            out.push_str(a.name());
            out.push_str("=\"");
            escape(a.value(), out);
            out.push('"');
        }
        out.push('>');
        for c in node.children() {
            serialize(c, out, depth + 1);
        }
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }
}

fn escape(s: &str, out: &mut String) {
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn make_item(
    id: Option<String>,
    guid: Option<String>,
    link: Option<String>,
    title: Option<String>,
    description: Option<String>,
    author: Option<String>,
    categories: Vec<String>,
    date: Option<String>,
) -> Value {
    let id = id.unwrap_or_else(|| {
        let mut h = Sha256::new();
        h.update(title.as_deref().unwrap_or_default());
        h.update("\n");
        h.update(description.as_deref().unwrap_or_default());
        format!("sha256:{}", hex::encode(h.finalize()))
    });
    let ms = date.as_deref().and_then(parse_date);
    json!({
        "id": id,
        "guid": guid,
        "link": link,
        "title": title,
        "description": description,
        "author": author,
        "categories": categories,
        "published": ms.and_then(format_ms),
        "published_ms": ms,
    })
}

/// Epoch ms of 0001-01-01T00:00:00Z: dates before it are not real feed dates.
const YEAR_1_MS: i64 = -62_135_596_800_000;

/// Either format, whatever the element claims: feeds mix them up.
/// Epoch ms of an RFC 3339 or RFC 2822 date (templates' `epoch_ms`).
pub fn parse_date(s: &str) -> Option<i64> {
    let ts = parse_rfc3339(s).or_else(|| parse_rfc2822(s))?;
    Some(ts.as_millisecond()).filter(|ms| *ms >= YEAR_1_MS)
}

/// RFC 2822 as seen in RSS pubDate: `[Mon,] 23 Nov 2026 08:00[:00]
/// GMT|+0100|EST|…`, 2- or 4-digit year. jiff parses it once the forms real
/// feeds use and RFC 2822 does not are smoothed: any (or a wrong) weekday,
/// full month names, a 1-digit hour, `+01:00`, no zone (UTC), trailing words.
fn parse_rfc2822(s: &str) -> Option<Timestamp> {
    let mut tok = s
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .peekable();
    if tok.peek()?.bytes().all(|c| c.is_ascii_alphabetic()) {
        tok.next(); // the weekday, not checked
    }
    let (day, month, year, time) = (tok.next()?, tok.next()?, tok.next()?, tok.next()?);
    let month = month.get(..3)?;
    let pad = if time.find(':') == Some(1) { "0" } else { "" };
    let zone = match tok.next() {
        None => "+0000".to_string(),
        Some(z) if z.starts_with(['+', '-']) => z.replace(':', ""),
        // jiff reads 1 letter (military) and 3 to 5 letters, unknown ones as
        // UTC (RFC 2822 §4.3); other unknown names are UTC too.
        Some(z) if z.bytes().all(|c| c.is_ascii_alphabetic()) => {
            let known = z.len() == 1 || (3..=5).contains(&z.len()) || z.eq_ignore_ascii_case("UT");
            if known {
                z.to_string()
            } else {
                "UT".to_string()
            }
        }
        Some(z) => z.to_string(),
    };
    let smoothed = format!("{day} {month} {year} {pad}{time} {zone}");
    rfc2822::DateTimeParser::new()
        .parse_timestamp(&smoothed)
        .ok()
}

/// RFC 3339 and the W3C-DTF subset dc:date uses: `2026`, `2026-11`,
/// `2026-11-23`, `2026-11-23T08:00Z`, `2026-11-23 08:00:00.123+0100`. A
/// missing zone is UTC.
fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    // W3C-DTF's reduced precisions, which RFC 3339 lacks.
    let full;
    let s = match s.len() {
        4 => {
            full = format!("{s}-01-01");
            &full
        }
        7 => {
            full = format!("{s}-01");
            &full
        }
        _ => s,
    };
    let p = Pieces::parse(s).ok()?;
    let dt = p.date().to_datetime(p.time().unwrap_or_default());
    if let Some(offset) = p.to_numeric_offset() {
        return offset.to_timestamp(dt).ok();
    }
    let tz = p.to_time_zone().ok()?.unwrap_or(TimeZone::UTC);
    tz.to_ambiguous_timestamp(dt).compatible().ok()
}

/// RFC 3339 UTC with milliseconds (templates' `iso`), for years 1 to 9999.
pub fn format_ms(ms: i64) -> Option<String> {
    if ms < YEAR_1_MS {
        return None;
    }
    let ts = Timestamp::from_millisecond(ms).ok()?;
    Some(format!("{ts:.3}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(v: &Value) -> &Vec<Value> {
        v["items"].as_array().unwrap()
    }

    const RSS2: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/"
     xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel>
  <title>News &amp; Notes</title>
  <atom:link href="https://ex.com/feed.xml" rel="self"/>
  <link>https://ex.com/</link>
  <item>
    <title>First</title>
    <link>https://ex.com/1</link>
    <guid isPermaLink="false"> abc-1 </guid>
    <description><![CDATA[<p>Hello</p>]]></description>
    <author>a@ex.com (A)</author>
    <category>x</category><category>y</category>
    <pubDate>Mon, 23 Nov 2026 08:00:00 GMT</pubDate>
  </item>
  <item>
    <title>Second</title>
    <link>https://ex.com/2</link>
    <guid></guid>
    <content:encoded>full text</content:encoded>
    <dc:creator>B</dc:creator>
    <pubDate>23 Nov 2026 08:00 +0100</pubDate>
  </item>
  <item>
    <title>Third</title>
    <description>no link, no guid</description>
    <pubDate>not a date</pubDate>
  </item>
</channel>
</rss>"#;

    #[test]
    fn rss2_ids_and_fields() {
        let v = parse(RSS2.as_bytes()).unwrap();
        assert_eq!(v["title"], "News & Notes");
        assert_eq!(v["link"], "https://ex.com/");
        let it = items(&v);
        assert_eq!(it.len(), 3);

        assert_eq!(it[0]["id"], "abc-1");
        assert_eq!(it[0]["guid"], "abc-1");
        assert_eq!(it[0]["description"], "<p>Hello</p>");
        assert_eq!(it[0]["author"], "a@ex.com (A)");
        assert_eq!(it[0]["categories"], json!(["x", "y"]));
        assert_eq!(it[0]["published"], "2026-11-23T08:00:00.000Z");
        assert_eq!(it[0]["published_ms"], 1_795_420_800_000_i64);

        assert_eq!(it[1]["id"], "https://ex.com/2");
        assert_eq!(it[1]["guid"], Value::Null);
        assert_eq!(it[1]["description"], "full text");
        assert_eq!(it[1]["author"], "B");
        assert_eq!(it[1]["published"], "2026-11-23T07:00:00.000Z");

        let id = it[2]["id"].as_str().unwrap();
        assert!(id.starts_with("sha256:") && id.len() == 7 + 64, "{id}");
        assert_eq!(it[2]["link"], Value::Null);
        assert_eq!(it[2]["published"], Value::Null);
        assert_eq!(it[2]["published_ms"], Value::Null);
        // Stable across calls, and it depends on the content.
        let again = parse(RSS2.as_bytes()).unwrap();
        assert_eq!(items(&again)[2]["id"], id);
        let changed = parse(RSS2.replace("no link, no guid", "edited").as_bytes()).unwrap();
        assert_ne!(items(&changed)[2]["id"], id);
    }

    #[test]
    fn rfc2822_forms() {
        let ms = |s| parse_date(s).and_then(format_ms);
        assert_eq!(
            ms("Mon, 23 Nov 2026 08:00:00 GMT").as_deref(),
            Some("2026-11-23T08:00:00.000Z")
        );
        assert_eq!(
            ms("23 Nov 2026 08:00 +0100").as_deref(),
            Some("2026-11-23T07:00:00.000Z")
        );
        assert_eq!(
            ms("Sun, 1 Mar 2026 09:05:00 EST").as_deref(),
            Some("2026-03-01T14:05:00.000Z")
        );
        assert_eq!(
            ms("Sun,01 Mar 26 09:05:00 UT").as_deref(),
            Some("2026-03-01T09:05:00.000Z")
        );
        assert_eq!(
            ms("1 March 1999 23:59:59 -0130").as_deref(),
            Some("1999-03-02T01:29:59.000Z")
        );
        // What real feeds send besides: a wrong weekday, no zone, a 1-digit
        // hour, `+01:00`, unknown zone names (UTC), trailing words.
        for s in [
            "Fri, 23 Nov 2026 08:00:00 GMT",
            "Monday, 23 Nov 2026 08:00:00",
            "23 Nov 2026 8:00:00 UTC",
            "23 Nov 2026 09:00:00 +01:00",
            "23 Nov 2026 08:00:00 XX",
            "23 November 2026 08:00:00 GMT (Greenwich)",
        ] {
            assert_eq!(ms(s).as_deref(), Some("2026-11-23T08:00:00.000Z"), "{s}");
        }
        assert_eq!(
            ms("23 Nov 2026 08:00:00 CET").as_deref(),
            Some("2026-11-23T08:00:00.000Z")
        );
        assert_eq!(ms("31 Feb 2026 08:00:00 GMT"), None);
        assert_eq!(ms("23 Nov 2026 25:00:00 GMT"), None);
        assert_eq!(ms(""), None);
    }

    #[test]
    fn rfc3339_forms() {
        let ms = |s| parse_date(s).and_then(format_ms);
        assert_eq!(
            ms("2026-11-23T08:00:00Z").as_deref(),
            Some("2026-11-23T08:00:00.000Z")
        );
        assert_eq!(
            ms("2026-11-23T08:00:00.5+01:00").as_deref(),
            Some("2026-11-23T07:00:00.500Z")
        );
        assert_eq!(
            ms("2026-11-23T08:00:00.123456-05:00").as_deref(),
            Some("2026-11-23T13:00:00.123Z")
        );
        assert_eq!(
            ms("2026-11-23").as_deref(),
            Some("2026-11-23T00:00:00.000Z")
        );
        assert_eq!(
            ms("1969-12-31T23:59:59.999Z"),
            Some("1969-12-31T23:59:59.999Z".into())
        );
        // W3C-DTF and the forms RFC 3339 allows or feeds use.
        for (s, want) in [
            ("2026", "2026-01-01T00:00:00.000Z"),
            ("2026-11", "2026-11-01T00:00:00.000Z"),
            ("2026-11-23T08:00Z", "2026-11-23T08:00:00.000Z"),
            ("2026-11-23t08:00:00z", "2026-11-23T08:00:00.000Z"),
            ("2026-11-23 08:00:00", "2026-11-23T08:00:00.000Z"),
            (" 2026-11-23T09:00:00+0100 ", "2026-11-23T08:00:00.000Z"),
        ] {
            assert_eq!(ms(s).as_deref(), Some(want), "{s}");
        }
        assert_eq!(ms("2026-13-01T00:00:00Z"), None);
        assert_eq!(ms("2026-11-23T08:00:00Z trailing"), None);
        assert_eq!(ms("0000-01-01T00:00:00Z"), None);
    }

    #[test]
    fn atom_links_and_dates() {
        let feed = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title type="text">Atom Feed</title>
  <link rel="self" href="https://ex.com/atom.xml"/>
  <link href="https://ex.com/"/>
  <author><name>Feed Author</name></author>
  <id>urn:uuid:feed</id>
  <updated>2026-11-23T08:00:00Z</updated>
  <entry>
    <title>One</title>
    <link rel="edit" href="https://ex.com/edit/1"/>
    <link rel="alternate" type="text/html" href="https://ex.com/1"/>
    <id>urn:uuid:1</id>
    <published>2026-11-23T09:00:00+01:00</published>
    <updated>2026-11-24T00:00:00Z</updated>
    <summary>Sum</summary>
    <content type="html">&lt;b&gt;Body&lt;/b&gt;</content>
    <author><name>Ann</name></author>
    <category term="rust"/><category term="xml"/>
  </entry>
  <entry>
    <title>Two</title>
    <link href="https://ex.com/2"/>
    <updated>2026-11-22T10:30:00.250Z</updated>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p class="a">Hi &amp; bye</p></div></content>
  </entry>
</feed>"#;
        let v = parse(feed.as_bytes()).unwrap();
        assert_eq!(v["title"], "Atom Feed");
        assert_eq!(v["link"], "https://ex.com/");
        let it = items(&v);
        assert_eq!(it[0]["id"], "urn:uuid:1");
        assert_eq!(it[0]["guid"], "urn:uuid:1");
        assert_eq!(it[0]["link"], "https://ex.com/1");
        assert_eq!(it[0]["description"], "Sum");
        assert_eq!(it[0]["author"], "Ann");
        assert_eq!(it[0]["categories"], json!(["rust", "xml"]));
        assert_eq!(it[0]["published"], "2026-11-23T08:00:00.000Z");

        assert_eq!(it[1]["id"], "https://ex.com/2");
        assert_eq!(it[1]["guid"], Value::Null);
        assert_eq!(it[1]["description"], r#"<p class="a">Hi &amp; bye</p>"#);
        assert_eq!(it[1]["author"], "Feed Author");
        assert_eq!(it[1]["published"], "2026-11-22T10:30:00.250Z");
    }

    #[test]
    fn rss1_rdf() {
        let feed = r#"<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://ex.com/">
    <title>RDF Site</title>
    <link>https://ex.com/</link>
    <items><rdf:Seq><rdf:li resource="https://ex.com/a"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://ex.com/a">
    <title>A</title>
    <link>https://ex.com/a</link>
    <description>about a</description>
    <dc:creator>C</dc:creator>
    <dc:subject>topic</dc:subject>
    <dc:date>2026-11-23T08:00:00+00:00</dc:date>
  </item>
  <item rdf:about="https://ex.com/b"><title>B</title></item>
</rdf:RDF>"#;
        let v = parse(feed.as_bytes()).unwrap();
        assert_eq!(v["title"], "RDF Site");
        assert_eq!(v["link"], "https://ex.com/");
        let it = items(&v);
        assert_eq!(it.len(), 2);
        assert_eq!(it[0]["id"], "https://ex.com/a");
        assert_eq!(it[0]["author"], "C");
        assert_eq!(it[0]["categories"], json!(["topic"]));
        assert_eq!(it[0]["published"], "2026-11-23T08:00:00.000Z");
        assert_eq!(it[1]["id"], "https://ex.com/b");
        assert_eq!(it[1]["link"], Value::Null);
    }

    #[test]
    fn hostile_feeds_are_refused_quickly() {
        // 30,000 nested elements: refused before parsing.
        let deep = format!(
            "<rss><channel>{}{}</channel></rss>",
            "<x>".repeat(30_000),
            "</x>".repeat(30_000)
        );
        let e = parse(deep.as_bytes()).unwrap_err();
        assert!(e.contains("nests too deeply"), "{e}");
        let big = vec![b' '; MAX_FEED_BYTES + 1];
        assert!(parse(&big).unwrap_err().contains("too long"));
        // Entities expanding to elements stay bounded.
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE f [<!ENTITY a "<b>x</b><b>x</b><b>x</b><b>x</b>"><!ENTITY c "&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;">]><feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id><content type="xhtml"><div>&e;&e;&e;&e;</div></content></entry></feed>"#;
        let t = std::time::Instant::now();
        let _ = parse(bomb.as_bytes());
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
        // Normal nesting still parses.
        let ok = "<rss><channel><item><guid>g</guid><title>t</title></item></channel></rss>";
        assert_eq!(items(&parse(ok.as_bytes()).unwrap()).len(), 1);
    }

    #[test]
    fn garbage_is_an_error() {
        for body in [
            &b""[..],
            b"hello",
            b"{\"a\":1}",
            b"<html><body/></html>",
            b"<rss><channel>",
            &[0xff, 0xfe, 0x00],
        ] {
            let err = parse(body).unwrap_err();
            assert!(err.starts_with("not an RSS or Atom feed"), "{err}");
        }
    }

    #[test]
    fn doctype_does_not_panic() {
        let netscape = r#"<?xml version="1.0"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Old</title><item><title>t</title><link>https://ex.com/t</link></item></channel></rss>"#;
        let v = parse(netscape.as_bytes()).unwrap();
        assert_eq!(items(&v)[0]["id"], "https://ex.com/t");

        let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
<!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;"><!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">]>
<rss><channel><title>&h;</title></channel></rss>"#;
        // Either outcome is fine; it must not hang, blow up or panic.
        let _ = parse(laughs.as_bytes());

        let external = r#"<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss><channel><title>&x;</title></channel></rss>"#;
        assert!(parse(external.as_bytes()).is_err());
    }

    #[test]
    fn latin1_body_is_decoded() {
        let mut body =
            b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss><channel><title>Caf".to_vec();
        body.push(0xE9);
        body.extend_from_slice(b"</title></channel></rss>");
        assert_eq!(parse(&body).unwrap()["title"], "Caf\u{e9}");
    }
}
