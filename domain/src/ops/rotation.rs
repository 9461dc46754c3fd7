//! Where the keyring comes from, and re-encrypting everything under the
//! active key (`switchboard admin rotate-key`).

use std::path::{Path, PathBuf};

use super::Ops;
use crate::crypto::{Keyring, key_id_of};
use crate::error::Result;
use crate::model::{Account, Environment, Tenant};
use crate::records;
use crate::store::{IndexRange, Op};

/// Configured keys, or a keyring file Switchboard generated and owns.
#[derive(Debug, Clone)]
pub enum KeyringSource {
    Config,
    File(PathBuf),
}

/// Loads the configured keyring, or `<data_dir>/keyring.json`, creating it
/// (mode 0600) on first start.
pub fn load_keyring(
    active: &str,
    keys: &std::collections::BTreeMap<String, String>,
    data_dir: &Path,
) -> Result<(Keyring, KeyringSource)> {
    if !keys.is_empty() {
        return Ok((Keyring::from_config(active, keys)?, KeyringSource::Config));
    }
    let path = data_dir.join("keyring.json");
    if path.exists() {
        return Ok((Keyring::load_file(&path)?, KeyringSource::File(path)));
    }
    std::fs::create_dir_all(data_dir).map_err(|e| {
        crate::Error::internal_from(format!("cannot create {}", data_dir.display()), e)
    })?;
    let k = Keyring::generate();
    k.save_file(&path)?;
    Ok((k, KeyringSource::File(path)))
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RotationReport {
    pub active_key: String,
    pub reencrypted: u64,
    pub already_current: u64,
    pub retired_keys: Vec<String>,
}

impl Ops {
    /// Re-seals every credential not under the active key, then retires the
    /// other keys' keychecks. Old keys stay usable in the keyring until the
    /// caller drops them.
    pub async fn reencrypt_all(&self) -> Result<RotationReport> {
        let active = self.keyring.active_id().to_string();
        let mut report = RotationReport {
            active_key: active.clone(),
            reencrypted: 0,
            already_current: 0,
            retired_keys: Vec::new(),
        };
        for project in self.tenancy.list_projects().await? {
            for env in Environment::ALL {
                let t = Tenant {
                    project_id: project.id.clone(),
                    env,
                };
                self.reencrypt_tenant(&t, &active, &mut report).await?;
            }
            let (done, current) = self
                .accounts
                .reencrypt_oauth_apps(&project.id, &active)
                .await?;
            report.reencrypted += done;
            report.already_current += current;
        }
        self.record_keycheck(&active).await?;
        let all = IndexRange {
            limit: 1000,
            ..Default::default()
        };
        for id in self
            .store
            .index_range(&records::keychecks_index(), &all)
            .await?
        {
            if id != active {
                self.store
                    .commit(vec![
                        Op::Delete(records::keycheck(&id)),
                        records::index_remove(records::keychecks_index(), &id),
                    ])
                    .await?;
                report.retired_keys.push(id);
            }
        }
        Ok(report)
    }

    async fn reencrypt_tenant(
        &self,
        t: &Tenant,
        active: &str,
        report: &mut RotationReport,
    ) -> Result<()> {
        let index = records::accounts_index(t);
        let mut after = None;
        loop {
            let ids = self
                .store
                .index_range(
                    &index,
                    &IndexRange {
                        after: after.clone(),
                        before: None,
                        limit: 200,
                    },
                )
                .await?;
            let Some(last) = ids.last().cloned() else {
                return Ok(());
            };
            let keys: Vec<_> = ids.iter().map(|id| records::account(t, id)).collect();
            let mut ops = Vec::new();
            for raw in self.store.get_many(&keys).await?.into_iter().flatten() {
                let mut a: Account = records::from_bytes(&raw)?;
                if key_id_of(&a.credentials) == Some(active) {
                    report.already_current += 1;
                    continue;
                }
                let aad = crate::accounts::manage::aad(t, &a.id);
                let plain = self.keyring.open(&a.credentials, &aad)?;
                a.credentials = self.keyring.seal(&plain, &aad);
                ops.push(records::put(records::account(t, &a.id), &a));
                report.reencrypted += 1;
            }
            self.store.commit(ops).await?;
            after = Some(last);
        }
    }
}
