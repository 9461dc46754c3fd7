//! The command line. Each flag also reads a `SWITCHBOARD_*` variable, and
//! both override the config file.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "switchboard",
    version,
    about = "Self-hosted triggers, connected accounts and event delivery, wire-compatible with Pipedream Connect",
    long_about = "Self-hosted triggers, connected accounts and event delivery, wire-compatible with \
Pipedream Connect.\n\nWith no command, runs `all`: the API and the workers in one process, on the \
embedded store in --data-dir unless --redis-url is given. Every setting of config/default.toml can \
also be set as SWITCHBOARD_<KEY> (nested keys joined with __, e.g. SWITCHBOARD_LOG__FORMAT=json)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// TOML config file layered over the defaults.
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address the HTTP API listens on, e.g. 0.0.0.0:8080.
    #[arg(long, global = true, env = "SWITCHBOARD_LISTEN")]
    pub listen: Option<String>,
    /// Public base URL of this server (used in connect links and webhook URLs).
    #[arg(long, global = true, env = "SWITCHBOARD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Directory of the embedded store and the generated keyring.
    #[arg(long, global = true, env = "SWITCHBOARD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Redis URL (redis://host:port/db); when set, Redis is the store.
    #[arg(long, global = true, env = "SWITCHBOARD_REDIS_URL")]
    pub redis_url: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the HTTP API only.
    Serve,
    /// Run the background workers only.
    Work,
    /// Serve the API and run the workers in one process (the default).
    All,
    /// Inspect component catalogs.
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// Administer projects, credentials and keys.
    Admin {
        /// Print machine-readable JSON.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create a project with a first pair of client credentials.
    CreateProject {
        #[arg(long)]
        name: String,
        /// Test API keys with the app's verification request before saving them.
        #[arg(long)]
        require_key_auth_test: bool,
        /// The name the hosted connect page shows (default: the project name).
        #[arg(long)]
        app_name: Option<String>,
        /// The support address the hosted connect page shows.
        #[arg(long)]
        support_email: Option<String>,
        /// The logo the hosted connect page shows (an http(s) URL).
        #[arg(long)]
        logo_url: Option<String>,
        /// The shortest timer and polling interval of this project's
        /// triggers, in seconds (default: triggers.min_interval_secs).
        #[arg(long)]
        min_interval_secs: Option<u64>,
        /// Only this origin may frame the connect page (repeatable; default:
        /// any origin, as Pipedream's page).
        #[arg(long = "frame-origin")]
        frame_origins: Vec<String>,
        /// No origin may frame the connect page (the browser SDK's iframe
        /// then fails; connect links still work).
        #[arg(long, conflicts_with = "frame_origins")]
        no_framing: bool,
    },
    /// Set who may frame a project's connect page: the origins given, none
    /// with `--none`, or any (the default) with `--any`.
    SetFrameOrigins {
        #[arg(long)]
        project: String,
        #[arg(long = "origin", required_unless_present_any = ["none", "any"])]
        origins: Vec<String>,
        #[arg(long, conflicts_with_all = ["origins", "any"])]
        none: bool,
        #[arg(long, conflicts_with = "origins")]
        any: bool,
    },
    /// List projects.
    ListProjects,
    /// Issue new client credentials for a project.
    IssueClient {
        #[arg(long)]
        project: String,
        /// Space-separated scopes (default `*`).
        #[arg(long)]
        scope: Option<String>,
        /// Environments the client may act in (repeatable; default both).
        #[arg(long = "env", value_parser = ["development", "production"])]
        envs: Vec<String>,
        /// An operator client: manages every project through the projects
        /// API (create, list, update, delete) and may act in any of them.
        #[arg(long)]
        operator: bool,
    },
    /// Revoke client credentials; their access tokens stop working at once.
    RevokeClient {
        #[arg(long)]
        client_id: String,
    },
    /// Re-encrypt every credential under a new (or the configured active) key.
    RotateKey,
    /// Print every account of a project environment with its credentials
    /// decrypted (JSON), to move to another system. Audited in the log.
    ExportAccounts {
        #[arg(long)]
        project: String,
        #[arg(long, default_value = "production", value_parser = ["development", "production"])]
        env: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum CatalogCommand {
    /// Report what each provider of a Nango `providers.yaml` becomes: the
    /// app it maps to, or why it is refused; then counts per auth mode.
    CheckProviders {
        file: PathBuf,
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
    /// Report what each operation of an OpenAPI 3.x spec becomes: the
    /// action it generates (its key) or why it is refused; then totals.
    CheckOpenapi {
        file: PathBuf,
        /// The app the actions belong to (a built-in app, or one from
        /// `--providers`).
        #[arg(long)]
        app: String,
        /// Operations to generate: globs over the operationId, or else the
        /// tags (repeatable; none: every operation).
        #[arg(long)]
        include: Vec<String>,
        /// Operations to leave out, by the same globs (repeatable).
        #[arg(long)]
        exclude: Vec<String>,
        /// Nango `providers.yaml` files to import first, so `--app` may
        /// name one of their apps (repeatable).
        #[arg(long)]
        providers: Vec<PathBuf>,
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
}
