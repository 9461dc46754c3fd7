//! External users: the customer's end users, by the id the customer gives.

use crate::Core;
use crate::error::{Result, not_found};
use crate::model::{ExternalUser, Tenant};
use crate::paging::{Page, PageRequest};
use crate::records;
use crate::store::{Key, Op};

impl Core {
    pub async fn list_users(&self, t: &Tenant, page: &PageRequest) -> Result<Page<ExternalUser>> {
        let index = records::users_index(t);
        let ids = page.page_ids(self.store.as_ref(), &index).await?;
        let keys: Vec<Key> = ids.data.iter().map(|e| records::user(t, e)).collect();
        let mut data = Vec::with_capacity(keys.len());
        for raw in self.store.get_many(&keys).await?.into_iter().flatten() {
            data.push(records::from_bytes(&raw)?);
        }
        Ok(Page {
            data,
            total_count: ids.total_count,
            start_cursor: ids.start_cursor,
            end_cursor: ids.end_cursor,
        })
    }

    /// The GDPR path: the user, all their accounts and their connect tokens.
    pub async fn delete_user(&self, t: &Tenant, ext: &str) -> Result<()> {
        let user: Option<ExternalUser> = self.read(&records::user(t, ext)).await?;
        let by_user = records::accounts_by_user(t, ext);
        let has_accounts = self.store.index_count(&by_user).await? > 0;
        if user.is_none() && !has_accounts {
            return Err(not_found(format!("external user {ext:?} not found")));
        }
        self.revoke_user_tokens(t, ext).await?;
        self.delete_accounts_in(t, &by_user).await?;
        self.store
            .commit(vec![
                Op::Delete(records::user(t, ext)),
                records::index_remove(records::users_index(t), ext),
            ])
            .await?;
        Ok(())
    }
}
