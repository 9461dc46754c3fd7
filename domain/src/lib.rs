//! Switchboard's domain: the model every process shares, the rules that
//! govern it (tenancy, credentials, tokens, accounts, users), credential
//! encryption, and storage behind the [`store::Store`] trait.

pub mod accounts;
pub mod auth;
pub mod catalog;
pub mod clock;
pub mod connect;
mod core;
pub mod cron;
pub mod crypto;
pub mod dedupe;
pub mod delivery;
mod error;
mod failpoint;
pub mod fairness;
pub mod health;
pub mod ids;
pub mod ingest;
pub mod model;
pub mod oauth_apps;
pub mod oauth_flow;
pub mod paging;
pub mod poll;
pub mod projects;
pub mod proxy;
pub mod ratelimit;
mod records;
mod refresh;
pub mod render;
pub mod retention;
pub mod rotation;
pub mod runs;
pub mod schedule;
pub mod store;
pub mod triggers;
pub mod users;
pub mod validate;
pub mod webhooks;

pub use crate::core::{Core, CoreSettings, Quotas, Retention, open_store};
pub use error::{ActionFailure, Error, Result};
pub use switchboard_components as components;
