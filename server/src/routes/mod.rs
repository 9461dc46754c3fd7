//! Route table. Project-scoped resources are served both under
//! `/v1/connect/{project}/…` (server credentials) and the project-less
//! `/v1/connect/…` the browser client uses with a connect token. One
//! resource per path, so a wrong method gets 405 rather than 404.

pub(crate) mod accounts;
pub(crate) mod actions;
pub(crate) mod app_hooks;
pub(crate) mod app_overrides;
pub(crate) mod apps;
pub(crate) mod components;
pub(crate) mod connect_page;
pub(crate) mod deliveries;
pub(crate) mod file_stash;
pub(crate) mod health;
pub(crate) mod oauth;
pub(crate) mod oauth_apps;
pub(crate) mod projects;
pub(crate) mod proxy;
pub mod table;
pub(crate) mod tokens;
pub(crate) mod triggers;
pub(crate) mod usage;
pub(crate) mod users;
pub(crate) mod webhook;

use actix_web::web;

use components::Prefix;
use table::res;

/// `/x` and `/{project}/x`.
fn both(path: &str) -> [String; 2] {
    [path.to_string(), format!("/{{project}}{path}")]
}

/// `components`, `actions` and `triggers` share their routes; each
/// resource carries which prefix it serves.
fn catalog(cfg: &mut web::ServiceConfig, prefix: Prefix, name: &str) {
    let data = web::Data::new(prefix);
    let shared = |path: String| res(both(&path)).app_data(data.clone());
    cfg.service(shared(format!("/{name}/configure")).post(components::configure))
        .service(shared(format!("/{name}/props")).post(components::reload_props));
    match prefix {
        Prefix::Components => {
            cfg.service(
                shared("/components".into())
                    .get(components::list)
                    .post(components::create_private),
            )
            .service(
                shared("/components/{key}".into())
                    .get(components::retrieve)
                    .put(components::update_private)
                    .delete(components::delete_private),
            );
        }
        _ => {
            if matches!(prefix, Prefix::Actions) {
                cfg.service(res(both("/actions/run")).post(actions::run));
            }
            if matches!(prefix, Prefix::Triggers) {
                cfg.service(res(both("/triggers/deploy")).post(triggers::deploy));
            }
            cfg.service(shared(format!("/{name}")).get(components::list))
                .service(shared(format!("/{name}/{{key}}")).get(components::retrieve));
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(res(["/healthz"]).get(health::healthz))
        .service(res(["/openapi.json"]).get(crate::openapi::document_json))
        .service(res(["/readyz"]).get(health::readyz))
        .service(res(["/apps/{app}/logo.svg"]).get(apps::logo))
        .service(res(["/v1/oauth/token"]).post(oauth::token))
        .service(res(["/_static/connect.html"]).get(connect_page::show))
        .service(res(["/_static/connect.js"]).get(connect_page::script))
        .service(res(["/_static/connect/keys"]).post(connect_page::submit_keys))
        .service(
            res(["/_static/connect/oauth/start"])
                .get(connect_page::oauth_start)
                .post(connect_page::oauth_start_form),
        )
        .service(res(["/_static/connect/oauth/callback"]).get(connect_page::oauth_callback))
        .service(res(["/_static/connect/logo/{project}"]).get(projects::show_logo))
        // Before `/hooks/{hook_id}/…`, which would also match it.
        .service(res(["/hooks/apps/{ingress_id}/{env}"]).post(app_hooks::inbound))
        .service(res(["/hooks/{hook_id}", "/hooks/{hook_id}/{tail:.*}"]).any(triggers::inbound))
        .service(web::scope(CONNECT).configure(|c| table::under(CONNECT, || connect(c))));
}

/// Served under `/v1/connect`.
const CONNECT: &str = "/v1/connect";

fn connect(cfg: &mut web::ServiceConfig) {
    cfg
        // Not project-scoped.
        .service(res(["/apps"]).get(apps::list))
        .service(res(["/apps/{app_id}"]).get(apps::retrieve))
        .service(res(["/app_categories"]).get(apps::categories))
        .service(res(["/app_categories/{id}"]).get(apps::category))
        .service(res(["/tokens/{ctok}/validate"]).get(tokens::validate))
        // `projects/info` before `projects/{project}`, which would
        // take "info" for a project id.
        .service(res(both("/projects/info")).get(projects::info))
        .service(
            res(["/projects"])
                .get(projects::list)
                .post(projects::create),
        )
        .service(
            res(["/projects/{project}"])
                .get(projects::retrieve)
                .patch(projects::update)
                .delete(projects::delete),
        )
        .service(res(["/projects/{project}/logo"]).post(projects::logo))
        // The client's own project (`Ctx` resolves it without a path).
        .service(res(both("/usage")).get(usage::list))
        .configure(|c| catalog(c, Prefix::Components, "components"))
        .configure(|c| catalog(c, Prefix::Actions, "actions"))
        .configure(|c| catalog(c, Prefix::Triggers, "triggers"))
        // Project-less (connect token) and project-scoped forms.
        // Before `accounts/{account_id}`, which would take "export" for an id.
        .service(res(["/{project}/accounts/export"]).get(accounts::export))
        .service(
            res(["/accounts", "/{project}/accounts"])
                .get(accounts::list)
                .post(accounts::create),
        )
        .service(
            res(["/accounts/{account_id}", "/{project}/accounts/{account_id}"])
                .get(accounts::retrieve)
                .delete(accounts::delete),
        )
        .service(
            res([
                "/users/{external_user_id}/accounts",
                "/{project}/users/{external_user_id}/accounts",
            ])
            .get(users::accounts),
        )
        .service(res(["/{project}/tokens"]).post(tokens::create))
        .service(res(both("/file_stash/download")).get(file_stash::download))
        .service(res(both("/proxy/{url_64}")).any(proxy::forward))
        .service(
            res(["/{project}/webhook"])
                .get(webhook::get)
                .put(webhook::put)
                .delete(webhook::delete),
        )
        .service(res(["/{project}/webhook/regenerate_signing_key"]).post(webhook::regenerate))
        .service(res(["/{project}/deliveries/failed"]).get(deliveries::failed))
        .service(res(["/{project}/deliveries/redeliver"]).post(deliveries::redeliver_range))
        .service(res(["/{project}/deliveries/{delivery_id}/attempts"]).get(deliveries::attempts))
        .service(res(["/{project}/deliveries/{delivery_id}/redeliver"]).post(deliveries::redeliver))
        .service(res(both("/deployed-triggers")).get(triggers::list))
        .service(
            res(both("/deployed-triggers/{trigger_id}"))
                .get(triggers::retrieve)
                .put(triggers::update)
                .delete(triggers::delete),
        )
        .service(res(both("/deployed-triggers/{trigger_id}/events")).get(triggers::events))
        .service(
            res(both("/deployed-triggers/{trigger_id}/pipelines"))
                .get(triggers::pipelines)
                .put(triggers::pipelines),
        )
        .service(
            res(both("/deployed-triggers/{trigger_id}/webhooks"))
                .get(triggers::webhooks)
                .put(triggers::set_webhooks),
        )
        .service(
            res(both(
                "/deployed-triggers/{trigger_id}/webhooks/{webhook_id}",
            ))
            .get(triggers::webhook),
        )
        .service(
            res(both(
                "/deployed-triggers/{trigger_id}/webhooks/{webhook_id}/regenerate_signing_key",
            ))
            .post(triggers::regenerate_key),
        )
        .service(
            res(both(
                "/deployed-triggers/{trigger_id}/webhooks/{webhook_id}/reset_delivery_state",
            ))
            .post(triggers::reset_delivery_state),
        )
        .service(
            res(["/{project}/oauth_apps"])
                .get(oauth_apps::list)
                .post(oauth_apps::create),
        )
        .service(
            res(["/{project}/oauth_apps/{id}"])
                .get(oauth_apps::retrieve)
                .put(oauth_apps::update)
                .delete(oauth_apps::delete),
        )
        .service(
            res(["/{project}/app_overrides"])
                .get(app_overrides::list)
                .post(app_overrides::create),
        )
        .service(
            res(["/{project}/app_overrides/{id}"])
                .get(app_overrides::retrieve)
                .put(app_overrides::update)
                .delete(app_overrides::delete),
        )
        .service(res(["/{project}/apps/{app_id}/accounts"]).delete(accounts::delete_for_app))
        .service(res(["/{project}/users"]).get(users::list))
        .service(res(["/{project}/users/{external_user_id}"]).delete(users::delete));
}

/// `?app=&limit=&after=&before=`: a page of a project's per-app records
/// (OAuth apps, app overrides).
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AppPageQuery {
    app: Option<String>,
    limit: Option<usize>,
    after: Option<String>,
    before: Option<String>,
}

impl AppPageQuery {
    pub fn split(self) -> (Option<String>, switchboard_domain::paging::PageRequest) {
        let page = switchboard_domain::paging::PageRequest {
            limit: self.limit,
            after: self.after,
            before: self.before,
        };
        (self.app, page)
    }
}
