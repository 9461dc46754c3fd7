//! Inbound webhook signature schemes, named by trigger manifests. Native on
//! purpose: an HMAC over the raw body, compared in constant time, is not
//! something a template can do safely.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::standard_webhooks;

type HmacSha256 = Hmac<Sha256>;

/// The schemes a trigger manifest can name (`source.signature.scheme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureScheme {
    /// `X-Hub-Signature-256: sha256=<hex>` over the raw body.
    GithubSha256,
    /// `Stripe-Signature: t=…,v1=<hex>` over `t.body`.
    Stripe,
    /// `X-Slack-Signature: v0=<hex>` over `v0:ts:body`.
    SlackV0,
    /// Standard Webhooks `webhook-signature` (see [`standard_webhooks`]).
    StandardWebhooks,
}

fn header<'a>(headers: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

fn mac(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p);
    }
    m
}

/// Checks a request's signature; `Err` says what is wrong (never the secret).
pub fn verify(
    scheme: SignatureScheme,
    secret: &str,
    headers: &Map<String, Value>,
    body: &[u8],
    now_secs: u64,
    tolerance_secs: Option<u64>,
) -> Result<(), String> {
    let within = |ts: u64, default: u64| {
        let tol = tolerance_secs.unwrap_or(default);
        if now_secs.abs_diff(ts) <= tol {
            Ok(())
        } else {
            Err(format!("timestamp is outside the {tol} s tolerance"))
        }
    };
    match scheme {
        SignatureScheme::GithubSha256 => {
            let sig =
                header(headers, "x-hub-signature-256").ok_or("missing X-Hub-Signature-256")?;
            let digest = sig
                .strip_prefix("sha256=")
                .ok_or("X-Hub-Signature-256 must start with sha256=")?;
            let want = hex::decode(digest).map_err(|_| "X-Hub-Signature-256 is not hex")?;
            mac(secret.as_bytes(), &[body])
                .verify_slice(&want)
                .map_err(|_| "signature does not match".to_string())
        }
        SignatureScheme::Stripe => {
            let h = header(headers, "stripe-signature").ok_or("missing Stripe-Signature")?;
            let mut ts = None;
            let mut sigs = Vec::new();
            for part in h.split(',') {
                match part.trim().split_once('=') {
                    Some(("t", v)) => ts = v.parse::<u64>().ok(),
                    Some(("v1", v)) => sigs.extend(hex::decode(v).ok()),
                    _ => {}
                }
            }
            let ts = ts.ok_or("Stripe-Signature has no timestamp")?;
            within(ts, 300)?;
            let m = mac(secret.as_bytes(), &[ts.to_string().as_bytes(), b".", body]);
            if sigs.iter().any(|s| m.clone().verify_slice(s).is_ok()) {
                Ok(())
            } else {
                Err("no v1 signature matches".into())
            }
        }
        SignatureScheme::SlackV0 => {
            let ts = header(headers, "x-slack-request-timestamp")
                .and_then(|t| t.parse::<u64>().ok())
                .ok_or("missing X-Slack-Request-Timestamp")?;
            within(ts, 300)?;
            let sig = header(headers, "x-slack-signature").ok_or("missing X-Slack-Signature")?;
            let want = sig
                .strip_prefix("v0=")
                .and_then(|h| hex::decode(h).ok())
                .ok_or("X-Slack-Signature must be v0=<hex>")?;
            mac(
                secret.as_bytes(),
                &[b"v0:", ts.to_string().as_bytes(), b":", body],
            )
            .verify_slice(&want)
            .map_err(|_| "signature does not match".to_string())
        }
        SignatureScheme::StandardWebhooks => {
            let id = header(headers, "webhook-id").ok_or("missing webhook-id")?;
            let ts = header(headers, "webhook-timestamp")
                .and_then(|t| t.parse::<u64>().ok())
                .ok_or("missing webhook-timestamp")?;
            let sigs = header(headers, "webhook-signature").ok_or("missing webhook-signature")?;
            let tol = tolerance_secs.unwrap_or(standard_webhooks::DEFAULT_TOLERANCE_SECS);
            standard_webhooks::verify(secret, id, ts, body, sigs, now_secs, tol)
                .map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn h(v: serde_json::Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn github_documented_example() {
        // From GitHub's "Validating webhook deliveries" documentation.
        let headers = h(
            json!({"X-Hub-Signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}),
        );
        verify(
            SignatureScheme::GithubSha256,
            "It's a Secret to Everybody",
            &headers,
            b"Hello, World!",
            0,
            None,
        )
        .unwrap();
        assert!(
            verify(
                SignatureScheme::GithubSha256,
                "wrong",
                &headers,
                b"Hello, World!",
                0,
                None
            )
            .is_err()
        );
        assert!(
            verify(
                SignatureScheme::GithubSha256,
                "x",
                &h(json!({})),
                b"",
                0,
                None
            )
            .is_err()
        );
    }

    #[test]
    fn standard_webhooks_reference_vector() {
        let headers = h(
            json!({"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
                               "webhook-signature": "v1,bogus v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}),
        );
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        verify(
            SignatureScheme::StandardWebhooks,
            secret,
            &headers,
            body,
            1614265330,
            None,
        )
        .unwrap();
        let late = verify(
            SignatureScheme::StandardWebhooks,
            secret,
            &headers,
            body,
            1614265330 + 301,
            None,
        );
        assert!(late.unwrap_err().contains("tolerance"));
    }

    #[test]
    fn stripe_and_slack_timestamps_bound_replays() {
        let body = b"{}";
        let sig = |key: &str, parts: &[&[u8]]| {
            hex::encode(mac(key.as_bytes(), parts).finalize().into_bytes())
        };
        let s = sig("whsec_x", &[b"100", b".", body]);
        let headers = h(json!({"Stripe-Signature": format!("t=100,v1={s}")}));
        verify(
            SignatureScheme::Stripe,
            "whsec_x",
            &headers,
            body,
            200,
            None,
        )
        .unwrap();
        assert!(
            verify(
                SignatureScheme::Stripe,
                "whsec_x",
                &headers,
                body,
                100 + 301,
                None
            )
            .is_err()
        );
        let s = sig("slack", &[b"v0:", b"100", b":", body]);
        let headers =
            h(json!({"X-Slack-Request-Timestamp": "100", "X-Slack-Signature": format!("v0={s}")}));
        verify(SignatureScheme::SlackV0, "slack", &headers, body, 150, None).unwrap();
        assert!(verify(SignatureScheme::SlackV0, "nope", &headers, body, 150, None).is_err());
    }
}
