//! Switchboard's component catalog. Components are data: each app is a JSON
//! manifest under `components/apps/`, embedded at build time, validated at
//! load time with the file, the field and the reason of any defect.

mod app;
pub mod props;

pub use app::{App, AuthSpec, AuthType, ConnectInfo, CustomField, OAuthSpec, ScopeProfile};

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin.rs"));
}

#[derive(Debug, thiserror::Error)]
#[error("{file}: {path}: {reason}")]
pub struct ManifestError {
    pub file: String,
    pub path: String,
    pub reason: String,
}

/// All apps, ordered by slug.
#[derive(Debug, Clone)]
pub struct Catalog {
    apps: Vec<App>,
}

impl Catalog {
    /// The manifests compiled into this binary.
    pub fn builtin() -> Result<Self, ManifestError> {
        Self::from_sources(builtin::BUILTIN_APPS.iter().copied())
    }

    /// Parses and validates `(file name, JSON text)` pairs.
    pub fn from_sources<'a>(
        sources: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ManifestError> {
        let mut apps: Vec<App> = Vec::new();
        for (file, text) in sources {
            let app = App::parse(file, text)?;
            if let Some(dup) = apps
                .iter()
                .find(|a| a.name_slug == app.name_slug || a.id == app.id)
            {
                return Err(ManifestError {
                    file: file.to_string(),
                    path: "name_slug".into(),
                    reason: format!("app {:?} is defined twice", dup.name_slug),
                });
            }
            apps.push(app);
        }
        apps.sort_by(|a, b| a.name_slug.cmp(&b.name_slug));
        Ok(Catalog { apps })
    }

    pub fn apps(&self) -> &[App] {
        &self.apps
    }

    /// By id (`app_…`) or slug.
    pub fn get(&self, id_or_slug: &str) -> Option<&App> {
        self.apps
            .iter()
            .find(|a| a.name_slug == id_or_slug || a.id == id_or_slug)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_loads_the_apps_later_work_needs() {
        let c = Catalog::builtin().unwrap();
        for slug in ["github", "slack", "stripe", "rss", "http", "schedule"] {
            assert!(c.get(slug).is_some(), "{slug} missing");
        }
        assert_eq!(c.get("app_github").unwrap().name_slug, "github");
        assert_eq!(c.get("stripe").unwrap().auth.kind, AuthType::Keys);
    }

    #[test]
    fn malformed_manifests_name_file_path_and_reason() {
        let bad = [
            ("a.json", "{", "JSON"),
            (
                "b.json",
                r#"{"manifest_version":1,"id":"app_x","name_slug":"X Y","name":"X","categories":["c"],"auth":{"type":"none"}}"#,
                "name_slug",
            ),
            (
                "c.json",
                r#"{"manifest_version":1,"id":"app_x","name_slug":"x","name":"X","categories":["c"],"auth":{"type":"oauth"}}"#,
                "auth.oauth",
            ),
            (
                "d.json",
                r#"{"manifest_version":1,"id":"app_x","name_slug":"x","name":"X","categories":["c"],"auth":{"type":"keys","fields":[]}}"#,
                "auth.fields",
            ),
            (
                "e.json",
                r#"{"manifest_version":2,"id":"app_x","name_slug":"x","name":"X","categories":["c"],"auth":{"type":"none"}}"#,
                "manifest_version",
            ),
        ];
        for (file, text, needle) in bad {
            let err = Catalog::from_sources([(file, text)])
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(file), "{err}");
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
        let ok = r#"{"manifest_version":1,"id":"app_x","name_slug":"x","name":"X","categories":["c"],"auth":{"type":"none"}}"#;
        let err = Catalog::from_sources([("f.json", ok), ("g.json", ok)]).unwrap_err();
        assert!(err.to_string().contains("twice"));
    }
}
