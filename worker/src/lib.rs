//! Switchboard's background workers. Each job is a loop that stops at the
//! next tick once shutdown is signalled: housekeeping, delivery of emitted
//! events, and timers. Pollers join them in later work.

use std::sync::Arc;
use std::time::Duration;

use switchboard_domain::Core;
use switchboard_domain::delivery::Claim;
use switchboard_domain::schedule::Tick;
use tokio::sync::{Semaphore, watch};

pub struct WorkerSettings {
    pub housekeeping_interval: Duration,
    /// How long an idle delivery loop waits for an event before looking
    /// again (an arrival wakes it at once).
    pub delivery_wait: Duration,
    /// Per-attempt timeout towards a receiver.
    pub delivery_timeout: Duration,
    /// Deliveries taken per read.
    pub delivery_batch: usize,
    /// Deliveries in flight at once in this process.
    pub delivery_in_flight: usize,
    /// How often to look for accounts due a token refresh.
    pub refresh_check: Duration,
    /// On shutdown, how long deliveries and polls in flight get to finish.
    pub shutdown_grace: Duration,
}

/// Runs every worker job until `shutdown` turns true.
pub async fn run(core: Arc<Core>, settings: WorkerSettings, shutdown: watch::Receiver<bool>) {
    tracing::info!(store = core.store.kind(), "workers started");
    // This process's name in the queue's consumer group: unique per run, so
    // a restarted worker never inherits a dead one's pending entries except
    // by reclaiming them.
    let consumer = format!(
        "w{}-{}",
        std::process::id(),
        switchboard_domain::ids::random_hex(4)
    );
    let slots = Arc::new(Semaphore::new(settings.delivery_in_flight.max(1)));
    tokio::join!(
        housekeeping(
            core.clone(),
            settings.housekeeping_interval,
            shutdown.clone()
        ),
        delivery(
            core.clone(),
            &settings,
            &consumer,
            slots.clone(),
            shutdown.clone()
        ),
        timers(core.clone(), &settings, &consumer, shutdown.clone()),
        refreshes(core.clone(), settings.refresh_check, shutdown.clone()),
        retries_and_reclaims(core, &settings, &consumer, slots, shutdown),
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
        // Index members the store's TTLs leave behind (expired dead letters).
        match core.prune_retention().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "housekeeping: expired dead letters unindexed"),
            Err(e) => tracing::warn!(error = %e, "retention pruning failed; retrying next tick"),
        }
    }
}

/// Delivers ready events as they arrive. Each delivery runs as its own task
/// (a slow receiver holds up only its own deliveries); at most
/// `delivery_in_flight` run at once.
async fn delivery(
    core: Arc<Core>,
    s: &WorkerSettings,
    consumer: &str,
    slots: Arc<Semaphore>,
    shutdown: watch::Receiver<bool>,
) {
    let wait = s.delivery_wait.as_millis() as u64;
    loop {
        let stop = *shutdown.borrow();
        if stop {
            drain(&slots, s.delivery_in_flight.max(1), s.shutdown_grace).await;
            return;
        }
        // Wait for room before taking work, so nothing taken sits unstarted.
        let Ok(first) = slots.clone().acquire_owned().await else {
            return;
        };
        let room = (slots.available_permits() + 1).min(s.delivery_batch.max(1));
        drop(first);
        match core.claim_ready(consumer, room, wait).await {
            Ok(claims) => spawn_all(&core, &slots, claims, s.delivery_timeout).await,
            Err(e) => {
                tracing::warn!(error = %e, "reading the delivery queue failed; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Ticks (timer runs and polls) in flight at once in this process.
const TICKS_IN_FLIGHT: usize = 64;

/// Waits for the tasks holding `slots` to finish (up to `grace`), so a
/// stopping worker commits what it started instead of leaving it to be
/// taken over after the lease.
async fn drain(slots: &Arc<Semaphore>, all: usize, grace: Duration) {
    if tokio::time::timeout(grace, slots.acquire_many(all as u32))
        .await
        .is_err()
    {
        tracing::warn!(
            "work still in flight at shutdown; other workers take it over after the lease"
        );
    }
}

/// Runs `work` on each item as its own task, at most as many at once as
/// `slots` allows (waiting for room before starting the next).
async fn spawn_each<T, F, Fut>(slots: &Arc<Semaphore>, items: Vec<T>, work: F)
where
    T: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    for item in items {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let job = work(item);
        tokio::spawn(async move {
            job.await;
            drop(permit);
        });
    }
}

async fn spawn_all(
    core: &Arc<Core>,
    slots: &Arc<Semaphore>,
    claims: Vec<Claim>,
    timeout: Duration,
) {
    spawn_each(slots, claims, |c| {
        let core = core.clone();
        async move {
            if let Err(e) = core.deliver_claim(&c, timeout).await {
                tracing::warn!(error = %e, "delivery failed to update; another worker takes it over after the lease");
            }
        }
    })
    .await;
}

/// Runs due timer ticks as they arrive, each as its own task.
async fn timers(
    core: Arc<Core>,
    s: &WorkerSettings,
    consumer: &str,
    shutdown: watch::Receiver<bool>,
) {
    let wait = s.delivery_wait.as_millis() as u64;
    let slots = Arc::new(Semaphore::new(TICKS_IN_FLIGHT));
    loop {
        let stop = *shutdown.borrow();
        if stop {
            drain(&slots, TICKS_IN_FLIGHT, s.shutdown_grace).await;
            return;
        }
        match core.claim_ticks(consumer, TICKS_IN_FLIGHT, wait).await {
            Ok(ticks) => spawn_ticks(&core, &slots, ticks).await,
            Err(e) => {
                tracing::warn!(error = %e, "reading the timer queue failed; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

async fn spawn_ticks(core: &Arc<Core>, slots: &Arc<Semaphore>, ticks: Vec<Tick>) {
    spawn_each(slots, ticks, |tick| {
        let core = core.clone();
        async move {
            if let Err(e) = core.run_tick(&tick).await {
                tracing::warn!(error = %e, "timer tick failed; another worker takes it over after the lease");
            }
        }
    })
    .await;
}

/// Refreshes OAuth tokens ahead of expiry and touches idle ones (see
/// `health`). Every worker looks; the account's lock lets one refresh.
async fn refreshes(core: Arc<Core>, every: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let slots = Arc::new(Semaphore::new(16));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let due = match core.due_refreshes(64).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "reading the refresh schedule failed; retrying");
                continue;
            }
        };
        spawn_each(&slots, due, |d| {
            let core = core.clone();
            async move {
                // A failed refresh is recorded on the account and retried on
                // its backoff; only the log hears about it here.
                if let Err(e) = core.run_due_refresh(&d).await {
                    tracing::info!(account = %d.account_id, error = %e, "scheduled token refresh failed");
                }
            }
        })
        .await;
    }
}

/// Moves retries and timer ticks into their queues as they come due, and
/// takes over work left by workers that died mid-way.
async fn retries_and_reclaims(
    core: Arc<Core>,
    s: &WorkerSettings,
    consumer: &str,
    slots: Arc<Semaphore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n: u64 = 0;
    let tick_slots = Arc::new(Semaphore::new(16));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
        if let Err(e) = core.promote_due_deliveries().await {
            tracing::warn!(error = %e, "promoting due retries failed; retrying");
        }
        if let Err(e) = core.promote_due_ticks().await {
            tracing::warn!(error = %e, "promoting due timer ticks failed; retrying");
        }
        n += 1;
        // Every second: cheap, and a dead worker's work moves soon after its lease.
        if n.is_multiple_of(10) {
            match core.reclaim_stale(consumer, s.delivery_batch.max(1)).await {
                Ok(claims) if !claims.is_empty() => {
                    tracing::info!(
                        n = claims.len(),
                        "took over deliveries from a worker that went quiet"
                    );
                    spawn_all(&core, &slots, claims, s.delivery_timeout).await;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reclaiming deliveries failed; retrying"),
            }
            match core.reclaim_ticks(consumer, 64).await {
                Ok(ticks) => {
                    if !ticks.is_empty() {
                        tracing::info!(
                            n = ticks.len(),
                            "took over timer and poll ticks from a worker that went quiet"
                        );
                    }
                    spawn_ticks(&core, &tick_slots, ticks).await
                }
                Err(e) => tracing::warn!(error = %e, "reclaiming timer ticks failed; retrying"),
            }
        }
    }
    drain(&tick_slots, 16, s.shutdown_grace).await;
}
