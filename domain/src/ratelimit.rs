//! Fixed-window request limits, counted in the store so that every process
//! sharing a Redis shares the count.

use crate::Core;
use crate::error::{Error, Result};
use crate::store::Key;

impl Core {
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
                retry_after_secs: left_ms.div_ceil(1000).max(1),
            });
        }
        Ok(())
    }
}
