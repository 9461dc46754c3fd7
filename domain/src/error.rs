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
    pub code: FailureCode,
    #[serde(default)]
    pub details: serde_json::Value,
    #[serde(default)]
    pub os: Vec<serde_json::Value>,
}

/// Why an action failed: the response's `code`. The names are on the wire
/// and in kept idempotent outcomes, so they never change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureCode {
    /// A request was refused by policy after an earlier one went out.
    Blocked,
    /// The upstream answered with more than is read into memory.
    TooLarge,
    /// The provider answered with a failure; `details` has the step.
    StepFailed,
    Timeout,
    /// The credentials were rejected and could not be refreshed.
    AuthError,
    TemplateError,
    Unreachable,
    /// The component or a request could not be built.
    InvalidRequest,
}

impl FailureCode {
    pub fn as_str(&self) -> &'static str {
        match self {
            FailureCode::Blocked => "blocked",
            FailureCode::TooLarge => "too_large",
            FailureCode::StepFailed => "step_failed",
            FailureCode::Timeout => "timeout",
            FailureCode::AuthError => "auth_error",
            FailureCode::TemplateError => "template_error",
            FailureCode::Unreachable => "unreachable",
            FailureCode::InvalidRequest => "invalid_request",
        }
    }
}

/// The code as the response body carries it.
impl From<FailureCode> for serde_json::Value {
    fn from(c: FailureCode) -> Self {
        c.as_str().into()
    }
}

impl ActionFailure {
    pub fn new(
        code: FailureCode,
        message: impl Into<String>,
        details: serde_json::Value,
        os: &[Observation],
    ) -> Self {
        ActionFailure {
            message: message.into(),
            code,
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
