//! The app catalog: `apps`, `apps/{id}`, `app_categories`, and the logos
//! `img_src` points at (served here, so no page needs a third-party asset).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use switchboard_components::{App, ManifestKind};

use crate::ctx::{Authed, core, path_param};
use crate::error::{ApiError, ApiResult};
use crate::wire;

fn category_id(name: &str) -> String {
    let slug: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("cat_{slug}")
}

fn flag(v: &str, name: &str) -> ApiResult<bool> {
    v.parse()
        .map_err(|_| ApiError::bad_request(format!("{name} must be true or false")))
}

#[utoipa::path(
    get,
    path = "/v1/connect/apps",
    tag = "apps",
    summary = "List apps.",
    responses((status = 200, description = "A page of apps: `{data, page_info}`.", body = Object))
)]
pub async fn list(auth: Authed, q: web::Query<Vec<(String, String)>>) -> ApiResult<HttpResponse> {
    let params = q.into_inner();
    let search = params
        .iter()
        .find(|(k, _)| k == "q")
        .map(|(_, v)| v.as_str());
    // Ranked by relevance to `q` (the catalog's order) unless a sort is asked for.
    let mut apps: Vec<&App> = auth.core.catalog.search_apps(search);
    let (mut sort_key, mut desc, mut limit, mut after, mut before) =
        (None::<String>, false, 10usize, None, None);
    let mut categories = Vec::new();
    // `has_*=true` keeps apps with such components, `=false` those without.
    let mut has: Vec<(Option<ManifestKind>, bool)> = Vec::new();
    for (k, v) in params {
        match k.as_str() {
            "sort_key" => match v.as_str() {
                "name" | "name_slug" | "featured_weight" => sort_key = Some(v),
                _ => {
                    return Err(ApiError::bad_request(
                        "sort_key must be name, name_slug or featured_weight".into(),
                    ));
                }
            },
            "sort_direction" => match v.as_str() {
                "asc" => desc = false,
                "desc" => desc = true,
                _ => {
                    return Err(ApiError::bad_request(
                        "sort_direction must be asc or desc".into(),
                    ));
                }
            },
            "category_ids" => categories.push(v),
            "has_components" => has.push((None, flag(&v, &k)?)),
            "has_actions" => has.push((Some(ManifestKind::Action), flag(&v, &k)?)),
            "has_triggers" => has.push((Some(ManifestKind::Trigger), flag(&v, &k)?)),
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| {
                        ApiError::bad_request("limit must be an integer from 1 to 100".into())
                    })?
            }
            "after" => after = Some(v),
            "before" => before = Some(v),
            _ => {}
        }
    }
    for (kind, want) in has {
        let with = auth.core.catalog.apps_with_components(kind);
        apps.retain(|a| with.contains(a.name_slug.as_str()) == want);
    }
    if !categories.is_empty() {
        apps.retain(|a| {
            a.categories
                .iter()
                .any(|c| categories.contains(&category_id(c)))
        });
    }
    match sort_key.as_deref() {
        Some("name") => apps.sort_by(|a, b| a.name.cmp(&b.name)),
        Some("featured_weight") => apps.sort_by_key(|a| a.featured_weight),
        Some(_) => apps.sort_by(|a, b| a.name_slug.cmp(&b.name_slug)),
        None => {}
    }
    if desc {
        apps.reverse();
    }
    // Cursors are positions in this ordering.
    let pos = |c: &Option<String>, name: &str| -> ApiResult<Option<usize>> {
        c.as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<usize>().map_err(|_| {
                    ApiError::bad_request(format!("{name} is not a cursor from this API"))
                })
            })
            .transpose()
    };
    let total = apps.len();
    let (start, end) = match (pos(&after, "after")?, pos(&before, "before")?) {
        (_, Some(b)) => {
            let b = b.min(total);
            (b.saturating_sub(limit), b)
        }
        (Some(a), None) => {
            let from = a.saturating_add(1).min(total);
            (from, from.saturating_add(limit).min(total))
        }
        (None, None) => (0, limit.min(total)),
    };
    let base = &auth.core.settings.public_base;
    let data: Vec<Value> = apps[start..end]
        .iter()
        .map(|a| wire::app(a, base))
        .collect();
    let has_page = end > start;
    Ok(HttpResponse::Ok().json(json!({
        "data": data,
        "page_info": {
            "count": data.len(),
            "total_count": total,
            "start_cursor": has_page.then(|| start.to_string()),
            "end_cursor": (has_page && end < total).then(|| (end - 1).to_string()),
        }
    })))
}

#[utoipa::path(
    get,
    path = "/v1/connect/apps/{app_id}",
    tag = "apps",
    summary = "Retrieve an app.",
    responses((status = 200, description = "`{data: App}`.", body = Object))
)]
pub async fn retrieve(auth: Authed, req: HttpRequest) -> ApiResult<HttpResponse> {
    let id = path_param(&req, "app_id")?;
    let app = auth
        .core
        .catalog
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("app {id:?} not found")))?;
    Ok(HttpResponse::Ok().json(json!({"data": wire::app(app, &auth.core.settings.public_base)})))
}

fn all_categories(auth: &Authed) -> Vec<Value> {
    let mut names: Vec<&String> = auth
        .core
        .catalog
        .apps()
        .iter()
        .flat_map(|a| &a.categories)
        .collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|n| json!({"id": category_id(n), "name": n, "description": ""}))
        .collect()
}

#[utoipa::path(
    get,
    path = "/v1/connect/app_categories",
    tag = "apps",
    summary = "List app categories.",
    responses((status = 200, description = "The categories.", body = Object))
)]
pub async fn categories(auth: Authed) -> HttpResponse {
    HttpResponse::Ok().json(all_categories(&auth))
}

#[utoipa::path(
    get,
    path = "/v1/connect/app_categories/{id}",
    tag = "apps",
    summary = "Retrieve an app category.",
    responses((status = 200, description = "The category.", body = Object))
)]
pub async fn category(auth: Authed, req: HttpRequest) -> ApiResult<HttpResponse> {
    let id = path_param(&req, "id")?;
    all_categories(&auth)
        .into_iter()
        .find(|c| c["id"] == id.as_str())
        .map(|c| HttpResponse::Ok().json(c))
        .ok_or_else(|| ApiError::not_found(format!("category {id:?} not found")))
}

/// A generated monogram, so catalog entries need no third-party image.
#[utoipa::path(
    get,
    path = "/apps/{app}/logo.svg",
    tag = "apps",
    summary = "An app's logo.",
    responses((status = 200, description = "The SVG logo.", body = Object))
)]
pub async fn logo(req: HttpRequest) -> ApiResult<HttpResponse> {
    let slug = path_param(&req, "app")?;
    let core = core(&req);
    let app = core
        .catalog
        .get(&slug)
        .ok_or_else(|| ApiError::not_found(format!("app {slug:?} not found")))?;
    let letter = app.name.chars().next().unwrap_or('?').to_ascii_uppercase();
    let hue = app
        .name_slug
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b.into()))
        % 360;
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 64 64\" role=\"img\" aria-label=\"{name}\">\
<rect width=\"64\" height=\"64\" rx=\"14\" fill=\"hsl({hue},55%,42%)\"/>\
<text x=\"32\" y=\"43\" font-family=\"sans-serif\" font-size=\"32\" font-weight=\"700\" fill=\"#fff\" text-anchor=\"middle\">{letter}</text></svg>",
        name = app
            .name
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('"', "&quot;"),
    );
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(svg))
}
