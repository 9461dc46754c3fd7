//! Switchboard's HTTP API (actix-web), wire-compatible with Pipedream
//! Connect. Handlers are thin: they parse, call `switchboard_domain::Core`,
//! and shape the reply; errors become HTTP in `error.rs` only.

mod codes;
mod ctx;
mod error;
mod middleware;
pub mod openapi;
mod routes;
mod wire;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};
use switchboard_domain::Core;
use tracing_actix_web::TracingLogger;

pub use codes::ErrorCode;
pub use error::ApiError;
/// The probes a work-only process answers too (`worker.health_listen`).
pub use routes::health::{healthz, store_ready};

pub struct ServerSettings {
    pub max_body_bytes: usize,
    pub workers: usize,
    pub shutdown_grace: Duration,
}

/// A bound, not yet running, server.
pub struct BoundServer {
    pub server: Server,
    pub handle: ServerHandle,
    pub addr: SocketAddr,
}

pub fn bind(
    core: Arc<Core>,
    listener: TcpListener,
    s: ServerSettings,
) -> std::io::Result<BoundServer> {
    let addr = listener.local_addr()?;
    let data = web::Data::from(core);
    let max_body = s.max_body_bytes;
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(middleware::json_config(max_body))
            .app_data(middleware::query_config())
            .app_data(web::PayloadConfig::new(max_body))
            .wrap_fn(middleware::cors_and_json_errors)
            .wrap(TracingLogger::<middleware::RequestSpan>::new())
            .configure(routes::configure)
            .default_service(web::to(middleware::no_route))
    })
    .disable_signals()
    .shutdown_timeout(s.shutdown_grace.as_secs())
    .listen(listener)?;
    if s.workers > 0 {
        server = server.workers(s.workers);
    }
    let server = server.run();
    Ok(BoundServer {
        handle: server.handle(),
        server,
        addr,
    })
}
