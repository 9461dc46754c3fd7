//! Webhook endpoints for tests, in-process and over real loopback TCP: a
//! recording receiver (svix-server's `TestReceiver` idea), a tarpit that
//! reads the request and never answers (until released), and a slow-loris
//! that answers one byte at a time and never finishes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::receiver::{listen, read_request};

/// One request as an endpoint saw it.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub path: String,
    pub webhook_id: String,
    pub body: Value,
    pub at: Instant,
}

/// What an endpoint saw. `concurrent_duplicates` counts requests that
/// arrived while another request with the same `webhook-id` was still open
/// here: the same delivery sent twice at once (not a retry).
#[derive(Default)]
pub struct Seen {
    pub receipts: Mutex<Vec<Receipt>>,
    open: Mutex<HashMap<String, u32>>,
    pub concurrent_duplicates: AtomicU64,
    pub connections: AtomicU64,
}

impl Seen {
    pub fn count(&self, path_prefix: &str) -> usize {
        self.with_prefix(path_prefix).len()
    }

    pub fn with_prefix(&self, path_prefix: &str) -> Vec<Receipt> {
        self.receipts
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path.starts_with(path_prefix))
            .cloned()
            .collect()
    }

    fn opened(&self, id: &str) {
        if id.is_empty() {
            return; // not a delivery (a poll, say)
        }
        let mut open = self.open.lock().unwrap();
        let n = open.entry(id.to_string()).or_default();
        if *n > 0 {
            self.concurrent_duplicates.fetch_add(1, Ordering::Relaxed);
        }
        *n += 1;
    }

    fn closed(&self, id: &str) {
        if let Some(n) = self.open.lock().unwrap().get_mut(id) {
            *n = n.saturating_sub(1);
        }
    }
}

/// How an endpoint answers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// 200 at once.
    Answer,
    /// Reads the request, then holds the connection open without a byte
    /// until the caller gives up (or the endpoint is released: then 200).
    Tarpit,
    /// Sends a status line, then one header byte every 500 ms, forever.
    SlowLoris,
}

/// A loopback HTTP/1.1 endpoint that records every request.
pub struct Endpoint {
    pub url: String,
    pub seen: Arc<Seen>,
    released: Arc<AtomicBool>,
}

impl Endpoint {
    pub async fn start(behaviour: Behaviour) -> Endpoint {
        Self::start_with(behaviour, String::new()).await
    }

    /// An endpoint answering every request 200 with `json` as its body.
    pub async fn serving_json(json: String) -> Endpoint {
        Self::start_with(Behaviour::Answer, json).await
    }

    async fn start_with(behaviour: Behaviour, body: String) -> Endpoint {
        let seen = Arc::new(Seen::default());
        let released = Arc::new(AtomicBool::new(false));
        let answer: Arc<[u8]> = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
        .into();
        let (s, r) = (seen.clone(), released.clone());
        let url =
            listen(move |conn| serve(conn, behaviour, s.clone(), r.clone(), answer.clone())).await;
        Endpoint {
            url,
            seen,
            released,
        }
    }

    /// A tarpit answers 200 from now on.
    pub fn release(&self) {
        self.released.store(true, Ordering::SeqCst);
    }
}

async fn serve(
    mut conn: TcpStream,
    b: Behaviour,
    seen: Arc<Seen>,
    released: Arc<AtomicBool>,
    answer: Arc<[u8]>,
) {
    seen.connections.fetch_add(1, Ordering::Relaxed);
    // Keep-alive: one connection may carry several requests.
    while let Some(req) = read_request(&mut conn).await {
        let id = req.headers.get("webhook-id").cloned().unwrap_or_default();
        seen.opened(&id);
        seen.receipts.lock().unwrap().push(Receipt {
            path: req.path,
            webhook_id: id.clone(),
            body: serde_json::from_slice(&req.body).unwrap_or(Value::Null),
            at: Instant::now(),
        });
        let answers = match b {
            Behaviour::Answer => true,
            Behaviour::Tarpit => released.load(Ordering::SeqCst),
            Behaviour::SlowLoris => false,
        };
        if answers {
            let ok = conn.write_all(&answer).await.is_ok();
            seen.closed(&id);
            if !ok {
                return;
            }
            continue;
        }
        if b == Behaviour::SlowLoris {
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nx-slow: ").await;
        }
        // Hold on until the caller hangs up.
        let mut byte = [0u8; 1];
        loop {
            tokio::select! {
                r = conn.read(&mut byte) => if matches!(r, Ok(0) | Err(_)) { break },
                _ = tokio::time::sleep(Duration::from_millis(500)) => {
                    if b == Behaviour::SlowLoris && conn.write_all(b"a").await.is_err() {
                        break;
                    }
                }
            }
        }
        seen.closed(&id);
        return;
    }
}

/// The p-th percentile (0–100) of `xs`.
pub fn percentile(xs: &[Duration], p: f64) -> Duration {
    let mut v = xs.to_vec();
    v.sort();
    if v.is_empty() {
        return Duration::ZERO;
    }
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[i.min(v.len() - 1)]
}
