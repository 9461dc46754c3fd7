//! Route table. Project-scoped resources are served both under
//! `/v1/connect/{project}/…` (server credentials) and the project-less
//! `/v1/connect/…` the browser client uses with a connect token. One
//! resource per path, so a wrong method gets 405 rather than 404.

mod accounts;
mod apps;
mod health;
mod oauth;
mod tokens;
mod users;

use actix_web::web::{self, delete, get, resource};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/healthz").get(health::healthz))
        .service(resource("/readyz").get(health::readyz))
        .service(resource("/apps/{app}/logo.svg").get(apps::logo))
        .service(resource("/v1/oauth/token").post(oauth::token))
        .service(
            web::scope("/v1/connect")
                // Not project-scoped.
                .service(resource("/apps").get(apps::list))
                .service(resource("/apps/{app_id}").get(apps::retrieve))
                .service(resource("/app_categories").get(apps::categories))
                .service(resource("/app_categories/{id}").get(apps::category))
                .service(resource("/tokens/{ctok}/validate").get(tokens::validate))
                // Project-less (connect token) and project-scoped forms.
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
