//! `eventually`, the one way both test targets (`tests/app`, `tests/e2e`)
//! wait for a condition: no hand-written sleep-and-poll loops. Included by
//! each with `#[path = "../common/eventually.rs"] mod eventually;`.

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

/// Awaits `probe` until it is ready, every 25 ms, for at most `timeout`.
/// The probe returns `Option<T>` (`None`: not yet) or `Result<T, E>`
/// (`Err(last observed value)`); the timeout panic names `what` and the
/// last value observed.
pub async fn eventually<T, P, F, Fut>(timeout: Duration, what: &str, mut probe: F) -> T
where
    P: Probe<T>,
    F: FnMut() -> Fut,
    Fut: Future<Output = P>,
{
    let start = Instant::now();
    loop {
        let last = match probe().await.ready() {
            Ok(v) => return v,
            Err(last) => last,
        };
        if start.elapsed() >= timeout {
            panic!("timed out after {timeout:?} waiting for {what}; last observed: {last}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// What an `eventually` probe may return.
pub trait Probe<T> {
    /// The value, or a description of what was seen instead.
    fn ready(self) -> Result<T, String>;
}

impl<T> Probe<T> for Option<T> {
    fn ready(self) -> Result<T, String> {
        self.ok_or_else(|| "None".to_string())
    }
}

impl<T, E: Debug> Probe<T> for Result<T, E> {
    fn ready(self) -> Result<T, String> {
        self.map_err(|e| format!("{e:?}"))
    }
}
