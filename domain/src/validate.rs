//! Checks on user-supplied identifiers and URLs.

use crate::error::{Result, invalid};

pub const MAX_EXTERNAL_USER_ID: usize = 250;

/// RFC 3986 unreserved characters only: safe in any path segment, in both
/// SDKs' (differently escaped) URLs.
pub fn external_user_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(invalid("external_user_id is required"));
    }
    if id.chars().count() > MAX_EXTERNAL_USER_ID {
        return Err(invalid(format!(
            "external_user_id is {} characters long; the maximum is {MAX_EXTERNAL_USER_ID}",
            id.chars().count()
        )));
    }
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
pub fn origin(o: &str) -> Result<()> {
    http_url("allowed_origins", o)?;
    let rest = o.split_once("://").map(|(_, r)| r).unwrap_or("");
    if rest.contains(['/', '?', '#']) {
        return Err(invalid(format!(
            "allowed_origins entries are origins like https://app.example.com, without a path; got {o:?}"
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
    fn urls_and_origins() {
        assert!(http_url("x", "https://example.com/ok?a=1").is_ok());
        assert!(http_url("x", "ftp://example.com").is_err());
        assert!(http_url("x", "https://").is_err());
        assert!(origin("http://localhost:3000").is_ok());
        assert!(origin("http://localhost:3000/app").is_err());
    }
}
