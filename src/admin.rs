//! `switchboard admin …`: runs against the store directly. On the embedded
//! store the server must be stopped first (one process owns the file).

use std::sync::Arc;

use anyhow::{Context, bail};
use serde_json::json;
use switchboard_config::Config;
use switchboard_domain::Core;
use switchboard_domain::model::Environment;
use switchboard_domain::ops::rotation::KeyringSource;

use crate::application::credentials_json;
use crate::cli::{AdminCommand, CatalogCommand};

fn print(json_out: bool, value: serde_json::Value, human: String) {
    if json_out {
        println!("{value}");
    } else {
        println!("{human}");
    }
}

/// `switchboard catalog …`. Always exits 0 once the file is read: refusals
/// are the report, not a failure.
pub fn catalog(cmd: &CatalogCommand) -> anyhow::Result<()> {
    use switchboard_domain::components::{Catalog, openapi};
    let (as_json, text, json) = match cmd {
        CatalogCommand::CheckProviders { file, json } => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let mut c = Catalog::builtin().context("the built-in component catalog is invalid")?;
            let report = c.add_providers(&text).map_err(anyhow::Error::msg)?;
            (serde_json::to_string(&report)?, report.text(), *json)
        }
        CatalogCommand::CheckOpenapi {
            file,
            app,
            include,
            exclude,
            providers,
            json,
        } => {
            let (mut c, _) = Catalog::with_providers(providers).map_err(anyhow::Error::msg)?;
            let sel = openapi::Selection {
                app: app.clone(),
                include: include.clone(),
                exclude: exclude.clone(),
            };
            let report = c.add_openapi_file(file, &sel).map_err(anyhow::Error::msg)?;
            (serde_json::to_string(&report)?, report.text(), *json)
        }
    };
    let out = if json { as_json + "\n" } else { text };
    // A closed pipe (`| head`) is the reader's choice, not an error.
    use std::io::Write;
    match std::io::stdout().lock().write_all(out.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// A project's framing setting from the flags: the origins named, none, or
/// (neither) any.
fn framing(origins: Vec<String>, none: bool) -> Option<Vec<String>> {
    (none || !origins.is_empty()).then_some(origins)
}

pub async fn run(
    cfg: &Config,
    core: Arc<Core>,
    source: KeyringSource,
    cmd: AdminCommand,
    json_out: bool,
) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::CreateProject {
            name,
            require_key_auth_test,
            app_name,
            support_email,
            logo_url,
            min_interval_secs,
            frame_origins,
            no_framing,
        } => {
            let (p, c) = core
                .tenancy
                .create_project(switchboard_domain::tenancy::projects::NewProject {
                    name,
                    require_key_auth_test,
                    app_name,
                    support_email,
                    logo_url,
                    min_interval_secs,
                    connect_frame_origins: framing(frame_origins, no_framing),
                })
                .await?;
            let mut v = credentials_json(&p.id, &c, cfg);
            v["name"] = json!(p.name);
            print(
                json_out,
                v,
                format!(
                    "project {} ({})\nclient_id     {}\nclient_secret {}\n(the secret is shown once)",
                    p.name, p.id, c.client_id, c.client_secret
                ),
            );
        }
        AdminCommand::SetFrameOrigins {
            project,
            origins,
            none,
            any,
        } => {
            let origins = if any { None } else { framing(origins, none) };
            let p = core
                .tenancy
                .set_connect_frame_origins(&project, origins)
                .await?;
            let human = match &p.connect_frame_origins {
                None => "any origin may frame the connect page".to_string(),
                Some(o) if o.is_empty() => "no origin may frame the connect page".to_string(),
                Some(o) => format!("only {} may frame the connect page", o.join(", ")),
            };
            print(
                json_out,
                json!({"id": p.id, "connect_frame_origins": p.connect_frame_origins}),
                human,
            );
        }
        AdminCommand::ExportAccounts { project, env } => {
            let t = switchboard_domain::model::Tenant {
                project_id: project,
                env: Environment::parse(&env).context("unknown environment")?,
            };
            let all = core
                .accounts
                .export_accounts(&t, "admin export-accounts")
                .await?;
            let v = json!(
                all.iter()
                    .map(|v| json!({
                        "id": v.account.id,
                        "app": v.app.name_slug,
                        "external_user_id": v.account.external_user_id,
                        "name": v.account.name,
                        "created_at": v.account.created_at,
                        "expires_at": v.account.expires_at,
                        "credentials": v.credentials,
                    }))
                    .collect::<Vec<_>>()
            );
            // Credentials are the point of this command: JSON either way.
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        AdminCommand::ListProjects => {
            let ps = core.tenancy.list_projects().await?;
            let human = ps
                .iter()
                .map(|p| format!("{}  {}", p.id, p.name))
                .collect::<Vec<_>>()
                .join("\n");
            let v = json!(
                ps.iter()
                    .map(|p| json!({"project_id": p.id, "name": p.name}))
                    .collect::<Vec<_>>()
            );
            print(json_out, v, human);
        }
        AdminCommand::IssueClient {
            project,
            scope,
            envs,
            operator,
        } => {
            let envs: Vec<Environment> = if envs.is_empty() {
                Environment::ALL.to_vec()
            } else {
                envs.iter().filter_map(|e| Environment::parse(e)).collect()
            };
            let c = core
                .tenancy
                .issue_client_as(&project, scope.as_deref(), &envs, operator)
                .await?;
            let mut v = credentials_json(&project, &c, cfg);
            v["operator"] = json!(c.operator);
            print(
                json_out,
                v,
                format!(
                    "client_id     {}\nclient_secret {}\n(the secret is shown once)",
                    c.client_id, c.client_secret
                ),
            );
        }
        AdminCommand::RevokeClient { client_id } => {
            let c = core.tenancy.revoke_client(&client_id).await?;
            print(
                json_out,
                json!({"client_id": c.client_id, "project_id": c.project_id, "revoked": true}),
                format!("revoked {}", c.client_id),
            );
        }
        AdminCommand::RotateKey => {
            let report = match source {
                KeyringSource::Config => core.ops.reencrypt_all().await?,
                KeyringSource::File(path) => {
                    if cfg.uses_redis() {
                        bail!(
                            "with Redis, keys must be configured on every machine: add the new key to \
                             SWITCHBOARD_ENCRYPTION__KEYS, make it active everywhere, then run rotate-key"
                        );
                    }
                    let mut ring = core.keyring().clone();
                    ring.add_generated();
                    // Keep the old key on disk until everything is re-sealed.
                    ring.save_file(&path)?;
                    drop(core);
                    let (core, _) = crate::application::open_core(cfg).await?;
                    let report = core.ops.reencrypt_all().await?;
                    let mut ring = core.keyring().clone();
                    ring.retain_active();
                    ring.save_file(&path)
                        .context("re-encrypted, but could not drop the old key")?;
                    report
                }
            };
            print(
                json_out,
                serde_json::to_value(&report)?,
                format!(
                    "active key {}: {} re-encrypted, {} already current; retired {:?}",
                    report.active_key,
                    report.reencrypted,
                    report.already_current,
                    report.retired_keys
                ),
            );
        }
    }
    Ok(())
}
