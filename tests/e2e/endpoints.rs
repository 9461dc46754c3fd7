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
use tokio::net::{TcpListener, TcpStream};

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
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Seen::default());
        let released = Arc::new(AtomicBool::new(false));
        let answer: Arc<[u8]> = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
        .into();
        let (s, r) = (seen.clone(), released.clone());
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (s, r, a) = (s.clone(), r.clone(), answer.clone());
                tokio::spawn(serve(conn, behaviour, s, r, a));
            }
        });
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

/// Reads one request head and body (Content-Length), at most 1 MiB.
async fn read_request(conn: &mut TcpStream) -> Option<(String, HashMap<String, String>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 1 << 20 {
            return None;
        }
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_string();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
        .min(1 << 20);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((path, headers, body))
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
    while let Some((path, headers, body)) = read_request(&mut conn).await {
        let id = headers.get("webhook-id").cloned().unwrap_or_default();
        seen.opened(&id);
        seen.receipts.lock().unwrap().push(Receipt {
            path,
            webhook_id: id.clone(),
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
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
