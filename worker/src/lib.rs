//! Switchboard's background workers. Each job is a loop that stops at the
//! next tick once shutdown is signalled. Housekeeping is the first job;
//! schedulers and delivery join it in later work.

use std::sync::Arc;
use std::time::Duration;

use switchboard_domain::Core;
use tokio::sync::watch;

pub struct WorkerSettings {
    pub housekeeping_interval: Duration,
}

/// Runs every worker job until `shutdown` turns true.
pub async fn run(core: Arc<Core>, settings: WorkerSettings, shutdown: watch::Receiver<bool>) {
    tracing::info!(store = core.store.kind(), "workers started");
    housekeeping(core, settings.housekeeping_interval, shutdown).await;
    tracing::info!("workers stopped");
}

/// Expires what the store does not expire by itself (tokens, counters on
/// the embedded store). On Redis, keys carry their own TTLs.
async fn housekeeping(core: Arc<Core>, every: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        match core.store.sweep_expired().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "housekeeping: expired records removed"),
            Err(e) => tracing::warn!(error = %e, "housekeeping failed; retrying next tick"),
        }
    }
}
