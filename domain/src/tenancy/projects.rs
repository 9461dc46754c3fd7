//! Projects and their API client credentials (the `admin` commands).

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::Tenancy;
use crate::clock::now_ms;
use crate::crypto::sha256_hex;
use crate::error::{Error, Result, invalid, not_found};
use crate::ids::{new_id, random_hex};
use crate::model::{ApiClient, Environment, Project, Tenant};
use crate::paging::{Page, PageRequest, all_members};
use crate::records;
use crate::store::{IndexRange, Op};
use crate::tenancy::auth::parse_scopes;

/// A client secret is shown once, at issue time.
#[derive(Debug, Clone, Serialize)]
pub struct ClientCredentials {
    pub project_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Vec<String>,
    pub environments: Vec<Environment>,
    pub operator: bool,
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

    /// A new project with client credentials for it (the `admin` command).
    pub async fn create_project(&self, p: NewProject) -> Result<(Project, ClientCredentials)> {
        let project = self.add_project(p).await?;
        let creds = self
            .issue_client(&project.id, None, &Environment::ALL)
            .await?;
        Ok((project, creds))
    }

    /// A new project, without credentials (`POST projects`: the operator
    /// calling it may act in every project already).
    pub async fn add_project(&self, p: NewProject) -> Result<Project> {
        let name = check_name(&p.name)?;
        check_brand(p.app_name.as_deref(), p.support_email.as_deref())?;
        if let Some(u) = &p.logo_url {
            crate::validate::http_url("logo_url", u)?;
        }
        check_frame_origins(p.connect_frame_origins.as_ref())?;
        let now = now_ms();
        let project = Project {
            id: new_id("proj"),
            name,
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
        Ok(project)
    }

    /// A project by id; `NotFound` when there is none.
    pub async fn get_project(&self, id: &str) -> Result<Project> {
        if !id.starts_with("proj_") || id.contains(['{', '}']) {
            return Err(not_found(format!("project {id:?} not found")));
        }
        self.project(id)
            .await?
            .ok_or_else(|| not_found(format!("project {id:?} not found")))
    }

    /// Changes the fields `patch` names.
    pub async fn update_project(&self, id: &str, patch: ProjectPatch) -> Result<Project> {
        let mut p = self.get_project(id).await?;
        check_brand(patch.app_name.as_deref(), patch.support_email.as_deref())?;
        if let Some(n) = &patch.name {
            p.name = check_name(n)?;
        }
        if patch.app_name.is_some() {
            p.app_name = patch.app_name;
        }
        if patch.support_email.is_some() {
            p.support_email = patch.support_email;
        }
        if let Some(b) = patch.require_key_auth_test {
            p.connect_require_key_auth_test = b;
        }
        p.updated_at = now_ms();
        self.store
            .commit(vec![records::put(records::project(id), &p)])
            .await?;
        Ok(p)
    }

    /// Deletes an empty project and revokes its clients. A project that
    /// still has users, accounts, deployed triggers, OAuth apps or app
    /// overrides is refused: deleting those is the caller's explicit choice.
    pub async fn delete_project(&self, id: &str) -> Result<()> {
        self.get_project(id).await?;
        let mut held = Vec::new();
        for env in Environment::ALL {
            let t = Tenant {
                project_id: id.to_string(),
                env,
            };
            for (what, index) in [
                ("users", records::users_index(&t)),
                ("accounts", records::accounts_index(&t)),
                ("deployed triggers", records::deployments_index(&t)),
            ] {
                if self.store.index_count(&index).await? > 0 && !held.contains(&what) {
                    held.push(what);
                }
            }
        }
        for (what, index) in [
            ("OAuth apps", records::oauth_apps_index(id)),
            ("app overrides", records::app_overrides_index(id)),
        ] {
            if self.store.index_count(&index).await? > 0 {
                held.push(what);
            }
        }
        if !held.is_empty() {
            return Err(Error::Unprocessable(format!(
                "project {id} still has {}; delete them first",
                held.join(", ")
            )));
        }
        for client in all_members(self.store.as_ref(), &records::project_clients(id)).await? {
            self.revoke_client(&client).await?;
        }
        self.store
            .commit(vec![
                Op::Delete(records::project(id)),
                Op::Delete(records::project_logo(id)),
                records::index_remove(records::projects_index(), id),
            ])
            .await?;
        Ok(())
    }

    /// One page of projects, by id; `q` keeps those whose name or app name
    /// contains it (case-insensitive).
    pub async fn page_projects(
        &self,
        q: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Project>> {
        let q = q.map(str::trim).filter(|q| !q.is_empty());
        let Some(q) = q else {
            let ids = page
                .page_ids(self.store.as_ref(), &records::projects_index())
                .await?;
            let keys: Vec<_> = ids.data.iter().map(|id| records::project(id)).collect();
            let mut data = Vec::new();
            for raw in self.store.get_many(&keys).await?.into_iter().flatten() {
                data.push(records::from_bytes(&raw)?);
            }
            return Ok(Page {
                data,
                total_count: ids.total_count,
                start_cursor: ids.start_cursor,
                end_cursor: ids.end_cursor,
            });
        };
        if q.len() > 200 {
            return Err(invalid("q must be at most 200 characters"));
        }
        let q = q.to_lowercase();
        let hits: Vec<Project> = self
            .list_projects()
            .await?
            .into_iter()
            .filter(|p| {
                p.name.to_lowercase().contains(&q)
                    || p.app_name
                        .as_deref()
                        .is_some_and(|n| n.to_lowercase().contains(&q))
            })
            .collect();
        page.page_slice(hits, |p| p.id.clone())
    }

    /// Stores a logo given as a `data:` URI and points the project's
    /// `logo_url` at it; the connect page serves it from this origin.
    pub async fn set_project_logo(&self, id: &str, data_uri: &str) -> Result<Project> {
        let logo = Logo::from_data_uri(data_uri)?;
        let mut p = self.get_project(id).await?;
        let version = &crate::crypto::sha256_hex(logo.bytes.as_bytes())[..12];
        p.logo_url = Some(format!("/_static/connect/logo/{id}?v={version}"));
        p.updated_at = now_ms();
        self.store
            .commit(vec![
                records::put(records::project_logo(id), &logo),
                records::put(records::project(id), &p),
            ])
            .await?;
        Ok(p)
    }

    /// A project's uploaded logo: (content type, bytes).
    pub async fn project_logo(&self, id: &str) -> Result<(String, Vec<u8>)> {
        let logo: Logo = self
            .read(&records::project_logo(id))
            .await?
            .ok_or_else(|| not_found(format!("project {id:?} has no logo")))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&logo.bytes)
            .map_err(|_| Error::Internal("a stored logo is not base64".into()))?;
        Ok((logo.content_type, bytes))
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
        self.issue_client_as(project_id, scope, environments, false)
            .await
    }

    /// `issue_client`, for an operator client when `operator` (see
    /// `ApiClient::operator`).
    pub async fn issue_client_as(
        &self,
        project_id: &str,
        scope: Option<&str>,
        environments: &[Environment],
        operator: bool,
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
            operator,
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
            operator,
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

/// Changes to a project (`PATCH projects/{id}`); `None` keeps a value.
#[derive(Debug, Clone, Default)]
pub struct ProjectPatch {
    pub name: Option<String>,
    pub app_name: Option<String>,
    pub support_email: Option<String>,
    pub require_key_auth_test: Option<bool>,
}

fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(invalid("project name must be 1 to 200 characters"));
    }
    Ok(name.to_string())
}

fn check_brand(app_name: Option<&str>, support_email: Option<&str>) -> Result<()> {
    if let Some(n) = app_name
        && (n.trim().is_empty() || n.len() > 200)
    {
        return Err(invalid("app name must be 1 to 200 characters"));
    }
    if let Some(e) = support_email
        && (!e.contains('@') || e.len() > 320 || e.chars().any(char::is_whitespace))
    {
        return Err(invalid(format!(
            "support email {e:?} is not an email address"
        )));
    }
    Ok(())
}

/// The largest logo accepted, decoded. Its base64 `data:` URI (a third
/// larger) must fit the default 256 KiB request body.
pub const MAX_LOGO_BYTES: usize = 128 * 1024;

/// An uploaded logo; `bytes` is base64 (the store holds JSON).
#[derive(Debug, Serialize, Deserialize)]
struct Logo {
    content_type: String,
    bytes: String,
}

impl Logo {
    /// `data:image/<png|jpeg|webp|svg+xml>;base64,…`, whose bytes must be
    /// what the type says. SVG is accepted because the logo route serves
    /// it with a CSP that runs no script (and `<img>` never runs any).
    fn from_data_uri(uri: &str) -> Result<Logo> {
        let bad = |why: &str| invalid(format!("logo {why}"));
        let rest = uri
            .strip_prefix("data:")
            .ok_or_else(|| bad("must be a data: URI (data:image/png;base64,…)"))?;
        let (meta, payload) = rest
            .split_once(',')
            .ok_or_else(|| bad("is a data: URI without a comma"))?;
        let content_type = meta
            .strip_suffix(";base64")
            .ok_or_else(|| bad("must be base64-encoded (data:<type>;base64,…)"))?
            .to_ascii_lowercase();
        if payload.len() > MAX_LOGO_BYTES.div_ceil(3) * 4 + 4 {
            return Err(bad(&format!(
                "is larger than {} KiB",
                MAX_LOGO_BYTES / 1024
            )));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(payload.trim())
            .map_err(|_| bad("is not valid base64"))?;
        if bytes.is_empty() || bytes.len() > MAX_LOGO_BYTES {
            return Err(bad(&format!(
                "must be 1 byte to {} KiB",
                MAX_LOGO_BYTES / 1024
            )));
        }
        let matches = match content_type.as_str() {
            "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
            "image/webp" => bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP",
            "image/svg+xml" => std::str::from_utf8(&bytes).is_ok_and(|t| {
                let t = t.trim_start_matches('\u{feff}').trim_start();
                (t.starts_with("<svg") || t.starts_with("<?xml")) && t.contains("<svg")
            }),
            other => {
                return Err(bad(&format!(
                    "type {other:?} is not one of image/png, image/jpeg, image/webp, image/svg+xml"
                )));
            }
        };
        if !matches {
            return Err(bad(&format!("bytes are not a {content_type} image")));
        }
        Ok(Logo {
            content_type,
            bytes: base64::engine::general_purpose::STANDARD.encode(&bytes),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(t: &str, bytes: &[u8]) -> String {
        format!(
            "data:{t};base64,{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        )
    }

    #[test]
    fn logos_are_checked_for_type_size_and_content() {
        let png = b"\x89PNG\r\n\x1a\nrest";
        assert!(Logo::from_data_uri(&uri("image/png", png)).is_ok());
        assert!(Logo::from_data_uri(&uri("image/svg+xml", b"<svg xmlns='x'/>")).is_ok());
        for bad in [
            "https://example.com/logo.png".to_string(),
            "data:image/png,plain".to_string(),
            "data:image/png;base64,@@@".to_string(),
            uri("image/gif", b"GIF89a"),
            uri("text/html", b"<script>"),
            uri("image/png", b"<svg/>"),
            uri("image/jpeg", png),
            uri("image/svg+xml", b"<html><script>"),
            uri("image/png", &[0x89; MAX_LOGO_BYTES + 1]),
            uri("image/png", b""),
        ] {
            let e = Logo::from_data_uri(&bad).unwrap_err();
            assert!(matches!(e, Error::Invalid(_)), "{bad:.40}: {e:?}");
        }
    }
}
