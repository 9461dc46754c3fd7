//! Storage behind one interface, with an embedded (redb) and a Redis backend.
//!
//! The interface is a small key-value model that both backends implement with
//! the same semantics (checked by the conformance suite in `conformance.rs`):
//! records with optional TTL, lexicographically ordered indexes (sorted sets)
//! for listing and paging, atomic commits, fixed-window counters, and work
//! queues: a Redis stream with one consumer group, where an entry handed to a
//! consumer stays pending until acknowledged and is reclaimed by another
//! once it sits idle too long (the embedded store keeps the same shape in
//! redb tables).
//!
//! Every key names a *slot* (a Redis Cluster hash tag). Keys of one tenant
//! share a slot, so a commit touching one tenant is one atomic MULTI even on
//! Redis Cluster; global records each get their own slot.

mod embedded;
mod redis;

/// The conformance suite. Its embedded-store run is a unit test; it is
/// public (hidden) for `domain/tests/redis_store.rs`, which runs it on
/// Redis as a named target, not in plain `cargo test`. Not a feature: a
/// feature would build the domain and its dependents a second time.
#[doc(hidden)]
pub mod conformance;

pub use self::embedded::EmbeddedStore;
pub use self::redis::RedisStore;

use crate::model::Tenant;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached right now; callers answer 503.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The backend failed; the cause is kept as the source.
    #[error("store error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A key: the slot (hash tag) it lives in, and its name within the slot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub slot: String,
    pub name: String,
}

impl Key {
    pub fn tenant(t: &Tenant, name: impl Into<String>) -> Self {
        Key {
            slot: t.slot(),
            name: name.into(),
        }
    }

    pub fn global(slot: impl Into<String>, name: impl Into<String>) -> Self {
        Key {
            slot: slot.into(),
            name: name.into(),
        }
    }
}

/// One write inside an atomic [`Store::commit`].
#[derive(Debug, Clone)]
pub enum Op {
    Put {
        key: Key,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    },
    Delete(Key),
    IndexAdd {
        index: Key,
        member: String,
    },
    IndexRemove {
        index: Key,
        member: String,
    },
    /// Appends an item to a work queue.
    QueuePush {
        queue: Key,
        item: String,
    },
    /// Acknowledges (and drops) a queue entry handed out by `queue_read`.
    QueueAck {
        queue: Key,
        id: String,
    },
    /// Adds `by` to a durable counter: a record holding the count as
    /// decimal text (absent = 0). `ttl_ms` applies when the counter is
    /// created and is not extended by later increments, so a time bucket
    /// expires a fixed time after its first hit.
    Incr {
        key: Key,
        by: u64,
        ttl_ms: Option<u64>,
    },
}

/// A queue entry handed to one consumer; pending until acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    pub id: String,
    pub item: String,
}

impl Op {
    pub fn put(key: Key, value: Vec<u8>) -> Self {
        Op::Put {
            key,
            value,
            ttl_ms: None,
        }
    }
    fn key(&self) -> &Key {
        match self {
            Op::Put { key, .. } | Op::Delete(key) | Op::Incr { key, .. } => key,
            Op::IndexAdd { index, .. } | Op::IndexRemove { index, .. } => index,
            Op::QueuePush { queue, .. } | Op::QueueAck { queue, .. } => queue,
        }
    }
    /// Adds `by` to the counter at `key` (see [`Op::Incr`]).
    pub fn incr(key: Key, by: u64, ttl_ms: Option<u64>) -> Self {
        Op::Incr { key, by, ttl_ms }
    }
}

/// Which part of an index to read. Members sort by byte order.
#[derive(Debug, Clone, Default)]
pub struct IndexRange {
    /// Only members strictly greater than this.
    pub after: Option<String>,
    /// Only members strictly less than this; the page is the `limit` members
    /// just before it.
    pub before: Option<String>,
    pub limit: usize,
}

#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which backend this is, for logs and `/readyz`.
    fn kind(&self) -> &'static str;
    async fn ping(&self) -> StoreResult<()>;
    async fn get(&self, key: &Key) -> StoreResult<Option<Vec<u8>>>;
    /// Reads several keys at once (of one slot on Redis Cluster).
    async fn get_many(&self, keys: &[Key]) -> StoreResult<Vec<Option<Vec<u8>>>>;
    /// Applies all ops atomically. Ops of different slots are atomic per slot
    /// on Redis, committed in the order each slot first appears; on the
    /// embedded store the whole commit is one transaction.
    async fn commit(&self, ops: Vec<Op>) -> StoreResult<()>;
    /// Writes only if the key does not exist; returns whether it wrote.
    async fn put_if_absent(
        &self,
        key: &Key,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> StoreResult<bool>;
    /// Deletes the key only if it holds `value` (releasing a lock one owns);
    /// returns whether it deleted.
    async fn delete_if_equals(&self, key: &Key, value: &[u8]) -> StoreResult<bool>;
    /// Replaces the key's value (keeping no TTL) only if it still holds
    /// `expected`; returns whether it wrote. Compare-and-swap for records
    /// several writers update.
    async fn swap_if(&self, key: &Key, expected: &[u8], value: Vec<u8>) -> StoreResult<bool>;
    /// Applies `ops` all together, only if `guard` still holds `expected`;
    /// returns whether it did. One transaction on both backends (on Redis a
    /// script, so one Redis node holds every key), for writes that must
    /// land whole and only if no one changed the record they derive from.
    async fn commit_if(&self, guard: &Key, expected: &[u8], ops: Vec<Op>) -> StoreResult<bool>;
    async fn index_range(&self, index: &Key, range: &IndexRange) -> StoreResult<Vec<String>>;
    async fn index_count(&self, index: &Key) -> StoreResult<u64>;
    /// Counts a hit in a fixed window; returns the count so far and the ms
    /// left in the window.
    async fn incr_window(&self, key: &Key, window_ms: u64) -> StoreResult<(u64, u64)>;
    /// Hands up to `max` queue entries no consumer has seen to `consumer`,
    /// waiting up to `block_ms` for one to arrive when there are none.
    async fn queue_read(
        &self,
        queue: &Key,
        consumer: &str,
        max: usize,
        block_ms: u64,
    ) -> StoreResult<Vec<QueueEntry>>;
    /// Hands to `consumer` up to `max` entries pending with any consumer for
    /// at least `min_idle_ms` (their consumer died or hung).
    async fn queue_reclaim(
        &self,
        queue: &Key,
        consumer: &str,
        min_idle_ms: u64,
        max: usize,
    ) -> StoreResult<Vec<QueueEntry>>;
    /// Atomically moves up to `max` index members sorting before `before`
    /// into `queue` (as items); returns how many. Index and queue share a slot.
    async fn promote_due(
        &self,
        index: &Key,
        before: &str,
        queue: &Key,
        max: usize,
    ) -> StoreResult<usize>;
    /// Removes expired records; a no-op where the backend expires keys itself.
    async fn sweep_expired(&self) -> StoreResult<usize>;
}
