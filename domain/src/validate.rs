//! Checks on user-supplied identifiers and URLs: the one home of the
//! length and shape limits that keep request data from growing the store
//! (see docs/security.md).

use crate::error::{Result, invalid};

pub const MAX_EXTERNAL_USER_ID: usize = 250;
/// Object ids in paths (`dc_…`, `apn_…`, `proj_…`, `dlv_…`, component keys,
/// app slugs): real ones are at most 100 characters (component keys).
pub const MAX_ID: usize = 128;
/// Inbound (`/hooks/<id>`) and app-level ingress ids: exactly this many
/// base62 characters.
pub const HOOK_ID_LEN: usize = 27;
/// `Idempotency-Key` (header or `idempotency_key`).
pub const MAX_IDEMPOTENCY_KEY: usize = 255;
/// URLs (webhook URLs, redirect URIs, origins).
pub const MAX_URL: usize = 2048;
/// An OAuth `state` Switchboard issued is 43 characters.
pub const MAX_OAUTH_STATE: usize = 128;

/// Whether `id` could be an inbound or app-level ingress id (27 base62
/// characters). Anything else is answered 404 without touching the store.
pub fn hook_id(id: &str) -> bool {
    id.len() == HOOK_ID_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// An id from a path or a query: at most [`MAX_ID`] characters (400), so no
/// key or log line is built from an unbounded string. Its shape is left to
/// the lookup (an unknown id is a 404).
pub fn id(field: &str, value: &str) -> Result<()> {
    let n = value.chars().count();
    if n > MAX_ID {
        return Err(invalid(format!(
            "{field} is {n} characters long; the maximum is {MAX_ID}"
        )));
    }
    Ok(())
}

/// The length part of [`external_user_id`] alone (for lookups of users that
/// may predate the character rules).
pub fn external_user_id_len(id: &str) -> Result<()> {
    let n = id.chars().count();
    if n > MAX_EXTERNAL_USER_ID {
        return Err(invalid(format!(
            "external_user_id is {n} characters long; the maximum is {MAX_EXTERNAL_USER_ID}"
        )));
    }
    Ok(())
}

/// An `Idempotency-Key`: 1 to [`MAX_IDEMPOTENCY_KEY`] characters.
pub fn idempotency_key(key: &str) -> Result<()> {
    let n = key.chars().count();
    if n == 0 || n > MAX_IDEMPOTENCY_KEY {
        return Err(invalid(format!(
            "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters; got {n}"
        )));
    }
    Ok(())
}

/// RFC 3986 unreserved characters only: safe in any path segment, in both
/// SDKs' (differently escaped) URLs.
pub fn external_user_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(invalid("external_user_id is required"));
    }
    external_user_id_len(id)?;
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')))
    {
        return Err(invalid(format!(
            "external_user_id may only contain letters, digits, '-', '.', '_' and '~'; found {c:?}"
        )));
    }
    Ok(())
}

/// An absolute http(s) URL with a host.
pub fn http_url(field: &str, url: &str) -> Result<()> {
    if url.len() > MAX_URL {
        return Err(invalid(format!(
            "{field} is {} characters long; the maximum is {MAX_URL}",
            url.len()
        )));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| {
            invalid(format!(
                "{field} must be an absolute http(s) URL, got {url:?}"
            ))
        })?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(format!("{field} is not a valid URL: {url:?}")));
    }
    Ok(())
}

/// An origin: scheme, host and optional port, nothing else.
pub fn origin(field: &str, o: &str) -> Result<()> {
    http_url(field, o)?;
    let rest = o.split_once("://").map(|(_, r)| r).unwrap_or("");
    if rest.contains(['/', '?', '#']) {
        return Err(invalid(format!(
            "{field} entries are origins like https://app.example.com, without a path; got {o:?}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_user_ids() {
        assert!(external_user_id("user-abc-123").is_ok());
        assert!(external_user_id(&"a".repeat(250)).is_ok());
        assert!(
            external_user_id(&"a".repeat(251))
                .unwrap_err()
                .to_string()
                .contains("251")
        );
        assert!(external_user_id("user/with slash").is_err());
        assert!(external_user_id("a@b").is_err());
        assert!(external_user_id("").is_err());
    }

    #[test]
    fn ids_and_keys_are_bounded() {
        assert!(hook_id("0123456789abcdefghijABCDEFG"));
        assert!(!hook_id("0123456789abcdefghijABCDEF"));
        assert!(!hook_id(&"a".repeat(30_000)));
        assert!(!hook_id("0123456789abcdefghij-BCDEFG"));
        assert!(id("trigger_id", &"d".repeat(128)).is_ok());
        let e = id("trigger_id", &"d".repeat(129)).unwrap_err().to_string();
        assert!(e.contains("trigger_id") && e.contains("129"), "{e}");
        assert!(idempotency_key("k").is_ok());
        assert!(idempotency_key("").is_err());
        assert!(idempotency_key(&"k".repeat(256)).is_err());
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL));
        assert!(http_url("webhook_url", &long).is_err());
    }

    #[test]
    fn urls_and_origins() {
        assert!(http_url("x", "https://example.com/ok?a=1").is_ok());
        assert!(http_url("x", "ftp://example.com").is_err());
        assert!(http_url("x", "https://").is_err());
        assert!(origin("allowed_origins", "http://localhost:3000").is_ok());
        assert!(origin("allowed_origins", "http://localhost:3000/app").is_err());
    }
}
