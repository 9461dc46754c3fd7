//! Cursor paging over store indexes, in Pipedream's `page_info` shape.

use crate::error::{Result, invalid};
use crate::store::IndexRange;

pub const DEFAULT_LIMIT: usize = 10;
pub const MAX_LIMIT: usize = 100;

#[derive(Debug, Clone, Default)]
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

impl PageRequest {
    pub fn limit(&self) -> Result<usize> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(0) => Err(invalid("limit must be at least 1")),
            Some(n) if n > MAX_LIMIT => Err(invalid(format!("limit must be at most {MAX_LIMIT}"))),
            Some(n) => Ok(n),
        }
    }

    /// The range to read: one more than the limit, to learn if more follow.
    pub(crate) fn range(&self) -> Result<IndexRange> {
        let clean = |c: &Option<String>| c.clone().filter(|s| !s.is_empty());
        Ok(IndexRange {
            after: clean(&self.after),
            before: clean(&self.before),
            limit: self.limit()? + usize::from(self.before.is_none()),
        })
    }

    /// Cuts `members` (read with [`Self::range`]) into a page of ids.
    pub(crate) fn page_of(&self, mut members: Vec<String>, total: u64) -> Result<Page<String>> {
        let limit = self.limit()?;
        let more = if self.before.as_deref().is_some_and(|b| !b.is_empty()) {
            // Paging backwards: the `before` item itself follows this page.
            !members.is_empty()
        } else {
            let more = members.len() > limit;
            members.truncate(limit);
            more
        };
        Ok(Page {
            start_cursor: members.first().cloned(),
            end_cursor: if more { members.last().cloned() } else { None },
            data: members,
            total_count: total,
        })
    }
}
