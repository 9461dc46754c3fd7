//! Switchboard's domain, one folder per capability, each with its service
//! over a shared [`context::Context`] (see `core.rs` for their order):
//!
//! - `tenancy/`: projects, API clients, tokens, external users;
//! - `delivery/`: signed delivery to webhook endpoints, retries, replay;
//! - `accounts/`: connected accounts, OAuth, refresh, health, the proxy;
//! - `catalog/`: the components a tenant sees, remote options;
//! - `triggers/`: deployments, inbound events, timers and polls;
//! - `actions/`: running actions;
//! - `ops/`: GDPR deletion, retention, key rotation;
//!
//! over the kernel every capability shares: the model, ids, clocks,
//! validation, encryption, fair shares, and storage behind the
//! [`store::Store`] trait.

pub mod accounts;
pub mod actions;
pub mod catalog;
pub mod clock;
pub mod context;
mod core;
pub mod crypto;
pub mod delivery;
mod error;
mod failpoint;
pub mod fairness;
pub mod ids;
pub mod model;
pub mod ops;
pub mod paging;
pub mod ratelimit;
mod records;
pub mod settings;
pub mod store;
pub mod tenancy;
pub mod triggers;
pub mod usage;
pub mod validate;

pub use crate::context::open_store;
pub use crate::core::Core;
pub use crate::settings::{CoreSettings, Quotas, Retention};
pub use error::{ActionFailure, Error, FailureCode, Result};
pub use switchboard_components as components;

/// A published schema of `docs/schema`, for the tests that check what the
/// domain sends against it.
#[cfg(test)]
pub(crate) fn published_schema(file: &str) -> jsonschema::Validator {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/schema")
        .join(file);
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}
