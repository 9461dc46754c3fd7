//! `Core`: every capability's service, built once over one shared
//! [`Context`], in dependency order:
//!
//! ```text
//! tenancy → delivery → accounts → catalog → triggers → actions → ops
//! ```
//!
//! Each service holds the ones before it and never one after. The two
//! calls that go the other way are traits the lower capability defines and
//! a higher one implements, wired here: delivery asks for a deployment's
//! endpoint keys (`delivery::endpoints::Endpoints`), and accounts report a
//! change of health (`accounts::HealthObserver`).

use std::sync::Arc;

use switchboard_components::Catalog;

use crate::accounts::{Accounts, HealthObserver};
use crate::actions::Actions;
use crate::catalog::Components;
use crate::context::Context;
use crate::crypto::Keyring;
use crate::delivery::Delivery;
use crate::delivery::endpoints::Endpoints;
use crate::error::Result;
use crate::ops::Ops;
use crate::settings::CoreSettings;
use crate::store::Store;
use crate::tenancy::Tenancy;
use crate::triggers::Triggers;

pub struct Core {
    pub ctx: Arc<Context>,
    pub tenancy: Arc<Tenancy>,
    pub delivery: Arc<Delivery>,
    pub accounts: Arc<Accounts>,
    pub components: Arc<Components>,
    pub triggers: Arc<Triggers>,
    pub actions: Arc<Actions>,
    pub ops: Arc<Ops>,
}

impl Core {
    /// Checks the keyring against the store before anything is served: a
    /// wrong or missing key stops start-up here, with the reason.
    pub async fn new(
        store: Arc<dyn Store>,
        keyring: Keyring,
        catalog: Catalog,
        settings: CoreSettings,
    ) -> Result<Core> {
        let ctx = Arc::new(Context::new(store, keyring, catalog, settings).await?);
        let tenancy = Arc::new(Tenancy::new(ctx.clone()));
        let delivery = Arc::new(Delivery::new(ctx.clone()));
        let accounts = Arc::new(Accounts::new(
            ctx.clone(),
            tenancy.clone(),
            delivery.clone(),
        ));
        let components = Arc::new(Components::new(ctx.clone(), accounts.clone()));
        let triggers = Arc::new(Triggers::new(
            ctx.clone(),
            tenancy.clone(),
            accounts.clone(),
            components.clone(),
            delivery.clone(),
        ));
        let endpoints: Arc<dyn Endpoints> = triggers.clone();
        delivery.set_endpoints(Arc::downgrade(&endpoints));
        let observer: Arc<dyn HealthObserver> = triggers.clone();
        accounts.set_health_observer(Arc::downgrade(&observer));
        let actions = Arc::new(Actions::new(
            ctx.clone(),
            tenancy.clone(),
            accounts.clone(),
            components.clone(),
        ));
        let ops = Arc::new(Ops::new(
            ctx.clone(),
            tenancy.clone(),
            accounts.clone(),
            triggers.clone(),
        ));
        Ok(Core {
            ctx,
            tenancy,
            delivery,
            accounts,
            components,
            triggers,
            actions,
            ops,
        })
    }
}

impl std::ops::Deref for Core {
    type Target = Context;
    fn deref(&self) -> &Context {
        &self.ctx
    }
}
