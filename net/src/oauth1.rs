//! OAuth 1.0a request signing (RFC 5849, HMAC-SHA1): the three-legged flow's
//! token requests and every API call of an OAuth 1 app (Trello, Twitter v1,
//! Garmin, SmugMug). The signature covers the method, the base URL, the
//! query, a form body's parameters and the `oauth_*` protocol parameters,
//! so it is computed last, on the final request.

use base64::Engine;
use hmac::{Hmac, Mac};

use crate::encode::rfc3986;
use crate::outbound::HttpRequest;

/// Who signs: the client (consumer) and, once there is one, the token.
pub struct OAuth1Key<'a> {
    pub consumer_key: &'a str,
    pub consumer_secret: &'a str,
    pub token: Option<&'a str>,
    pub token_secret: &'a str,
}

/// Per-request values: the clock and a fresh nonce (callers pass random
/// ones; tests pass fixed ones), and the flow's extra protocol parameters
/// (`oauth_callback` for a request token, `oauth_verifier` for an access
/// token).
pub struct Nonce<'a> {
    pub timestamp: u64,
    pub nonce: &'a str,
    pub extra: &'a [(&'a str, &'a str)],
}

/// `scheme://host[:port]/path`, the port only when it is not the scheme's
/// default (RFC 5849 §3.4.1.2).
fn base_url(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!("{}://{host}{port}{}", url.scheme(), url.path())
}

fn is_form(req: &HttpRequest) -> bool {
    req.headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("content-type")
            && v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
    })
}

/// The HMAC-SHA1 signature of `req` with `oauth` parameters (RFC 5849 §3.4).
fn signature(req: &HttpRequest, key: &OAuth1Key<'_>, oauth: &[(String, String)]) -> String {
    let mut params: Vec<(String, String)> = req
        .url
        .query_pairs()
        .map(|(k, v)| (rfc3986(&k, false), rfc3986(&v, false)))
        .collect();
    if is_form(req) {
        params.extend(
            url::form_urlencoded::parse(&req.body)
                .map(|(k, v)| (rfc3986(&k, false), rfc3986(&v, false))),
        );
    }
    params.extend(
        oauth
            .iter()
            .map(|(k, v)| (rfc3986(k, false), rfc3986(v, false))),
    );
    params.sort();
    let normalized = params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let base = format!(
        "{}&{}&{}",
        req.method.to_ascii_uppercase(),
        rfc3986(&base_url(&req.url), false),
        rfc3986(&normalized, false)
    );
    let signing_key = format!(
        "{}&{}",
        rfc3986(key.consumer_secret, false),
        rfc3986(key.token_secret, false)
    );
    let mut m = Hmac::<sha1::Sha1>::new_from_slice(signing_key.as_bytes())
        .expect("HMAC accepts any key length");
    m.update(base.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

/// Signs `req` in place: replaces any `Authorization` with an `OAuth …`
/// header carrying the protocol parameters and the signature (without
/// the optional `oauth_version`, as in RFC 5849's own examples).
pub fn sign(req: &mut HttpRequest, key: &OAuth1Key<'_>, n: &Nonce<'_>) {
    let mut oauth: Vec<(String, String)> = vec![
        ("oauth_consumer_key".into(), key.consumer_key.into()),
        ("oauth_nonce".into(), n.nonce.into()),
        ("oauth_signature_method".into(), "HMAC-SHA1".into()),
        ("oauth_timestamp".into(), n.timestamp.to_string()),
    ];
    if let Some(t) = key.token {
        oauth.push(("oauth_token".into(), t.into()));
    }
    oauth.extend(n.extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let sig = signature(req, key, &oauth);
    oauth.push(("oauth_signature".into(), sig));
    oauth.sort();
    let header = oauth
        .iter()
        .map(|(k, v)| format!("{}=\"{}\"", rfc3986(k, false), rfc3986(v, false)))
        .collect::<Vec<_>>()
        .join(", ");
    req.headers
        .retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
    req.headers
        .push(("Authorization".into(), format!("OAuth {header}")));
}

/// Signs `req` now, with a fresh random nonce: what every real request
/// uses (RFC 5849 §3.3 wants a nonce unique per timestamp).
pub fn sign_now(req: &mut HttpRequest, key: &OAuth1Key<'_>, extra: &[(&str, &str)]) {
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let nonce = crate::random_nonce();
    sign(
        req,
        key,
        &Nonce {
            timestamp,
            nonce: &nonce,
            extra,
        },
    );
}

/// One parameter of a request's `Authorization: OAuth …` header, decoded
/// (for checks of what was signed).
pub fn header_param(req: &HttpRequest, name: &str) -> Option<String> {
    let (_, h) = req
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))?;
    h.strip_prefix("OAuth ")?.split(", ").find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        let v = v.strip_prefix('"')?.strip_suffix('"')?;
        (k == name).then(|| {
            url::form_urlencoded::parse(format!("v={}", v.replace('+', "%2B")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, url: &str) -> HttpRequest {
        HttpRequest::new(method, url::Url::parse(url).unwrap())
    }

    fn param(r: &HttpRequest, name: &str) -> String {
        header_param(r, name).unwrap()
    }

    /// RFC 5849 §1.2: the photo-printing example, signed by the token.
    #[test]
    fn rfc5849_example() {
        let mut r = req(
            "GET",
            "http://photos.example.net/photos?file=vacation.jpg&size=original",
        );
        let key = OAuth1Key {
            consumer_key: "dpf43f3p2l4k3l03",
            consumer_secret: "kd94hf93k423kf44",
            token: Some("nnch734d00sl2jdk"),
            token_secret: "pfkkdhi9sl3r4s00",
        };
        let n = Nonce {
            timestamp: 137131202,
            nonce: "chapoH",
            extra: &[],
        };
        sign(&mut r, &key, &n);
        assert_eq!(param(&r, "oauth_signature"), "MdpQcU8iPSUjWoN/UDMsK2sui9I=");
    }

    /// RFC 5849 §3.4.1.1: a form body and repeated query keys count, and
    /// `oauth_callback` joins the signed parameters.
    #[test]
    fn form_body_and_flow_parameters_are_signed() {
        let key = OAuth1Key {
            consumer_key: "9djdj82h48djs9d2",
            consumer_secret: "j49sk3j29djd",
            token: Some("kkk9d7dh3k39sjv7"),
            token_secret: "dh893hdasih9",
        };
        let n = Nonce {
            timestamp: 137131201,
            nonce: "7d8f3e4a",
            extra: &[],
        };
        let mut r = req(
            "POST",
            "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b",
        );
        r.headers.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        r.body = b"c2&a3=2+q".to_vec();
        sign(&mut r, &key, &n);
        assert_eq!(param(&r, "oauth_signature"), "r6/TJjbCOr97/+UU0NsvSne7s5g=");

        let mut a = req("POST", "https://api.example.com/oauth/request_token");
        let mut b = req("POST", "https://api.example.com/oauth/request_token");
        let cb = [("oauth_callback", "https://sb.example/cb")];
        sign(&mut a, &key, &Nonce { extra: &cb, ..n });
        sign(&mut b, &key, &n);
        assert_eq!(param(&a, "oauth_callback"), "https://sb.example/cb");
        assert_ne!(param(&a, "oauth_signature"), param(&b, "oauth_signature"));
    }
}
