//! Operations across every capability: GDPR deletion of an external user
//! and retention pruning (`retention`), and re-encryption under a new key
//! (`rotation`). The top of the dependency order: nothing depends on it.

pub mod retention;
pub mod rotation;

use std::sync::Arc;

use crate::accounts::Accounts;
use crate::context::{Context, over_context};
use crate::tenancy::Tenancy;
use crate::triggers::Triggers;

pub struct Ops {
    ctx: Arc<Context>,
    pub(crate) tenancy: Arc<Tenancy>,
    pub(crate) accounts: Arc<Accounts>,
    pub(crate) triggers: Arc<Triggers>,
}

over_context!(Ops);

impl Ops {
    pub(crate) fn new(
        ctx: Arc<Context>,
        tenancy: Arc<Tenancy>,
        accounts: Arc<Accounts>,
        triggers: Arc<Triggers>,
    ) -> Self {
        Ops {
            ctx,
            tenancy,
            accounts,
            triggers,
        }
    }
}
