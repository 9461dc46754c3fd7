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
    /// Deliveries in flight at once in this process.
    pub delivery_in_flight: usize,
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

/// Delivers due events. Each claimed delivery runs as its own task (a slow
/// receiver holds up only its own deliveries); at most `delivery_in_flight`
/// run at once. Loops at once while there is work, else polls.
async fn delivery(core: Arc<Core>, s: &WorkerSettings, mut shutdown: watch::Receiver<bool>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(s.delivery_in_flight.max(1)));
    loop {
        if *shutdown.borrow() {
            return;
        }
        let free = slots.available_permits().min(s.delivery_batch);
        let claims = if free == 0 {
            Vec::new()
        } else {
            core.claim_due(free).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "claiming deliveries failed; retrying");
                Vec::new()
            })
        };
        let busy = !claims.is_empty();
        for c in claims {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let (core, timeout) = (core.clone(), s.delivery_timeout);
            tokio::spawn(async move {
                if let Err(e) = core.deliver_claim(&c, timeout).await {
                    tracing::warn!(error = %e, "delivery failed to update; its lease will expire and it is retried");
                }
                drop(permit);
            });
        }
        if !busy {
            tokio::select! {
                _ = tokio::time::sleep(s.delivery_poll) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        }
    }
}
