//! External users: the customer's end users, by the id the customer gives.

use super::Tenancy;
use crate::error::Result;
use crate::model::{ExternalUser, Tenant};
use crate::paging::{Page, PageRequest};
use crate::records;
use crate::store::Key;

impl Tenancy {
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
}
