//! The Redis backend: one shared multiplexed `ConnectionManager` (it
//! reconnects by itself), keys laid out as `<prefix>:v1:{<slot>}:<name>` so
//! that each slot is a Redis Cluster hash tag, indexes as score-0 sorted sets
//! read with ZRANGEBYLEX, queues as streams with one consumer group.
//! Blocking queue reads get a connection of their own, since a blocked
//! command would stall every request pipelined behind it on the shared one.

use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{IndexRange, Key, Op, QueueEntry, Store, StoreError, StoreResult};

/// The one consumer group of every queue.
const GROUP: &str = "workers";
/// The stream field that holds a queue item.
const FIELD: &str = "i";

pub struct RedisStore {
    conn: ConnectionManager,
    client: redis::Client,
    /// Idle connections for blocking reads: each blocked reader holds one
    /// of its own (a delivery loop and a timer loop block at once).
    blocking: std::sync::Mutex<Vec<redis::aio::MultiplexedConnection>>,
    prefix: String,
}

/// Stream entries as `[id, [field, value, …]]`; a deleted entry's fields are nil.
type RawEntries = Vec<(String, Option<Vec<String>>)>;

fn entries(raw: RawEntries) -> Vec<QueueEntry> {
    raw.into_iter()
        .map(|(id, fields)| {
            let item = fields
                .and_then(|f| {
                    f.chunks(2)
                        .find(|kv| kv[0] == FIELD)
                        .and_then(|kv| kv.get(1).cloned())
                })
                .unwrap_or_default();
            QueueEntry { id, item }
        })
        .collect()
}

fn map_err(e: redis::RedisError) -> StoreError {
    if e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
    {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Backend(Box::new(e))
    }
}

impl RedisStore {
    /// Connects to `url`; fails if Redis cannot be reached now.
    pub async fn connect(url: &str, prefix: &str) -> StoreResult<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::Backend(format!("invalid redis url: {e}").into()))?;
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_with_config(client.clone(), cfg)
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot reach redis at {url}: {e}")))?;
        Ok(RedisStore {
            conn,
            client,
            blocking: std::sync::Mutex::new(Vec::new()),
            prefix: prefix.to_string(),
        })
    }

    /// Creates the queue's stream and consumer group if missing.
    async fn ensure_group(&self, k: &str) -> StoreResult<()> {
        let mut c = self.conn.clone();
        let res: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(k)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut c)
            .await;
        match res {
            Err(e) if e.code() != Some("BUSYGROUP") => Err(map_err(e)),
            _ => Ok(()),
        }
    }

    /// XREADGROUP, on the dedicated connection when it may block.
    async fn read_group(
        &self,
        k: &str,
        consumer: &str,
        max: usize,
        block_ms: u64,
    ) -> redis::RedisResult<Option<Vec<(String, RawEntries)>>> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(max);
        if block_ms == 0 {
            cmd.arg("STREAMS").arg(k).arg(">");
            let mut c = self.conn.clone();
            return cmd.query_async(&mut c).await;
        }
        cmd.arg("BLOCK")
            .arg(block_ms)
            .arg("STREAMS")
            .arg(k)
            .arg(">");
        let idle = self.blocking.lock().ok().and_then(|mut pool| pool.pop());
        let mut c = match idle {
            Some(c) => c,
            None => {
                let cfg = redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(2)))
                    .set_response_timeout(Some(Duration::from_millis(block_ms + 2000)));
                self.client
                    .get_multiplexed_async_connection_with_config(&cfg)
                    .await?
            }
        };
        let res = cmd.query_async(&mut c).await;
        // A connection that failed is dropped; the next read opens another.
        if res.is_ok()
            && let Ok(mut pool) = self.blocking.lock()
        {
            pool.push(c);
        }
        res
    }

    fn k(&self, key: &Key) -> String {
        format!("{}:v1:{{{}}}:{}", self.prefix, key.slot, key.name)
    }
}

/// `commit_if`: check the guard, then apply each op (see `add_op`).
const COMMIT_IF: &str = r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local group, field = ARGV[2], ARGV[3]
local a, k = 4, 2
while a <= #ARGV do
  local op, key = ARGV[a], KEYS[k]
  if op == 'putpx' then redis.call('SET', key, ARGV[a+1], 'PX', ARGV[a+2]); a = a + 3
  elseif op == 'put' then redis.call('SET', key, ARGV[a+1]); a = a + 2
  elseif op == 'del' then redis.call('DEL', key); a = a + 1
  elseif op == 'incr' then
    if ARGV[a+2] ~= '0' then redis.call('SET', key, 0, 'PX', ARGV[a+2], 'NX') end
    redis.call('INCRBY', key, ARGV[a+1]); a = a + 3
  elseif op == 'zadd' then redis.call('ZADD', key, 0, ARGV[a+1]); a = a + 2
  elseif op == 'zrem' then redis.call('ZREM', key, ARGV[a+1]); a = a + 2
  elseif op == 'xadd' then redis.call('XADD', key, '*', field, ARGV[a+1]); a = a + 2
  elseif op == 'xack' then redis.call('XACK', key, group, ARGV[a+1]); redis.call('XDEL', key, ARGV[a+1]); a = a + 2
  else return redis.error_reply('commit_if: unknown op ' .. tostring(op)) end
  k = k + 1
end
return 1
"#;

fn add_op(pipe: &mut redis::Pipeline, k: String, op: Op) {
    match op {
        Op::Put {
            value,
            ttl_ms: Some(ttl),
            ..
        } => {
            pipe.cmd("SET")
                .arg(k)
                .arg(value)
                .arg("PX")
                .arg(ttl.max(1))
                .ignore();
        }
        Op::Put { value, .. } => {
            pipe.cmd("SET").arg(k).arg(value).ignore();
        }
        Op::Delete(_) => {
            pipe.cmd("DEL").arg(k).ignore();
        }
        Op::Incr { by, ttl_ms, .. } => {
            // Created with its expiry; INCRBY keeps it.
            if let Some(ttl) = ttl_ms {
                pipe.cmd("SET")
                    .arg(&k)
                    .arg(0)
                    .arg("PX")
                    .arg(ttl.max(1))
                    .arg("NX")
                    .ignore();
            }
            pipe.cmd("INCRBY").arg(k).arg(by).ignore();
        }
        Op::IndexAdd { member, .. } => {
            pipe.cmd("ZADD").arg(k).arg(0).arg(member).ignore();
        }
        Op::IndexRemove { member, .. } => {
            pipe.cmd("ZREM").arg(k).arg(member).ignore();
        }
        Op::QueuePush { item, .. } => {
            pipe.cmd("XADD")
                .arg(k)
                .arg("*")
                .arg(FIELD)
                .arg(item)
                .ignore();
        }
        Op::QueueAck { id, .. } => {
            pipe.cmd("XACK").arg(&k).arg(GROUP).arg(&id).ignore();
            pipe.cmd("XDEL").arg(k).arg(id).ignore();
        }
    }
}

#[async_trait::async_trait]
impl Store for RedisStore {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> StoreResult<()> {
        let mut c = self.conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut c)
            .await
            .map(|_| ())
            .map_err(map_err)
    }

    async fn get(&self, key: &Key) -> StoreResult<Option<Vec<u8>>> {
        let mut c = self.conn.clone();
        c.get(self.k(key)).await.map_err(map_err)
    }

    async fn get_many(&self, keys: &[Key]) -> StoreResult<Vec<Option<Vec<u8>>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // One round trip; a pipeline rather than MGET so keys may span slots.
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.cmd("GET").arg(self.k(key));
        }
        let mut c = self.conn.clone();
        pipe.query_async(&mut c).await.map_err(map_err)
    }

    async fn commit(&self, ops: Vec<Op>) -> StoreResult<()> {
        // Slots commit in the order they first appear, so a caller that
        // writes a record before the index entry pointing at it never lets
        // a reader find the entry first.
        let mut by_slot: Vec<(String, Vec<Op>)> = Vec::new();
        for op in ops {
            let slot = op.key().slot.clone();
            match by_slot.iter_mut().find(|(s, _)| *s == slot) {
                Some((_, v)) => v.push(op),
                None => by_slot.push((slot, vec![op])),
            }
        }
        if by_slot.is_empty() {
            return Ok(());
        }
        // One MULTI/EXEC per slot, all in one pipeline: one round trip, and
        // Redis runs one connection's commands in the order sent.
        let mut pipe = redis::pipe();
        for (_, ops) in by_slot {
            pipe.cmd("MULTI").ignore();
            for op in ops {
                let k = self.k(op.key());
                add_op(&mut pipe, k, op);
            }
            pipe.cmd("EXEC").ignore();
        }
        let mut c = self.conn.clone();
        pipe.query_async::<()>(&mut c).await.map_err(map_err)
    }

    async fn put_if_absent(
        &self,
        key: &Key,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> StoreResult<bool> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.k(key)).arg(value).arg("NX");
        if let Some(ttl) = ttl_ms {
            cmd.arg("PX").arg(ttl.max(1));
        }
        let mut c = self.conn.clone();
        let res: Option<String> = cmd.query_async(&mut c).await.map_err(map_err)?;
        Ok(res.is_some())
    }

    async fn delete_if_equals(&self, key: &Key, value: &[u8]) -> StoreResult<bool> {
        let script = redis::Script::new(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end",
        );
        let mut c = self.conn.clone();
        let n: i64 = script
            .key(self.k(key))
            .arg(value)
            .invoke_async(&mut c)
            .await
            .map_err(map_err)?;
        Ok(n == 1)
    }

    async fn swap_if(&self, key: &Key, expected: &[u8], value: Vec<u8>) -> StoreResult<bool> {
        let script = redis::Script::new(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 else return 0 end",
        );
        let mut c = self.conn.clone();
        let n: i64 = script
            .key(self.k(key))
            .arg(expected)
            .arg(value)
            .invoke_async(&mut c)
            .await
            .map_err(map_err)?;
        Ok(n == 1)
    }

    async fn commit_if(&self, guard: &Key, expected: &[u8], ops: Vec<Op>) -> StoreResult<bool> {
        // The same commands `add_op` sends, run by one script after the
        // check: KEYS[1] is the guard, then one key per op; ARGV holds the
        // expected value, then each op's name and arguments.
        let script = redis::Script::new(COMMIT_IF);
        let mut inv = script.key(self.k(guard));
        inv.arg(expected).arg(GROUP).arg(FIELD);
        for op in ops {
            inv.key(self.k(op.key()));
            match op {
                Op::Put {
                    value,
                    ttl_ms: Some(ttl),
                    ..
                } => inv.arg("putpx").arg(value).arg(ttl.max(1)),
                Op::Put { value, .. } => inv.arg("put").arg(value),
                Op::Delete(_) => inv.arg("del"),
                Op::Incr { by, ttl_ms, .. } => {
                    inv.arg("incr").arg(by).arg(ttl_ms.map_or(0, |t| t.max(1)))
                }
                Op::IndexAdd { member, .. } => inv.arg("zadd").arg(member),
                Op::IndexRemove { member, .. } => inv.arg("zrem").arg(member),
                Op::QueuePush { item, .. } => inv.arg("xadd").arg(item),
                Op::QueueAck { id, .. } => inv.arg("xack").arg(id),
            };
        }
        let mut c = self.conn.clone();
        let n: i64 = inv.invoke_async(&mut c).await.map_err(map_err)?;
        Ok(n == 1)
    }

    async fn index_range(&self, index: &Key, range: &IndexRange) -> StoreResult<Vec<String>> {
        let k = self.k(index);
        let mut c = self.conn.clone();
        if let Some(before) = &range.before {
            let min = range
                .after
                .as_ref()
                .map_or("-".to_string(), |a| format!("({a}"));
            let mut out: Vec<String> = redis::cmd("ZREVRANGEBYLEX")
                .arg(k)
                .arg(format!("({before}"))
                .arg(min)
                .arg("LIMIT")
                .arg(0)
                .arg(range.limit)
                .query_async(&mut c)
                .await
                .map_err(map_err)?;
            out.reverse();
            Ok(out)
        } else {
            let min = range
                .after
                .as_ref()
                .map_or("-".to_string(), |a| format!("({a}"));
            redis::cmd("ZRANGEBYLEX")
                .arg(k)
                .arg(min)
                .arg("+")
                .arg("LIMIT")
                .arg(0)
                .arg(range.limit)
                .query_async(&mut c)
                .await
                .map_err(map_err)
        }
    }

    async fn index_count(&self, index: &Key) -> StoreResult<u64> {
        let mut c = self.conn.clone();
        c.zcard(self.k(index)).await.map_err(map_err)
    }

    async fn incr_window(&self, key: &Key, window_ms: u64) -> StoreResult<(u64, u64)> {
        let k = self.k(key);
        let mut c = self.conn.clone();
        let (count, ttl): (u64, i64) = redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(&k)
            .arg(0)
            .arg("PX")
            .arg(window_ms)
            .arg("NX")
            .ignore()
            .cmd("INCR")
            .arg(&k)
            .cmd("PTTL")
            .arg(&k)
            .query_async(&mut c)
            .await
            .map_err(map_err)?;
        Ok((count, ttl.max(0) as u64))
    }

    async fn queue_read(
        &self,
        queue: &Key,
        consumer: &str,
        max: usize,
        block_ms: u64,
    ) -> StoreResult<Vec<QueueEntry>> {
        let k = self.k(queue);
        let reply = match self.read_group(&k, consumer, max, block_ms).await {
            Err(e) if e.code() == Some("NOGROUP") => {
                self.ensure_group(&k).await?;
                self.read_group(&k, consumer, max, block_ms).await
            }
            other => other,
        }
        .map_err(map_err)?;
        Ok(reply
            .into_iter()
            .flatten()
            .flat_map(|(_, raw)| entries(raw))
            .collect())
    }

    async fn queue_reclaim(
        &self,
        queue: &Key,
        consumer: &str,
        min_idle_ms: u64,
        max: usize,
    ) -> StoreResult<Vec<QueueEntry>> {
        let k = self.k(queue);
        let mut out = Vec::new();
        let mut cursor = "0-0".to_string();
        loop {
            let mut c = self.conn.clone();
            let res: redis::RedisResult<(String, RawEntries, redis::Value)> =
                redis::cmd("XAUTOCLAIM")
                    .arg(&k)
                    .arg(GROUP)
                    .arg(consumer)
                    .arg(min_idle_ms)
                    .arg(&cursor)
                    .arg("COUNT")
                    .arg(max - out.len())
                    .query_async(&mut c)
                    .await;
            let (next, raw, _) = match res {
                Err(e) if e.code() == Some("NOGROUP") => return Ok(out),
                r => r.map_err(map_err)?,
            };
            out.extend(entries(raw));
            if next == "0-0" || out.len() >= max {
                return Ok(out);
            }
            cursor = next;
        }
    }

    async fn promote_due(
        &self,
        index: &Key,
        before: &str,
        queue: &Key,
        max: usize,
    ) -> StoreResult<usize> {
        let script = redis::Script::new(
            "local m = redis.call('ZRANGEBYLEX', KEYS[1], '-', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
             for _, v in ipairs(m) do
               redis.call('ZREM', KEYS[1], v)
               redis.call('XADD', KEYS[2], '*', ARGV[3], v)
             end
             return #m",
        );
        let mut c = self.conn.clone();
        let n: i64 = script
            .key(self.k(index))
            .key(self.k(queue))
            .arg(before)
            .arg(max)
            .arg(FIELD)
            .invoke_async(&mut c)
            .await
            .map_err(map_err)?;
        Ok(n.max(0) as usize)
    }

    async fn sweep_expired(&self) -> StoreResult<usize> {
        Ok(0) // Redis expires keys itself.
    }
}
