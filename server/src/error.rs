//! The one place errors become HTTP: every failure is JSON
//! `{"error": …, "code": …}` with a code from the catalogue (`codes.rs`),
//! whose status is a 4xx that says what is wrong, or a 5xx that reveals
//! nothing.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, RETRY_AFTER};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};
use switchboard_domain::Error as DomainError;
use switchboard_domain::store::StoreError;

use crate::codes::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// A failure the HTTP layer finds itself (a bad header, an unknown app).
    #[error("{message}")]
    Http { code: ErrorCode, message: String },
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::Http {
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: String) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    pub fn not_found(message: String) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Http { code, .. } => *code,
            ApiError::Domain(e) => domain_code(e),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Domain(
                DomainError::RateLimited {
                    retry_after_secs, ..
                }
                | DomainError::InProgress {
                    retry_after_secs, ..
                }
                | DomainError::UserBeingDeleted {
                    retry_after_secs, ..
                },
            ) => Some(*retry_after_secs),
            ApiError::Domain(DomainError::Store(StoreError::Unavailable(_))) => Some(1),
            _ => None,
        }
    }
}

/// The catalogue's code for a domain error, which fixes its status.
pub fn domain_code(e: &DomainError) -> ErrorCode {
    match e {
        DomainError::Invalid(_) => ErrorCode::InvalidRequest,
        DomainError::InvalidProps(_) => ErrorCode::InvalidProps,
        DomainError::Unauthorized(_) => ErrorCode::Unauthorized,
        DomainError::Forbidden(_) => ErrorCode::Forbidden,
        DomainError::QuotaExceeded(_) => ErrorCode::QuotaExceeded,
        DomainError::NotFound(_) => ErrorCode::NotFound,
        DomainError::ActionFailed(f) => ErrorCode::of_action(&f.code),
        DomainError::Unprocessable(_) => ErrorCode::Unprocessable,
        DomainError::IdempotencyKeyReused(_) => ErrorCode::IdempotencyKeyReused,
        DomainError::InProgress { .. } => ErrorCode::RequestInProgress,
        DomainError::UserBeingDeleted { .. } => ErrorCode::UserBeingDeleted,
        DomainError::Upstream(_) => ErrorCode::UpstreamError,
        DomainError::UpstreamTimeout(_) => ErrorCode::UpstreamTimeout,
        DomainError::RateLimited { .. } => ErrorCode::RateLimited,
        DomainError::Store(StoreError::Unavailable(_)) => ErrorCode::StoreUnavailable,
        DomainError::Store(_)
        | DomainError::Crypto(_)
        | DomainError::Internal(_)
        | DomainError::InternalFrom { .. } => ErrorCode::Internal,
    }
}

/// An error body: `{"error": message, "code": name}`.
pub fn error_body(code: ErrorCode, message: impl Into<String>) -> Value {
    json!({ "error": message.into(), "code": code.name() })
}

/// An error response with `status` (the code's own, but where a body-less
/// response of another status gets a body) and the code kept in the
/// response's extensions for the request log.
pub fn error_response(status: StatusCode, code: ErrorCode, body: &Value) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    res.insert_header((CONTENT_TYPE, "application/json"));
    let mut res = res.body(body.to_string());
    res.extensions_mut().insert(code);
    res
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code().status()
    }

    fn error_response(&self) -> HttpResponse {
        let code = self.code();
        let message = match code {
            ErrorCode::Internal => {
                tracing::error!(error = %self, "internal error");
                "internal error".to_string()
            }
            ErrorCode::StoreUnavailable => {
                tracing::warn!(error = %self, "store unavailable");
                "storage is temporarily unavailable; retry shortly".to_string()
            }
            _ => self.to_string(),
        };
        let mut body = error_body(code, message);
        match self {
            ApiError::Domain(DomainError::InvalidProps(errs)) => {
                body["details"] = json!({ "props": errs });
            }
            ApiError::Domain(DomainError::ActionFailed(f)) => {
                body["details"] = f.details.clone();
                body["os"] = f.os.clone().into();
            }
            _ => {}
        }
        let mut res = error_response(code.status(), code, &body);
        if let Some(secs) = self.retry_after() {
            res.headers_mut().insert(RETRY_AFTER, secs.into());
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;
    use switchboard_domain::{ActionFailure, FailureCode};

    use super::*;

    async fn reply(e: ApiError) -> (StatusCode, Option<String>, Value) {
        let res = e.error_response();
        let retry = res
            .headers()
            .get(RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_string());
        let status = res.status();
        let body = to_bytes(res.into_body()).await.unwrap();
        (status, retry, serde_json::from_slice(&body).unwrap())
    }

    /// Statuses are what they were before the catalogue; each body names
    /// its code, and messages of 5xx reveal nothing.
    #[actix_web::test]
    async fn domain_errors_keep_their_status_and_carry_a_code() {
        let cases: Vec<(DomainError, u16, &str)> = vec![
            (DomainError::Invalid("bad".into()), 400, "invalid_request"),
            (DomainError::InvalidProps(vec![]), 400, "invalid_props"),
            (DomainError::Unauthorized("who".into()), 401, "unauthorized"),
            (DomainError::Forbidden("no".into()), 403, "forbidden"),
            (
                DomainError::quota_exceeded("accounts per user", "accounts_per_user", 1),
                403,
                "quota_exceeded",
            ),
            (
                DomainError::NotFound("account \"apn_x\" not found".into()),
                404,
                "not_found",
            ),
            (
                DomainError::Unprocessable("exists".into()),
                422,
                "unprocessable",
            ),
            (
                DomainError::IdempotencyKeyReused("other body".into()),
                422,
                "idempotency_key_reused",
            ),
            (
                DomainError::InProgress {
                    message: "running".into(),
                    retry_after_secs: 2,
                },
                409,
                "request_in_progress",
            ),
            (
                DomainError::UserBeingDeleted {
                    message: "deleted".into(),
                    retry_after_secs: 3,
                },
                409,
                "user_being_deleted",
            ),
            (DomainError::Upstream("down".into()), 502, "upstream_error"),
            (
                DomainError::UpstreamTimeout("slow".into()),
                504,
                "upstream_timeout",
            ),
            (
                DomainError::RateLimited {
                    message: "slow down".into(),
                    retry_after_secs: 4,
                },
                429,
                "rate_limited",
            ),
            (
                StoreError::Unavailable("redis down".into()).into(),
                503,
                "store_unavailable",
            ),
            (StoreError::Backend("oops".into()).into(), 500, "internal"),
            (DomainError::internal("secret detail"), 500, "internal"),
            (
                DomainError::internal_from("reading", std::io::Error::other("secret detail")),
                500,
                "internal",
            ),
        ];
        for (e, status, code) in cases {
            let what = format!("{e:?}");
            let (st, retry, body) = reply(e.into()).await;
            assert_eq!(st.as_u16(), status, "{what}");
            assert_eq!(body["code"], code, "{what}");
            let msg = body["error"].as_str().unwrap();
            assert!(!msg.is_empty() && !msg.contains("secret"), "{what}: {msg}");
            let expect_retry = matches!(status, 409 | 429 | 503);
            assert_eq!(retry.is_some(), expect_retry, "{what}");
        }
        let (_, _, body) =
            reply(DomainError::NotFound("account \"apn_x\" not found".into()).into()).await;
        assert_eq!(
            body,
            json!({"error": "account \"apn_x\" not found", "code": "not_found"})
        );
    }

    #[actix_web::test]
    async fn action_failures_keep_their_codes_and_details() {
        let f = ActionFailure::new(FailureCode::StepFailed, "boom", json!({"status": 500}), &[]);
        let (st, _, body) = reply(DomainError::ActionFailed(Box::new(f)).into()).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["code"], "step_failed");
        assert_eq!(body["error"], "boom");
        assert_eq!(body["details"]["status"], 500);
        assert!(body["os"].is_array());

        let f = ActionFailure::new(FailureCode::InvalidRequest, "bad URL", Value::Null, &[]);
        let (st, _, body) = reply(DomainError::ActionFailed(Box::new(f)).into()).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["code"], "action_invalid");
    }
}
