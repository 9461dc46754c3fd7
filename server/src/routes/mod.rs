//! Route table. Project-scoped resources are served both under
//! `/v1/connect/{project}/…` (server credentials) and the project-less
//! `/v1/connect/…` the browser client uses with a connect token. One
//! resource per path, so a wrong method gets 405 rather than 404.

mod accounts;
mod actions;
mod app_hooks;
mod app_overrides;
mod apps;
mod components;
mod connect_page;
mod deliveries;
mod file_stash;
pub(crate) mod health;
mod oauth;
mod oauth_apps;
mod projects;
mod proxy;
mod tokens;
mod triggers;
mod usage;
mod users;
mod webhook;

use actix_web::web::{self, delete, get, resource};

use components::Prefix;

/// `/x` and `/{project}/x`.
fn both(path: &str) -> [String; 2] {
    [path.to_string(), format!("/{{project}}{path}")]
}

/// `components`, `actions` and `triggers` share their routes; each
/// resource carries which prefix it serves.
fn catalog(cfg: &mut web::ServiceConfig, prefix: Prefix, name: &str) {
    let data = web::Data::new(prefix);
    let res = |path: String| resource(both(&path)).app_data(data.clone());
    cfg.service(res(format!("/{name}/configure")).post(components::configure))
        .service(res(format!("/{name}/props")).post(components::reload_props));
    match prefix {
        Prefix::Components => {
            cfg.service(
                res("/components".into())
                    .get(components::list)
                    .post(components::create_private),
            )
            .service(
                res("/components/{key}".into())
                    .get(components::retrieve)
                    .put(components::update_private)
                    .delete(components::delete_private),
            );
        }
        _ => {
            if matches!(prefix, Prefix::Actions) {
                cfg.service(resource(both("/actions/run")).post(actions::run));
            }
            if matches!(prefix, Prefix::Triggers) {
                cfg.service(resource(both("/triggers/deploy")).post(triggers::deploy));
            }
            cfg.service(res(format!("/{name}")).get(components::list))
                .service(res(format!("/{name}/{{key}}")).get(components::retrieve));
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/healthz").get(health::healthz))
        .service(resource("/readyz").get(health::readyz))
        .service(resource("/apps/{app}/logo.svg").get(apps::logo))
        .service(resource("/v1/oauth/token").post(oauth::token))
        .service(resource("/_static/connect.html").get(connect_page::show))
        .service(resource("/_static/connect.js").get(connect_page::script))
        .service(resource("/_static/connect/keys").post(connect_page::submit_keys))
        .service(
            resource("/_static/connect/oauth/start")
                .get(connect_page::oauth_start)
                .post(connect_page::oauth_start_form),
        )
        .service(resource("/_static/connect/oauth/callback").get(connect_page::oauth_callback))
        .service(resource("/_static/connect/logo/{project}").get(projects::show_logo))
        // Before `/hooks/{hook_id}/…`, which would also match it.
        .service(resource("/hooks/apps/{ingress_id}/{env}").post(app_hooks::inbound))
        .service(
            resource(["/hooks/{hook_id}", "/hooks/{hook_id}/{tail:.*}"])
                .route(web::route().to(triggers::inbound)),
        )
        .service(
            web::scope("/v1/connect")
                // Not project-scoped.
                .service(resource("/apps").get(apps::list))
                .service(resource("/apps/{app_id}").get(apps::retrieve))
                .service(resource("/app_categories").get(apps::categories))
                .service(resource("/app_categories/{id}").get(apps::category))
                .service(resource("/tokens/{ctok}/validate").get(tokens::validate))
                // `projects/info` before `projects/{project}`, which would
                // take "info" for a project id.
                .service(resource(both("/projects/info")).get(projects::info))
                .service(resource("/projects").get(projects::list).post(projects::create))
                .service(
                    resource("/projects/{project}")
                        .get(projects::retrieve)
                        .patch(projects::update)
                        .delete(projects::delete),
                )
                .service(resource("/projects/{project}/logo").post(projects::logo))
                // The client's own project (`Ctx` resolves it without a path).
                .service(resource(both("/usage")).get(usage::list))
                .configure(|c| catalog(c, Prefix::Components, "components"))
                .configure(|c| catalog(c, Prefix::Actions, "actions"))
                .configure(|c| catalog(c, Prefix::Triggers, "triggers"))
                // Project-less (connect token) and project-scoped forms.
                // Before `accounts/{account_id}`, which would take "export" for an id.
                .service(resource("/{project}/accounts/export").get(accounts::export))
                .service(
                    resource(["/accounts", "/{project}/accounts"])
                        .get(accounts::list)
                        .post(accounts::create),
                )
                .service(
                    resource(["/accounts/{account_id}", "/{project}/accounts/{account_id}"])
                        .get(accounts::retrieve)
                        .delete(accounts::delete),
                )
                .service(
                    resource([
                        "/users/{external_user_id}/accounts",
                        "/{project}/users/{external_user_id}/accounts",
                    ])
                    .get(users::accounts),
                )
                .service(resource("/{project}/tokens").post(tokens::create))
                .service(resource(both("/file_stash/download")).get(file_stash::download))
                .service(resource(both("/proxy/{url_64}")).route(web::route().to(proxy::forward)))
                .service(
                    resource("/{project}/webhook")
                        .get(webhook::get)
                        .put(webhook::put)
                        .delete(webhook::delete),
                )
                .service(resource("/{project}/webhook/regenerate_signing_key").post(webhook::regenerate))
                .service(resource("/{project}/deliveries/failed").get(deliveries::failed))
                .service(resource("/{project}/deliveries/redeliver").post(deliveries::redeliver_range))
                .service(resource("/{project}/deliveries/{delivery_id}/attempts").get(deliveries::attempts))
                .service(resource("/{project}/deliveries/{delivery_id}/redeliver").post(deliveries::redeliver))
                .service(resource(both("/deployed-triggers")).get(triggers::list))
                .service(
                    resource(both("/deployed-triggers/{trigger_id}"))
                        .get(triggers::retrieve)
                        .put(triggers::update)
                        .delete(triggers::delete),
                )
                .service(
                    resource(both("/deployed-triggers/{trigger_id}/events")).get(triggers::events),
                )
                .service(
                    resource(both("/deployed-triggers/{trigger_id}/pipelines"))
                        .get(triggers::pipelines)
                        .put(triggers::pipelines),
                )
                .service(
                    resource(both("/deployed-triggers/{trigger_id}/webhooks"))
                        .get(triggers::webhooks)
                        .put(triggers::set_webhooks),
                )
                .service(
                    resource(both("/deployed-triggers/{trigger_id}/webhooks/{webhook_id}"))
                        .get(triggers::webhook),
                )
                .service(
                    resource(both(
                        "/deployed-triggers/{trigger_id}/webhooks/{webhook_id}/regenerate_signing_key",
                    ))
                    .post(triggers::regenerate_key),
                )
                .service(
                    resource(both(
                        "/deployed-triggers/{trigger_id}/webhooks/{webhook_id}/reset_delivery_state",
                    ))
                    .post(triggers::reset_delivery_state),
                )
                .service(
                    resource("/{project}/oauth_apps")
                        .get(oauth_apps::list)
                        .post(oauth_apps::create),
                )
                .service(
                    resource("/{project}/oauth_apps/{id}")
                        .get(oauth_apps::retrieve)
                        .put(oauth_apps::update)
                        .delete(oauth_apps::delete),
                )
                .service(
                    resource("/{project}/app_overrides")
                        .get(app_overrides::list)
                        .post(app_overrides::create),
                )
                .service(
                    resource("/{project}/app_overrides/{id}")
                        .get(app_overrides::retrieve)
                        .put(app_overrides::update)
                        .delete(app_overrides::delete),
                )
                .service(
                    resource("/{project}/apps/{app_id}/accounts")
                        .route(delete().to(accounts::delete_for_app)),
                )
                .service(resource("/{project}/users").route(get().to(users::list)))
                .service(
                    resource("/{project}/users/{external_user_id}")
                        .route(delete().to(users::delete)),
                ),
        );
}

/// `?app=&limit=&after=&before=`: a page of a project's per-app records
/// (OAuth apps, app overrides).
#[derive(serde::Deserialize)]
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
