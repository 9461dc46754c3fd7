//! Retention and GDPR deletion: what expires, what housekeeping prunes, and
//! the tombstone that keeps a deleted external user deleted.
//!
//! - Dead letters and delivery attempts carry a TTL
//!   (`retention.dead_letter_secs`); housekeeping drops the members of each
//!   tenant's dead-letter index whose job has expired.
//! - Events carry a TTL (`retention.events_secs`) besides the newest-N cap,
//!   and reads skip index members older than it.
//! - Deleting an external user first writes a tombstone
//!   (`t:<p>:<env>` : `tomb:user:<ext>`); deploys, accounts, connect tokens
//!   and runs for that user are refused with 409 while it exists, and each
//!   of those writes checks it again after committing and undoes itself if
//!   a delete started meanwhile. See docs/security.md.

use std::collections::HashSet;
use std::sync::Arc;

use super::Ops;
use crate::clock::now_ms;
use crate::delivery::queue::DeliveryJob;
use crate::error::{Result, not_found};
use crate::ids::id_at;
use crate::model::{Environment, ExternalUser, Tenant};
use crate::records;
use crate::store::{IndexRange, Op};
use crate::triggers::deployments::Deployment;

/// Most delivery attempts a job can have had (retry schedules are short).
const MAX_ATTEMPTS_DELETED: u32 = 64;

impl Ops {
    /// The GDPR path: everything the user owns. A tombstone first (so no
    /// concurrent deploy, account or token can bring the user back), then
    /// the connect tokens, every deployed trigger (deactivate hooks run
    /// best-effort; inbound URLs, app routes, events and their indexes go
    /// with it, pending deliveries become undeliverable), their dead
    /// letters and attempts, the accounts, and the user record. The
    /// tombstone is renewed at the end, so it outlives the delete by
    /// `retention.user_tombstone_secs`.
    pub async fn delete_user(self: &Arc<Self>, t: &Tenant, ext: &str) -> Result<()> {
        let user: Option<ExternalUser> = self.read(&records::user(t, ext)).await?;
        let by_user = records::accounts_by_user(t, ext);
        let has_accounts = self.store.index_count(&by_user).await? > 0;
        let deployments = records::deployments_by_user(t, ext);
        let has_deployments = self.store.index_count(&deployments).await? > 0;
        if user.is_none() && !has_accounts && !has_deployments {
            return Err(not_found(format!("external user {ext:?} not found")));
        }
        self.tenancy.write_tombstone(t, ext).await?;
        self.tenancy.revoke_user_tokens(t, ext).await?;
        let mut removed: HashSet<String> = HashSet::new();
        loop {
            let ids = self
                .store
                .index_range(
                    &deployments,
                    &IndexRange {
                        limit: 100,
                        ..Default::default()
                    },
                )
                .await?;
            if ids.is_empty() {
                break;
            }
            for id in &ids {
                match self.read::<Deployment>(&records::deployment(t, id)).await? {
                    Some(d) => self.triggers.remove_deployment(t, &d, true).await?,
                    None => {
                        self.store
                            .commit(vec![records::index_remove(deployments.clone(), id)])
                            .await?
                    }
                }
                removed.insert(id.clone());
            }
        }
        self.delete_dead_letters_of(t, &removed).await?;
        self.accounts.delete_accounts_in(t, &by_user).await?;
        self.store
            .commit(vec![
                Op::Delete(records::user(t, ext)),
                records::index_remove(records::users_index(t), ext),
            ])
            .await?;
        self.tenancy.write_tombstone(t, ext).await?;
        tracing::info!(
            project = %t.project_id,
            env = t.env.as_str(),
            deployments = removed.len(),
            "external user deleted"
        );
        Ok(())
    }

    /// Deletes the tenant's dead letters (and their attempts) that belong
    /// to `deployments`.
    async fn delete_dead_letters_of(
        &self,
        t: &Tenant,
        deployments: &HashSet<String>,
    ) -> Result<()> {
        if deployments.is_empty() {
            return Ok(());
        }
        let index = records::deliveries_dead(t);
        for id in crate::paging::all_members(self.store.as_ref(), &index).await? {
            let job: Option<DeliveryJob> = self.read(&records::delivery_job(&id)).await?;
            let Some(job) = job else {
                continue;
            };
            if !job
                .deployment_id()
                .is_some_and(|dc| deployments.contains(dc))
            {
                continue;
            }
            let mut ops = vec![
                Op::Delete(records::delivery_job(&id)),
                records::index_remove(index.clone(), &id),
            ];
            ops.extend(
                (1..=job.attempts.min(MAX_ATTEMPTS_DELETED))
                    .map(|n| Op::Delete(records::delivery_attempt(&id, n))),
            );
            self.store.commit(ops).await?;
        }
        Ok(())
    }

    /// Housekeeping for what the store's TTLs leave behind: members of each
    /// tenant's dead-letter index whose job expired. Returns how many
    /// members it removed.
    pub async fn prune_retention(&self) -> Result<usize> {
        let mut removed = 0;
        let projects =
            crate::paging::all_members(self.store.as_ref(), &records::projects_index()).await?;
        let cutoff = now_ms().saturating_sub(self.settings.retention.dead_letter_secs * 1000);
        for p in projects {
            for env in Environment::ALL {
                let t = Tenant {
                    project_id: p.clone(),
                    env,
                };
                removed += self.prune_dead_index(&t, cutoff).await?;
            }
        }
        Ok(removed)
    }

    /// Dead letters expire `dead_letter_secs` after they failed, so only
    /// jobs created before `cutoff` can have expired: the members before it
    /// (ids sort by creation) are checked, a page at a time.
    async fn prune_dead_index(&self, t: &Tenant, cutoff: u64) -> Result<usize> {
        let index = records::deliveries_dead(t);
        let mut removed = 0;
        for prefix in ["dlv", "ntf"] {
            let mut after = format!("{prefix}_");
            let before = id_at(prefix, cutoff);
            loop {
                let page = self
                    .store
                    .index_range(
                        &index,
                        &IndexRange {
                            after: Some(after.clone()),
                            before: None,
                            limit: 500,
                        },
                    )
                    .await?;
                let page: Vec<String> = page.into_iter().take_while(|m| *m < before).collect();
                let Some(last) = page.last().cloned() else {
                    break;
                };
                let keys: Vec<_> = page.iter().map(|id| records::delivery_job(id)).collect();
                let mut ops = Vec::new();
                // One slot per job on Redis Cluster: read them one by one.
                for (id, key) in page.iter().zip(&keys) {
                    if self.store.get(key).await?.is_none() {
                        ops.push(records::index_remove(index.clone(), id));
                    }
                }
                removed += ops.len();
                if !ops.is_empty() {
                    self.store.commit(ops).await?;
                }
                after = last;
            }
        }
        Ok(removed)
    }
}

/// The retention checks, on any store: run on the embedded store by this
/// module's tests and on Redis by the named target
/// `domain/tests/redis_store.rs` (not part of plain `cargo test`).
#[doc(hidden)]
pub mod conformance {
    use std::sync::Arc;
    use std::time::Duration;

    use serde_json::json;

    use crate::delivery::DeliveryJob;
    use crate::model::{Environment, Tenant};
    use crate::records;
    use crate::store::{IndexRange, Op, Store};

    async fn core(store: Arc<dyn Store>) -> Arc<crate::Core> {
        let settings = crate::CoreSettings {
            retention: crate::Retention {
                dead_letter_secs: 1,
                events_secs: 1,
                user_tombstone_secs: 1,
            },
            ..Default::default()
        };
        let catalog = switchboard_components::Catalog::builtin().unwrap();
        Arc::new(
            crate::Core::new(store, crate::crypto::Keyring::generate(), catalog, settings)
                .await
                .unwrap(),
        )
    }

    /// A dead letter expires with `retention.dead_letter_secs` and
    /// housekeeping drops it from the tenant's index; events expire with
    /// `retention.events_secs` and are no longer listed.
    pub async fn dead_letters_and_events_expire(store: Arc<dyn Store>, project: &str) {
        let c = core(store).await;
        let t = Tenant {
            project_id: project.into(),
            env: Environment::Production,
        };
        c.store
            .commit(vec![records::index_add(records::projects_index(), project)])
            .await
            .unwrap();
        // A notification whose schedule is already spent, to an address the
        // outbound guard refuses: one attempt makes it a dead letter.
        let mut ops = c
            .delivery
            .notification_ops(&t, "nobody", "http://127.0.0.1:9/", &json!({}));
        let Op::Put { value, .. } = &mut ops[0] else {
            panic!("the job comes first")
        };
        let mut job: DeliveryJob = records::from_bytes(value).unwrap();
        job.attempts = 100;
        *value = records::to_bytes(&job);
        c.store.commit(ops).await.unwrap();
        let mut claims = Vec::new();
        for _ in 0..50 {
            claims = c.delivery.claim_ready("test", 100, 100).await.unwrap();
            if !claims.is_empty() {
                break;
            }
        }
        let mut failed = 0;
        for cl in &claims {
            let out = c
                .delivery
                .deliver_claim(cl, Duration::from_secs(2))
                .await
                .unwrap();
            failed += usize::from(out == crate::delivery::queue::Outcome::Failed);
        }
        assert_eq!(failed, 1, "one dead letter");
        let dead = records::deliveries_dead(&t);
        assert_eq!(c.store.index_count(&dead).await.unwrap(), 1);
        assert_eq!(
            c.ops.prune_retention().await.unwrap(),
            0,
            "a live dead letter stays"
        );

        // An event of a deployment.
        let v = c
            .triggers
            .deploy_trigger(
                &t,
                crate::triggers::deployments::DeployRequest {
                    key: "http-new-requests".into(),
                    external_user_id: "u1".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let dc = v.deployment.id.clone();
        c.triggers
            .record_event(&t, &dc, json!({"a": 1}), "s".into())
            .await
            .unwrap();
        let evs = c
            .triggers
            .deployment_events(&t, &dc, "u1", 10)
            .await
            .unwrap();
        assert_eq!(evs.len(), 1);

        tokio::time::sleep(Duration::from_millis(2100)).await;
        c.store.sweep_expired().await.unwrap();
        assert_eq!(
            c.delivery
                .failed_deliveries(&t, &Default::default())
                .await
                .unwrap()
                .data
                .len(),
            0,
            "the dead letter expired"
        );
        assert_eq!(c.ops.prune_retention().await.unwrap(), 1);
        assert_eq!(c.store.index_count(&dead).await.unwrap(), 0, "index pruned");
        let evs = c
            .triggers
            .deployment_events(&t, &dc, "u1", 10)
            .await
            .unwrap();
        assert!(evs.is_empty(), "the event expired: {evs:?}");
        let ids = c
            .store
            .index_range(
                &records::events_index(&t, &dc),
                &IndexRange {
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        for id in ids {
            let raw = c.store.get(&records::event(&t, &dc, &id)).await.unwrap();
            assert!(raw.is_none(), "event {id} expired in the store too");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::conformance::dead_letters_and_events_expire;
    use crate::store::EmbeddedStore;

    #[tokio::test]
    async fn retention_on_the_embedded_store() {
        let dir = tempfile::tempdir().unwrap();
        let s = EmbeddedStore::open(dir.path()).unwrap();
        dead_letters_and_events_expire(Arc::new(s), "proj_ret").await;
    }
}
