//! Cross-cutting request handling: body and query limits, CORS for browser
//! calls, JSON bodies with a catalogued code on every error (including
//! actix's own 404/405/413), and the request span and access log.

use std::future::Future;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};

use crate::codes::ErrorCode;
use crate::ctx::ApprovedOrigin;
use crate::error::{ApiError, error_body, error_response};

pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |err, _req| {
            match err {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    format!("request body is larger than the {limit}-byte limit"),
                ),
                JsonPayloadError::ContentType => ApiError::new(
                    ErrorCode::InvalidContentType,
                    "Content-Type must be application/json",
                ),
                JsonPayloadError::Deserialize(e) => {
                    ApiError::new(ErrorCode::InvalidJson, format!("invalid JSON body: {e}"))
                }
                e => ApiError::bad_request(format!("invalid request body: {e}")),
            }
            .into()
        })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let message = match err {
            QueryPayloadError::Deserialize(e) => format!("invalid query string: {e}"),
            _ => "invalid query string".into(),
        };
        ApiError::new(ErrorCode::InvalidQuery, message).into()
    })
}

/// Marks a request that matched no route (answered by `no_route` or
/// before routing), so the access log does not match its path against
/// every route again (`match_pattern` would, at a cost linear in the path).
#[derive(Clone, Copy)]
struct Unrouted;

pub async fn no_route(req: HttpRequest) -> HttpResponse {
    req.extensions_mut().insert(Unrouted);
    ApiError::new(
        ErrorCode::RouteNotFound,
        format!("no route for {} {}", req.method(), req.path()),
    )
    .error_response()
}

fn preflight(req: &ServiceRequest) -> Option<HttpResponse> {
    let origin = req.headers().get(header::ORIGIN)?;
    if req.method() != Method::OPTIONS
        || !req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return None;
    }
    // Preflights carry no credentials; the real request is checked against
    // the connect token's allowed_origins.
    let allow_headers = req
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_static("authorization, content-type, x-pd-environment")
        });
    Some(
        HttpResponse::NoContent()
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone()))
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_METHODS,
                "GET, POST, PUT, PATCH, DELETE",
            ))
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, allow_headers))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
            .insert_header((header::VARY, "Origin"))
            .finish(),
    )
}

/// The longest request target (path and query) served, and the longest
/// path segment (but the proxy's `url_64`, which encodes a whole URL).
/// Anything longer is refused before routing: no id or token needs more, and
/// matching a long segment against every route pattern costs time (about
/// 30 ms for 8 KiB on the release build) that an unauthenticated caller
/// could otherwise spend at will.
const MAX_URI_BYTES: usize = 8 << 10;
const MAX_SEGMENT_BYTES: usize = 512;

fn uri_too_long(req: &ServiceRequest) -> Option<HttpResponse> {
    let n = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    let too_long = |what: &str, n: usize, max: usize| {
        Some(
            ApiError::new(
                ErrorCode::UriTooLong,
                format!("the request {what} is {n} bytes long; the maximum is {max}"),
            )
            .error_response(),
        )
    };
    if n > MAX_URI_BYTES {
        return too_long("URI", n, MAX_URI_BYTES);
    }
    let mut previous = "";
    for segment in req.uri().path().split('/') {
        if segment.len() > MAX_SEGMENT_BYTES && previous != "proxy" {
            return too_long("path segment", segment.len(), MAX_SEGMENT_BYTES);
        }
        previous = segment;
    }
    None
}

/// The JSON body of an error response that had none (actix's own, or one
/// passed through): the generic code of its status, the status unchanged.
fn canonical_error(status: StatusCode) -> HttpResponse {
    let msg = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "request body is too large".to_string(),
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed on this path".to_string(),
        s => s.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let code = ErrorCode::of_status(status);
    error_response(status, code, &error_body(code, msg))
}

pub fn cors_and_json_errors<S>(
    req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<BoxBody>, actix_web::Error>> + use<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = actix_web::Error>,
{
    let early = uri_too_long(&req).or_else(|| preflight(&req)).map(|r| {
        req.extensions_mut().insert(Unrouted);
        ServiceResponse::new(req.request().clone(), r)
    });
    let fut = early.is_none().then(|| srv.call(req));
    async move {
        if let Some(r) = early {
            return Ok(r);
        }
        let mut res = fut.expect("called unless answered early").await?;
        // JSON errors stay; so do the hosted pages' own HTML error pages.
        let own_body = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
            v.as_bytes().starts_with(b"application/json") || v.as_bytes().starts_with(b"text/html")
        });
        if res.status().as_u16() >= 400 && !own_body {
            let status = res.status();
            res = res.into_response(canonical_error(status));
        }
        let approved = res.request().extensions().get::<ApprovedOrigin>().cloned();
        if let Some(ApprovedOrigin(o)) = approved
            && let Ok(v) = HeaderValue::from_str(&o)
        {
            res.headers_mut()
                .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            res.headers_mut()
                .insert(header::VARY, HeaderValue::from_static("Origin"));
        }
        Ok(res)
    }
}

/// When the request arrived, for the access log.
struct Started(Instant);

/// The root span of each request (`tracing-actix-web`), and the access log
/// line at its end. The span carries the request id, so every event logged
/// while serving a request can be told apart; the access log names the
/// route pattern, never the path or query: paths and queries carry tokens
/// (`tokens/{ctok}/validate`, the connect page's `token=`, the OAuth
/// callback's `code=` and `state=`) and user ids. The library's default span
/// records the whole target, client address and user agent, hence our own.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(req: &ServiceRequest) -> Span {
        req.extensions_mut().insert(Started(Instant::now()));
        let id = req.extensions().get::<RequestId>().copied();
        match id {
            Some(id) => tracing::info_span!("request", request_id = %id),
            None => tracing::info_span!("request"),
        }
    }

    fn on_request_end<B: MessageBody>(
        _span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        let res = match outcome {
            Ok(res) => res,
            // Not answered by any layer here (every error of ours is a
            // response by now); actix answers it with its status.
            Err(e) => {
                tracing::info!(
                    target: "switchboard::http",
                    status = e.as_response_error().status_code().as_u16(),
                    "request"
                );
                return;
            }
        };
        let req = res.request();
        // `match_pattern` matches the path against every route again (linear
        // in the path), so not for requests already known to match none.
        let unrouted = req.extensions().contains::<Unrouted>();
        let path = (!unrouted)
            .then(|| req.match_pattern())
            .flatten()
            .unwrap_or_else(|| "(no route)".into());
        let ms = req
            .extensions()
            .get::<Started>()
            .map_or(0.0, |s| s.0.elapsed().as_secs_f64() * 1000.0);
        let code = res.response().extensions().get::<ErrorCode>().copied();
        tracing::info!(
            target: "switchboard::http",
            method = %req.method(),
            path = %path,
            status = res.status().as_u16(),
            code = code.map(ErrorCode::name),
            ms,
            "request"
        );
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::CONTENT_TYPE;
    use actix_web::test::{self as at, TestRequest};
    use actix_web::{App, web};
    use serde::Deserialize;
    use serde_json::{Value, json};
    use switchboard_domain::Error as DomainError;
    use tracing_actix_web::TracingLogger;

    use super::*;

    #[derive(Deserialize)]
    struct Body {
        #[allow(dead_code)]
        name: String,
    }

    #[derive(Deserialize)]
    struct Query {
        #[allow(dead_code)]
        n: u32,
    }

    async fn json_body(_: web::Json<Body>) -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    async fn query(_: web::Query<Query>) -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    async fn bytes(_: web::Bytes) -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    async fn missing() -> Result<HttpResponse, ApiError> {
        Err(DomainError::NotFound("account \"apn_x\" not found".into()).into())
    }

    /// The status, `code` and `error` of each request's answer, through the
    /// same layers `bind` stacks (no Core needed).
    async fn answers(reqs: Vec<TestRequest>) -> Vec<(u16, String, String)> {
        let app = at::init_service(
            App::new()
                .app_data(json_config(64))
                .app_data(query_config())
                .app_data(web::PayloadConfig::new(64))
                .wrap_fn(cors_and_json_errors)
                .wrap(TracingLogger::<RequestSpan>::new())
                .service(web::resource("/json").post(json_body))
                .route("/query", web::get().to(query))
                .route("/bytes", web::post().to(bytes))
                .route("/missing", web::get().to(missing))
                .default_service(web::to(no_route)),
        )
        .await;
        let mut out = Vec::new();
        for r in reqs {
            let res = at::call_service(&app, r.to_request()).await;
            let status = res.status().as_u16();
            let ct = res.headers().get(CONTENT_TYPE).cloned();
            let body: Value = at::read_body_json(res).await;
            assert_eq!(ct.unwrap(), "application/json", "{body}");
            let s = |k: &str| body[k].as_str().unwrap_or_default().to_string();
            out.push((status, s("code"), s("error")));
        }
        out
    }

    #[actix_web::test]
    async fn failures_carry_their_catalogued_code() {
        let post = |uri: &str| TestRequest::post().uri(uri);
        let got = answers(vec![
            post("/json")
                .insert_header((CONTENT_TYPE, "application/json"))
                .set_payload("{\"name\":"),
            post("/json").set_json(json!({"name": 5})),
            post("/json")
                .insert_header((CONTENT_TYPE, "text/plain"))
                .set_payload("{}"),
            post("/json").set_json(json!({"name": "x".repeat(100)})),
            post("/bytes").set_payload(vec![b'x'; 100]),
            TestRequest::get().uri("/query?n=many"),
            TestRequest::get().uri("/nowhere"),
            TestRequest::get().uri("/json"),
            TestRequest::get().uri("/missing"),
            TestRequest::get().uri(&format!("/{}", "a".repeat(600))),
        ])
        .await;
        let want: [(u16, &str, &str); 10] = [
            (400, "invalid_json", "invalid JSON body"),
            (400, "invalid_json", "invalid type"),
            (
                400,
                "invalid_content_type",
                "Content-Type must be application/json",
            ),
            (413, "payload_too_large", "larger than the 64-byte limit"),
            (413, "payload_too_large", "request body is too large"),
            (400, "invalid_query", "invalid query string"),
            (404, "route_not_found", "no route for GET /nowhere"),
            (405, "method_not_allowed", "method not allowed on this path"),
            (404, "not_found", "account \"apn_x\" not found"),
            (414, "uri_too_long", "path segment is 600 bytes long"),
        ];
        for ((status, code, error), (ws, wc, we)) in got.iter().zip(want) {
            assert_eq!((*status, code.as_str()), (ws, wc), "{error}");
            assert!(error.contains(we), "{code}: {error:?} lacks {we:?}");
        }
    }

    #[test]
    fn codes_of_bodyless_errors_keep_the_status() {
        for status in [400, 401, 404, 405, 408, 411, 413, 415, 500, 502] {
            let status = StatusCode::from_u16(status).unwrap();
            let res = canonical_error(status);
            assert_eq!(res.status(), status);
            let code = *res.extensions().get::<ErrorCode>().unwrap();
            assert_eq!(code, ErrorCode::of_status(status));
        }
    }
}
