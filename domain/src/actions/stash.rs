//! The file stash: an action whose result is a file (the last step's
//! binary body, `runtime::file_body`) keeps it under the tenant for a day
//! and returns a reference, `{"$stash": {s3_key, size, content_type,
//! expires_at}}`; `GET {p}/file_stash/download?s3_key=` gives it back.
//! Bounded: a file is at most the outbound response limit (10 MiB), a
//! tenant stores at most `DAILY_QUOTA_BYTES` a day (so at most twice that
//! is live at once), and keys are 160-bit random, looked up only under the
//! caller's own project and environment.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchboard_components::runtime::FileBody;

use super::Actions;
use crate::clock::{iso, now_ms};
use crate::error::{Result, invalid, not_found};
use crate::model::Tenant;
use crate::records;
use crate::store::Op;

/// How long a stashed file lives.
pub const TTL_MS: u64 = 24 * 3600 * 1000;
/// Largest file: the most an upstream response may carry.
pub const MAX_FILE_BYTES: usize = switchboard_net::outbound::MAX_RESPONSE_BYTES;
/// What one project environment may stash per UTC day.
pub const DAILY_QUOTA_BYTES: u64 = 256 << 20;
const KEY_PREFIX: &str = "fs_";
const KEY_RANDOM: usize = 27;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StashedMeta {
    pub content_type: String,
    pub size: u64,
    pub created_at: u64,
}

/// A stashed file read back.
pub struct StashedFile {
    pub meta: StashedMeta,
    pub bytes: Vec<u8>,
}

/// Whether `key` is shaped like one we hand out (else 400, before a read).
fn check_key(key: &str) -> Result<()> {
    let ok = key.len() == KEY_PREFIX.len() + KEY_RANDOM
        && key.starts_with(KEY_PREFIX)
        && key[KEY_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric());
    if !ok {
        return Err(invalid(format!(
            "s3_key must be a file stash key ({KEY_PREFIX} and {KEY_RANDOM} letters or digits), as an action's $stash returned"
        )));
    }
    Ok(())
}

impl Actions {
    /// Stores `file`; the reference to return as `ret`. Over the size or
    /// the day's quota: `Err(message)`, a `too_large` failure of the run.
    pub(crate) async fn stash(
        &self,
        t: &Tenant,
        file: FileBody,
    ) -> Result<std::result::Result<Value, String>> {
        let size = file.bytes.len() as u64;
        if file.bytes.len() > MAX_FILE_BYTES {
            return Ok(Err(format!(
                "the file is {size} bytes; the file stash takes at most {MAX_FILE_BYTES}"
            )));
        }
        let now = now_ms();
        let day = records::stash_quota(t, now / 86_400_000);
        let used: u64 = self
            .store
            .get(&day)
            .await?
            .and_then(|v| String::from_utf8(v).ok()?.parse().ok())
            .unwrap_or(0);
        if used + size > DAILY_QUOTA_BYTES {
            return Ok(Err(format!(
                "the file stash quota of {DAILY_QUOTA_BYTES} bytes a day is used up ({used} stored today)"
            )));
        }
        let key = format!("{KEY_PREFIX}{}", crate::ids::random_base62(KEY_RANDOM));
        let meta = StashedMeta {
            content_type: file.content_type,
            size,
            created_at: now,
        };
        self.store
            .commit(vec![
                Op::Put {
                    key: records::stash_meta(t, &key),
                    value: records::to_bytes(&meta),
                    ttl_ms: Some(TTL_MS),
                },
                Op::Put {
                    key: records::stash_data(t, &key),
                    value: file.bytes,
                    ttl_ms: Some(TTL_MS),
                },
                Op::incr(day, size, Some(2 * 86_400_000)),
            ])
            .await?;
        Ok(Ok(json!({"$stash": {
            "s3_key": key,
            "size": size,
            "content_type": meta.content_type,
            "expires_at": iso(now + TTL_MS),
        }})))
    }

    /// A stashed file of this tenant; unknown, expired or another tenant's
    /// key: 404.
    pub async fn stashed_file(&self, t: &Tenant, key: &str) -> Result<StashedFile> {
        check_key(key)?;
        let got = self
            .store
            .get_many(&[records::stash_meta(t, key), records::stash_data(t, key)])
            .await?;
        match (&got[0], &got[1]) {
            (Some(m), Some(b)) => Ok(StashedFile {
                meta: records::from_bytes(m)?,
                bytes: b.clone(),
            }),
            _ => Err(not_found(format!(
                "no file {key:?} in this project's file stash (files expire {} h after the run)",
                TTL_MS / 3_600_000
            ))),
        }
    }
}
