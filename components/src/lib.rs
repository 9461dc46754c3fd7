//! Switchboard's components are data. Each app, action and trigger is a JSON
//! manifest (`apps/`, `actions/`, `triggers/`), embedded at build time or
//! registered at runtime, validated against `schema/manifest.v1.json` when
//! loaded, and interpreted by this crate's runtime: templates, HTTP steps,
//! remote options, reload props and the proxy.

pub mod action;
mod app;
pub mod component;
pub mod feed;
pub mod jsonpath;
pub mod limits;
pub mod manifest;
pub mod openapi;
pub mod options;
pub mod props;
pub mod providers;
pub mod proxy;
pub mod runtime;
pub mod template;
pub mod token;

pub use app::{
    ApiSpec, App, AppOverride, AuthErrorRule, AuthSpec, AuthType, AwsSigV4, BasicAuth, ClientAuth,
    ConnectInfo, CustomField, ManifestKind, OAuth1Spec, OAuthSpec, Pagination, RateLimitHeaders,
    RetryRules, ScopeProfile, TokenExchange, TokenFields, TokenRequestFormat, VerifySpec,
};
pub use component::Component;
pub use manifest::Manifest;

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin.rs"));
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}: {path}: {reason}")]
pub struct ManifestError {
    pub file: String,
    pub path: String,
    pub reason: String,
}

/// The built-in apps and components.
#[derive(Debug, Clone)]
pub struct Catalog {
    apps: Vec<App>,
    components: Vec<Component>,
}

impl Catalog {
    /// The manifests compiled into this binary.
    pub fn builtin() -> Result<Self, ManifestError> {
        Self::from_sources(builtin::BUILTIN.iter().copied())
    }

    /// Parses and validates `(file name, JSON text)` pairs.
    pub fn from_sources<'a>(
        sources: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ManifestError> {
        let mut apps: Vec<App> = Vec::new();
        let mut components: Vec<(String, Component)> = Vec::new();
        for (file, text) in sources {
            match manifest::parse(file, text)? {
                Manifest::App(app) => {
                    if let Some(dup) = apps
                        .iter()
                        .find(|a| a.name_slug == app.name_slug || a.id == app.id)
                    {
                        return Err(manifest::error(
                            file,
                            "name_slug",
                            format!("app {:?} is defined twice", dup.name_slug),
                        ));
                    }
                    apps.push(*app);
                }
                Manifest::Component(c) => components.push((file.to_string(), *c)),
            }
        }
        apps.sort_by(|a, b| a.name_slug.cmp(&b.name_slug));
        let mut catalog = Catalog {
            apps,
            components: Vec::new(),
        };
        for (file, c) in components {
            catalog.check_component(&file, &c)?;
            catalog.check_app_ingress(&file, &c)?;
            // Not `component()`: the list is sorted only once it is complete.
            if catalog.components.iter().any(|o| o.key == c.key) {
                return Err(manifest::error(
                    &file,
                    "key",
                    format!("component {:?} is defined twice", c.key),
                ));
            }
            catalog.components.push(c);
        }
        catalog.components.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(catalog)
    }

    /// Checks a component against the apps it names (built-in or private).
    pub fn check_component(&self, file: &str, c: &Component) -> Result<(), ManifestError> {
        if self.get(&c.app).is_none() {
            return Err(manifest::error(
                file,
                "app",
                format!("unknown app {:?}", c.app),
            ));
        }
        for (i, p) in c.props.iter().enumerate() {
            if let Some(app) = &p.app
                && self.get(app).is_none()
            {
                return Err(manifest::error(
                    file,
                    format!("props[{i}].app"),
                    format!("unknown app {app:?}"),
                ));
            }
        }
        Ok(())
    }

    /// App-level triggers of one app share its URL, so one signature check
    /// (the built-in ones') must serve them all.
    fn check_app_ingress(&self, file: &str, c: &Component) -> Result<(), ManifestError> {
        let Some(w) = c.app_webhook() else {
            return Ok(());
        };
        if let Some(other) = self
            .app_webhook_triggers(&c.app)
            .into_iter()
            .find(|o| o.key != c.key)
            && other.app_webhook().map(|o| &o.signature) != Some(&w.signature)
        {
            return Err(manifest::error(
                file,
                "source.signature",
                format!(
                    "app-level triggers of {} share one URL and must declare the same signature as {}",
                    c.app, other.key
                ),
            ));
        }
        Ok(())
    }

    /// The built-in triggers served by `app`'s shared URL, by key.
    pub fn app_webhook_triggers(&self, app: &str) -> Vec<&Component> {
        self.components
            .iter()
            .filter(|c| c.app == app && c.app_webhook().is_some())
            .collect()
    }

    /// Parses a manifest registered at runtime: it must be an action or a
    /// trigger, and pass every check a built-in one does.
    pub fn parse_component(
        &self,
        file: &str,
        manifest: serde_json::Value,
    ) -> Result<Component, ManifestError> {
        match manifest::parse_value(file, manifest)? {
            Manifest::Component(c) => {
                self.check_component(file, &c)?;
                self.check_app_ingress(file, &c)?;
                Ok(*c)
            }
            Manifest::App(_) => Err(manifest::error(
                file,
                "kind",
                "only actions and triggers can be registered through the API",
            )),
        }
    }

    /// The built-in catalog plus the providers of each `providers.yaml`,
    /// in order. A file that cannot be read or parsed is an error; a
    /// provider that does not map is only a refusal in its file's report.
    pub fn with_providers(
        paths: &[std::path::PathBuf],
    ) -> Result<(Self, Vec<providers::Report>), String> {
        let mut c = Self::builtin().map_err(|e| e.to_string())?;
        let mut reports = Vec::new();
        for p in paths {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("provider catalog {}: {e}", p.display()))?;
            let report = c
                .add_providers(&text)
                .map_err(|e| format!("provider catalog {}: {e}", p.display()))?;
            reports.push(report);
        }
        Ok((c, reports))
    }

    /// Imports a provider catalog's apps. Apps already present (built-in,
    /// or from an earlier file) keep their slug: the provider is reported
    /// as shadowed.
    pub fn add_providers(&mut self, text: &str) -> Result<providers::Report, String> {
        let taken: Vec<String> = self.apps.iter().map(|a| a.name_slug.clone()).collect();
        let taken: Vec<&str> = taken.iter().map(String::as_str).collect();
        let (apps, report) = providers::import(text, &taken)?;
        let mut generated = Vec::new();
        for app in &apps {
            let key = providers::custom_request::key(&app.name_slug);
            // A built-in action with the key wins, like a built-in app.
            if self.component(&key).is_some() {
                continue;
            }
            if let Some(c) = providers::custom_request::custom_request(app) {
                generated.push(c.map_err(|e| format!("{key}: {e}"))?);
            }
        }
        self.components.extend(generated);
        self.components.sort_by(|a, b| a.key.cmp(&b.key));
        self.apps.extend(apps);
        self.apps.sort_by(|a, b| a.name_slug.cmp(&b.name_slug));
        Ok(report)
    }

    /// Generates actions from an OpenAPI 3.x document for one of the
    /// catalog's apps (built-in or imported). A key already in the catalog
    /// keeps its component: the operation is reported as shadowed.
    pub fn add_openapi(
        &mut self,
        text: &str,
        sel: &openapi::Selection,
        file: &str,
    ) -> Result<openapi::Report, String> {
        let app = self
            .get(&sel.app)
            .ok_or_else(|| format!("no app {:?} in the catalog", sel.app))?;
        let (components, report) = openapi::import(text, app, sel, self, file)?;
        self.components.extend(components);
        self.components.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(report)
    }

    /// `add_openapi` for a file; one that cannot be read (or is too large)
    /// is an error naming it.
    pub fn add_openapi_file(
        &mut self,
        path: &std::path::Path,
        sel: &openapi::Selection,
    ) -> Result<openapi::Report, String> {
        let at = |e: String| format!("OpenAPI spec {}: {e}", path.display());
        let len = std::fs::metadata(path)
            .map_err(|e| at(e.to_string()))?
            .len();
        if len > openapi::document::MAX_SPEC_BYTES as u64 {
            return Err(at(format!(
                "{len} bytes, more than the {} accepted",
                openapi::document::MAX_SPEC_BYTES
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| at(e.to_string()))?;
        let file = path
            .file_name()
            .map_or_else(|| "spec".into(), |f| f.to_string_lossy().into_owned());
        self.add_openapi(&text, sel, &file).map_err(at)
    }

    /// Applies site-specific endpoints (by app slug) from configuration.
    pub fn apply_overrides<'a>(
        &mut self,
        overrides: impl IntoIterator<Item = (&'a String, &'a AppOverride)>,
    ) -> Result<(), String> {
        for (slug, o) in overrides {
            let app = self
                .apps
                .iter_mut()
                .find(|a| &a.name_slug == slug)
                .ok_or_else(|| format!("apps.{slug}: no such app"))?;
            app.apply_override(o);
        }
        Ok(())
    }

    pub fn apps(&self) -> &[App] {
        &self.apps
    }

    /// Apps matching `q` (case-insensitive), best first: the exact slug or
    /// name, then a slug or name starting with `q`, then one containing it,
    /// then a match in the description; by slug within a rank. Without `q`
    /// (or a blank one), every app by slug.
    pub fn search_apps(&self, q: Option<&str>) -> Vec<&App> {
        let needle = q.map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());
        let mut ranked: Vec<(u8, &App)> = match &needle {
            None => self.apps.iter().map(|a| (0, a)).collect(),
            Some(n) => {
                // Slugs are lowercase with underscores: "google mail" and
                // "google-mail" find `google_mail`.
                let as_slug = n.replace([' ', '-'], "_");
                self.apps
                    .iter()
                    .filter_map(|a| {
                        let name = a.name.to_lowercase();
                        let rank = if a.name_slug == as_slug || name == *n {
                            0
                        } else if a.name_slug.starts_with(&as_slug) || name.starts_with(n.as_str())
                        {
                            1
                        } else if a.name_slug.contains(&as_slug) || name.contains(n.as_str()) {
                            2
                        } else if a.description.to_lowercase().contains(n.as_str()) {
                            3
                        } else {
                            return None;
                        };
                        Some((rank, a))
                    })
                    .collect()
            }
        };
        ranked.sort_by(|(ra, a), (rb, b)| ra.cmp(rb).then_with(|| a.name_slug.cmp(&b.name_slug)));
        ranked.into_iter().map(|(_, a)| a).collect()
    }

    /// By id (`app_…`) or slug.
    /// Apps are kept sorted by slug (every constructor sorts them), so a
    /// slug is a binary search; an id falls back to a scan.
    pub fn get(&self, id_or_slug: &str) -> Option<&App> {
        match self
            .apps
            .binary_search_by(|a| a.name_slug.as_str().cmp(id_or_slug))
        {
            Ok(i) => Some(&self.apps[i]),
            Err(_) => self.apps.iter().find(|a| a.id == id_or_slug),
        }
    }

    pub fn components(&self) -> &[Component] {
        &self.components
    }

    /// Slugs of the apps with at least one component of `kind` (any kind
    /// when `None`): `apps?has_actions=…` and friends.
    pub fn apps_with_components(
        &self,
        kind: Option<ManifestKind>,
    ) -> std::collections::HashSet<&str> {
        self.components
            .iter()
            .filter(|c| kind.is_none_or(|k| c.kind == k))
            .map(|c| c.app.as_str())
            .collect()
    }

    /// Components are kept sorted by key (every addition re-sorts).
    pub fn component(&self, key: &str) -> Option<&Component> {
        self.components
            .binary_search_by(|c| c.key.as_str().cmp(key))
            .ok()
            .map(|i| &self.components[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_search_ranks_exact_then_prefix_then_substring() {
        let c = Catalog::builtin().unwrap();
        let slugs = |q: Option<&str>| -> Vec<String> {
            c.search_apps(q)
                .iter()
                .map(|a| a.name_slug.clone())
                .collect()
        };
        assert_eq!(slugs(Some("SLACK"))[0], "slack", "exact, any case");
        let s = slugs(Some("s"));
        let prefixed: Vec<&String> = s.iter().take_while(|x| x.starts_with('s')).collect();
        assert!(prefixed.len() >= 3, "slug prefixes first: {s:?}");
        assert!(
            prefixed.windows(2).all(|w| w[0] < w[1]),
            "by slug within a rank"
        );
        assert!(
            s.iter().skip(prefixed.len()).all(|x| !x.starts_with('s')),
            "then the rest: {s:?}"
        );
        let all = slugs(None);
        assert_eq!(all.len(), c.apps().len());
        assert_eq!(slugs(Some("  ")), all, "a blank query is no query");
        assert!(slugs(Some("zzzz-no-such-app")).is_empty());
    }

    #[test]
    fn builtin_catalog_loads() {
        let c = Catalog::builtin().unwrap();
        for slug in ["github", "slack", "stripe", "rss", "http", "schedule"] {
            assert!(c.get(slug).is_some(), "{slug} missing");
        }
        assert_eq!(c.get("app_github").unwrap().name_slug, "github");
        assert_eq!(c.get("stripe").unwrap().auth.kind, AuthType::Keys);
        for key in [
            "slack-send-message",
            "github-create-issue",
            "http-custom-request",
        ] {
            assert!(c.component(key).is_some(), "{key} missing");
        }
    }

    #[test]
    fn an_override_replaces_the_apps_domains() {
        let mut c = Catalog::builtin().unwrap();
        let o = AppOverride {
            base_url: Some("https://github.example.com/api/v3/".into()),
            ..Default::default()
        };
        c.apply_overrides([(&"github".to_string(), &o)]).unwrap();
        let gh = c.get("github").unwrap();
        assert_eq!(gh.connect.allowed_domains, vec!["github.example.com"]);
        assert_eq!(
            gh.api.as_ref().unwrap().base_url,
            "https://github.example.com/api/v3"
        );
        assert!(c.apply_overrides([(&"nope".to_string(), &o)]).is_err());
    }

    const APP: &str = r#"{"manifest_version":1,"kind":"app","id":"app_x","name_slug":"x","name":"X","categories":["c"],"auth":{"type":"none"}}"#;

    #[test]
    fn malformed_manifests_name_file_path_and_reason() {
        let bad = [
            ("a.json", "{".to_string(), "JSON"),
            (
                "b.json",
                APP.replace(r#""name_slug":"x""#, r#""name_slug":"X Y""#),
                "name_slug",
            ),
            (
                "c.json",
                APP.replace(r#"{"type":"none"}"#, r#"{"type":"oauth"}"#),
                "auth",
            ),
            (
                "d.json",
                APP.replace(r#"{"type":"none"}"#, r#"{"type":"keys","fields":[]}"#),
                "auth.fields",
            ),
            (
                "e.json",
                APP.replace(r#""manifest_version":1"#, r#""manifest_version":2"#),
                "manifest_version",
            ),
            (
                "f.json",
                APP.replace(r#""kind":"app""#, r#""kind":"widget""#),
                "kind",
            ),
            (
                "g.json",
                APP.replace(r#""name":"X""#, r#""name":"X","colour":"red""#),
                "colour",
            ),
        ];
        for (file, text, needle) in bad {
            let err = Catalog::from_sources([(file, text.as_str())])
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(file), "{err}");
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
        let err = Catalog::from_sources([("f.json", APP), ("g.json", APP)]).unwrap_err();
        assert!(err.to_string().contains("twice"));
    }

    /// An oauth app has exactly one of OAuth 2 (`oauth`) and OAuth 1
    /// (`oauth1`); `oauth1` belongs to oauth apps only.
    #[test]
    fn oauth_apps_have_exactly_one_of_oauth_and_oauth1() {
        let o1 = r#""oauth1":{"request_token_url":"https://x.test/r","authorize_url":"https://x.test/a","access_token_url":"https://x.test/t","authorize_params":{"expiration":"never"}}"#;
        let o2 = r#""oauth":{"authorize_url":"https://x.test/a","token_url":"https://x.test/t"}"#;
        let with = |auth: String| APP.replace(r#"{"type":"none"}"#, &auth);
        let ok = with(format!(r#"{{"type":"oauth",{o1}}}"#));
        let c = Catalog::from_sources([("o1.json", ok.as_str())]).unwrap();
        let a = c.get("x").unwrap();
        assert_eq!(a.auth.oauth1.as_ref().unwrap().scope_separator, " ");
        assert_eq!(a.session_client(), (true, true));
        for (auth, needle) in [
            (format!(r#"{{"type":"oauth",{o1},{o2}}}"#), "auth"),
            (format!(r#"{{"type":"none",{o1}}}"#), "auth"),
            (
                format!(
                    r#"{{"type":"oauth",{}}}"#,
                    o1.replace("https://x.test/r", "ftp://x.test/r")
                ),
                "request_token_url",
            ),
            (
                format!(
                    r#"{{"type":"oauth",{}}}"#,
                    o1.replace("\"authorize_params\"", "\"signature\"")
                ),
                "signature",
            ),
        ] {
            let text = with(auth);
            let err = Catalog::from_sources([("o.json", text.as_str())])
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }

    fn action(extra: &str) -> String {
        format!(
            r#"{{"manifest_version":1,"kind":"action","key":"x-do","name":"Do","version":"0.1.0","app":"x",
               "props":[{{"name":"n","type":"integer"}}],
               "steps":[{{"name":"s","request":{{"url":"https://x.test/{{{{ props.n }}}}"}}}}]{extra}}}"#
        )
    }

    #[test]
    fn component_defects_are_refused_with_their_path() {
        let ok = action("");
        Catalog::from_sources([("x.json", APP), ("a.json", ok.as_str())]).unwrap();
        let cases = [
            (action(r#","summary":"{{ props.n + }}""#), "summary"),
            (action(r#","timeout_secs":90"#), "timeout_secs"),
            (ok.replace(r#""key":"x-do""#, r#""key":"y-do""#), "key"),
            (ok.replace(r#""app":"x""#, r#""app":"nope""#), "app"),
            (
                ok.replace(r#""type":"integer""#, r#""type":"$.interface.foo""#),
                "props[0].type",
            ),
            (
                ok.replace(r#""url":"#, r#""bogus":1,"url":"#),
                "steps[0].request",
            ),
            (action(r#","exports":{"a":"{% for %}"}"#), "exports.a"),
        ];
        for (text, needle) in cases {
            let err =
                Catalog::from_sources([("x.json", APP), ("a.json", text.as_str())]).unwrap_err();
            assert_eq!(err.file, "a.json", "{err}");
            assert!(
                err.path.contains(needle) || err.reason.contains(needle),
                "{err} should point at {needle}"
            );
        }
    }

    #[test]
    fn slack_new_message_in_channels_templates() {
        use serde_json::json;
        let c = Catalog::builtin().unwrap();
        let t = c.component("slack-new-message-in-channels").unwrap();
        let w = t.app_webhook().expect("an app-level webhook trigger");
        assert_eq!(c.app_webhook_triggers("slack").len(), 1);
        assert!(c.app_webhook_triggers("github").is_empty());
        let sig = w.signature.as_ref().unwrap();
        assert_eq!(
            sig.scheme,
            switchboard_net::signature::SignatureScheme::SlackV0
        );
        assert_eq!(sig.tolerance_secs, Some(300));
        let req = |body: serde_json::Value| json!({"request": {"body": body}});
        // url_verification is a handshake answering the challenge.
        let v = req(json!({"type": "url_verification", "challenge": "abc", "token": "t"}));
        assert!(template::truthy(&w.handshakes[0].when, &v).unwrap());
        let body =
            template::eval_tree(w.handshakes[0].response.body.as_ref().unwrap(), &v).unwrap();
        assert_eq!(body, json!({"challenge": "abc"}));
        let msg = |event: serde_json::Value| json!({"type": "event_callback", "team_id": "T1", "event_id": "Ev1", "event": event});
        let with = |body: serde_json::Value, ignore_bot: bool, ignore_threads: bool| json!({"request": {"body": body}, "props": {"conversations": ["C1"], "ignoreBot": ignore_bot, "ignoreThreads": ignore_threads}});
        let plain = msg(json!({"type": "message", "channel": "C1", "text": "hi", "user": "U1"}));
        assert!(!template::truthy(&w.handshakes[0].when, &req(plain.clone())).unwrap());
        let filter = w.filter.as_deref().unwrap();
        let cases = [
            (plain.clone(), false, false, true),
            (plain.clone(), true, true, true),
            (
                msg(
                    json!({"type": "message", "subtype": "bot_message", "bot_id": "B1", "channel": "C1"}),
                ),
                false,
                false,
                true,
            ),
            (
                msg(
                    json!({"type": "message", "subtype": "bot_message", "bot_id": "B1", "channel": "C1"}),
                ),
                true,
                false,
                false,
            ),
            (
                msg(json!({"type": "message", "bot_id": "B1", "channel": "C1"})),
                true,
                false,
                false,
            ),
            (
                msg(json!({"type": "message", "subtype": "message_changed", "channel": "C1"})),
                false,
                false,
                false,
            ),
            (
                msg(json!({"type": "message", "subtype": "message_deleted", "channel": "C1"})),
                false,
                false,
                false,
            ),
            (
                msg(json!({"type": "message", "subtype": "file_share", "channel": "C1"})),
                false,
                false,
                true,
            ),
            (
                msg(json!({"type": "message", "thread_ts": "1.2", "channel": "C1"})),
                false,
                false,
                true,
            ),
            (
                msg(json!({"type": "message", "thread_ts": "1.2", "channel": "C1"})),
                false,
                true,
                false,
            ),
            (
                msg(json!({"type": "reaction_added", "item": {"channel": "C1"}})),
                false,
                false,
                false,
            ),
            (
                json!({"type": "app_rate_limited", "team_id": "T1"}),
                false,
                false,
                false,
            ),
        ];
        for (body, bot, threads, want) in cases {
            let got = template::truthy(filter, &with(body.clone(), bot, threads)).unwrap();
            assert_eq!(
                got, want,
                "filter on {body} (ignoreBot {bot}, ignoreThreads {threads})"
            );
        }
        // Route values: the request's team and channel, the deployment's
        // team (from auth.test on activate) and channels.
        let r = |i: usize, body: serde_json::Value| {
            template::eval(&w.route[i].request, &req(body)).unwrap()
        };
        assert_eq!(r(0, plain.clone()), json!("T1"));
        assert_eq!(r(1, plain.clone()), json!("C1"));
        assert_eq!(
            r(1, json!({"type": "event_callback", "team_id": "T1"})),
            json!("")
        );
        assert_eq!(r(0, json!({"type": "event_callback"})), json!(""));
        let d = json!({"props": {"conversations": ["C1", "C2"]}, "state": {"team_id": "T9"}});
        assert_eq!(
            template::eval(&w.route[0].deployment, &d).unwrap(),
            json!("T9")
        );
        assert_eq!(
            template::eval(&w.route[1].deployment, &d).unwrap(),
            json!(["C1", "C2"])
        );
        let ctx = with(plain, false, false);
        assert_eq!(
            template::render(w.id.as_deref().unwrap(), &ctx).unwrap(),
            "Ev1"
        );
        assert_eq!(
            template::render(&w.summary, &ctx).unwrap(),
            "New message in #C1"
        );
        assert_eq!(
            template::eval_tree(w.event.as_ref().unwrap(), &ctx).unwrap()["text"],
            "hi"
        );
    }

    #[test]
    fn app_level_triggers_share_one_signature_and_no_own_url() {
        let c = Catalog::builtin().unwrap();
        let base = include_str!("../triggers/slack/slack-new-message-in-channels.json");
        let mut other: serde_json::Value = serde_json::from_str(base).unwrap();
        other["key"] = "slack-other".into();
        c.parse_component("p.json", other.clone()).unwrap();
        let mut different = other.clone();
        different["source"]["signature"]["tolerance_secs"] = 600.into();
        let err = c.parse_component("p.json", different).unwrap_err();
        assert!(err.reason.contains("same signature"), "{err}");
        let mut with_url = other.clone();
        with_url["props"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"name": "http", "type": "$.interface.http"}));
        let err = c.parse_component("p.json", with_url).unwrap_err();
        assert!(err.reason.contains("$.interface.http"), "{err}");
        let mut no_route = other;
        no_route["source"]["route"] = serde_json::json!([]);
        assert!(c.parse_component("p.json", no_route).is_err());
    }
}
