//! Which operations of a document become actions: `include` and
//! `exclude` globs over the operationId, or else over the tags.

use serde::{Deserialize, Serialize};

/// One `[[catalog.openapi]]` entry, less where the file is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    /// The app the actions belong to (its slug).
    pub app: String,
    /// Globs (`*` any run of characters, `?` one); none selects every
    /// operation.
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// `*` and `?` glob, case-insensitive, over the whole text.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    // Iterative, with one backtrack point: linear in practice, never
    // exponential.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

impl Selection {
    /// A glob matches the operationId or, as a fallback, one of the tags.
    fn matches(globs: &[String], operation_id: Option<&str>, tags: &[&str]) -> bool {
        globs
            .iter()
            .any(|g| operation_id.is_some_and(|id| glob(g, id)) || tags.iter().any(|t| glob(g, t)))
    }

    pub fn selects(&self, operation_id: Option<&str>, tags: &[&str]) -> bool {
        (self.include.is_empty() || Self::matches(&self.include, operation_id, tags))
            && !Self::matches(&self.exclude, operation_id, tags)
    }
}
