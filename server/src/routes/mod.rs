//! Route table. Project-scoped resources are served both under
//! `/v1/connect/{project}/…` (server credentials) and the project-less
//! `/v1/connect/…` the browser client uses with a connect token.

mod accounts;
mod apps;
mod health;
mod oauth;
mod tokens;
mod users;

use actix_web::web::{self, delete, get, post};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", get().to(health::healthz))
        .route("/readyz", get().to(health::readyz))
        .route("/apps/{app}/logo.svg", get().to(apps::logo))
        .route("/v1/oauth/token", post().to(oauth::token))
        .service(
            web::scope("/v1/connect")
                // Not project-scoped.
                .route("/apps", get().to(apps::list))
                .route("/apps/{app_id}", get().to(apps::retrieve))
                .route("/app_categories", get().to(apps::categories))
                .route("/app_categories/{id}", get().to(apps::category))
                .route("/tokens/{ctok}/validate", get().to(tokens::validate))
                // Project-less (connect token) forms.
                .route("/accounts", get().to(accounts::list))
                .route("/accounts", post().to(accounts::create))
                .route("/accounts/{account_id}", get().to(accounts::retrieve))
                .route("/accounts/{account_id}", delete().to(accounts::delete))
                .route(
                    "/users/{external_user_id}/accounts",
                    get().to(users::accounts),
                )
                // Project-scoped.
                .route("/{project}/tokens", post().to(tokens::create))
                .route("/{project}/accounts", get().to(accounts::list))
                .route("/{project}/accounts", post().to(accounts::create))
                .route(
                    "/{project}/accounts/{account_id}",
                    get().to(accounts::retrieve),
                )
                .route(
                    "/{project}/accounts/{account_id}",
                    delete().to(accounts::delete),
                )
                .route(
                    "/{project}/apps/{app_id}/accounts",
                    delete().to(accounts::delete_for_app),
                )
                .route("/{project}/users", get().to(users::list))
                .route(
                    "/{project}/users/{external_user_id}",
                    delete().to(users::delete),
                )
                .route(
                    "/{project}/users/{external_user_id}/accounts",
                    get().to(users::accounts),
                ),
        );
}
