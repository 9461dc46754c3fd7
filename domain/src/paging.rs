//! Cursor paging over store indexes, in Pipedream's `page_info` shape.

use crate::error::{Result, invalid};
use crate::store::{IndexRange, Key, Store};

pub const DEFAULT_LIMIT: usize = 10;
pub const MAX_LIMIT: usize = 100;

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct PageRequest {
    pub limit: Option<usize>,
    pub after: Option<String>,
    pub before: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub total_count: u64,
    pub start_cursor: Option<String>,
    /// `None` on the last page, so SDK iterators stop.
    pub end_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            data: self.data.into_iter().map(f).collect(),
            total_count: self.total_count,
            start_cursor: self.start_cursor,
            end_cursor: self.end_cursor,
        }
    }
}

/// Every member of an index, read a few hundred at a time (for sweeps over
/// one tenant's records: exports, replays).
pub(crate) async fn all_members(store: &dyn Store, index: &Key) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    loop {
        let page = store
            .index_range(
                index,
                &IndexRange {
                    after: out.last().cloned(),
                    before: None,
                    limit: 500,
                },
            )
            .await?;
        if page.is_empty() {
            return Ok(out);
        }
        out.extend(page);
    }
}

impl PageRequest {
    pub fn limit(&self) -> Result<usize> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(0) => Err(invalid("limit must be at least 1")),
            Some(n) if n > MAX_LIMIT => Err(invalid(format!("limit must be at most {MAX_LIMIT}"))),
            Some(n) => Ok(n),
        }
    }

    fn cursor(c: &Option<String>) -> Option<String> {
        c.clone().filter(|s| !s.is_empty())
    }

    /// One page of items already in memory, ordered by `key` (ids), with
    /// the same cursors as `page_ids` (for filtered lists: `projects?q=`).
    pub fn page_slice<T>(&self, mut items: Vec<T>, key: impl Fn(&T) -> String) -> Result<Page<T>> {
        let limit = self.limit()?;
        items.sort_by_key(|i| key(i));
        let total_count = items.len() as u64;
        let (after, before) = (Self::cursor(&self.after), Self::cursor(&self.before));
        let (start, end) = match (after, before) {
            (_, Some(b)) => {
                let end = items.partition_point(|i| key(i) < b);
                (end.saturating_sub(limit), end)
            }
            (Some(a), None) => {
                let start = items.partition_point(|i| key(i) <= a);
                (start, (start + limit).min(items.len()))
            }
            (None, None) => (0, limit.min(items.len())),
        };
        let more = end < items.len();
        let data: Vec<T> = items.drain(start..end).collect();
        Ok(Page {
            start_cursor: data.first().map(&key),
            end_cursor: if more { data.last().map(&key) } else { None },
            data,
            total_count,
        })
    }

    /// One page of an index's members, with `page_info` cursors. `end_cursor`
    /// is set only when members really follow the page.
    pub(crate) async fn page_ids(&self, store: &dyn Store, index: &Key) -> Result<Page<String>> {
        let limit = self.limit()?;
        let (after, before) = (Self::cursor(&self.after), Self::cursor(&self.before));
        let backwards = before.is_some();
        let mut members = store
            .index_range(
                index,
                &IndexRange {
                    after,
                    before,
                    // Forwards, one extra member tells whether more follow.
                    limit: limit + usize::from(!backwards),
                },
            )
            .await?;
        let more = if backwards {
            match members.last() {
                Some(last) => {
                    let next = IndexRange {
                        after: Some(last.clone()),
                        before: None,
                        limit: 1,
                    };
                    !store.index_range(index, &next).await?.is_empty()
                }
                None => false,
            }
        } else {
            let more = members.len() > limit;
            members.truncate(limit);
            more
        };
        let total_count = store.index_count(index).await?;
        Ok(Page {
            start_cursor: members.first().cloned(),
            end_cursor: if more { members.last().cloned() } else { None },
            data: members,
            total_count,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EmbeddedStore, Op};

    #[tokio::test]
    async fn cursors_walk_both_ways_and_end_with_null() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let ix = Key::global("t", "idx");
        let ops = (0..12)
            .map(|i| Op::IndexAdd {
                index: ix.clone(),
                member: format!("m{i:02}"),
            })
            .collect();
        store.commit(ops).await.unwrap();
        let req = |after: Option<&str>, before: Option<&str>| PageRequest {
            limit: Some(10),
            after: after.map(str::to_string),
            before: before.map(str::to_string),
        };
        let p1 = req(None, None).page_ids(&store, &ix).await.unwrap();
        assert_eq!(
            (p1.data.len(), p1.end_cursor.as_deref(), p1.total_count),
            (10, Some("m09"), 12)
        );
        let p2 = req(Some("m09"), None).page_ids(&store, &ix).await.unwrap();
        assert_eq!((p2.data.len(), p2.end_cursor), (2, None));
        // Empty cursors are no cursors.
        let p = req(Some(""), Some("")).page_ids(&store, &ix).await.unwrap();
        assert_eq!((p.data.len(), p.end_cursor.as_deref()), (10, Some("m09")));
        // Backwards from the end: members follow, so a cursor.
        let b = req(None, Some("m11")).page_ids(&store, &ix).await.unwrap();
        assert_eq!(
            (b.data.first().map(String::as_str), b.end_cursor.as_deref()),
            (Some("m01"), Some("m10"))
        );
        // Backwards from beyond the last member: nothing follows.
        let b = req(None, Some("zz")).page_ids(&store, &ix).await.unwrap();
        assert_eq!((b.data.len(), b.end_cursor), (10, None));
        // In memory, the same cursors.
        let items: Vec<String> = (0..12).rev().map(|i| format!("m{i:02}")).collect();
        let s1 = req(None, None)
            .page_slice(items.clone(), String::clone)
            .unwrap();
        assert_eq!((s1.data.len(), s1.end_cursor.as_deref()), (10, Some("m09")));
        let s2 = req(Some("m09"), None)
            .page_slice(items.clone(), String::clone)
            .unwrap();
        assert_eq!(
            (s2.data, s2.end_cursor),
            (vec!["m10".into(), "m11".into()], None)
        );
        let s3 = req(None, Some("m11"))
            .page_slice(items, String::clone)
            .unwrap();
        assert_eq!(
            (
                s3.data.first().map(String::as_str),
                s3.end_cursor.as_deref()
            ),
            (Some("m01"), Some("m10"))
        );
    }
}
