//! Start-up and shutdown: config, logging, store, keyring check, then the
//! API and/or workers until SIGTERM or Ctrl-C.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use switchboard_config::{Config, LogFormat, Overrides};
use switchboard_domain::components::{AppOverride, Catalog};
use switchboard_domain::ops::rotation::{KeyringSource, load_keyring};
use switchboard_domain::tenancy::projects::ClientCredentials;
use switchboard_domain::{Core, CoreSettings, open_store};
use tokio::sync::watch;

use crate::cli::{Cli, Command};

pub async fn main(cli: Cli) -> anyhow::Result<()> {
    let overrides = Overrides {
        listen: cli.global.listen.clone(),
        public_url: cli.global.public_url.clone(),
        data_dir: cli.global.data_dir.clone(),
        redis_url: cli.global.redis_url.clone(),
    };
    let cfg = Config::load(cli.global.config.as_deref(), &overrides)?;
    match cli.command.unwrap_or(Command::All) {
        Command::Admin { json, command } => {
            init_logging(&cfg, true);
            let (core, source) = open_core(&cfg).await?;
            crate::admin::run(&cfg, core, source, command, json).await
        }
        Command::Serve => run(cfg, true, false).await,
        Command::Work => run(cfg, false, true).await,
        Command::All => run(cfg, true, true).await,
    }
}

fn init_logging(cfg: &Config, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let level = if quiet {
        "warn"
    } else {
        cfg.log.level.as_str()
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match cfg.log.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

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
    let mut catalog = Catalog::builtin().context("the built-in component catalog is invalid")?;
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
                    refresh_margin_secs: e.refresh_margin_secs,
                },
            )
        })
        .collect();
    catalog
        .apply_overrides(overrides.iter().map(|(s, o)| (s, o)))
        .map_err(anyhow::Error::msg)
        .context("invalid [apps] configuration")?;
    let settings = CoreSettings {
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
    };
    let core = Core::new(store, keyring, catalog, settings)
        .await
        .context("refusing to start")?;
    Ok((Arc::new(core), source))
}

async fn run(cfg: Config, serve: bool, work: bool) -> anyhow::Result<()> {
    init_logging(&cfg, false);
    let (core, _) = open_core(&cfg).await?;
    tracing::info!(
        store = core.store.kind(),
        serve,
        work,
        "switchboard starting"
    );
    if serve && cfg.bootstrap.dev_project {
        bootstrap(&cfg, &core).await?;
    }
    let (stop_tx, stop_rx) = watch::channel(false);

    let server = if serve {
        let listener = TcpListener::bind(&cfg.listen)
            .with_context(|| format!("cannot listen on {}", cfg.listen))?;
        let bound = switchboard_server::bind(
            core.clone(),
            listener,
            switchboard_server::ServerSettings {
                max_body_bytes: cfg.http.max_body_bytes,
                workers: cfg.http.workers,
                shutdown_grace: Duration::from_secs(cfg.http.shutdown_grace_secs),
            },
        )?;
        tracing::info!(addr = %bound.addr, public_url = %cfg.public_base(), "API listening");
        eprintln!(
            "switchboard: API listening on http://{} ({} store)",
            bound.addr,
            core.store.kind()
        );
        Some(bound)
    } else {
        None
    };
    let workers = work.then(|| {
        tokio::spawn(switchboard_worker::run(
            core.clone(),
            switchboard_worker::WorkerSettings {
                housekeeping_interval: Duration::from_secs(
                    cfg.worker.housekeeping_interval_secs.max(1),
                ),
                delivery_wait: Duration::from_millis(cfg.delivery.poll_interval_ms.max(1)),
                delivery_timeout: Duration::from_secs(cfg.delivery.timeout_secs.max(1)),
                delivery_batch: cfg.delivery.batch.max(1),
                delivery_in_flight: cfg.delivery.in_flight.max(1),
                refresh_check: Duration::from_millis(
                    cfg.accounts.refresh_check_interval_ms.max(10),
                ),
                shutdown_grace: Duration::from_secs(cfg.http.shutdown_grace_secs),
            },
            stop_rx,
        ))
    });

    let handle = server.as_ref().map(|s| s.handle.clone());
    let server_task = server.map(|s| tokio::spawn(s.server));
    shutdown_signal().await;
    tracing::info!("shutdown requested: draining in-flight work");
    let _ = stop_tx.send(true);
    if let Some(h) = handle {
        h.stop(true).await; // graceful: stop accepting, finish in-flight requests
    }
    if let Some(t) = server_task {
        t.await.context("server task")??;
    }
    if let Some(w) = workers {
        w.await.context("worker task")?;
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
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
