//! Projects and their API client credentials (the `admin` commands).

use serde::Serialize;

use super::Tenancy;
use crate::clock::now_ms;
use crate::crypto::sha256_hex;
use crate::error::{Error, Result, invalid, not_found};
use crate::ids::{new_id, random_hex};
use crate::model::{ApiClient, Environment, Project};
use crate::records;
use crate::store::IndexRange;
use crate::tenancy::auth::parse_scopes;

/// A client secret is shown once, at issue time.
#[derive(Debug, Clone, Serialize)]
pub struct ClientCredentials {
    pub project_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Vec<String>,
    pub environments: Vec<Environment>,
}

/// A project to create, with the brand its hosted connect page shows.
#[derive(Debug, Clone, Default)]
pub struct NewProject {
    pub name: String,
    pub require_key_auth_test: bool,
    pub app_name: Option<String>,
    pub support_email: Option<String>,
    pub logo_url: Option<String>,
    /// The shortest timer and polling interval (default: the configured).
    pub min_interval_secs: Option<u64>,
    /// Origins that may frame the connect page (`None`: any).
    pub connect_frame_origins: Option<Vec<String>>,
}

/// Most origins a project may list as framers of its connect page.
const MAX_FRAME_ORIGINS: usize = 20;

fn check_frame_origins(origins: Option<&Vec<String>>) -> Result<()> {
    let Some(origins) = origins else {
        return Ok(());
    };
    if origins.len() > MAX_FRAME_ORIGINS {
        return Err(invalid(format!(
            "at most {MAX_FRAME_ORIGINS} connect_frame_origins"
        )));
    }
    origins
        .iter()
        .try_for_each(|o| crate::validate::origin("connect_frame_origins", o))
}

/// The CSP `frame-ancestors` sources of a connect page: who may embed it.
/// Embeddable by any origin by default, as Pipedream's page is (the
/// browser SDK's quickstart makes tokens without `allowed_origins`); a
/// token's `allowed_origins` narrow it to those; a project's
/// `connect_frame_origins` bound every token of the project (an origin
/// must be in both when both are set). Nothing left: `'none'`.
pub fn frame_ancestors(project: Option<&Project>, token_origins: &[String]) -> Vec<String> {
    let restricted = project.and_then(|p| p.connect_frame_origins.as_ref());
    let allowed: Vec<String> = match (restricted, token_origins.is_empty()) {
        (None, true) => return vec!["*".to_string()],
        (None, false) => token_origins.to_vec(),
        (Some(project), true) => project.clone(),
        (Some(project), false) => token_origins
            .iter()
            .filter(|o| project.contains(o))
            .cloned()
            .collect(),
    };
    if allowed.is_empty() {
        vec!["'none'".to_string()]
    } else {
        allowed
    }
}

impl Tenancy {
    pub async fn project(&self, id: &str) -> Result<Option<Project>> {
        self.read(&records::project(id)).await
    }

    pub async fn create_project(&self, p: NewProject) -> Result<(Project, ClientCredentials)> {
        let name = p.name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(invalid("project name must be 1 to 200 characters"));
        }
        if let Some(n) = &p.app_name
            && (n.trim().is_empty() || n.len() > 200)
        {
            return Err(invalid("app name must be 1 to 200 characters"));
        }
        if let Some(e) = &p.support_email
            && (!e.contains('@') || e.len() > 320 || e.chars().any(char::is_whitespace))
        {
            return Err(invalid(format!(
                "support email {e:?} is not an email address"
            )));
        }
        if let Some(u) = &p.logo_url {
            crate::validate::http_url("logo_url", u)?;
        }
        check_frame_origins(p.connect_frame_origins.as_ref())?;
        let now = now_ms();
        let project = Project {
            id: new_id("proj"),
            name: name.to_string(),
            app_name: p.app_name,
            support_email: p.support_email,
            logo_url: p.logo_url,
            connect_require_key_auth_test: p.require_key_auth_test,
            connect_frame_origins: p.connect_frame_origins,
            min_interval_secs: p.min_interval_secs,
            created_at: now,
            updated_at: now,
        };
        self.store
            .commit(vec![
                records::put(records::project(&project.id), &project),
                records::index_add(records::projects_index(), &project.id),
            ])
            .await?;
        let creds = self
            .issue_client(&project.id, None, &Environment::ALL)
            .await?;
        Ok((project, creds))
    }

    /// Who may frame the project's connect page (`None`: any origin).
    pub async fn set_connect_frame_origins(
        &self,
        project_id: &str,
        origins: Option<Vec<String>>,
    ) -> Result<Project> {
        check_frame_origins(origins.as_ref())?;
        let mut project = self
            .project(project_id)
            .await?
            .ok_or_else(|| not_found(format!("no project {project_id}")))?;
        project.connect_frame_origins = origins;
        project.updated_at = now_ms();
        self.store
            .commit(vec![records::put(records::project(project_id), &project)])
            .await?;
        Ok(project)
    }

    pub async fn list_projects(&self) -> Result<Vec<Project>> {
        let ids = self
            .store
            .index_range(
                &records::projects_index(),
                &IndexRange {
                    limit: 100_000,
                    ..Default::default()
                },
            )
            .await?;
        let keys: Vec<_> = ids.iter().map(|id| records::project(id)).collect();
        let mut out = Vec::new();
        for raw in self.store.get_many(&keys).await?.into_iter().flatten() {
            out.push(records::from_bytes(&raw)?);
        }
        Ok(out)
    }

    /// New client credentials for a project. `scope` defaults to `*`.
    pub async fn issue_client(
        &self,
        project_id: &str,
        scope: Option<&str>,
        environments: &[Environment],
    ) -> Result<ClientCredentials> {
        if self.project(project_id).await?.is_none() {
            return Err(not_found(format!("project {project_id:?} not found")));
        }
        if environments.is_empty() {
            return Err(invalid("a client needs at least one environment"));
        }
        let scopes = parse_scopes(scope.unwrap_or("*"))?;
        let client_id = new_id("cl");
        let client_secret = format!("sbcs_{}", random_hex(32));
        let client = ApiClient {
            client_id: client_id.clone(),
            project_id: project_id.to_string(),
            secret_sha256: sha256_hex(client_secret.as_bytes()),
            scopes: scopes.clone(),
            environments: environments.to_vec(),
            created_at: now_ms(),
            revoked_at: None,
        };
        self.store
            .commit(vec![
                records::put(records::client(&client_id), &client),
                records::index_add(records::project_clients(project_id), &client_id),
            ])
            .await?;
        Ok(ClientCredentials {
            project_id: project_id.to_string(),
            client_id,
            client_secret,
            scopes,
            environments: environments.to_vec(),
        })
    }

    /// Revokes a client; its access tokens stop working at once.
    pub async fn revoke_client(&self, client_id: &str) -> Result<ApiClient> {
        if client_id.contains(['{', '}']) {
            return Err(invalid("malformed client id"));
        }
        let mut client: ApiClient = self
            .read(&records::client(client_id))
            .await?
            .ok_or_else(|| Error::NotFound(format!("client {client_id:?} not found")))?;
        if client.revoked_at.is_none() {
            client.revoked_at = Some(now_ms());
            self.store
                .commit(vec![records::put(records::client(client_id), &client)])
                .await?;
        }
        Ok(client)
    }

    /// On an empty store, a first project with credentials; else `None`.
    pub async fn bootstrap(&self, name: &str) -> Result<Option<(Project, ClientCredentials)>> {
        if self.store.index_count(&records::projects_index()).await? > 0 {
            return Ok(None);
        }
        self.create_project(NewProject {
            name: name.to_string(),
            ..Default::default()
        })
        .await
        .map(Some)
    }
}
