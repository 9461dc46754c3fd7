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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// Any error kept as the cause of another.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

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
    /// A configured quota is used up (403); the message names the quota.
    #[error("{0}")]
    QuotaExceeded(String),
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
    /// An idempotency key sent again with a different request (422).
    #[error("{0}")]
    IdempotencyKeyReused(String),
    /// The same request is still being processed (409, retry later).
    #[error("{message}")]
    InProgress {
        message: String,
        retry_after_secs: u64,
    },
    /// The external user is being deleted, or was deleted too recently to
    /// be used again (409, retry later).
    #[error("{message}")]
    UserBeingDeleted {
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
    /// A failure on our side (500), described by a message only. New code
    /// uses `Error::internal` or, when there is a cause, `Error::internal_from`.
    #[error("{0}")]
    Internal(String),
    /// A failure on our side (500) with the error that caused it. The cause
    /// is also in the message: every log line prints errors with `%e`
    /// (Display only), and the cause is what an operator needs.
    #[error("{context}: {source}")]
    InternalFrom {
        context: String,
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// A failure on our side with no underlying error (500).
    pub fn internal(msg: impl Into<String>) -> Error {
        Error::Internal(msg.into())
    }

    /// A failure on our side caused by `source` (500); `context` says what
    /// was being done ("reading the account's credentials").
    pub fn internal_from(context: impl Into<String>, source: impl Into<BoxError>) -> Error {
        Error::InternalFrom {
            context: context.into(),
            source: source.into(),
        }
    }

    /// A used-up quota (403): at most `max` `what`, set by `quotas.<key>`.
    pub fn quota_exceeded(what: &str, key: &str, max: u64) -> Error {
        Error::QuotaExceeded(format!(
            "quota exceeded: at most {max} {what} (quotas.{key}); delete some first or ask the \
             operator to raise the quota"
        ))
    }
}

/// Our own JSON (records, sealed values) that does not parse or serialize:
/// a bug or corruption, so a 500. Parse a caller's JSON with `invalid`.
impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::internal_from("JSON", e)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::internal_from("I/O", e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn invalid(msg: impl Into<String>) -> Error {
    Error::Invalid(msg.into())
}

pub(crate) fn not_found(msg: impl Into<String>) -> Error {
    Error::NotFound(msg.into())
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn causes_are_kept_as_sources() {
        let json = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        let e = Error::from(json);
        assert!(e.source().is_some_and(|s| s.is::<serde_json::Error>()));
        assert!(e.to_string().starts_with("JSON: "), "{e}");

        let io = std::io::Error::other("disk on fire");
        let e = Error::internal_from("writing the keyring", io);
        assert_eq!(e.to_string(), "writing the keyring: disk on fire");
        assert!(e.source().is_some_and(|s| s.is::<std::io::Error>()));

        let e = Error::from(StoreError::Unavailable("down".into()));
        assert!(matches!(e, Error::Store(StoreError::Unavailable(_))));
        assert!(Error::internal("x").source().is_none());
    }

    #[test]
    fn quota_message_names_the_key() {
        let e = Error::quota_exceeded("accounts per user", "accounts_per_user", 3);
        assert!(matches!(&e, Error::QuotaExceeded(m)
            if m.starts_with("quota exceeded: at most 3 accounts per user (quotas.accounts_per_user)")));
    }
}
