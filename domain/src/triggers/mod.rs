//! Triggers: deployed sources and their events. Instant ones get an
//! inbound URL (`ingest`), timers and polls run on the distributed
//! schedule (`schedule`, `poll`, `dedupe`, `cron`); emitted events are
//! handed to delivery for the deployment's webhooks (`webhooks`), which
//! live in the deployment's record.

pub mod cron;
pub mod dedupe;
pub mod deployments;
pub mod ingest;
pub mod poll;
pub mod schedule;
mod suspend;
pub mod webhooks;

use std::sync::Arc;

use crate::accounts::Accounts;
use crate::catalog::Components;
use crate::context::{Context, over_context};
use crate::delivery::Delivery;
use crate::tenancy::Tenancy;

pub use deployments::{
    DeployRequest, Deployment, DeploymentView, EmittedEvent, Hook, HookRoute, TriggerUpdate,
};

pub struct Triggers {
    ctx: Arc<Context>,
    pub(crate) tenancy: Arc<Tenancy>,
    pub(crate) accounts: Arc<Accounts>,
    pub(crate) components: Arc<Components>,
    pub(crate) delivery: Arc<Delivery>,
    /// Deployments being polled by this process (the embedded store's
    /// poll lock).
    pub(crate) polls_running: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Per-account polls in flight (the manifest's `concurrency`).
    pub(crate) poll_limits:
        std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

over_context!(Triggers);

impl Triggers {
    pub(crate) fn new(
        ctx: Arc<Context>,
        tenancy: Arc<Tenancy>,
        accounts: Arc<Accounts>,
        components: Arc<Components>,
        delivery: Arc<Delivery>,
    ) -> Self {
        Triggers {
            ctx,
            tenancy,
            accounts,
            components,
            delivery,
            polls_running: Default::default(),
            poll_limits: Default::default(),
        }
    }
}
