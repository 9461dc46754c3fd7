//! Start-up: config, logging, then an admin command or the application
//! (`serve`, `work`, `all`) until SIGTERM or Ctrl-C.

use switchboard_config::{Config, LogFormat, Overrides};

use crate::application::{Application, Roles, open_core};
use crate::cli::{Cli, Command};

/// What the binary does with its command line.
pub async fn main(cli: Cli) -> anyhow::Result<()> {
    let overrides = Overrides {
        listen: cli.global.listen.clone(),
        public_url: cli.global.public_url.clone(),
        data_dir: cli.global.data_dir.clone(),
        redis_url: cli.global.redis_url.clone(),
    };
    let cfg = Config::load(cli.global.config.as_deref(), &overrides)?;
    let roles = match cli.command.unwrap_or(Command::All) {
        // Reads only the built-in catalog and the file: no store.
        Command::Catalog { command } => return crate::admin::catalog(&command),
        Command::Admin { json, command } => {
            init_logging(&cfg, true);
            let (core, source) = open_core(&cfg).await?;
            return crate::admin::run(&cfg, core, source, command, json).await;
        }
        Command::Serve => Roles::Serve,
        Command::Work => Roles::Work,
        Command::All => Roles::All,
    };
    init_logging(&cfg, false);
    Application::build_with(cfg, roles)
        .await?
        .run_until_stopped()
        .await
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
