//! Fixed-window request limits, counted in the store so that every process
//! sharing a Redis shares the count.

use crate::context::Context;
use crate::crypto::sha256_hex;
use crate::error::{Error, Result};
use crate::model::Tenant;
use crate::store::Key;

/// An end user's own bucket for `what`: a fixed-size name (a hash of
/// project, environment and external user id, whatever their lengths),
/// living one window like every counter.
pub(crate) fn end_user_bucket(what: &str, t: &Tenant, external_user_id: &str) -> String {
    let h =
        sha256_hex(format!("{}\n{}\n{external_user_id}", t.project_id, t.env.as_str()).as_bytes());
    format!("{what}:u:{}", &h[..32])
}

impl Context {
    /// Counts one request against `bucket`; `max` of 0 means unlimited.
    pub async fn rate_limit(
        &self,
        bucket: &str,
        max: u64,
        window_secs: u64,
        what: &str,
    ) -> Result<()> {
        if max == 0 {
            return Ok(());
        }
        let key = Key::global(format!("rl:{bucket}"), "");
        let (count, left_ms) = self.store.incr_window(&key, window_secs * 1000).await?;
        if count > max {
            return Err(Error::RateLimited {
                message: format!("rate limit exceeded: at most {max} {what} per {window_secs} s"),
                retry_after_secs: switchboard_net::retry::header_secs(
                    std::time::Duration::from_millis(left_ms),
                ),
            });
        }
        Ok(())
    }
}
