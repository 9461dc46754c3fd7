//! The application as a library: build it from a `Config` (store, keyring,
//! catalog, then the HTTP listener and the workers), run it until a signal,
//! and shut it down draining in-flight work. The binary's `serve`, `work`
//! and `all` are this with a role; tests build it in-process.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use switchboard_config::Config;
use switchboard_domain::components::{AppOverride, Catalog, openapi};
use switchboard_domain::ops::rotation::{KeyringSource, load_keyring};
use switchboard_domain::tenancy::projects::ClientCredentials;
use switchboard_domain::{Core, CoreSettings, open_store};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What one process does: today's `serve`, `work` and `all` commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Roles {
    /// The HTTP API only.
    Serve,
    /// The background workers only.
    Work,
    /// Both (the default).
    All,
}

impl Roles {
    pub fn serves(self) -> bool {
        matches!(self, Roles::Serve | Roles::All)
    }

    pub fn works(self) -> bool {
        matches!(self, Roles::Work | Roles::All)
    }
}

/// A built application: its `Core`, and the API and workers already
/// running on the current tokio runtime (the API's request handlers on
/// actix's own threads).
pub struct Application {
    core: Arc<Core>,
    config: Config,
    api: Option<Api>,
    /// `worker.health_listen`'s `/healthz` and `/readyz` (work role only).
    health: Option<Api>,
    workers: Option<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

/// A running HTTP server: the API, or a worker process's health endpoints.
struct Api {
    addr: SocketAddr,
    handle: ServerHandle,
    task: JoinHandle<std::io::Result<()>>,
}

impl Application {
    /// API and workers in one process (`all`).
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        Self::build_with(config, Roles::All).await
    }

    /// Binds the listener first (`listen` may ask for port 0: a
    /// `public_url` on port 0 then gets the bound port, so links and
    /// inbound URLs point here), opens the store, keyring and catalog, then
    /// starts the API and/or the workers. Serving on a fresh store with
    /// `bootstrap.dev_project` also creates the development project. A
    /// process that only works serves `/healthz` and `/readyz` on
    /// `worker.health_listen` when it is set.
    pub async fn build_with(mut config: Config, roles: Roles) -> anyhow::Result<Application> {
        let listener = if roles.serves() {
            let l = TcpListener::bind(&config.listen)
                .with_context(|| format!("cannot listen on {}", config.listen))?;
            let port = l.local_addr()?.port();
            config.public_url = with_bound_port(&config.public_url, port);
            Some(l)
        } else {
            None
        };
        // Bound before the store opens, like the API, so a bad address
        // fails the start at once.
        let health_listener = match config.worker.health_listen.trim() {
            addr if !addr.is_empty() && !roles.serves() => Some(
                TcpListener::bind(addr)
                    .with_context(|| format!("cannot listen on worker.health_listen {addr}"))?,
            ),
            _ => None,
        };
        let (core, _) = open_core(&config).await?;
        tracing::info!(
            store = core.store.kind(),
            serve = roles.serves(),
            work = roles.works(),
            "switchboard starting"
        );
        if roles.serves() && config.bootstrap.dev_project {
            bootstrap(&config, &core).await?;
        }
        let (stop, stop_rx) = watch::channel(false);
        let api = match listener {
            Some(listener) => {
                let bound = switchboard_server::bind(
                    core.clone(),
                    listener,
                    switchboard_server::ServerSettings {
                        max_body_bytes: config.http.max_body_bytes,
                        workers: config.http.workers,
                        shutdown_grace: Duration::from_secs(config.http.shutdown_grace_secs),
                    },
                )?;
                tracing::info!(addr = %bound.addr, public_url = %config.public_base(), "API listening");
                eprintln!(
                    "switchboard: API listening on http://{} ({} store)",
                    bound.addr,
                    core.store.kind()
                );
                Some(Api {
                    addr: bound.addr,
                    handle: bound.handle,
                    task: tokio::spawn(bound.server),
                })
            }
            None => None,
        };
        let started = Arc::new(AtomicBool::new(false));
        let health = match health_listener {
            Some(listener) => {
                let probe = WorkerProbe {
                    core: core.clone(),
                    started: started.clone(),
                    stop: stop_rx.clone(),
                };
                let h = serve_worker_health(probe, listener)?;
                tracing::info!(addr = %h.addr, "worker health endpoints listening");
                Some(h)
            }
            None => None,
        };
        let workers = roles.works().then(|| {
            let run = switchboard_worker::run(
                core.clone(),
                switchboard_worker::WorkerSettings::from_config(&config),
                stop_rx,
            );
            tokio::spawn(async move {
                // The loops start in this task's first poll, with `run`'s.
                started.store(true, Ordering::Release);
                run.await
            })
        });
        Ok(Application {
            core,
            config,
            api,
            health,
            workers,
            stop,
        })
    }

    /// The domain, for calling its logic directly.
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// The configuration in effect (with the bound port in `public_url`).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where the API listens; `None` when it does not serve.
    pub fn address(&self) -> Option<SocketAddr> {
        self.api.as_ref().map(|a| a.addr)
    }

    pub fn port(&self) -> Option<u16> {
        self.address().map(|a| a.port())
    }

    /// `http://<address>`, to reach the API from this machine.
    pub fn base_url(&self) -> Option<String> {
        self.address().map(|a| format!("http://{a}"))
    }

    /// Where a work-only process answers `/healthz` and `/readyz`
    /// (`worker.health_listen`); `None` when it does not.
    pub fn health_address(&self) -> Option<SocketAddr> {
        self.health.as_ref().map(|h| h.addr)
    }

    /// `http://<health_address>`.
    pub fn health_url(&self) -> Option<String> {
        self.health_address().map(|a| format!("http://{a}"))
    }

    /// Runs until SIGTERM or Ctrl-C, then shuts down gracefully.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Runs until `stop` completes (or the API stops on its own), then
    /// shuts down gracefully.
    pub async fn run_until(
        mut self,
        stop: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let ended = match self.api.as_mut() {
            Some(api) => tokio::select! {
                _ = stop => None,
                ended = &mut api.task => Some(ended),
            },
            None => {
                stop.await;
                None
            }
        };
        let Some(ended) = ended else {
            return self.shutdown().await;
        };
        // The server ended without being asked: stop the workers, say why.
        self.api = None;
        let _ = self.stop.send(true);
        if let Some(w) = self.workers.take() {
            w.await.context("worker task")?;
        }
        ended.context("server task")??;
        anyhow::bail!("the API server stopped unexpectedly")
    }

    /// Stops accepting, lets in-flight requests finish (up to
    /// `http.shutdown_grace_secs`), and lets the workers commit what they
    /// started (the same grace) before returning.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        tracing::info!("shutdown requested: draining in-flight work");
        let _ = self.stop.send(true);
        if let Some(api) = self.api.take() {
            api.handle.stop(true).await; // graceful: stop accepting, finish in-flight requests
            api.task.await.context("server task")??;
        }
        if let Some(w) = self.workers.take() {
            w.await.context("worker task")?;
        }
        // Last, so probes see 503 (draining) for as long as the drain lasts.
        if let Some(h) = self.health.take() {
            h.handle.stop(true).await;
            h.task.await.context("health server task")??;
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Dropped without `shutdown` (a test that ends early): the workers stop at
/// their next tick and the API closes at once, without draining.
impl Drop for Application {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for server in [&self.api, &self.health].into_iter().flatten() {
            // The command is sent now; its completion is not awaited.
            drop(server.handle.stop(false));
        }
    }
}

/// What a work-only process's `/readyz` looks at.
struct WorkerProbe {
    core: Arc<Core>,
    /// Set when the worker loops start.
    started: Arc<AtomicBool>,
    /// `true` from the shutdown request on: draining.
    stop: watch::Receiver<bool>,
}

/// `/healthz` and `/readyz` on `listener`, for a process without the API
/// (whose own are in `switchboard_server`, not reachable from here).
fn serve_worker_health(probe: WorkerProbe, listener: TcpListener) -> std::io::Result<Api> {
    let addr = listener.local_addr()?;
    let probe = web::Data::new(probe);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(probe.clone())
            .route("/healthz", web::get().to(switchboard_server::healthz))
            .route("/readyz", web::get().to(worker_readyz))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run();
    Ok(Api {
        addr,
        handle: server.handle(),
        task: tokio::spawn(server),
    })
}

/// Readiness: the worker loops run and are not draining, and the store
/// answers (the API's own check).
async fn worker_readyz(
    probe: web::Data<WorkerProbe>,
) -> Result<HttpResponse, switchboard_server::ApiError> {
    let unavailable = |status: &str| {
        Ok(HttpResponse::ServiceUnavailable().json(serde_json::json!({"status": status})))
    };
    if *probe.stop.borrow() {
        return unavailable("draining");
    }
    if !probe.started.load(Ordering::Acquire) {
        return unavailable("starting");
    }
    switchboard_server::store_ready(&probe.core).await
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// `public_url` with port 0 replaced by the bound port (any other URL is
/// kept as given: behind a proxy the public port is not the bound one).
fn with_bound_port(public_url: &str, port: u16) -> String {
    let Some((scheme, rest)) = public_url.split_once("://") else {
        return public_url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.strip_suffix(":0") {
        Some(host) => format!("{scheme}://{host}:{port}{path}"),
        None => public_url.to_string(),
    }
}

/// Opens the store, the keyring (checked against the store) and the
/// catalog (with `[apps]` overrides): everything `Core` needs. The admin
/// commands use it alone, without serving.
pub async fn open_core(cfg: &Config) -> anyhow::Result<(Arc<Core>, KeyringSource)> {
    let store = open_store(&cfg.redis_url, &cfg.redis_key_prefix, &cfg.data_dir)
        .await
        .context("cannot open the store")?;
    let (keyring, source) = load_keyring(
        &cfg.encryption.active_key,
        &cfg.encryption.keys,
        &cfg.data_dir,
    )
    .context("cannot load the encryption keyring")?;
    let (mut catalog, reports) = Catalog::with_providers(&cfg.catalog.providers)
        .map_err(anyhow::Error::msg)
        .context("cannot load the component catalog")?;
    for (path, r) in cfg.catalog.providers.iter().zip(&reports) {
        tracing::info!(
            file = %path.display(),
            imported = r.imported(),
            refused = r.refused(),
            "provider catalog imported (`switchboard catalog check-providers` lists the refusals)"
        );
    }
    for src in &cfg.catalog.openapi {
        let sel = openapi::Selection {
            app: src.app.clone(),
            include: src.include.clone(),
            exclude: src.exclude.clone(),
        };
        let started = std::time::Instant::now();
        let r = catalog
            .add_openapi_file(&src.spec, &sel)
            .map_err(anyhow::Error::msg)
            .context("cannot load the component catalog")?;
        tracing::info!(
            file = %src.spec.display(),
            app = %src.app,
            generated = r.generated,
            shadowed = r.shadowed,
            refused = r.refused,
            ms = started.elapsed().as_millis() as u64,
            "OpenAPI actions generated (`switchboard catalog check-openapi` lists the refusals)"
        );
    }
    let overrides: Vec<(String, AppOverride)> = cfg
        .apps
        .iter()
        .map(|(slug, e)| {
            (
                slug.clone(),
                AppOverride {
                    base_url: e.base_url.clone(),
                    authorize_url: e.authorize_url.clone(),
                    token_url: e.token_url.clone(),
                    refresh_url: e.refresh_url.clone(),
                    request_token_url: e.request_token_url.clone(),
                    refresh_margin_secs: e.refresh_margin_secs,
                },
            )
        })
        .collect();
    catalog
        .apply_overrides(overrides.iter().map(|(s, o)| (s, o)))
        .map_err(anyhow::Error::msg)
        .context("invalid [apps] configuration")?;
    let core = Core::new(store, keyring, catalog, core_settings(cfg))
        .await
        .context("refusing to start")?;
    Ok((Arc::new(core), source))
}

/// The domain's settings, copied from the configuration: the one place
/// where a new `Config` key reaches `Core`.
pub fn core_settings(cfg: &Config) -> CoreSettings {
    CoreSettings {
        public_base: cfg.public_base().to_string(),
        access_token_ttl_secs: cfg.auth.access_token_ttl_secs,
        connect_token_ttl_secs: cfg.auth.connect_token_ttl_secs,
        tokens_per_user_per_minute: cfg.rate_limits.tokens_per_user_per_minute,
        hook_requests_per_minute: cfg.rate_limits.hook_requests_per_minute,
        in_flight_per_tenant: cfg.rate_limits.in_flight_per_tenant,
        accounts_per_project_per_5min: cfg.rate_limits.accounts_per_project_per_5min,
        accounts_per_user_per_5min: cfg.rate_limits.accounts_per_user_per_5min,
        allow_private_networks: cfg.outbound.allow_private_networks.clone(),
        proxy_timeout_secs: cfg.outbound.proxy_timeout_secs,
        events_retained: cfg.triggers.events_retained,
        min_interval_secs: cfg.triggers.min_interval_secs,
        key_overlap_secs: cfg.delivery.key_overlap_secs,
        delivery_per_endpoint: cfg.delivery.per_endpoint,
        delivery_per_tenant: cfg.delivery.per_tenant,
        delivery_in_flight: cfg.delivery.in_flight,
        ticks_per_tenant: cfg.triggers.ticks_per_tenant,
        retry_schedule_secs: cfg.delivery.retry_schedule_secs.clone(),
        // Never shorter than two attempts' timeouts, or live deliveries move.
        deactivate_after_secs: cfg.delivery.deactivate_after_secs,
        refresh_touch_secs: cfg.accounts.refresh_touch_secs,
        refresh_retry_min_secs: cfg.accounts.refresh_retry_min_secs,
        refresh_retry_max_secs: cfg.accounts.refresh_retry_max_secs,
        account_dead_after_secs: cfg.accounts.dead_after_secs,
        dedupe_unique_bound: cfg.triggers.dedupe_unique_bound,
        poll_failures_notify_after: cfg.triggers.poll_failures_notify_after,
        retention: switchboard_domain::Retention {
            dead_letter_secs: cfg.retention.dead_letter_secs,
            events_secs: cfg.retention.events_secs,
            user_tombstone_secs: cfg.retention.user_tombstone_secs,
        },
        quotas: switchboard_domain::Quotas {
            deployments_per_user: cfg.quotas.deployments_per_user,
            deployments_per_environment: cfg.quotas.deployments_per_environment,
            accounts_per_user: cfg.quotas.accounts_per_user,
            webhooks_per_deployment: cfg.quotas.webhooks_per_deployment,
            private_components_per_project: cfg.quotas.private_components_per_project,
        },
        delivery_lease_ms: cfg
            .delivery
            .lease_secs
            .max(2 * cfg.delivery.timeout_secs.max(1))
            * 1000,
    }
}

/// First start on an empty store: a project with development credentials,
/// shown once and kept in `<data_dir>/credentials.json` (mode 0600).
async fn bootstrap(cfg: &Config, core: &Core) -> anyhow::Result<()> {
    let path = cfg.data_dir.join("credentials.json");
    let Some((project, creds)) = core.tenancy.bootstrap("Development").await? else {
        if path.exists() {
            eprintln!(
                "switchboard: development credentials are in {}",
                path.display()
            );
        }
        return Ok(());
    };
    write_private(&path, &credentials_json(&project.id, &creds, cfg))?;
    eprintln!(
        "\nswitchboard: created project {:?} ({})\n\n  PIPEDREAM_BASE_URL={}\n  PIPEDREAM_PROJECT_ID={}\n  \
         PIPEDREAM_CLIENT_ID={}\n  PIPEDREAM_CLIENT_SECRET={}\n  PIPEDREAM_PROJECT_ENVIRONMENT=development\n\n\
         The secret is shown once; it is also in {}.\n",
        project.name,
        project.id,
        cfg.public_base(),
        project.id,
        creds.client_id,
        creds.client_secret,
        path.display()
    );
    Ok(())
}

/// Client credentials as `credentials.json` and `admin --json` show them.
pub fn credentials_json(
    project_id: &str,
    c: &ClientCredentials,
    cfg: &Config,
) -> serde_json::Value {
    serde_json::json!({
        "base_url": cfg.public_base(),
        "project_id": project_id,
        "client_id": c.client_id,
        "client_secret": c.client_secret,
        "scopes": c.scopes,
        "environments": c.environments,
    })
}

fn write_private(path: &Path, value: &serde_json::Value) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(serde_json::to_string_pretty(value)?.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::with_bound_port;

    #[test]
    fn only_a_public_url_on_port_0_takes_the_bound_port() {
        assert_eq!(
            with_bound_port("http://127.0.0.1:0", 4321),
            "http://127.0.0.1:4321"
        );
        assert_eq!(
            with_bound_port("http://127.0.0.1:0/sb/", 4321),
            "http://127.0.0.1:4321/sb/"
        );
        for kept in [
            "https://hooks.example.com",
            "http://127.0.0.1:8080",
            "http://h:10",
        ] {
            assert_eq!(with_bound_port(kept, 4321), kept);
        }
    }
}
