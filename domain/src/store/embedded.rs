//! The embedded backend: one redb file in the data directory. ACID commits
//! with immediate durability, grouped: one committer thread takes every
//! commit waiting at the time into one transaction and one fsync, and
//! answers each caller only once it is on disk. Other blocking calls run on
//! tokio's blocking pool.
//! Rate-limit counters live in memory, since an embedded store has one process.
//! Queues are tables of items and of pending entries; handing out and
//! reclaiming entries commits without fsync (a crash forgets who held an
//! entry, so it is handed out again: at-least-once), and a waiting reader
//! is woken in memory when items arrive.

use std::collections::HashMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{IndexRange, Key, Op, QueueEntry, Store, StoreError, StoreResult};
use crate::clock::now_ms;

/// Full key -> 8-byte big-endian expiry (0 = never) followed by the value.
const KV: TableDefinition<&str, &[u8]> = TableDefinition::new("kv_v1");
/// (index key, member) -> ().
const IDX: TableDefinition<(&str, &str), ()> = TableDefinition::new("idx_v1");
/// (expires at ms, full key) -> (), for sweeping.
const EXP: TableDefinition<(u64, &str), ()> = TableDefinition::new("exp_v1");
/// (queue, seq) -> item.
const QITEMS: TableDefinition<(&str, u64), &str> = TableDefinition::new("qitems_v1");
/// (queue, seq) -> (handed out at ms, consumer), for entries being worked on.
const QPEND: TableDefinition<(&str, u64), (u64, &str)> = TableDefinition::new("qpend_v1");
/// "<queue>\u{1}next" (next seq to assign) and "<queue>\u{1}read" (seqs up
/// to here were handed out) -> seq.
const QMETA: TableDefinition<&str, u64> = TableDefinition::new("qmeta_v1");

const SCHEMA_KEY: &str = "\u{1}meta\u{1}schema_version";
const SCHEMA_VERSION: &[u8] = b"1";

/// One caller's commit, waiting for the committer thread.
struct Pending {
    ops: Vec<Op>,
    /// Apply only while the guard holds.
    guard: Option<Guard>,
    /// Whether the ops were applied (always, without a guard).
    done: tokio::sync::oneshot::Sender<StoreResult<bool>>,
}

/// What a conditional write needs of one key (by full name) first.
enum Guard {
    Absent(String),
    Holds(String, Vec<u8>),
}

/// Commits taken into one transaction at most.
const GROUP_MAX: usize = 512;

pub struct EmbeddedStore {
    db: Arc<Database>,
    commits: Option<tokio::sync::mpsc::UnboundedSender<Pending>>,
    committer: Option<std::thread::JoinHandle<()>>,
    counters: Mutex<HashMap<String, (u64, u64)>>,
    /// Wakes queue readers waiting for items.
    arrivals: tokio::sync::Notify,
}

fn full(key: &Key) -> String {
    format!("{}\u{1}{}", key.slot, key.name)
}

fn backend<E: Into<Box<dyn std::error::Error + Send + Sync>>>(e: E) -> StoreError {
    StoreError::Backend(e.into())
}

fn live(raw: &[u8], now: u64) -> Option<Vec<u8>> {
    let (exp, val) = raw.split_at(8);
    let exp = u64::from_be_bytes(exp.try_into().ok()?);
    (exp == 0 || exp > now).then(|| val.to_vec())
}

fn encode(value: &[u8], expires: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + value.len());
    v.extend_from_slice(&expires.to_be_bytes());
    v.extend_from_slice(value);
    v
}

impl EmbeddedStore {
    /// Opens (or creates) `<dir>/switchboard.redb`.
    pub fn open(dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| backend(format!("cannot create data dir {}: {e}", dir.display())))?;
        let path = dir.join("switchboard.redb");
        let db = Database::create(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => backend(format!(
                "{} is in use by another switchboard process; the embedded store serves one \
                 process (use Redis to run several)",
                path.display()
            )),
            e => backend(format!("cannot open {}: {e}", path.display())),
        })?;
        let db = Arc::new(db);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let committer = {
            let db = db.clone();
            std::thread::Builder::new()
                .name("embedded-commit".into())
                .spawn(move || group_commits(&db, rx))
                .map_err(backend)?
        };
        let store = EmbeddedStore {
            db,
            commits: Some(tx),
            committer: Some(committer),
            counters: Mutex::new(HashMap::new()),
            arrivals: tokio::sync::Notify::new(),
        };
        store.init_schema()?;
        Ok(store)
    }

    fn init_schema(&self) -> StoreResult<()> {
        let tx = self.db.begin_write().map_err(backend)?;
        {
            let mut kv = tx.open_table(KV).map_err(backend)?;
            tx.open_table(IDX).map_err(backend)?;
            tx.open_table(EXP).map_err(backend)?;
            tx.open_table(QITEMS).map_err(backend)?;
            tx.open_table(QPEND).map_err(backend)?;
            tx.open_table(QMETA).map_err(backend)?;
            let existing = kv
                .get(SCHEMA_KEY)
                .map_err(backend)?
                .map(|g| g.value().to_vec());
            match existing {
                None => {
                    kv.insert(SCHEMA_KEY, encode(SCHEMA_VERSION, 0).as_slice())
                        .map_err(backend)?;
                }
                Some(v) if &v[8..] == SCHEMA_VERSION => {}
                Some(v) => {
                    return Err(backend(format!(
                        "data directory has schema version {}, this build reads {}",
                        String::from_utf8_lossy(&v[8..]),
                        String::from_utf8_lossy(SCHEMA_VERSION)
                    )));
                }
            }
        }
        tx.commit().map_err(backend)
    }

    /// Applies `op` in one transaction if `cond` holds for the key's live
    /// value (`None` when absent or expired); returns whether it wrote.
    /// Hands a commit to the committer thread and waits until its group is
    /// on disk; returns whether it applied (its guard held).
    async fn group_commit(&self, ops: Vec<Op>, guard: Option<Guard>) -> StoreResult<bool> {
        let pushed = has_push(&ops);
        let (done, result) = tokio::sync::oneshot::channel();
        self.commits
            .as_ref()
            .ok_or_else(|| backend("store is closing"))?
            .send(Pending { ops, guard, done })
            .map_err(|_| backend("the committer stopped"))?;
        let applied = result
            .await
            .map_err(|_| backend("the committer stopped"))??;
        if applied && pushed {
            self.arrivals.notify_waiters();
        }
        Ok(applied)
    }

    async fn blocking<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> StoreResult<T> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(backend)?
    }
}

fn apply(tx: &redb::WriteTransaction, ops: &[Op], now: u64) -> StoreResult<()> {
    let mut kv = tx.open_table(KV).map_err(backend)?;
    let mut idx = tx.open_table(IDX).map_err(backend)?;
    let mut exp = tx.open_table(EXP).map_err(backend)?;
    for op in ops {
        match op {
            Op::Put { key, value, ttl_ms } => {
                let k = full(key);
                let expires = ttl_ms.map_or(0, |t| now + t.max(1));
                kv.insert(k.as_str(), encode(value, expires).as_slice())
                    .map_err(backend)?;
                if expires != 0 {
                    exp.insert((expires, k.as_str()), ()).map_err(backend)?;
                }
            }
            Op::Delete(key) => {
                kv.remove(full(key).as_str()).map_err(backend)?;
            }
            Op::Incr { key, by, ttl_ms } => {
                let k = full(key);
                // A live counter keeps its expiry; an absent or expired one
                // starts at zero with a fresh one.
                let current = kv.get(k.as_str()).map_err(backend)?.and_then(|g| {
                    let raw = g.value();
                    let expires = u64::from_be_bytes(raw[..8].try_into().ok()?);
                    let count = std::str::from_utf8(live(raw, now)?.as_slice())
                        .ok()?
                        .parse::<u64>()
                        .ok()?;
                    Some((count, expires))
                });
                let (count, expires) = match current {
                    Some((count, expires)) => (count, expires),
                    None => (0, ttl_ms.map_or(0, |t| now + t.max(1))),
                };
                let value = count.saturating_add(*by).to_string();
                kv.insert(k.as_str(), encode(value.as_bytes(), expires).as_slice())
                    .map_err(backend)?;
                if expires != 0 && current.is_none() {
                    exp.insert((expires, k.as_str()), ()).map_err(backend)?;
                }
            }
            Op::IndexAdd { index, member } => {
                idx.insert((full(index).as_str(), member.as_str()), ())
                    .map_err(backend)?;
            }
            Op::IndexRemove { index, member } => {
                idx.remove((full(index).as_str(), member.as_str()))
                    .map_err(backend)?;
            }
            Op::QueuePush { queue, item } => push(tx, &full(queue), item)?,
            Op::QueueAck { queue, id } => {
                let q = full(queue);
                if let Ok(seq) = id.parse::<u64>() {
                    tx.open_table(QITEMS)
                        .map_err(backend)?
                        .remove((q.as_str(), seq))
                        .map_err(backend)?;
                    tx.open_table(QPEND)
                        .map_err(backend)?
                        .remove((q.as_str(), seq))
                        .map_err(backend)?;
                }
            }
        }
    }
    Ok(())
}

/// The committer thread: every commit waiting when it looks goes into one
/// transaction. If one of them cannot apply, the group is retried one
/// commit at a time, so a bad commit fails alone.
fn group_commits(db: &Database, mut rx: tokio::sync::mpsc::UnboundedReceiver<Pending>) {
    while let Some(first) = rx.blocking_recv() {
        let mut group = vec![first];
        while group.len() < GROUP_MAX {
            match rx.try_recv() {
                Ok(p) => group.push(p),
                Err(_) => break,
            }
        }
        let together = (|| {
            let tx = db.begin_write().map_err(backend)?;
            let now = now_ms();
            let mut applied = Vec::with_capacity(group.len());
            for p in &group {
                applied.push(apply_guarded(&tx, p, now)?);
            }
            tx.commit().map_err(backend)?;
            Ok::<_, StoreError>(applied)
        })();
        match together {
            Ok(applied) => {
                for (p, a) in group.into_iter().zip(applied) {
                    let _ = p.done.send(Ok(a));
                }
            }
            Err(_) if group.len() > 1 => {
                for p in group {
                    let alone = (|| {
                        let tx = db.begin_write().map_err(backend)?;
                        let a = apply_guarded(&tx, &p, now_ms())?;
                        tx.commit().map_err(backend)?;
                        Ok(a)
                    })();
                    let _ = p.done.send(alone);
                }
            }
            Err(e) => {
                for p in group {
                    // Every waiter gets the cause, as text: one error cannot be shared.
                    let _ = p.done.send(Err(StoreError::Backend(e.to_string().into())));
                }
            }
        }
    }
}

/// Applies one commit inside the group's transaction, if its guard holds
/// there (after the commits before it in the group).
fn apply_guarded(tx: &redb::WriteTransaction, p: &Pending, now: u64) -> StoreResult<bool> {
    if let Some(g) = &p.guard {
        let (key, want) = match g {
            Guard::Absent(k) => (k, None),
            Guard::Holds(k, v) => (k, Some(v)),
        };
        let current = {
            let kv = tx.open_table(KV).map_err(backend)?;
            kv.get(key.as_str())
                .map_err(backend)?
                .and_then(|g| live(g.value(), now))
        };
        if current.as_ref() != want {
            return Ok(false);
        }
    }
    apply(tx, &p.ops, now)?;
    Ok(true)
}

impl Drop for EmbeddedStore {
    /// Lets the committer finish what it has and release the file, so the
    /// directory can be opened again at once.
    fn drop(&mut self) {
        self.commits.take();
        if let Some(t) = self.committer.take() {
            let _ = t.join();
        }
    }
}

fn meta_key(queue: &str, what: &str) -> String {
    format!("{queue}\u{1}{what}")
}

fn push(tx: &redb::WriteTransaction, queue: &str, item: &str) -> StoreResult<()> {
    let mut meta = tx.open_table(QMETA).map_err(backend)?;
    let k = meta_key(queue, "next");
    let seq = meta
        .get(k.as_str())
        .map_err(backend)?
        .map_or(1, |g| g.value());
    meta.insert(k.as_str(), seq + 1).map_err(backend)?;
    tx.open_table(QITEMS)
        .map_err(backend)?
        .insert((queue, seq), item)
        .map_err(backend)?;
    Ok(())
}

fn has_push(ops: &[Op]) -> bool {
    ops.iter().any(|op| matches!(op, Op::QueuePush { .. }))
}

/// A write transaction that is not fsynced: for bookkeeping a crash may lose.
fn begin_lazy(db: &Database) -> StoreResult<redb::WriteTransaction> {
    let mut tx = db.begin_write().map_err(backend)?;
    tx.set_durability(redb::Durability::None).map_err(backend)?;
    Ok(tx)
}

/// Hands out up to `max` unseen entries of `queue` to `consumer`.
fn read_queue(
    db: &Database,
    queue: &str,
    consumer: &str,
    max: usize,
) -> StoreResult<Vec<QueueEntry>> {
    let tx = begin_lazy(db)?;
    let now = now_ms();
    let mut out = Vec::new();
    {
        let mut meta = tx.open_table(QMETA).map_err(backend)?;
        let rk = meta_key(queue, "read");
        let read = meta
            .get(rk.as_str())
            .map_err(backend)?
            .map_or(0, |g| g.value());
        let items = tx.open_table(QITEMS).map_err(backend)?;
        let mut pend = tx.open_table(QPEND).map_err(backend)?;
        let mut last = read;
        for item in items
            .range((queue, read + 1)..=(queue, u64::MAX))
            .map_err(backend)?
            .take(max)
        {
            let (k, v) = item.map_err(backend)?;
            let seq = k.value().1;
            pend.insert((queue, seq), (now, consumer))
                .map_err(backend)?;
            out.push(QueueEntry {
                id: seq.to_string(),
                item: v.value().to_string(),
            });
            last = seq;
        }
        if last != read {
            meta.insert(rk.as_str(), last).map_err(backend)?;
        }
    }
    tx.commit().map_err(backend)?;
    Ok(out)
}

#[async_trait::async_trait]
impl Store for EmbeddedStore {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.blocking(|db| db.begin_read().map(|_| ()).map_err(backend))
            .await
    }

    async fn get(&self, key: &Key) -> StoreResult<Option<Vec<u8>>> {
        let mut all = self.get_many(std::slice::from_ref(key)).await?;
        Ok(all.pop().flatten())
    }

    async fn get_many(&self, keys: &[Key]) -> StoreResult<Vec<Option<Vec<u8>>>> {
        let keys: Vec<String> = keys.iter().map(full).collect();
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(backend)?;
            let kv = tx.open_table(KV).map_err(backend)?;
            let now = now_ms();
            keys.iter()
                .map(|k| {
                    Ok(kv
                        .get(k.as_str())
                        .map_err(backend)?
                        .and_then(|g| live(g.value(), now)))
                })
                .collect()
        })
        .await
    }

    async fn commit(&self, ops: Vec<Op>) -> StoreResult<()> {
        self.group_commit(ops, None).await.map(|_| ())
    }

    async fn put_if_absent(
        &self,
        key: &Key,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> StoreResult<bool> {
        let op = Op::Put {
            key: key.clone(),
            value,
            ttl_ms,
        };
        self.group_commit(vec![op], Some(Guard::Absent(full(key))))
            .await
    }

    async fn delete_if_equals(&self, key: &Key, value: &[u8]) -> StoreResult<bool> {
        self.group_commit(
            vec![Op::Delete(key.clone())],
            Some(Guard::Holds(full(key), value.to_vec())),
        )
        .await
    }

    async fn swap_if(&self, key: &Key, expected: &[u8], value: Vec<u8>) -> StoreResult<bool> {
        self.group_commit(
            vec![Op::put(key.clone(), value)],
            Some(Guard::Holds(full(key), expected.to_vec())),
        )
        .await
    }

    async fn commit_if(&self, guard: &Key, expected: &[u8], ops: Vec<Op>) -> StoreResult<bool> {
        self.group_commit(ops, Some(Guard::Holds(full(guard), expected.to_vec())))
            .await
    }

    async fn index_range(&self, index: &Key, range: &IndexRange) -> StoreResult<Vec<String>> {
        let ix = full(index);
        let range = range.clone();
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(backend)?;
            let table = tx.open_table(IDX).map_err(backend)?;
            let lower = match &range.after {
                Some(a) => Bound::Excluded((ix.as_str(), a.as_str())),
                None => Bound::Included((ix.as_str(), "")),
            };
            let mut out = Vec::new();
            if let Some(b) = &range.before {
                let upper = Bound::Excluded((ix.as_str(), b.as_str()));
                for item in table.range((lower, upper)).map_err(backend)?.rev() {
                    if out.len() >= range.limit {
                        break;
                    }
                    let (k, _) = item.map_err(backend)?;
                    out.push(k.value().1.to_string());
                }
                out.reverse();
            } else {
                for item in table.range((lower, Bound::Unbounded)).map_err(backend)? {
                    if out.len() >= range.limit {
                        break;
                    }
                    let (k, _) = item.map_err(backend)?;
                    let (name, member) = k.value();
                    if name != ix {
                        break;
                    }
                    out.push(member.to_string());
                }
            }
            Ok(out)
        })
        .await
    }

    async fn index_count(&self, index: &Key) -> StoreResult<u64> {
        let ix = full(index);
        self.blocking(move |db| {
            let tx = db.begin_read().map_err(backend)?;
            let table = tx.open_table(IDX).map_err(backend)?;
            let mut n = 0;
            for item in table
                .range((Bound::Included((ix.as_str(), "")), Bound::Unbounded))
                .map_err(backend)?
            {
                let (k, _) = item.map_err(backend)?;
                if k.value().0 != ix {
                    break;
                }
                n += 1;
            }
            Ok(n)
        })
        .await
    }

    async fn incr_window(&self, key: &Key, window_ms: u64) -> StoreResult<(u64, u64)> {
        let now = now_ms();
        let mut map = self.counters.lock().map_err(|e| backend(e.to_string()))?;
        let entry = map.entry(full(key)).or_insert((now + window_ms, 0));
        if entry.0 <= now {
            *entry = (now + window_ms, 0);
        }
        entry.1 += 1;
        Ok((entry.1, entry.0 - now))
    }

    async fn queue_read(
        &self,
        queue: &Key,
        consumer: &str,
        max: usize,
        block_ms: u64,
    ) -> StoreResult<Vec<QueueEntry>> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(block_ms);
        loop {
            // Registered before looking, so an arrival in between still wakes us.
            let arrival = self.arrivals.notified();
            tokio::pin!(arrival);
            arrival.as_mut().enable();
            let (q, c) = (full(queue), consumer.to_string());
            let got = self.blocking(move |db| read_queue(db, &q, &c, max)).await?;
            if !got.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(got);
            }
            if tokio::time::timeout_at(deadline, arrival).await.is_err() {
                return Ok(got);
            }
        }
    }

    async fn queue_reclaim(
        &self,
        queue: &Key,
        consumer: &str,
        min_idle_ms: u64,
        max: usize,
    ) -> StoreResult<Vec<QueueEntry>> {
        let (q, consumer) = (full(queue), consumer.to_string());
        self.blocking(move |db| {
            let tx = begin_lazy(db)?;
            let now = now_ms();
            let mut out = Vec::new();
            {
                let items = tx.open_table(QITEMS).map_err(backend)?;
                let mut pend = tx.open_table(QPEND).map_err(backend)?;
                let idle: Vec<u64> = pend
                    .range((q.as_str(), 0)..=(q.as_str(), u64::MAX))
                    .map_err(backend)?
                    .filter_map(|item| {
                        let (k, v) = item.ok()?;
                        (now.saturating_sub(v.value().0) >= min_idle_ms).then(|| k.value().1)
                    })
                    .take(max)
                    .collect();
                for seq in idle {
                    let item = items
                        .get((q.as_str(), seq))
                        .map_err(backend)?
                        .map(|g| g.value().to_string());
                    match item {
                        Some(item) => {
                            pend.insert((q.as_str(), seq), (now, consumer.as_str()))
                                .map_err(backend)?;
                            out.push(QueueEntry {
                                id: seq.to_string(),
                                item,
                            });
                        }
                        None => {
                            pend.remove((q.as_str(), seq)).map_err(backend)?;
                        }
                    }
                }
            }
            tx.commit().map_err(backend)?;
            Ok(out)
        })
        .await
    }

    async fn promote_due(
        &self,
        index: &Key,
        before: &str,
        queue: &Key,
        max: usize,
    ) -> StoreResult<usize> {
        let (ix, q, before) = (full(index), full(queue), before.to_string());
        let n = self
            .blocking(move |db| {
                let tx = db.begin_write().map_err(backend)?;
                let due: Vec<String> = {
                    let table = tx.open_table(IDX).map_err(backend)?;
                    table
                        .range((ix.as_str(), "")..(ix.as_str(), before.as_str()))
                        .map_err(backend)?
                        .take(max)
                        .map(|item| Ok(item.map_err(backend)?.0.value().1.to_string()))
                        .collect::<StoreResult<_>>()?
                };
                if due.is_empty() {
                    return Ok(0);
                }
                {
                    let mut table = tx.open_table(IDX).map_err(backend)?;
                    for m in &due {
                        table.remove((ix.as_str(), m.as_str())).map_err(backend)?;
                    }
                }
                for m in &due {
                    push(&tx, &q, m)?;
                }
                tx.commit().map_err(backend)?;
                Ok(due.len())
            })
            .await?;
        if n > 0 {
            self.arrivals.notify_waiters();
        }
        Ok(n)
    }

    async fn sweep_expired(&self) -> StoreResult<usize> {
        {
            let now = now_ms();
            let mut map = self.counters.lock().map_err(|e| backend(e.to_string()))?;
            map.retain(|_, (end, _)| *end > now);
            // Give the memory of a burst of counters back, too.
            if map.capacity() > 64 && map.capacity() > 4 * map.len() {
                map.shrink_to_fit();
            }
        }
        self.blocking(|db| {
            let now = now_ms();
            let tx = db.begin_write().map_err(backend)?;
            let mut removed = 0;
            {
                let mut kv = tx.open_table(KV).map_err(backend)?;
                let mut exp = tx.open_table(EXP).map_err(backend)?;
                let due: Vec<(u64, String)> = exp
                    .range((Bound::Unbounded, Bound::Included((now, "\u{10FFFF}"))))
                    .map_err(backend)?
                    .map(|item| {
                        let (k, _) = item.map_err(backend)?;
                        let (at, key) = k.value();
                        Ok((at, key.to_string()))
                    })
                    .collect::<StoreResult<_>>()?;
                for (at, key) in due {
                    exp.remove((at, key.as_str())).map_err(backend)?;
                    // The record may have been rewritten with another expiry.
                    let current = kv
                        .get(key.as_str())
                        .map_err(backend)?
                        .map(|g| u64::from_be_bytes(g.value()[..8].try_into().unwrap_or_default()));
                    if current == Some(at) {
                        kv.remove(key.as_str()).map_err(backend)?;
                        removed += 1;
                    }
                }
            }
            tx.commit().map_err(backend)?;
            Ok(removed)
        })
        .await
    }
}
