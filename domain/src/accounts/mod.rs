//! Accounts: connected accounts and their credentials (sealed at rest),
//! key-based and OAuth connection (with the project's own OAuth clients),
//! token refresh, account health and its notifications, connection
//! webhooks, and the Connect proxy.

pub mod connection;
pub mod health;
pub mod manage;
pub mod oauth1_flow;
pub mod oauth_apps;
pub mod oauth_flow;
pub mod overrides;
pub mod proxy;
pub mod refresh;
pub mod render;

use std::sync::{Arc, OnceLock, Weak};

use crate::context::{Context, over_context};
use crate::delivery::Delivery;
use crate::tenancy::Tenancy;

pub use health::HealthObserver;
pub use manage::{AccountFilter, AccountView, NewKeyAccount};

pub struct Accounts {
    ctx: Arc<Context>,
    pub(crate) tenancy: Arc<Tenancy>,
    pub(crate) delivery: Arc<Delivery>,
    observer: OnceLock<Weak<dyn HealthObserver>>,
}

over_context!(Accounts);

impl Accounts {
    pub(crate) fn new(ctx: Arc<Context>, tenancy: Arc<Tenancy>, delivery: Arc<Delivery>) -> Self {
        Accounts {
            ctx,
            tenancy,
            delivery,
            observer: OnceLock::new(),
        }
    }

    /// Wires who follows accounts' health (once, at start-up).
    pub(crate) fn set_health_observer(&self, o: Weak<dyn HealthObserver>) {
        let _ = self.observer.set(o);
    }

    fn health_observer(&self) -> Option<Arc<dyn HealthObserver>> {
        self.observer.get().and_then(Weak::upgrade)
    }
}
