//! API authentication: OAuth client credentials, the bearer tokens issued for
//! them, connect tokens as bearers, scopes, and which tenant a request acts in.

use super::Tenancy;
use crate::clock::now_ms;
use crate::crypto::{ct_eq, sha256_hex};
use crate::error::{Error, Result, invalid};
use crate::ids::random_hex;
use crate::model::{AccessToken, ApiClient, ConnectToken, Environment, Tenant};
use crate::records;
use crate::records::from_bytes;
use crate::store::Op;

/// The scopes Pipedream defines; `*` suffixes grant everything below.
pub const KNOWN_SCOPES: &[&str] = &[
    "*",
    "connect:*",
    "connect:actions:*",
    "connect:triggers:*",
    // Switchboard's finer grains under the two above (what the routes
    // check), so a connect token can be given exactly one of them.
    "connect:actions:read",
    "connect:actions:run",
    "connect:triggers:read",
    "connect:accounts:read",
    "connect:accounts:write",
    "connect:deployed_triggers:read",
    "connect:deployed_triggers:write",
    "connect:users:read",
    "connect:users:write",
    "connect:tokens:create",
    "connect:proxy",
    "connect:components:write",
    "connect:workflow:invoke",
];

/// What a connect token may do when its creator names no `scope`: the
/// minimum of a browser flow (the hosted connect page, and
/// `@pipedream/sdk/browser` listing and connecting the user's own
/// accounts; apps need no scope). Running actions, proxy calls, the
/// component catalog and deployed triggers (whose webhook URLs may be the
/// customer's backend) must be granted per token with `scope`.
pub const END_USER_DEFAULT_SCOPES: &[&str] = &["connect:accounts:read", "connect:accounts:write"];

/// Whether `granted` covers `required`.
pub fn scope_allows(granted: &[String], required: &str) -> bool {
    granted.iter().any(|g| match g.strip_suffix('*') {
        Some(prefix) => required.starts_with(prefix),
        None => g == required,
    })
}

/// Parses a space-separated scope string; unknown scopes are refused.
pub fn parse_scopes(s: &str) -> Result<Vec<String>> {
    let scopes: Vec<String> = s.split_whitespace().map(str::to_string).collect();
    if scopes.is_empty() {
        return Err(invalid("scope must name at least one scope"));
    }
    if let Some(bad) = scopes.iter().find(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
        return Err(invalid(format!("unknown scope {bad:?}")));
    }
    Ok(scopes)
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A backend holding OAuth client credentials.
    Server {
        project_id: String,
        client_id: String,
        scopes: Vec<String>,
        environments: Vec<Environment>,
        /// See `ApiClient::operator`.
        operator: bool,
    },
    /// A browser holding a connect token: one user of one tenant.
    Connect(ConnectToken),
}

impl Caller {
    pub fn scopes(&self) -> &[String] {
        match self {
            Caller::Server { scopes, .. } => scopes,
            Caller::Connect(t) => &t.scopes,
        }
    }

    pub fn require_scope(&self, scope: &str) -> Result<()> {
        if scope_allows(self.scopes(), scope) {
            return Ok(());
        }
        Err(Error::Forbidden(match self {
            Caller::Server { .. } => format!("this token lacks the {scope} scope"),
            Caller::Connect(_) => format!(
                "this connect token lacks the {scope} scope: connect tokens get only {} \
                 unless the server creates them with `scope` naming more",
                END_USER_DEFAULT_SCOPES.join(" ")
            ),
        }))
    }

    pub fn require_server(&self, what: &str) -> Result<()> {
        match self {
            Caller::Server { .. } => Ok(()),
            Caller::Connect(_) => Err(Error::Forbidden(format!(
                "{what} requires server credentials (an OAuth access token), not a connect token"
            ))),
        }
    }

    /// Managing a project's settings (OAuth apps, app overrides): server
    /// credentials with the full `connect:*` scope.
    pub fn require_project_admin(&self, what: &str) -> Result<()> {
        self.require_server(what)?;
        self.require_scope("connect:*")
    }

    /// Changing a project-wide record (an OAuth app: its client id and
    /// secret, its signing secret) changes it for every environment, so it
    /// needs server credentials valid in all of them: a client limited to
    /// `development` must not alter what production connect flows use.
    pub fn require_all_environments(&self, what: &str) -> Result<()> {
        match self {
            Caller::Server { environments, .. }
                if Environment::ALL.iter().all(|e| environments.contains(e)) =>
            {
                Ok(())
            }
            Caller::Server { environments, .. } => Err(Error::Forbidden(format!(
                "{what} changes a project-wide record that every environment uses; these \
                 credentials are limited to {}, so ask for a client that is not restricted \
                 to one environment",
                environments
                    .iter()
                    .map(|e| e.as_str())
                    .collect::<Vec<_>>()
                    .join(" and ")
            ))),
            Caller::Connect(_) => self.require_server(what),
        }
    }

    /// For a connect token, the only external user it may touch.
    pub fn bound_user(&self) -> Option<&str> {
        match self {
            Caller::Server { .. } => None,
            Caller::Connect(t) => Some(&t.external_user_id),
        }
    }

    pub fn is_server(&self) -> bool {
        matches!(self, Caller::Server { .. })
    }

    pub fn is_operator(&self) -> bool {
        matches!(self, Caller::Server { operator: true, .. })
    }

    /// The project the credentials were issued in.
    pub fn home_project(&self) -> &str {
        match self {
            Caller::Server { project_id, .. } => project_id,
            Caller::Connect(t) => &t.tenant.project_id,
        }
    }

    /// Managing projects other than its own takes an operator client.
    pub fn require_operator(&self, what: &str) -> Result<()> {
        self.require_server(what)?;
        if self.is_operator() {
            // An operator client issued with a narrower scope or one
            // environment keeps those limits here too.
            self.require_all_environments(what)?;
            return self.require_scope("connect:*");
        }
        Err(Error::Forbidden(format!(
            "{what} requires operator credentials (`switchboard admin issue-client --operator`); \
             these are limited to project {}",
            self.home_project()
        )))
    }
}

#[derive(Debug, Clone)]
pub struct IssuedAccessToken {
    pub access_token: String,
    pub expires_in: u64,
    pub scopes: Vec<String>,
    pub created_at: u64,
}

const TOKEN_PREFIX: &str = "sbat";

impl Tenancy {
    /// The `client_credentials` grant.
    pub async fn issue_access_token(
        &self,
        client_id: &str,
        client_secret: &str,
        scope: Option<&str>,
    ) -> Result<IssuedAccessToken> {
        let denied = || Error::Unauthorized("invalid client credentials".into());
        if client_id.is_empty() || client_id.contains(['.', '{', '}']) {
            return Err(denied());
        }
        let client: ApiClient = self
            .read(&records::client(client_id))
            .await?
            .ok_or_else(denied)?;
        let presented = sha256_hex(client_secret.as_bytes());
        if !ct_eq(presented.as_bytes(), client.secret_sha256.as_bytes())
            || client.revoked_at.is_some()
        {
            return Err(denied());
        }
        let scopes = match scope {
            Some(s) if !s.trim().is_empty() => {
                let wanted = parse_scopes(s)?;
                if let Some(bad) = wanted.iter().find(|w| !scope_allows(&client.scopes, w)) {
                    return Err(invalid(format!(
                        "invalid_scope: this client may not request {bad:?}"
                    )));
                }
                wanted
            }
            _ => client.scopes.clone(),
        };
        let secret = random_hex(32);
        let access_token = format!("{TOKEN_PREFIX}.{client_id}.{secret}");
        let ttl = self.settings.access_token_ttl_secs;
        let now = now_ms();
        let rec = AccessToken {
            client_id: client_id.to_string(),
            project_id: client.project_id.clone(),
            scopes: scopes.clone(),
            expires_at: now + ttl * 1000,
        };
        self.store
            .commit(vec![Op::Put {
                key: records::access_token(client_id, &sha256_hex(access_token.as_bytes())),
                value: records::to_bytes(&rec),
                ttl_ms: Some(ttl * 1000),
            }])
            .await?;
        Ok(IssuedAccessToken {
            access_token,
            expires_in: ttl,
            scopes,
            created_at: now / 1000,
        })
    }

    /// Resolves a bearer token (access token or connect token) to a caller.
    pub async fn authenticate(&self, bearer: &str) -> Result<Caller> {
        if bearer.starts_with("ctok_") {
            return Ok(Caller::Connect(self.live_connect_token(bearer).await?));
        }
        let unknown = || Error::Unauthorized("invalid or expired access token".into());
        let mut parts = bearer.splitn(3, '.');
        let (Some(TOKEN_PREFIX), Some(client_id), Some(_)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(unknown());
        };
        if client_id.contains(['{', '}']) {
            return Err(unknown());
        }
        // Client and token share a slot: one round trip, and revoking the
        // client takes effect at once.
        let got = self
            .store
            .get_many(&[
                records::client(client_id),
                records::access_token(client_id, &sha256_hex(bearer.as_bytes())),
            ])
            .await?;
        let (Some(c), Some(t)) = (&got[0], &got[1]) else {
            return Err(unknown());
        };
        let client: ApiClient = from_bytes(c)?;
        let token: AccessToken = from_bytes(t)?;
        if client.revoked_at.is_some() || token.expires_at <= now_ms() {
            return Err(unknown());
        }
        Ok(Caller::Server {
            project_id: token.project_id,
            client_id: token.client_id,
            scopes: token.scopes,
            environments: client.environments,
            operator: client.operator,
        })
    }

    /// The tenant a request acts in: the project in the path (if any) and
    /// the `x-pd-environment` header, checked against the caller.
    pub async fn resolve_tenant(
        &self,
        caller: &Caller,
        path_project: Option<&str>,
        env_header: Option<&str>,
    ) -> Result<Tenant> {
        let env = env_header
            .map(|h| {
                Environment::parse(h.trim()).ok_or_else(|| {
                    invalid(format!(
                        "x-pd-environment must be \"development\" or \"production\", got {h:?}"
                    ))
                })
            })
            .transpose()?;
        let (own_project, tenant) = match caller {
            Caller::Server {
                project_id,
                environments,
                ..
            } => {
                let env = env.unwrap_or(Environment::Production);
                if !environments.contains(&env) {
                    return Err(Error::Forbidden(format!(
                        "these credentials may not act in the {} environment",
                        env.as_str()
                    )));
                }
                (
                    project_id,
                    Tenant {
                        project_id: project_id.clone(),
                        env,
                    },
                )
            }
            Caller::Connect(t) => {
                if let Some(env) = env
                    && env != t.tenant.env
                {
                    return Err(Error::Forbidden(format!(
                        "this connect token belongs to the {} environment, not {}",
                        t.tenant.env.as_str(),
                        env.as_str()
                    )));
                }
                (&t.tenant.project_id, t.tenant.clone())
            }
        };
        if let Some(p) = path_project
            && p != own_project
        {
            if !p.starts_with("proj_") || self.project(p).await?.is_none() {
                return Err(Error::NotFound(format!("project {p:?} not found")));
            }
            // An operator acts in any project, as Pipedream's workspace
            // clients do; the environment check above still applies.
            if caller.is_operator() {
                return Ok(Tenant {
                    project_id: p.to_string(),
                    env: tenant.env,
                });
            }
            return Err(Error::Forbidden(format!(
                "these credentials are not valid for project {p}"
            )));
        }
        Ok(tenant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_scopes_cover_their_subtree() {
        let g = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(scope_allows(&g(&["*"]), "connect:accounts:read"));
        assert!(scope_allows(&g(&["connect:*"]), "connect:users:write"));
        assert!(scope_allows(
            &g(&["connect:accounts:read"]),
            "connect:accounts:read"
        ));
        assert!(!scope_allows(
            &g(&["connect:accounts:read"]),
            "connect:accounts:write"
        ));
        assert!(!scope_allows(
            &g(&["connect:actions:*"]),
            "connect:accounts:read"
        ));
        assert!(parse_scopes("connect:accounts:read connect:bogus").is_err());
    }

    #[test]
    fn project_wide_changes_need_every_environment() {
        let server = |envs: &[Environment]| Caller::Server {
            project_id: "proj_x".into(),
            client_id: "cl_x".into(),
            scopes: vec!["*".into()],
            environments: envs.to_vec(),
            operator: false,
        };
        assert!(
            server(&Environment::ALL)
                .require_all_environments("x")
                .is_ok()
        );
        let err = server(&[Environment::Development])
            .require_all_environments("changing an OAuth app")
            .unwrap_err();
        assert!(matches!(&err, Error::Forbidden(m) if m.contains("limited to development")));
        assert!(parse_scopes(&END_USER_DEFAULT_SCOPES.join(" ")).is_ok());
    }
}
