//! What one event costs the store on its way to a healthy endpoint: the
//! deployment record is read once by delivery (for the signing keys) and
//! written by no one, whatever the number of attempts before. Counted
//! through a store that records every access, on the embedded store, with a
//! real receiver over loopback.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use switchboard_domain::components::Catalog;
use switchboard_domain::crypto::Keyring;
use switchboard_domain::model::{Environment, Tenant};
use switchboard_domain::store::{
    EmbeddedStore, IndexRange, Key, Op, QueueEntry, Store, StoreResult,
};
use switchboard_domain::triggers::DeployRequest;
use switchboard_domain::{Core, CoreSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Reads and writes per key name, delegated to the embedded store.
struct Counting {
    inner: EmbeddedStore,
    reads: Mutex<HashMap<String, u32>>,
    writes: Mutex<HashMap<String, u32>>,
}

impl Counting {
    fn read(&self, k: &Key) {
        *self
            .reads
            .lock()
            .unwrap()
            .entry(k.name.clone())
            .or_default() += 1;
    }
    fn wrote(&self, k: &Key) {
        *self
            .writes
            .lock()
            .unwrap()
            .entry(k.name.clone())
            .or_default() += 1;
    }
    fn reset(&self) {
        self.reads.lock().unwrap().clear();
        self.writes.lock().unwrap().clear();
    }
    fn reads_of(&self, name: &str) -> u32 {
        self.reads.lock().unwrap().get(name).copied().unwrap_or(0)
    }
    fn writes_of(&self, name: &str) -> u32 {
        self.writes.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}

fn op_key(op: &Op) -> Option<&Key> {
    match op {
        Op::Put { key, .. } | Op::Delete(key) => Some(key),
        _ => None,
    }
}

#[async_trait::async_trait]
impl Store for Counting {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }
    async fn get(&self, key: &Key) -> StoreResult<Option<Vec<u8>>> {
        self.read(key);
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[Key]) -> StoreResult<Vec<Option<Vec<u8>>>> {
        keys.iter().for_each(|k| self.read(k));
        self.inner.get_many(keys).await
    }
    async fn commit(&self, ops: Vec<Op>) -> StoreResult<()> {
        ops.iter().filter_map(op_key).for_each(|k| self.wrote(k));
        self.inner.commit(ops).await
    }
    async fn put_if_absent(&self, k: &Key, v: Vec<u8>, ttl: Option<u64>) -> StoreResult<bool> {
        self.wrote(k);
        self.inner.put_if_absent(k, v, ttl).await
    }
    async fn delete_if_equals(&self, k: &Key, v: &[u8]) -> StoreResult<bool> {
        self.wrote(k);
        self.inner.delete_if_equals(k, v).await
    }
    async fn swap_if(&self, k: &Key, expected: &[u8], v: Vec<u8>) -> StoreResult<bool> {
        self.wrote(k);
        self.inner.swap_if(k, expected, v).await
    }
    async fn commit_if(&self, guard: &Key, expected: &[u8], ops: Vec<Op>) -> StoreResult<bool> {
        ops.iter().filter_map(op_key).for_each(|k| self.wrote(k));
        self.inner.commit_if(guard, expected, ops).await
    }
    async fn index_range(&self, index: &Key, r: &IndexRange) -> StoreResult<Vec<String>> {
        self.inner.index_range(index, r).await
    }
    async fn index_count(&self, index: &Key) -> StoreResult<u64> {
        self.inner.index_count(index).await
    }
    async fn incr_window(&self, key: &Key, window_ms: u64) -> StoreResult<(u64, u64)> {
        self.inner.incr_window(key, window_ms).await
    }
    async fn queue_read(
        &self,
        q: &Key,
        consumer: &str,
        max: usize,
        block_ms: u64,
    ) -> StoreResult<Vec<QueueEntry>> {
        self.inner.queue_read(q, consumer, max, block_ms).await
    }
    async fn queue_reclaim(
        &self,
        q: &Key,
        consumer: &str,
        idle_ms: u64,
        max: usize,
    ) -> StoreResult<Vec<QueueEntry>> {
        self.inner.queue_reclaim(q, consumer, idle_ms, max).await
    }
    async fn promote_due(
        &self,
        index: &Key,
        before: &str,
        q: &Key,
        max: usize,
    ) -> StoreResult<usize> {
        self.inner.promote_due(index, before, q, max).await
    }
    async fn sweep_expired(&self) -> StoreResult<usize> {
        self.inner.sweep_expired().await
    }
}

/// A receiver on loopback that answers every request 200 and counts them.
async fn receiver() -> (String, Arc<Mutex<u32>>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let hits = Arc::new(Mutex::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            let h = h.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut got = Vec::new();
                // Headers, then the body by Content-Length.
                loop {
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got).to_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if got.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                *h.lock().unwrap() += 1;
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (url, hits)
}

#[tokio::test]
async fn one_event_reads_its_deployment_once_on_the_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Counting {
        inner: EmbeddedStore::open(dir.path()).unwrap(),
        reads: Mutex::default(),
        writes: Mutex::default(),
    });
    let settings = CoreSettings {
        allow_private_networks: vec!["127.0.0.1/32".into()],
        ..Default::default()
    };
    let core = Core::new(
        store.clone(),
        Keyring::generate(),
        Catalog::builtin().unwrap(),
        settings,
    )
    .await
    .unwrap();
    let t = Tenant {
        project_id: "proj_hot".into(),
        env: Environment::Production,
    };
    let (url, hits) = receiver().await;
    let view = core
        .triggers
        .deploy_trigger(
            &t,
            DeployRequest {
                key: "http-new-requests".into(),
                external_user_id: "u1".into(),
                webhook_url: Some(url),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let dc = view.deployment.id.clone();
    let deployment_key = format!("dc:{dc}");

    core.triggers
        .record_event(&t, &dc, json!({"n": 1}), "one".into())
        .await
        .unwrap();
    store.reset();
    let mut claims = Vec::new();
    for _ in 0..50 {
        claims = core.delivery.claim_ready("test", 10, 100).await.unwrap();
        if !claims.is_empty() {
            break;
        }
    }
    assert_eq!(claims.len(), 1, "the event's delivery is ready");
    let outcome = core
        .delivery
        .deliver_claim(&claims[0], Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(outcome, switchboard_domain::delivery::Outcome::Delivered);
    assert_eq!(*hits.lock().unwrap(), 1, "the receiver got it");
    assert_eq!(
        store.reads_of(&deployment_key),
        1,
        "delivery reads the deployment once (its endpoint's keys)"
    );
    assert_eq!(
        store.writes_of(&deployment_key),
        0,
        "a success on a healthy endpoint writes nothing to the deployment"
    );
}
