//! Which polled items are new, by Pipedream's dedupe strategies: `unique`
//! (ids not seen before, remembered up to a bound), `greatest` (ids above
//! the largest seen) and `last` (what comes after the last id seen). The
//! memory travels in the deployment record and is committed with the
//! events it let through.

use std::collections::{HashSet, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_components::component::Dedupe;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    /// `unique`: ids seen, oldest first, at most the bound.
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    pub seen: VecDeque<String>,
    /// `greatest`: the largest id seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greatest: Option<String>,
    /// `last`: the last id seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
}

/// Orders ids as numbers when both are, else as strings (ISO timestamps
/// and zero-padded ids order correctly either way).
fn greater(a: &str, b: &str) -> bool {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x > y,
        _ => a > b,
    }
}

/// An id as dedupe sees it: strings as they are, numbers in decimal.
pub fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The positions in `ids` (oldest first) that are new, updating `mem` to
/// remember all of them.
pub fn select(strategy: Dedupe, mem: &mut Memory, ids: &[String], bound: usize) -> Vec<usize> {
    match strategy {
        Dedupe::Unique => {
            let mut known: HashSet<String> = mem.seen.iter().cloned().collect();
            let mut fresh = Vec::new();
            for (i, id) in ids.iter().enumerate() {
                if known.insert(id.clone()) {
                    fresh.push(i);
                    mem.seen.push_back(id.clone());
                }
            }
            while mem.seen.len() > bound.max(1) {
                mem.seen.pop_front();
            }
            fresh
        }
        Dedupe::Greatest => {
            let mut fresh = Vec::new();
            for (i, id) in ids.iter().enumerate() {
                if mem.greatest.as_deref().is_none_or(|g| greater(id, g)) {
                    fresh.push(i);
                }
            }
            for id in ids {
                if mem.greatest.as_deref().is_none_or(|g| greater(id, g)) {
                    mem.greatest = Some(id.clone());
                }
            }
            fresh
        }
        Dedupe::Last => {
            let start = mem
                .last
                .as_ref()
                .and_then(|l| ids.iter().position(|id| id == l))
                .map_or(0, |p| p + 1);
            if let Some(l) = ids.last() {
                mem.last = Some(l.clone());
            }
            (start..ids.len()).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn unique_remembers_up_to_its_bound() {
        let mut m = Memory::default();
        assert_eq!(select(Dedupe::Unique, &mut m, &ids(&["a", "b"]), 3), [0, 1]);
        assert_eq!(
            select(Dedupe::Unique, &mut m, &ids(&["b", "c", "c"]), 3),
            [1]
        );
        assert_eq!(m.seen, ["a", "b", "c"]);
        // "a" falls out of a bound of 3 once "d" arrives, and is new again.
        assert_eq!(select(Dedupe::Unique, &mut m, &ids(&["d"]), 3), [0]);
        assert_eq!(select(Dedupe::Unique, &mut m, &ids(&["a"]), 3), [0]);
    }

    #[test]
    fn greatest_compares_numbers_as_numbers() {
        let mut m = Memory::default();
        assert_eq!(
            select(Dedupe::Greatest, &mut m, &ids(&["9", "10"]), 0),
            [0, 1]
        );
        assert_eq!(m.greatest.as_deref(), Some("10"));
        assert_eq!(
            select(Dedupe::Greatest, &mut m, &ids(&["8", "10", "11"]), 0),
            [2]
        );
        let mut m = Memory::default();
        select(Dedupe::Greatest, &mut m, &ids(&["2026-11-23T08:00:00Z"]), 0);
        assert_eq!(
            select(
                Dedupe::Greatest,
                &mut m,
                &ids(&["2026-11-23T07:00:00Z", "2026-11-23T09:00:00Z"]),
                0
            ),
            [1]
        );
    }

    #[test]
    fn last_emits_what_follows_the_last_seen() {
        let mut m = Memory::default();
        assert_eq!(select(Dedupe::Last, &mut m, &ids(&["a", "b"]), 0), [0, 1]);
        assert_eq!(
            select(Dedupe::Last, &mut m, &ids(&["a", "b", "c", "d"]), 0),
            [2, 3]
        );
        // The last seen is gone from the page: everything is new.
        assert_eq!(select(Dedupe::Last, &mut m, &ids(&["x", "y"]), 0), [0, 1]);
        assert_eq!(
            select(Dedupe::Last, &mut m, &ids(&[]), 0),
            Vec::<usize>::new()
        );
        assert_eq!(m.last.as_deref(), Some("y"));
    }
}
