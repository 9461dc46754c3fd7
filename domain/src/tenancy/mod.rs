//! Tenancy: projects and their API clients, bearer and connect tokens,
//! external users and the tombstones of deleted ones. Every other
//! capability asks it who is calling and whether a user may act.

pub mod auth;
pub mod connect_tokens;
pub mod projects;
pub(crate) mod tombstones;
pub mod users;

use std::sync::Arc;

use crate::context::{Context, over_context};

pub struct Tenancy {
    ctx: Arc<Context>,
}

over_context!(Tenancy);

impl Tenancy {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Tenancy { ctx }
    }
}
