//! Cross-cutting request handling: body and query limits, CORS for browser
//! calls, JSON bodies on every error (including actix's own 404/405/413),
//! and the access log.

use std::future::Future;
use std::time::Instant;

use actix_web::body::BoxBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use serde_json::json;

use crate::ctx::ApprovedOrigin;
use crate::error::ApiError;

pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |err, _req| {
            match err {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => ApiError::PayloadTooLarge(
                    format!("request body is larger than the {limit}-byte limit"),
                ),
                JsonPayloadError::ContentType => {
                    ApiError::BadRequest("Content-Type must be application/json".into())
                }
                JsonPayloadError::Deserialize(e) => {
                    ApiError::BadRequest(format!("invalid JSON body: {e}"))
                }
                e => ApiError::BadRequest(format!("invalid request body: {e}")),
            }
            .into()
        })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let QueryPayloadError::Deserialize(e) = err else {
            return ApiError::BadRequest("invalid query string".into()).into();
        };
        ApiError::BadRequest(format!("invalid query string: {e}")).into()
    })
}

/// Marks a request that matched no route (answered by `no_route` or
/// before routing), so the access log does not match its path against
/// every route again (`match_pattern` would, at a cost linear in the path).
#[derive(Clone, Copy)]
struct Unrouted;

pub async fn no_route(req: HttpRequest) -> HttpResponse {
    req.extensions_mut().insert(Unrouted);
    ApiError::NotFound(format!("no route for {} {}", req.method(), req.path())).error_response()
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
        Some(HttpResponse::build(StatusCode::URI_TOO_LONG).json(json!({
            "error": format!("the request {what} is {n} bytes long; the maximum is {max}")
        })))
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

fn canonical_error(status: StatusCode) -> HttpResponse {
    let msg = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "request body is too large".to_string(),
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed on this path".to_string(),
        s => s.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    HttpResponse::build(status).json(json!({ "error": msg }))
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

pub fn access_log<S>(
    req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<BoxBody>, actix_web::Error>> + use<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = actix_web::Error>,
{
    let start = Instant::now();
    let method = req.method().clone();
    let fut = srv.call(req);
    async move {
        let res = fut.await?;
        // The route pattern, never the path: paths and queries may carry
        // tokens (tokens/{ctok}/validate) and user ids.
        let unrouted = res.request().extensions().contains::<Unrouted>();
        let path = (!unrouted)
            .then(|| res.request().match_pattern())
            .flatten()
            .unwrap_or_else(|| "(no route)".into());
        tracing::info!(
            target: "switchboard::http",
            method = %method,
            path = %path,
            status = res.status().as_u16(),
            ms = start.elapsed().as_secs_f64() * 1000.0,
            "request"
        );
        Ok(res)
    }
}
