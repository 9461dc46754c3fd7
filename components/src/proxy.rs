//! The Connect proxy's request shaping: `url_64` decoding in both base64
//! alphabets, relative paths against the account's base URL, and the
//! `x-pd-proxy-` header convention.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);

/// Decodes `url_64`: standard (JS, percent-decoded by the router) or
/// URL-safe (Python, docs) base64, with or without padding.
pub fn decode_url64(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("url_64 is empty".into());
    }
    let bytes = if s.contains(['-', '_']) {
        URL_SAFE.decode(s)
    } else {
        STANDARD.decode(s)
    }
    .map_err(|e| format!("url_64 is not valid base64: {e}"))?;
    let url =
        String::from_utf8(bytes).map_err(|_| "url_64 does not decode to UTF-8 text".to_string())?;
    if url.chars().any(|c| c.is_control()) {
        return Err("url_64 decodes to text with control characters".into());
    }
    Ok(url)
}

/// The JS SDK appends `?params` even when the URL has a query already
/// (`…?limit=5?cursor=x`); only the first `?` starts the query.
pub fn repair_query(url: &str) -> String {
    match url.split_once('?') {
        Some((head, tail)) => format!("{head}?{}", tail.replace('?', "&")),
        None => url.to_string(),
    }
}

/// The upstream header name of an `x-pd-proxy-<name>` header, any case.
pub fn upstream_header(name: &str) -> Option<&str> {
    const PREFIX: &str = "x-pd-proxy-";
    // `get`: a non-ASCII name must not be sliced inside a character.
    let head = name.get(..PREFIX.len())?;
    (name.len() > PREFIX.len() && head.eq_ignore_ascii_case(PREFIX)).then(|| &name[PREFIX.len()..])
}

/// Headers a caller may not set upstream: hop-by-hop ones and those the
/// proxy computes itself.
pub fn forbidden_header(name: &str) -> bool {
    const DENY: &[&str] = &[
        "host",
        "content-length",
        "connection",
        "transfer-encoding",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "proxy-authorization",
        "proxy-connection",
    ];
    DENY.iter().any(|d| d.eq_ignore_ascii_case(name))
}

/// Response headers not passed back to the caller (the body is passed
/// through untouched, so `content-encoding` stays).
pub fn hop_by_hop(name: &str) -> bool {
    forbidden_header(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_alphabets_with_and_without_padding() {
        let url = "https://api.github.com/repos/a/b/issues?per_page=5&q=~x>";
        let std_pad = base64::engine::general_purpose::STANDARD.encode(url);
        let url_pad = base64::engine::general_purpose::URL_SAFE.encode(url);
        let url_nopad = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url);
        let std_nopad = base64::engine::general_purpose::STANDARD_NO_PAD.encode(url);
        for enc in [std_pad, url_pad, url_nopad, std_nopad] {
            assert_eq!(decode_url64(&enc).unwrap(), url, "{enc}");
        }
        assert!(decode_url64("%%%").is_err());
        assert!(decode_url64("").is_err());
        assert!(decode_url64("AAEC").is_err(), "control characters");
    }

    #[test]
    fn headers_and_queries() {
        assert_eq!(upstream_header("X-PD-PROXY-Accept"), Some("Accept"));
        assert_eq!(upstream_header("x-pd-proxy-"), None);
        assert_eq!(upstream_header("accept"), None);
        assert!(forbidden_header("Host"));
        assert_eq!(repair_query("/x?limit=5?cursor=a"), "/x?limit=5&cursor=a");
    }
}
