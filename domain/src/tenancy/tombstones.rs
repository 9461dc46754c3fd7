//! The tombstone that keeps a deleted external user deleted: while it
//! exists, deploys, accounts, connect tokens and runs for that user are
//! refused with 409, and each of those writes checks it again after
//! committing and undoes itself if a delete started meanwhile (the delete
//! itself is `ops::retention`). See docs/security.md.

use serde::{Deserialize, Serialize};

use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::model::Tenant;
use crate::records;
use crate::store::Op;

use super::Tenancy;

/// A deleted user's tombstone: until when it holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Tombstone {
    until_ms: u64,
}

impl Tenancy {
    /// Refuses (409, with Retry-After) to act for a user being deleted or
    /// deleted within `retention.user_tombstone_secs`.
    pub async fn check_user_live(&self, t: &Tenant, ext: &str) -> Result<()> {
        let Some(raw) = self.store.get(&records::user_tombstone(t, ext)).await? else {
            return Ok(());
        };
        let left_ms = records::from_bytes::<Tombstone>(&raw)
            .map(|s| s.until_ms.saturating_sub(now_ms()))
            .unwrap_or(0);
        let left = switchboard_net::retry::header_secs(std::time::Duration::from_millis(left_ms));
        Err(Error::UserBeingDeleted {
            message: format!(
                "external user {ext:?} was deleted (or is being deleted); it cannot be used \
                 again for {left} s (retention.user_tombstone_secs)"
            ),
            retry_after_secs: left,
        })
    }

    pub(crate) async fn write_tombstone(&self, t: &Tenant, ext: &str) -> Result<()> {
        let ttl_ms = self.settings.retention.user_tombstone_secs.max(1) * 1000;
        let stone = Tombstone {
            until_ms: now_ms() + ttl_ms,
        };
        self.store
            .commit(vec![Op::Put {
                key: records::user_tombstone(t, ext),
                value: records::to_bytes(&stone),
                ttl_ms: Some(ttl_ms),
            }])
            .await?;
        Ok(())
    }

    /// After a write for `ext` committed: whether a delete of that user
    /// started meanwhile (the caller then undoes its write and answers 409).
    pub(crate) async fn user_deleted_meanwhile(&self, t: &Tenant, ext: &str) -> Result<bool> {
        Ok(self
            .store
            .get(&records::user_tombstone(t, ext))
            .await?
            .is_some())
    }

    /// Removes the user record a racing write may have re-created.
    pub(crate) async fn drop_user_record(&self, t: &Tenant, ext: &str) -> Result<()> {
        self.store
            .commit(vec![
                Op::Delete(records::user(t, ext)),
                records::index_remove(records::users_index(t), ext),
            ])
            .await?;
        Ok(())
    }
}
