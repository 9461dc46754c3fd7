//! Delivery: signed, at-least-once delivery of events and notifications to
//! webhook endpoints, with retries, FIFO lines, dead letters and replay.
//! It knows nothing of triggers: a deployment's endpoints are reached
//! through [`endpoints::Endpoints`], which `triggers` implements.

pub mod endpoints;
pub mod queue;

use std::sync::{Arc, OnceLock, Weak};

use crate::context::{Context, over_context};
use crate::error::{Error, Result};
use endpoints::Endpoints;

pub use endpoints::{
    DeliveryState, EndpointState, Signing, TriggerWebhook, WebhookView, new_signing_key,
};
pub use queue::{Claim, DEFAULT_SCHEDULE, DeliveryJob, JobKind, Message, Outcome};

pub struct Delivery {
    ctx: Arc<Context>,
    endpoints: OnceLock<Weak<dyn Endpoints>>,
}

over_context!(Delivery);

impl Delivery {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Delivery {
            ctx,
            endpoints: OnceLock::new(),
        }
    }

    /// Wires the owner of deployments' endpoints (once, at start-up).
    pub(crate) fn set_endpoints(&self, e: Weak<dyn Endpoints>) {
        let _ = self.endpoints.set(e);
    }

    fn endpoints(&self) -> Result<Arc<dyn Endpoints>> {
        self.endpoints
            .get()
            .and_then(Weak::upgrade)
            .ok_or_else(|| Error::Internal("delivery has no endpoint owner".into()))
    }
}
