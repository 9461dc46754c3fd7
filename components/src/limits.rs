//! The one home of the bounds on user-controlled expressions: JSONPath,
//! templates, cron and time zones, feed XML and manifests. Each parser
//! checks, in this order:
//!
//! 1. the input's length ([`check_len`]);
//! 2. its nesting depth, with a flat scan before parsing
//!    ([`bracket_depth`], [`xml_depth`]), so no parser recursion can go
//!    deeper than the limit;
//! 3. while evaluating, a work budget ([`Fuel`]) that also bounds what the
//!    evaluation produces.
//!
//! Evaluations over provider-sized input run off the async workers, on the
//! blocking pool, at most [`max_concurrent_evaluations`] at a time
//! ([`offload`]), so one tenant's heavy expression cannot starve the
//! runtime that serves everyone.

use std::sync::OnceLock;

use tokio::sync::Semaphore;

/// Longest JSONPath (bytes). Real paths are a few dozen characters.
pub const MAX_JSONPATH_LEN: usize = 512;
/// Deepest nesting of `[` and `(` in a JSONPath.
pub const MAX_JSONPATH_DEPTH: usize = 16;
/// Steps (nodes visited, expressions evaluated, values copied) one JSONPath
/// evaluation may spend: tens of milliseconds at most.
pub const JSONPATH_FUEL: u64 = 1_000_000;
/// Steps all JSONPath evaluations of one poll page may spend together
/// (items, then each item's id and timestamp).
pub const POLL_PAGE_FUEL: u64 = 4_000_000;

/// Longest template (bytes), in a manifest or rendered from one.
pub const MAX_TEMPLATE_LEN: usize = 64 << 10;
/// Deepest nesting of `(`, `[`, `{` and blocks in a template.
pub const MAX_TEMPLATE_DEPTH: usize = 32;
/// Most operators (`.`, `|`, `+`, `[`, `and`, …) in one template tag: a
/// chain of them nests like parentheses in minijinja's recursive compiler.
pub const MAX_TEMPLATE_TAG_OPS: usize = 128;
/// Instructions one template evaluation may spend.
pub const TEMPLATE_FUEL: u64 = 50_000;
/// Largest value one template evaluation may produce (bytes).
pub const MAX_TEMPLATE_OUTPUT_BYTES: usize = 1 << 20;

/// Longest cron expression (bytes).
pub const MAX_CRON_LEN: usize = 128;
/// Longest time zone name (bytes; the longest IANA name has 32).
pub const MAX_TIMEZONE_LEN: usize = 64;

/// Largest feed document (bytes): the outbound client's response cap.
pub const MAX_FEED_BYTES: usize = 10 << 20;
/// Deepest element nesting in a feed. Real feeds nest fewer than 20.
pub const MAX_FEED_DEPTH: usize = 64;

/// Largest JSON a feed may become (entities can expand a document).
pub const MAX_FEED_JSON_BYTES: usize = 2 * MAX_FEED_BYTES;

/// Largest manifest (bytes).
pub const MAX_MANIFEST_BYTES: usize = 512 << 10;
/// Deepest nesting of `[` and `{` in a manifest's JSON.
pub const MAX_MANIFEST_DEPTH: usize = 32;

/// A bound an input or an evaluation went past.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("{what} is too long: {len} bytes (at most {max})")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{what} nests too deeply (more than {max} levels)")]
    TooDeep { what: &'static str, max: usize },
    #[error("{what} exceeded its work budget ({fuel} steps); simplify it")]
    OutOfFuel { what: &'static str, fuel: u64 },
}

/// Refuses an input longer than `max` bytes.
pub fn check_len(what: &'static str, s: &str, max: usize) -> Result<(), LimitError> {
    if s.len() > max {
        return Err(LimitError::TooLong {
            what,
            len: s.len(),
            max,
        });
    }
    Ok(())
}

/// The deepest nesting of `open`/`close` bytes in `s` (pairs matched by
/// position: `open[i]` closes with `close[i]`, but any closer pops), with
/// `'…'` and `"…"` string literals (backslash escapes) skipped when
/// `quotes` is set. Stops counting once past `stop`, so it is linear.
pub fn bracket_depth(s: &str, open: &[u8], close: &[u8], quotes: bool, stop: usize) -> usize {
    let b = s.as_bytes();
    let (mut depth, mut max, mut i) = (0usize, 0usize, 0usize);
    while i < b.len() {
        let c = b[i];
        if quotes && (c == b'\'' || c == b'"') {
            i += 1;
            while i < b.len() && b[i] != c {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
        } else if open.contains(&c) {
            depth += 1;
            max = max.max(depth);
            if max > stop {
                return max;
            }
        } else if close.contains(&c) {
            depth = depth.saturating_sub(1);
        }
        i += 1;
    }
    max
}

/// Refuses `s` when its bracket nesting is deeper than `max`.
pub fn check_brackets(
    what: &'static str,
    s: &str,
    open: &[u8],
    close: &[u8],
    quotes: bool,
    max: usize,
) -> Result<(), LimitError> {
    if bracket_depth(s, open, close, quotes, max) > max {
        return Err(LimitError::TooDeep { what, max });
    }
    Ok(())
}

/// The deepest element nesting of an XML text, without parsing it:
/// comments, CDATA, processing instructions, the DOCTYPE (with its internal
/// subset) and quoted attribute values are skipped; `<a/>` does not nest.
/// Stops once past `stop`.
pub fn xml_depth(s: &str, stop: usize) -> usize {
    let b = s.as_bytes();
    let find = |from: usize, pat: &[u8]| -> usize {
        b[from.min(b.len())..]
            .windows(pat.len())
            .position(|w| w == pat)
            .map_or(b.len(), |p| from + p + pat.len())
    };
    let (mut depth, mut max, mut i) = (0usize, 0usize, 0usize);
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        let rest = &b[i..];
        if rest.starts_with(b"<!--") {
            i = find(i + 4, b"-->");
        } else if rest.starts_with(b"<![CDATA[") {
            i = find(i + 9, b"]]>");
        } else if rest.starts_with(b"<?") {
            i = find(i + 2, b"?>");
        } else if rest.starts_with(b"<!") {
            // A declaration; the DOCTYPE's internal subset is in [...].
            let mut j = i + 2;
            let mut bracket = 0usize;
            while j < b.len() {
                match b[j] {
                    b'[' => bracket += 1,
                    b']' => bracket = bracket.saturating_sub(1),
                    b'>' if bracket == 0 => break,
                    q @ (b'"' | b'\'') => {
                        j += 1;
                        while j < b.len() && b[j] != q {
                            j += 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            i = j + 1;
        } else if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            i = find(i + 2, b">");
        } else {
            // A start tag: to its '>' outside quoted attribute values.
            let mut j = i + 1;
            let mut last = 0u8;
            while j < b.len() && b[j] != b'>' {
                if b[j] == b'"' || b[j] == b'\'' {
                    let q = b[j];
                    j += 1;
                    while j < b.len() && b[j] != q {
                        j += 1;
                    }
                }
                if j < b.len() && !b[j].is_ascii_whitespace() {
                    last = b[j];
                }
                j += 1;
            }
            if last != b'/' {
                depth += 1;
                max = max.max(depth);
                if max > stop {
                    return max;
                }
            }
            i = j + 1;
        }
    }
    max
}

/// How deeply a JSON value nests (a scalar is 0), walked without
/// recursion; stops once past `stop`.
pub fn json_depth(v: &serde_json::Value, stop: usize) -> usize {
    use serde_json::Value;
    let mut max = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        let kids: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(a) => Box::new(a.iter()),
            Value::Object(o) => Box::new(o.values()),
            _ => continue,
        };
        max = max.max(d + 1);
        if max > stop {
            return max;
        }
        stack.extend(kids.map(|k| (k, d + 1)));
    }
    max
}

/// A work budget: every step of an evaluation spends from it, and an
/// evaluation that runs out stops with [`LimitError::OutOfFuel`].
#[derive(Debug, Clone)]
pub struct Fuel {
    left: u64,
    total: u64,
    what: &'static str,
}

impl Fuel {
    pub fn new(what: &'static str, total: u64) -> Self {
        Fuel {
            left: total,
            total,
            what,
        }
    }

    /// Spends `n` steps, or fails once the budget is gone.
    #[inline]
    pub fn spend(&mut self, n: u64) -> Result<(), LimitError> {
        match self.left.checked_sub(n) {
            Some(l) => {
                self.left = l;
                Ok(())
            }
            None => {
                self.left = 0;
                Err(LimitError::OutOfFuel {
                    what: self.what,
                    fuel: self.total,
                })
            }
        }
    }

    pub fn left(&self) -> u64 {
        self.left
    }
}

/// How many tenant evaluations may run at once: all cores but one (at
/// least one), so evaluations can never take every core from the async
/// workers that serve everyone.
pub fn max_concurrent_evaluations() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
}

fn permits() -> &'static Semaphore {
    static S: OnceLock<Semaphore> = OnceLock::new();
    S.get_or_init(|| Semaphore::new(max_concurrent_evaluations()))
}

/// Runs a CPU-bound evaluation of tenant input (bounded by its own fuel) on
/// tokio's blocking pool, on all cores but one at most, so the async
/// workers keep serving everyone else meanwhile. A panic inside is
/// reported as an error rather than taking the caller down.
pub async fn offload<T, F>(f: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let _permit = permits()
        .acquire()
        .await
        .map_err(|_| "evaluation pool closed".to_string())?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("evaluation failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_brackets() {
        assert!(check_len("x", "abc", 3).is_ok());
        let e = check_len("JSONPath", "abcd", 3).unwrap_err();
        assert_eq!(e.to_string(), "JSONPath is too long: 4 bytes (at most 3)");
        assert_eq!(bracket_depth("$[?(@.a)]", b"[(", b"])", true, 99), 2);
        // Brackets inside string literals do not count.
        assert_eq!(bracket_depth("$['(((']", b"[(", b"])", true, 99), 1);
        assert_eq!(bracket_depth("$['\\'((']", b"[(", b"])", true, 99), 1);
        let deep = "(".repeat(30_000);
        assert_eq!(bracket_depth(&deep, b"(", b")", true, 16), 17);
        assert!(check_brackets("x", &deep, b"(", b")", true, 16).is_err());
    }

    #[test]
    fn xml_nesting_is_counted_without_parsing() {
        assert_eq!(xml_depth("<a><b/><c x='>'>t</c></a>", 99), 2);
        assert_eq!(
            xml_depth(
                "<?xml version='1.0'?><!DOCTYPE r [<!ENTITY e '<x>'>]><r><!-- <a><a> --><![CDATA[<b><b>]]></r>",
                99
            ),
            1
        );
        let deep = "<a>".repeat(100_000);
        assert_eq!(xml_depth(&deep, 64), 65);
    }

    #[test]
    fn json_values_nesting() {
        use serde_json::json;
        assert_eq!(json_depth(&json!(1), 9), 0);
        assert_eq!(json_depth(&json!({"a": [1, {"b": []}]}), 9), 4);
        let mut v = json!(1);
        for _ in 0..10_000 {
            v = serde_json::Value::Array(vec![v]);
        }
        assert_eq!(json_depth(&v, 32), 33);
        // Dropping a 10,000-deep value recurses in serde_json: leak it.
        std::mem::forget(v);
    }

    #[test]
    fn fuel_runs_out() {
        let mut f = Fuel::new("JSONPath", 10);
        assert!(f.spend(6).is_ok());
        assert!(f.spend(5).is_err());
        assert_eq!(f.left(), 0);
    }

    #[tokio::test]
    async fn offload_runs_on_the_blocking_pool() {
        assert_eq!(offload(|| 2 + 2).await.unwrap(), 4);
        let e = offload(|| -> u8 { panic!("boom") }).await.unwrap_err();
        assert!(e.contains("evaluation failed"), "{e}");
    }
}
