//! The one place errors become HTTP: every failure is JSON `{"error": …}`
//! with a 4xx that says what is wrong, or a 5xx that reveals nothing.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, RETRY_AFTER};
use actix_web::{HttpResponse, ResponseError};
use switchboard_domain::Error as DomainError;
use switchboard_domain::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Domain(DomainError::RateLimited {
                retry_after_secs, ..
            }) => Some(*retry_after_secs),
            ApiError::Domain(DomainError::InProgress {
                retry_after_secs, ..
            }) => Some(*retry_after_secs),
            ApiError::Domain(DomainError::Store(StoreError::Unavailable(_))) => Some(1),
            _ => None,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Domain(e) => match e {
                DomainError::Invalid(_) | DomainError::InvalidProps(_) => StatusCode::BAD_REQUEST,
                DomainError::ActionFailed(_) | DomainError::Unprocessable(_) => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                DomainError::InProgress { .. } => StatusCode::CONFLICT,
                DomainError::Upstream(_) => StatusCode::BAD_GATEWAY,
                DomainError::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
                DomainError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
                DomainError::Forbidden(_) => StatusCode::FORBIDDEN,
                DomainError::NotFound(_) => StatusCode::NOT_FOUND,
                DomainError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
                DomainError::Store(StoreError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
                DomainError::Store(_) | DomainError::Crypto(_) | DomainError::Internal(_) => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            },
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let message = match status {
            StatusCode::INTERNAL_SERVER_ERROR => {
                tracing::error!(error = %self, "internal error");
                "internal error".to_string()
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                tracing::warn!(error = %self, "store unavailable");
                "storage is temporarily unavailable; retry shortly".to_string()
            }
            _ => self.to_string(),
        };
        let mut res = HttpResponse::build(status);
        res.insert_header((CONTENT_TYPE, "application/json"));
        if let Some(secs) = self.retry_after() {
            res.insert_header((RETRY_AFTER, secs.to_string()));
        }
        let mut body = serde_json::json!({ "error": message });
        match self {
            ApiError::Domain(DomainError::InvalidProps(errs)) => {
                body["code"] = "invalid_props".into();
                body["details"] = serde_json::json!({ "props": errs });
            }
            ApiError::Domain(DomainError::ActionFailed(f)) => {
                body["code"] = f.code.clone().into();
                body["details"] = f.details.clone();
                body["os"] = f.os.clone().into();
            }
            _ => {}
        }
        res.body(body.to_string())
    }
}
