//! The catalogue of error codes. Every error body is
//! `{"error": "<message>", "code": "<name>", …}`: the message is for people
//! and may change; the code is for programs and never does. Each code has
//! one HTTP status. `docs/errors.md` lists them (a test keeps it in step).

use actix_web::http::StatusCode;
use switchboard_domain::FailureCode;

macro_rules! catalogue {
    ($($variant:ident => $name:literal, $status:ident, $meaning:literal;)+) => {
        /// A stable, machine-readable error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(#[doc = $meaning] $variant,)+
        }

        impl ErrorCode {
            /// Every code, in the order `docs/errors.md` lists them.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The wire name: snake_case, stable.
            pub fn name(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)+
                }
            }

            /// The HTTP status every response with this code has.
            pub fn status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$variant => StatusCode::$status,)+
                }
            }

            /// What the code means, for the docs.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $meaning,)+
                }
            }
        }
    };
}

catalogue! {
    InvalidRequest => "invalid_request", BAD_REQUEST,
        "The request is malformed or a value in it is not valid; the message says which.";
    InvalidJson => "invalid_json", BAD_REQUEST,
        "The body is not JSON, or not of the expected shape (a missing field, a wrong type).";
    InvalidContentType => "invalid_content_type", BAD_REQUEST,
        "A JSON endpoint was sent a body whose Content-Type is not application/json.";
    InvalidQuery => "invalid_query", BAD_REQUEST,
        "The query string has a value of the wrong type or an unknown form.";
    InvalidProps => "invalid_props", BAD_REQUEST,
        "Some configured_props are wrong; `details.props` names each one and why.";
    Unauthorized => "unauthorized", UNAUTHORIZED,
        "Missing, unknown, revoked or expired credentials.";
    Forbidden => "forbidden", FORBIDDEN,
        "Valid credentials that may not do this (scope, environment, origin, project, address policy).";
    QuotaExceeded => "quota_exceeded", FORBIDDEN,
        "A configured quota is used up; the message names it (quotas.<key>).";
    NotFound => "not_found", NOT_FOUND,
        "The project, account, component, trigger or other object does not exist (or is not yours).";
    RouteNotFound => "route_not_found", NOT_FOUND,
        "No endpoint has this path.";
    MethodNotAllowed => "method_not_allowed", METHOD_NOT_ALLOWED,
        "The path exists but does not take this method.";
    RequestInProgress => "request_in_progress", CONFLICT,
        "A request with the same Idempotency-Key is still running; retry after Retry-After.";
    UserBeingDeleted => "user_being_deleted", CONFLICT,
        "The external user is being deleted, or was deleted too recently to be used again; retry after Retry-After.";
    PayloadTooLarge => "payload_too_large", PAYLOAD_TOO_LARGE,
        "The body is larger than the server's limit (http.max_body_bytes).";
    UriTooLong => "uri_too_long", URI_TOO_LONG,
        "The request target, or one path segment, is longer than the server accepts.";
    UnsupportedMediaType => "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE,
        "A form endpoint was sent a body of another media type.";
    Unprocessable => "unprocessable", UNPROCESSABLE_ENTITY,
        "Well-formed, but it cannot be done as asked (an object that already exists, a refused upstream call, a failed trigger hook).";
    WorkflowsNotSupported => "workflows_not_supported", UNPROCESSABLE_ENTITY,
        "Switchboard has no workflows, so a deployed trigger has no pipelines to list or set (`deployedTriggers.listWorkflows`/`updateWorkflows`); use its webhooks.";
    IdempotencyKeyReused => "idempotency_key_reused", UNPROCESSABLE_ENTITY,
        "This Idempotency-Key was used before with a different request.";
    StepFailed => "step_failed", UNPROCESSABLE_ENTITY,
        "An action step's request failed at the provider; `details` has the step, status and body.";
    Timeout => "timeout", UNPROCESSABLE_ENTITY,
        "The action did not finish within its time limit.";
    AuthError => "auth_error", UNPROCESSABLE_ENTITY,
        "The provider refused the account's credentials and they could not be refreshed.";
    TemplateError => "template_error", UNPROCESSABLE_ENTITY,
        "An action's template failed to render (a bad expression, or its fuel ran out).";
    Unreachable => "unreachable", UNPROCESSABLE_ENTITY,
        "The provider could not be reached during the action.";
    Blocked => "blocked", UNPROCESSABLE_ENTITY,
        "The action sent a request that policy refused (a private address or a foreign domain) after an earlier one had gone out.";
    TooLarge => "too_large", UNPROCESSABLE_ENTITY,
        "The provider's answer was larger than the action may read.";
    ActionInvalid => "action_invalid", UNPROCESSABLE_ENTITY,
        "The action could not build a request or read an answer (bad component data).";
    RateLimited => "rate_limited", TOO_MANY_REQUESTS,
        "Too many requests; retry after Retry-After.";
    Internal => "internal", INTERNAL_SERVER_ERROR,
        "A failure on the server's side; the message reveals nothing, the server's log has the cause.";
    UpstreamError => "upstream_error", BAD_GATEWAY,
        "The provider's API could not be reached, or refused a token refresh.";
    StoreUnavailable => "store_unavailable", SERVICE_UNAVAILABLE,
        "The store (Redis) is unreachable for now; retry after Retry-After.";
    UpstreamTimeout => "upstream_timeout", GATEWAY_TIMEOUT,
        "The provider's API did not answer in time.";
}

impl ErrorCode {
    /// The code an action failure's `code` stands for on the wire. The
    /// domain's `invalid_request` is sent as `action_invalid`: the
    /// catalogue's `invalid_request` is a 400.
    pub fn of_action(code: &FailureCode) -> ErrorCode {
        match code {
            FailureCode::StepFailed => ErrorCode::StepFailed,
            FailureCode::Timeout => ErrorCode::Timeout,
            FailureCode::AuthError => ErrorCode::AuthError,
            FailureCode::TemplateError => ErrorCode::TemplateError,
            FailureCode::Unreachable => ErrorCode::Unreachable,
            FailureCode::Blocked => ErrorCode::Blocked,
            FailureCode::TooLarge => ErrorCode::TooLarge,
            FailureCode::InvalidRequest => ErrorCode::ActionInvalid,
        }
    }

    /// The code for an error response actix made without a body (an
    /// extractor's or a resource's), or a body-less one passed through
    /// from a provider: the generic code of its status.
    pub fn of_status(status: StatusCode) -> ErrorCode {
        match status {
            StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
            StatusCode::FORBIDDEN => ErrorCode::Forbidden,
            StatusCode::NOT_FOUND => ErrorCode::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
            StatusCode::URI_TOO_LONG => ErrorCode::UriTooLong,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
            StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::Unprocessable,
            StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
            StatusCode::BAD_GATEWAY => ErrorCode::UpstreamError,
            StatusCode::SERVICE_UNAVAILABLE => ErrorCode::StoreUnavailable,
            StatusCode::GATEWAY_TIMEOUT => ErrorCode::UpstreamTimeout,
            s if s.is_server_error() => ErrorCode::Internal,
            _ => ErrorCode::InvalidRequest,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use actix_web::http::StatusCode;

    use super::ErrorCode;

    #[test]
    fn names_are_unique_snake_case_and_statuses_are_errors() {
        let mut seen = HashSet::new();
        for &c in ErrorCode::ALL {
            let n = c.name();
            assert!(seen.insert(n), "{n} is used twice");
            assert!(
                !n.is_empty()
                    && n.starts_with(|ch: char| ch.is_ascii_lowercase())
                    && !n.ends_with('_')
                    && !n.contains("__")
                    && n.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'),
                "{n} is not snake_case"
            );
            let s = c.status();
            assert!(
                s.is_client_error() || s.is_server_error(),
                "{n} has status {s}"
            );
            assert!(!c.meaning().is_empty(), "{n} has no meaning");
        }
    }

    #[test]
    fn action_codes_keep_their_wire_names() {
        use switchboard_domain::FailureCode::*;
        for f in [
            StepFailed,
            Timeout,
            AuthError,
            TemplateError,
            Unreachable,
            Blocked,
            TooLarge,
        ] {
            assert_eq!(ErrorCode::of_action(&f).name(), f.as_str());
        }
        assert_eq!(
            ErrorCode::of_action(&InvalidRequest),
            ErrorCode::ActionInvalid
        );
    }

    #[test]
    fn generic_codes_have_the_status_they_stand_for() {
        // A 409 is only ever sent with a body that names why, so it has no
        // generic code.
        for &c in ErrorCode::ALL
            .iter()
            .filter(|c| c.status() != StatusCode::CONFLICT)
        {
            let generic = ErrorCode::of_status(c.status());
            assert_eq!(generic.status(), c.status(), "{c}");
        }
    }

    /// docs/errors.md has one table row per code, `| `name` | status |`,
    /// and no row for a code that does not exist.
    #[test]
    fn docs_list_every_code() {
        let doc = include_str!("../../docs/errors.md");
        let rows: Vec<(&str, &str)> = doc
            .lines()
            .filter_map(|l| {
                let mut cells = l.trim().strip_prefix("| `")?.splitn(2, '`');
                let name = cells.next()?;
                let status = cells.next()?.trim_start_matches([' ', '|']);
                Some((name, status.split_whitespace().next()?))
            })
            .collect();
        for &c in ErrorCode::ALL {
            let status = c.status().as_u16().to_string();
            assert!(
                rows.contains(&(c.name(), status.as_str())),
                "docs/errors.md lacks the row for `{c}` ({status})"
            );
        }
        for (name, _) in &rows {
            assert!(
                ErrorCode::ALL.iter().any(|c| c.name() == *name),
                "docs/errors.md lists `{name}`, which is not a code"
            );
        }
        assert_eq!(rows.len(), ErrorCode::ALL.len(), "one row per code");
    }
}
