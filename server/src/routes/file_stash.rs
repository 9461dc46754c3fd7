//! `file_stash/download`: a file an action run stashed
//! (`domain/src/actions/stash.rs`), streamed back with its content type.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::ctx::Ctx;
use crate::error::{ApiError, ApiResult};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadQuery {
    s3_key: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/connect/{project}/file_stash/download",
    tag = "file stash",
    summary = "Download a stashed file.",
    params(DownloadQuery),
    responses((status = 200, description = "The file.", body = Object))
)]
pub async fn download(ctx: Ctx, q: web::Query<DownloadQuery>) -> ApiResult<HttpResponse> {
    // Whoever may run actions may read what they return.
    ctx.caller.require_scope("connect:actions:run")?;
    let key = q
        .into_inner()
        .s3_key
        .ok_or_else(|| ApiError::bad_request("s3_key is required".into()))?;
    let f = ctx.core.actions.stashed_file(&ctx.tenant, &key).await?;
    Ok(HttpResponse::Ok()
        .content_type(f.meta.content_type)
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header(("content-disposition", "attachment"))
        .body(f.bytes))
}
