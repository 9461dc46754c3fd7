//! AWS Signature Version 4 for outbound requests: apps whose API is signed
//! per request (AWS services, and providers that reuse the scheme) instead
//! of carrying a bearer credential. The signature covers the method, path,
//! query, the `host` header, every `x-amz-*` header, `content-type`, and a
//! SHA-256 of the body, so it is computed last, on the final request.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::encode::rfc3986;
use crate::outbound::HttpRequest;

/// The credentials and scope of one signature.
pub struct SigV4Key<'a> {
    pub access_key: &'a str,
    pub secret_key: &'a str,
    /// A temporary credential's session token, sent as `x-amz-security-token`.
    pub session_token: Option<&'a str>,
    pub region: &'a str,
    pub service: &'a str,
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    // HMAC takes a key of any length.
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// The path as AWS canonicalises it: each segment encoded once more than
/// on the wire, except for S3, which signs the path as sent.
fn canonical_path(req: &HttpRequest, service: &str) -> String {
    let path = req.url.path();
    let path = if path.is_empty() { "/" } else { path };
    if service == "s3" {
        let decoded = percent_decode(path);
        rfc3986(&decoded, true)
    } else {
        rfc3986(path, true)
    }
}

/// `%XX` sequences to bytes (a path may hold `&`, `=` and `+` literally).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn canonical_query(req: &HttpRequest) -> String {
    let mut pairs: Vec<(String, String)> = req
        .url
        .query_pairs()
        .map(|(k, v)| (rfc3986(&k, false), rfc3986(&v, false)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn host_header(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// Signs `req` in place at `now`: sets `x-amz-date` (and the session token,
/// and for S3 `x-amz-content-sha256`), then `Authorization`. Any earlier
/// `Authorization` is replaced.
pub fn sign(req: &mut HttpRequest, key: &SigV4Key<'_>, now: jiff::Timestamp) {
    let amz_date = now.strftime("%Y%m%dT%H%M%SZ").to_string();
    let day = &amz_date[..8];
    let payload_hash = sha256_hex(&req.body);
    req.headers.retain(|(k, _)| {
        let k = k.to_ascii_lowercase();
        !(k == "authorization"
            || k == "x-amz-date"
            || k == "x-amz-security-token"
            || k == "x-amz-content-sha256")
    });
    req.headers.push(("x-amz-date".into(), amz_date.clone()));
    if let Some(t) = key.session_token.filter(|t| !t.is_empty()) {
        req.headers.push(("x-amz-security-token".into(), t.into()));
    }
    if key.service == "s3" {
        req.headers
            .push(("x-amz-content-sha256".into(), payload_hash.clone()));
    }

    let mut signed: Vec<(String, String)> = vec![("host".into(), host_header(&req.url))];
    for (k, v) in &req.headers {
        let k = k.to_ascii_lowercase();
        if k.starts_with("x-amz-") || k == "content-type" {
            signed.push((k, v.split_whitespace().collect::<Vec<_>>().join(" ")));
        }
    }
    signed.sort();
    let canonical_headers: String = signed.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_names = signed
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed_names}\n{payload_hash}",
        req.method.to_ascii_uppercase(),
        canonical_path(req, key.service),
        canonical_query(req),
    );
    let scope = format!("{day}/{}/{}/aws4_request", key.region, key.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let k_date = hmac(format!("AWS4{}", key.secret_key).as_bytes(), day);
    let k_region = hmac(&k_date, key.region);
    let k_service = hmac(&k_region, key.service);
    let k_signing = hmac(&k_service, "aws4_request");
    let signature = hex::encode(hmac(&k_signing, &string_to_sign));
    req.headers.push((
        "Authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_names}, Signature={signature}",
            key.access_key
        ),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: SigV4Key<'static> = SigV4Key {
        access_key: "AKIDEXAMPLE",
        secret_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        session_token: None,
        region: "us-east-1",
        service: "service",
    };

    fn at() -> jiff::Timestamp {
        "2015-08-30T12:36:00Z".parse().unwrap()
    }

    fn req(method: &str, url: &str) -> HttpRequest {
        HttpRequest::new(method, url::Url::parse(url).unwrap())
    }

    fn auth(r: &HttpRequest) -> &str {
        &r.headers
            .iter()
            .find(|(k, _)| k == "Authorization")
            .unwrap()
            .1
    }

    /// AWS's published test suite, case `get-vanilla`.
    #[test]
    fn get_vanilla() {
        let mut r = req("GET", "https://example.amazonaws.com/");
        sign(&mut r, &KEY, at());
        assert_eq!(
            auth(&r),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    /// AWS's published test suite, case `get-vanilla-query-order-key-case`.
    #[test]
    fn query_parameters_are_sorted() {
        let mut r = req(
            "GET",
            "https://example.amazonaws.com/?Param2=value2&Param1=value1",
        );
        sign(&mut r, &KEY, at());
        assert!(
            auth(&r).ends_with(
                "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
            ),
            "{}",
            auth(&r)
        );
    }

    /// S3 signs the path as sent, decoded once: `&`, `=` and `+` stay.
    #[test]
    fn s3_paths_keep_their_reserved_characters() {
        assert_eq!(percent_decode("/b/a&b=c+d%20e%2Fx%zz"), "/b/a&b=c+d e/x%zz");
    }

    #[test]
    fn resigning_replaces_the_old_signature_and_date() {
        let mut r = req("POST", "https://example.amazonaws.com/");
        r.headers.push(("Authorization".into(), "Bearer x".into()));
        sign(&mut r, &KEY, at());
        sign(&mut r, &KEY, at());
        let n = |name: &str| {
            r.headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .count()
        };
        assert_eq!((n("authorization"), n("x-amz-date")), (1, 1));
    }

    #[test]
    fn body_session_token_and_content_type_are_signed() {
        let mut r = req("POST", "https://iam.amazonaws.com/");
        r.headers.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded; charset=utf-8".into(),
        ));
        r.body = b"Action=ListUsers&Version=2010-05-08".to_vec();
        let k = SigV4Key {
            session_token: Some("tok"),
            ..KEY
        };
        sign(&mut r, &k, at());
        assert!(auth(&r).contains(
            "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="
        ));
        let before = auth(&r).to_string();
        r.body = b"Action=ListUsers&Version=2010-05-09".to_vec();
        sign(&mut r, &k, at());
        assert_ne!(before, auth(&r), "the body is part of the signature");
    }
}
