//! What each selected operation became, and the totals.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The operationId, or `METHOD /path` without one.
    pub operation: String,
    pub method: String,
    pub path: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Generated {
        key: String,
        /// Inputs left out, and why.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        notes: Vec<String>,
    },
    /// A component with this key is already in the catalog, and wins.
    Shadowed {
        key: String,
    },
    Refused {
        reason: String,
    },
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub app: String,
    pub operations: Vec<Entry>,
    /// Operations the include/exclude globs left out (not listed).
    pub excluded: usize,
    pub generated: usize,
    pub shadowed: usize,
    pub refused: usize,
    /// Refusal reasons grouped by their general part, with how many
    /// operations each.
    pub reasons: BTreeMap<String, usize>,
}

impl Report {
    pub fn push(&mut self, e: Entry) {
        match &e.outcome {
            Outcome::Generated { .. } => self.generated += 1,
            Outcome::Shadowed { .. } => self.shadowed += 1,
            Outcome::Refused { reason } => {
                self.refused += 1;
                *self
                    .reasons
                    .entry(crate::providers::reason_group(reason))
                    .or_default() += 1;
            }
        }
        self.operations.push(e);
    }

    /// The human summary `check-openapi` prints.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for e in &self.operations {
            let what = match &e.outcome {
                Outcome::Generated { key, notes } if notes.is_empty() => format!("-> {key}"),
                Outcome::Generated { key, notes } => format!("-> {key} ({})", notes.join("; ")),
                Outcome::Shadowed { key } => format!("-> {key}: shadowed by an existing component"),
                Outcome::Refused { reason } => format!("refused: {reason}"),
            };
            s.push_str(&format!(
                "{} [{} {}] {what}\n",
                e.operation,
                e.method.to_uppercase(),
                e.path
            ));
        }
        s.push_str(&format!(
            "\n{}: {} operations selected ({} excluded): {} generated, {} shadowed, {} refused\n",
            self.app,
            self.operations.len(),
            self.excluded,
            self.generated,
            self.shadowed,
            self.refused
        ));
        for (r, n) in &self.reasons {
            s.push_str(&format!("    {n} x {r}\n"));
        }
        s
    }
}
