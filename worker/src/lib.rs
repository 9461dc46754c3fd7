//! Switchboard's background workers. Each job is a loop that stops at the
//! next tick once shutdown is signalled: housekeeping, and delivery of
//! emitted events. Pollers join them in later work.

use std::sync::Arc;
use std::time::Duration;

use switchboard_domain::Core;
use tokio::sync::watch;

pub struct WorkerSettings {
    pub housekeeping_interval: Duration,
    /// How long an idle delivery loop waits before looking again.
    pub delivery_poll: Duration,
    /// Per-attempt timeout towards a receiver.
    pub delivery_timeout: Duration,
    /// Jobs claimed per pass.
    pub delivery_batch: usize,
}

/// Runs every worker job until `shutdown` turns true.
pub async fn run(core: Arc<Core>, settings: WorkerSettings, shutdown: watch::Receiver<bool>) {
    tracing::info!(store = core.store.kind(), "workers started");
    tokio::join!(
        housekeeping(
            core.clone(),
            settings.housekeeping_interval,
            shutdown.clone()
        ),
        delivery(core, &settings, shutdown),
    );
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

/// Delivers due events; loops at once while there is work, else polls.
async fn delivery(core: Arc<Core>, s: &WorkerSettings, mut shutdown: watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let busy = match core.deliver_due(s.delivery_batch, s.delivery_timeout).await {
            Ok(r) => r.delivered + r.retried + r.failed > 0,
            Err(e) => {
                tracing::warn!(error = %e, "delivery pass failed; retrying");
                false
            }
        };
        if !busy {
            tokio::select! {
                _ = tokio::time::sleep(s.delivery_poll) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        }
    }
}
