//! Standard Webhooks (<https://www.standardwebhooks.com>), both ends: the
//! deliveries Switchboard sends and the inbound triggers that receive them.
//! Headers `webhook-id`, `webhook-timestamp` (epoch seconds) and
//! `webhook-signature: v1,<base64 HMAC-SHA256(key, "id.timestamp.body")>`,
//! several space-separated; the key is the base64 part of a `whsec_` secret.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of a signing secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// How far a timestamp may be from now when the caller names no tolerance.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// What is wrong; never the secret, nor any part of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("signing key is not base64")]
    BadSecret,
    #[error("timestamp is outside the {0} s tolerance")]
    Stale(u64),
    #[error("no v1 signature matches")]
    NoMatch,
}

/// The secret for raw key bytes: `whsec_<base64>`.
pub fn secret(key: &[u8]) -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The HMAC over `id.timestamp.body` with the secret's key (the `whsec_`
/// prefix is optional).
fn mac(secret: &str, msg_id: &str, ts_secs: u64, body: &[u8]) -> Result<Hmac<Sha256>, Error> {
    let raw = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    // No detail from the decoder: it would quote a byte of the secret.
    let key = STANDARD.decode(raw).map_err(|_| Error::BadSecret)?;
    let mut m = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    m.update(msg_id.as_bytes());
    m.update(b".");
    m.update(ts_secs.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    Ok(m)
}

/// One `webhook-signature` value: `v1,<base64>`.
pub fn sign(secret: &str, msg_id: &str, ts_secs: u64, body: &[u8]) -> Result<String, Error> {
    let m = mac(secret, msg_id, ts_secs, body)?;
    Ok(format!("v1,{}", STANDARD.encode(m.finalize().into_bytes())))
}

/// The `webhook-signature` header for several secrets (a key rotation's
/// overlap): each one's signature, space-separated, in order.
pub fn sign_all<S: AsRef<str>>(
    secrets: &[S],
    msg_id: &str,
    ts_secs: u64,
    body: &[u8],
) -> Result<String, Error> {
    let sigs = secrets
        .iter()
        .map(|s| sign(s.as_ref(), msg_id, ts_secs, body))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(sigs.join(" "))
}

/// Checks a request: its timestamp is within `tolerance_secs` of `now_secs`
/// and one of the `v1,` signatures in `signatures` (the header value) is
/// the secret's, compared in constant time. Other versions are skipped.
pub fn verify(
    secret: &str,
    msg_id: &str,
    ts_secs: u64,
    body: &[u8],
    signatures: &str,
    now_secs: u64,
    tolerance_secs: u64,
) -> Result<(), Error> {
    if now_secs.abs_diff(ts_secs) > tolerance_secs {
        return Err(Error::Stale(tolerance_secs));
    }
    let m = mac(secret, msg_id, ts_secs, body)?;
    let ok = signatures
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|b| {
            STANDARD
                .decode(b)
                .is_ok_and(|raw| m.clone().verify_slice(&raw).is_ok())
        });
    if ok { Ok(()) } else { Err(Error::NoMatch) }
}

#[cfg(test)]
mod tests {
    use super::*;

    // From the Standard Webhooks spec's test vectors.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: u64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn reference_vector_signs_and_verifies() {
        assert_eq!(sign(SECRET, ID, TS, BODY).unwrap(), SIG);
        // The prefix is optional.
        assert_eq!(sign(&SECRET[6..], ID, TS, BODY).unwrap(), SIG);
        verify(SECRET, ID, TS, BODY, SIG, TS, 300).unwrap();
        verify(
            SECRET,
            ID,
            TS,
            BODY,
            &format!("v2,x v1,bogus {SIG}"),
            TS,
            300,
        )
        .unwrap();
        assert_eq!(
            verify(SECRET, ID, TS, b"{}", SIG, TS, 300),
            Err(Error::NoMatch)
        );
        assert_eq!(
            verify(SECRET, ID, TS, BODY, SIG, TS + 301, 300),
            Err(Error::Stale(300))
        );
        assert_eq!(
            verify(SECRET, ID, TS, BODY, SIG, TS - 301, 300),
            Err(Error::Stale(300))
        );
    }

    #[test]
    fn rotation_signs_with_every_key_and_either_verifies() {
        let other = "whsec_c2VjcmV0";
        let header = sign_all(&[SECRET, other], ID, TS, BODY).unwrap();
        let (a, b) = header.split_once(' ').unwrap();
        assert_eq!(a, SIG);
        assert_eq!(b, sign(other, ID, TS, BODY).unwrap());
        verify(SECRET, ID, TS, BODY, &header, TS, 300).unwrap();
        verify(other, ID, TS, BODY, &header, TS, 300).unwrap();
        assert_eq!(sign_all::<&str>(&[], ID, TS, BODY).unwrap(), "");
    }

    #[test]
    fn a_secret_round_trips_its_key() {
        let s = secret(b"secret");
        assert_eq!(s, "whsec_c2VjcmV0");
        assert_eq!(sign(&s, ID, TS, BODY), sign("c2VjcmV0", ID, TS, BODY));
    }

    #[test]
    fn a_bad_secret_is_named_but_not_quoted() {
        let e = sign("whsec_not*base64", ID, TS, BODY).unwrap_err();
        assert_eq!(e, Error::BadSecret);
        assert!(!e.to_string().contains('*'));
        assert!(sign_all(&[SECRET, "%%"], ID, TS, BODY).is_err());
    }
}
