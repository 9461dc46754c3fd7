//! The domain's one error type. The server maps it to HTTP in one place.

use serde::{Deserialize, Serialize};
use switchboard_components::props::PropError;
use switchboard_components::runtime::Observation;

use crate::crypto::CryptoError;
use crate::store::StoreError;

/// An action that ran and failed: reported as a 4xx so the SDKs do not
/// replay a call that may have had effects.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActionFailure {
    pub message: String,
    /// `step_failed`, `timeout`, `auth_error`, `template_error`, `unreachable`.
    pub code: String,
    #[serde(default)]
    pub details: serde_json::Value,
    #[serde(default)]
    pub os: Vec<serde_json::Value>,
}

impl ActionFailure {
    pub fn new(
        code: &str,
        message: impl Into<String>,
        details: serde_json::Value,
        os: &[Observation],
    ) -> Self {
        ActionFailure {
            message: message.into(),
            code: code.to_string(),
            details,
            os: os
                .iter()
                .filter_map(|o| serde_json::to_value(o).ok())
                .collect(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is wrong; the message says how (400).
    #[error("{0}")]
    Invalid(String),
    /// Missing, unknown or expired credentials (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Valid credentials that may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// `configured_props` that are wrong, each with why (400).
    #[error("configured_props are invalid: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    InvalidProps(Vec<PropError>),
    /// The action ran and failed (422).
    #[error("{}", .0.message)]
    ActionFailed(Box<ActionFailure>),
    /// Well-formed but conflicting with an earlier request (422).
    #[error("{0}")]
    Unprocessable(String),
    /// The same request is still being processed (409, retry later).
    #[error("{message}")]
    InProgress {
        message: String,
        retry_after_secs: u64,
    },
    /// The upstream API could not be reached (502).
    #[error("{0}")]
    Upstream(String),
    /// The upstream API did not answer in time (504).
    #[error("{0}")]
    UpstreamTimeout(String),
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn invalid(msg: impl Into<String>) -> Error {
    Error::Invalid(msg.into())
}

pub(crate) fn not_found(msg: impl Into<String>) -> Error {
    Error::NotFound(msg.into())
}
