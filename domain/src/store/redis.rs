//! The Redis backend: one shared multiplexed `ConnectionManager` (it
//! reconnects by itself), keys laid out as `<prefix>:v1:{<slot>}:<name>` so
//! that each slot is a Redis Cluster hash tag, indexes as score-0 sorted sets
//! read with ZRANGEBYLEX.

use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{IndexRange, Key, Op, Store, StoreError, StoreResult};

pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
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
        StoreError::Backend(e.to_string())
    }
}

impl RedisStore {
    /// Connects to `url`; fails if Redis cannot be reached now.
    pub async fn connect(url: &str, prefix: &str) -> StoreResult<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::Backend(format!("invalid redis url: {e}")))?;
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_with_config(client, cfg)
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot reach redis at {url}: {e}")))?;
        Ok(RedisStore {
            conn,
            prefix: prefix.to_string(),
        })
    }

    fn k(&self, key: &Key) -> String {
        format!("{}:v1:{{{}}}:{}", self.prefix, key.slot, key.name)
    }
}

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
        Op::IndexAdd { member, .. } => {
            pipe.cmd("ZADD").arg(k).arg(0).arg(member).ignore();
        }
        Op::IndexRemove { member, .. } => {
            pipe.cmd("ZREM").arg(k).arg(member).ignore();
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
        let mut c = self.conn.clone();
        for (_, ops) in by_slot {
            let mut pipe = redis::pipe();
            pipe.atomic();
            for op in ops {
                let k = self.k(op.key());
                add_op(&mut pipe, k, op);
            }
            pipe.query_async::<()>(&mut c).await.map_err(map_err)?;
        }
        Ok(())
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

    async fn sweep_expired(&self) -> StoreResult<usize> {
        Ok(0) // Redis expires keys itself.
    }
}
