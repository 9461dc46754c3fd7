//! Request context extractors: who is calling (bearer token) and which
//! tenant (project in the path, `x-pd-environment`) the request acts in.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{AUTHORIZATION, ORIGIN};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use percent_encoding::percent_decode_str;
use switchboard_domain::model::Tenant;
use switchboard_domain::tenancy::auth::Caller;
use switchboard_domain::{Core, Error as DomainError, validate};

use crate::error::ApiError;

/// An origin the caller's connect token allows; the CORS middleware echoes it.
#[derive(Clone)]
pub struct ApprovedOrigin(pub String);

/// An authenticated caller acting in one tenant.
pub struct Ctx {
    pub core: web::Data<Core>,
    pub caller: Caller,
    pub tenant: Tenant,
}

/// Proof of an authenticated caller, for endpoints that are not tenant-scoped.
pub struct Authed {
    pub core: web::Data<Core>,
}

fn bearer(req: &HttpRequest) -> Result<String, ApiError> {
    let missing =
        || DomainError::Unauthorized("missing bearer token in the Authorization header".into());
    let h = req.headers().get(AUTHORIZATION).ok_or_else(missing)?;
    let h = h.to_str().map_err(|_| missing())?;
    let (scheme, token) = h.split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(missing().into());
    }
    Ok(token.trim().to_string())
}

pub fn core(req: &HttpRequest) -> web::Data<Core> {
    req.app_data::<web::Data<Core>>()
        .cloned()
        .expect("Core is registered as app data")
}

/// Percent-decodes a path parameter. actix leaves `%`, `/` and `+`
/// encoded; both SDKs' encodings of ids end up the same after this.
/// Every id is bounded here, at the edge (400 when too long): external
/// user ids to 250 characters, other ids to 128; `url_64` (the proxy's
/// target) is bounded by the request line alone.
pub fn path_param(req: &HttpRequest, name: &str) -> Result<String, ApiError> {
    let raw = req
        .match_info()
        .get(name)
        .ok_or_else(|| ApiError::bad_request(format!("missing path parameter {name}")))?;
    let v = percent_decode(raw).ok_or_else(|| {
        ApiError::bad_request(format!("path parameter {name} is not valid UTF-8"))
    })?;
    match name {
        "url_64" => {}
        "external_user_id" => validate::external_user_id_len(&v)?,
        _ => validate::id(name, &v)?,
    }
    Ok(v)
}

/// `%XX` decoded; a `%` not followed by two hex digits stays as it is.
/// `None` when the bytes are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(Cow::into_owned)
}

type Fut<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

impl FromRequest for Authed {
    type Error = ApiError;
    type Future = Fut<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let core = core(req);
        let token = bearer(req);
        let req = req.clone();
        Box::pin(async move {
            let caller = core.tenancy.authenticate(&token?).await?;
            check_origin(&req, &caller)?;
            Ok(Authed { core })
        })
    }
}

impl FromRequest for Ctx {
    type Error = ApiError;
    type Future = Fut<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let core = core(req);
        let token = bearer(req);
        let project = req
            .match_info()
            .get("project")
            .map(|_| path_param(req, "project"));
        let env = req
            .headers()
            .get("x-pd-environment")
            .map(|v| v.to_str().map(str::to_string));
        let req = req.clone();
        Box::pin(async move {
            let caller = core.tenancy.authenticate(&token?).await?;
            let project = project.transpose()?;
            let env = env
                .transpose()
                .map_err(|_| ApiError::bad_request("x-pd-environment is not valid text".into()))?;
            let tenant = core
                .tenancy
                .resolve_tenant(&caller, project.as_deref(), env.as_deref())
                .await?;
            check_origin(&req, &caller)?;
            Ok(Ctx {
                core,
                caller,
                tenant,
            })
        })
    }
}

/// Browser calls with a connect token must come from one of its
/// `allowed_origins`.
fn check_origin(req: &HttpRequest, caller: &Caller) -> Result<(), ApiError> {
    let (Caller::Connect(t), Some(origin)) = (caller, req.headers().get(ORIGIN)) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("");
    if !t.allowed_origins.iter().any(|o| o == origin) {
        return Err(DomainError::Forbidden(format!(
            "origin {origin:?} is not in this connect token's allowed_origins"
        ))
        .into());
    }
    req.extensions_mut()
        .insert(ApprovedOrigin(origin.to_string()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn decodes_what_actix_leaves_encoded() {
        assert_eq!(
            percent_decode("user%2Fwith%20slash").unwrap(),
            "user/with slash"
        );
        assert_eq!(percent_decode("a%2Bb%25").unwrap(), "a+b%");
        assert_eq!(percent_decode("bad%zz%").unwrap(), "bad%zz%");
        assert_eq!(percent_decode("%+1").unwrap(), "%+1");
        assert!(percent_decode("%ff").is_none());
    }
}
