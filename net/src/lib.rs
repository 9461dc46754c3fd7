//! The network rules every part of Switchboard shares, one home each: the
//! outbound HTTP client and its SSRF guard, retry timing (backoff, jitter,
//! `Retry-After`), the inbound webhook signature schemes, and Standard
//! Webhooks signing and verifying. The manifest runtime, the domain and the
//! server all depend on this crate; it depends on none of them.

mod encode;
pub mod oauth1;
pub mod outbound;
pub mod retry;
pub mod signature;
pub mod sigv4;
pub mod standard_webhooks;

/// 128 random bits as 32 hex digits: OAuth 1 nonces, and the `random`
/// value request templates may use (a provider's per-request id).
pub fn random_nonce() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("OS random number generator unavailable");
    hex::encode(b)
}
