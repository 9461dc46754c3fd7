//! Triggers follow their account's health: a dead account suspends the
//! deployments that use it, reconnecting resumes them.

use serde_json::Value;

use crate::error::Result;
use crate::model::{Account, Tenant};
use crate::records;

use super::Triggers;
use super::deployments::Deployment;

/// A dead account suspends the triggers that use it; a live one resumes
/// those it had suspended.
#[async_trait::async_trait]
impl crate::accounts::HealthObserver for Triggers {
    async fn health_changed(&self, t: &Tenant, after: &Account, dead: bool) -> Result<()> {
        let ix = records::deployments_by_user(t, &after.external_user_id);
        for id in crate::paging::all_members(self.store.as_ref(), &ix).await? {
            let Some(d) = self
                .read::<Deployment>(&records::deployment(t, &id))
                .await?
            else {
                continue;
            };
            let suspend = dead && d.active && uses_account(&d, &after.id);
            let resume = !dead && d.suspended_for.as_deref() == Some(&after.id);
            if suspend || resume {
                tracing::info!(
                    project = %t.project_id, deployment = %id, account = %after.id,
                    suspend, "trigger follows its account's health"
                );
                self.set_suspended(t, &id, suspend.then_some(after.id.as_str()))
                    .await?;
            }
        }
        Ok(())
    }
}

/// Whether any of the deployment's app props names `account`.
fn uses_account(d: &Deployment, account: &str) -> bool {
    d.configured_props
        .values()
        .any(|v| v.get("authProvisionId").and_then(Value::as_str) == Some(account))
}
