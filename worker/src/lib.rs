//! Switchboard's background workers. Each job is a loop that stops at the
//! next tick once shutdown is signalled: housekeeping, delivery of emitted
//! events, timers and polls, token refreshes, promotion of due work, and
//! reclaiming work from workers that died. No loop waits on another's
//! capacity: promotion and reclaim never block on delivery or tick slots.
//!
//! Each loop's work is also a single step (`deliver_once`, `promote_once`,
//! `poll_tick_once`, `refresh_once`, `housekeeping_once`): one round,
//! awaited to the end, so tests can drive the workers without timing. The
//! loops run the same rounds.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_config::Config;
use switchboard_domain::Core;
use switchboard_domain::delivery::Claim;
use switchboard_domain::fairness::TICKS_IN_FLIGHT;
use switchboard_domain::triggers::schedule::Tick;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

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

impl WorkerSettings {
    /// The workers' part of the configuration (`[delivery]`, `[worker]`,
    /// `[accounts]`, `[http]`), with floors that keep every loop turning.
    pub fn from_config(cfg: &Config) -> Self {
        WorkerSettings {
            housekeeping_interval: Duration::from_secs(
                cfg.worker.housekeeping_interval_secs.max(1),
            ),
            delivery_wait: Duration::from_millis(cfg.delivery.poll_interval_ms.max(1)),
            delivery_timeout: Duration::from_secs(cfg.delivery.timeout_secs.max(1)),
            delivery_batch: cfg.delivery.batch.max(1),
            delivery_in_flight: cfg.delivery.in_flight.max(1),
            refresh_check: Duration::from_millis(cfg.accounts.refresh_check_interval_ms.max(10)),
            shutdown_grace: Duration::from_secs(cfg.http.shutdown_grace_secs),
        }
    }
}

/// A name in the queues' consumer group, unique per call: a restarted
/// worker never inherits a dead one's pending entries except by
/// reclaiming them.
pub fn consumer_name() -> String {
    format!(
        "w{}-{}",
        std::process::id(),
        switchboard_domain::ids::random_hex(4)
    )
}

/// Token refreshes running at once in one process.
const REFRESHES_IN_FLIGHT: usize = 16;
/// Accounts looked at per refresh round.
const REFRESHES_PER_ROUND: usize = 64;

/// Runs every worker job until `shutdown` turns true.
pub async fn run(core: Arc<Core>, settings: WorkerSettings, shutdown: watch::Receiver<bool>) {
    tracing::info!(store = core.store.kind(), "workers started");
    let consumer = consumer_name();
    // Claimed work, twice what may run at once: a claim may wait briefly
    // for its tenant's or endpoint's share before it takes a global slot
    // in the domain (fairness.rs), so the claims alone never fill them.
    let deliveries = Pool::new(settings.delivery_in_flight * 2);
    let ticks = Pool::new(TICKS_IN_FLIGHT * 2);
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
            &deliveries,
            shutdown.clone()
        ),
        timers(core.clone(), &settings, &consumer, &ticks, shutdown.clone()),
        refreshes(core.clone(), settings.refresh_check, shutdown.clone()),
        promotions(core.clone(), shutdown.clone()),
        reclaims(core, &settings, &consumer, &deliveries, &ticks, shutdown),
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
        housekeeping_once(&core).await;
    }
}

/// One housekeeping round; returns how many records and index members it
/// removed (failures are logged and retried next round).
pub async fn housekeeping_once(core: &Core) -> usize {
    let mut removed = 0;
    match core.store.sweep_expired().await {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!(removed = n, "housekeeping: expired records removed");
            removed += n;
        }
        Err(e) => tracing::warn!(error = %e, "housekeeping failed; retrying next tick"),
    }
    // Index members the store's TTLs leave behind (expired dead letters).
    match core.ops.prune_retention().await {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!(removed = n, "housekeeping: expired dead letters unindexed");
            removed += n;
        }
        Err(e) => tracing::warn!(error = %e, "retention pruning failed; retrying next tick"),
    }
    removed
}

/// Room for one kind of claimed work in this process, and the queue
/// entries it is working on, so a reclaim never takes back (and runs
/// twice) what is still running here.
struct Pool {
    slots: Arc<Semaphore>,
    size: usize,
    running: Arc<Mutex<HashSet<String>>>,
}

impl Pool {
    fn new(size: usize) -> Self {
        Pool {
            slots: Arc::new(Semaphore::new(size.max(1))),
            size: size.max(1),
            running: Arc::default(),
        }
    }

    /// Room free right now, up to `max`.
    fn room(&self, max: usize) -> usize {
        self.slots.available_permits().min(max.max(1))
    }

    /// Runs `work` on each item as its own task, skipping entries already
    /// running here. `wait`: wait for room (readers, which took only what
    /// fits); otherwise start only what fits now and leave the rest
    /// pending (reclaims, which must never block on capacity). Returns the
    /// tasks started: the loops let them run, single steps await them.
    async fn spawn<T, F, Fut>(
        &self,
        items: Vec<T>,
        entry: fn(&T) -> &str,
        wait: bool,
        work: F,
    ) -> Vec<JoinHandle<()>>
    where
        T: Send + 'static,
        F: Fn(T) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let mut started = Vec::new();
        for item in items {
            let id = entry(&item).to_string();
            if !lock(&self.running).insert(id.clone()) {
                continue;
            }
            let permit = if wait {
                self.slots.clone().acquire_owned().await.ok()
            } else {
                self.slots.clone().try_acquire_owned().ok()
            };
            let Some(permit) = permit else {
                lock(&self.running).remove(&id);
                continue;
            };
            let (job, running) = (work(item), self.running.clone());
            started.push(tokio::spawn(async move {
                job.await;
                lock(&running).remove(&id);
                drop(permit);
            }));
        }
        started
    }

    /// Waits for the tasks in flight to finish (up to `grace`), so a
    /// stopping worker commits what it started instead of leaving it to be
    /// taken over after the lease.
    async fn drain(&self, grace: Duration) {
        if tokio::time::timeout(grace, self.slots.acquire_many(self.size as u32))
            .await
            .is_err()
        {
            tracing::warn!(
                "work still in flight at shutdown; other workers take it over after the lease"
            );
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Awaits the tasks a round started; returns how many there were.
async fn settle(tasks: Option<Vec<JoinHandle<()>>>) -> usize {
    let tasks = tasks.unwrap_or_default();
    let n = tasks.len();
    for t in tasks {
        // A panicked task is counted like the loops count it: it ran.
        let _ = t.await;
    }
    n
}

/// Delivers ready events as they arrive. Each delivery runs as its own task
/// (a slow receiver holds up only its own deliveries); at most
/// `delivery_in_flight` run at once, and a tenant or endpoint over its
/// share is put off rather than waited for (`fairness.rs` in the domain).
async fn delivery(
    core: Arc<Core>,
    s: &WorkerSettings,
    consumer: &str,
    pool: &Pool,
    shutdown: watch::Receiver<bool>,
) {
    let wait = s.delivery_wait.as_millis() as u64;
    loop {
        if *shutdown.borrow() {
            pool.drain(s.shutdown_grace).await;
            return;
        }
        // Wait for room before taking work, so nothing taken sits unstarted.
        let Ok(first) = pool.slots.acquire().await else {
            return;
        };
        drop(first);
        if delivery_round(&core, s, consumer, pool, wait)
            .await
            .is_none()
        {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// One read of the delivery queue: takes what fits in `pool` now (waiting
/// up to `wait_ms` for a first entry) and starts each delivery. `None`: the
/// read failed (logged).
async fn delivery_round(
    core: &Arc<Core>,
    s: &WorkerSettings,
    consumer: &str,
    pool: &Pool,
    wait_ms: u64,
) -> Option<Vec<JoinHandle<()>>> {
    match core
        .delivery
        .claim_ready(consumer, pool.room(s.delivery_batch), wait_ms)
        .await
    {
        Ok(claims) => Some(spawn_deliveries(core, pool, claims, s.delivery_timeout, true).await),
        Err(e) => {
            tracing::warn!(error = %e, "reading the delivery queue failed; retrying");
            None
        }
    }
}

/// Claims the deliveries ready now (one read, up to `delivery_batch`, as
/// `consumer`) and delivers them, awaiting every attempt; returns how many
/// it took. Retries not yet promoted are not ready: see `promote_once`.
pub async fn deliver_once(core: &Arc<Core>, consumer: &str, s: &WorkerSettings) -> usize {
    let pool = Pool::new(s.delivery_in_flight * 2);
    settle(delivery_round(core, s, consumer, &pool, 0).await).await
}

async fn spawn_deliveries(
    core: &Arc<Core>,
    pool: &Pool,
    claims: Vec<Claim>,
    timeout: Duration,
    wait: bool,
) -> Vec<JoinHandle<()>> {
    pool.spawn(claims, Claim::entry_id, wait, |c| {
        let core = core.clone();
        async move {
            if let Err(e) = core.delivery.deliver_claim(&c, timeout).await {
                tracing::warn!(error = %e, "delivery failed to update; another worker takes it over after the lease");
            }
        }
    })
    .await
}

/// Runs due timer ticks as they arrive, each as its own task.
async fn timers(
    core: Arc<Core>,
    s: &WorkerSettings,
    consumer: &str,
    pool: &Pool,
    shutdown: watch::Receiver<bool>,
) {
    let wait = s.delivery_wait.as_millis() as u64;
    loop {
        if *shutdown.borrow() {
            pool.drain(s.shutdown_grace).await;
            return;
        }
        let Ok(first) = pool.slots.acquire().await else {
            return;
        };
        drop(first);
        if tick_round(&core, consumer, pool, wait).await.is_none() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// One read of the timer queue: takes the due ticks that fit in `pool`
/// (waiting up to `wait_ms` for a first) and starts each. `None`: the read
/// failed (logged).
async fn tick_round(
    core: &Arc<Core>,
    consumer: &str,
    pool: &Pool,
    wait_ms: u64,
) -> Option<Vec<JoinHandle<()>>> {
    match core
        .triggers
        .claim_ticks(consumer, pool.room(TICKS_IN_FLIGHT), wait_ms)
        .await
    {
        Ok(ticks) => Some(spawn_ticks(core, pool, ticks, true).await),
        Err(e) => {
            tracing::warn!(error = %e, "reading the timer queue failed; retrying");
            None
        }
    }
}

/// Claims the timer and poll ticks in the ready queue now (one read, as
/// `consumer`) and runs them, awaiting each; returns how many it took.
/// Ticks still in the due index are not ready: see `promote_once`.
pub async fn poll_tick_once(core: &Arc<Core>, consumer: &str) -> usize {
    let pool = Pool::new(TICKS_IN_FLIGHT * 2);
    settle(tick_round(core, consumer, &pool, 0).await).await
}

async fn spawn_ticks(
    core: &Arc<Core>,
    pool: &Pool,
    ticks: Vec<Tick>,
    wait: bool,
) -> Vec<JoinHandle<()>> {
    pool.spawn(ticks, Tick::entry_id, wait, |tick| {
        let core = core.clone();
        async move {
            if let Err(e) = core.triggers.run_tick(&tick).await {
                tracing::warn!(error = %e, "timer tick failed; another worker takes it over after the lease");
            }
        }
    })
    .await
}

/// Refreshes OAuth tokens ahead of expiry and touches idle ones (see
/// `health`). Every worker looks; the account's lock lets one refresh.
async fn refreshes(core: Arc<Core>, every: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let pool = Pool::new(REFRESHES_IN_FLIGHT);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        refresh_round(&core, &pool).await;
    }
}

/// Starts the refreshes due now, as many as `pool` takes. `None`: reading
/// the schedule failed (logged).
async fn refresh_round(core: &Arc<Core>, pool: &Pool) -> Option<Vec<JoinHandle<()>>> {
    let due = match core.accounts.due_refreshes(REFRESHES_PER_ROUND).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "reading the refresh schedule failed; retrying");
            return None;
        }
    };
    let started = pool
        .spawn(due, |d| d.account_id.as_str(), true, |d| {
            let core = core.clone();
            async move {
                // A failed refresh is recorded on the account and retried on
                // its backoff; only the log hears about it here.
                if let Err(e) = core.accounts.run_due_refresh(&d).await {
                    tracing::info!(account = %d.account_id, error = %e, "scheduled token refresh failed");
                }
            }
        })
        .await;
    Some(started)
}

/// Runs the token refreshes due now (up to 64), awaiting each; returns
/// how many it ran, failed ones included (they are recorded on the
/// account).
pub async fn refresh_once(core: &Arc<Core>) -> usize {
    let pool = Pool::new(REFRESHES_IN_FLIGHT);
    settle(refresh_round(core, &pool).await).await
}

/// Moves retries and timer ticks into their queues as they come due. It
/// never waits for delivery or tick capacity.
async fn promotions(core: Arc<Core>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        promote_once(&core).await;
    }
}

/// Moves the retries and timer ticks due now into their ready queues;
/// returns how many it moved.
pub async fn promote_once(core: &Core) -> usize {
    let mut moved = 0;
    match core.delivery.promote_due_deliveries().await {
        Ok(n) => moved += n,
        Err(e) => tracing::warn!(error = %e, "promoting due retries failed; retrying"),
    }
    match core.triggers.promote_due_ticks().await {
        Ok(n) => moved += n,
        Err(e) => tracing::warn!(error = %e, "promoting due timer ticks failed; retrying"),
    }
    moved
}

/// Every second, takes over work left by workers that died or hung, as
/// much as there is room for now (never waiting for room), and never an
/// entry still running in this process.
async fn reclaims(
    core: Arc<Core>,
    s: &WorkerSettings,
    consumer: &str,
    deliveries: &Pool,
    ticks: &Pool,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let room = deliveries.room(s.delivery_batch);
        if room > 0 {
            match core.delivery.reclaim_stale(consumer, room).await {
                Ok(claims) => {
                    if !claims.is_empty() {
                        tracing::info!(
                            n = claims.len(),
                            "took over deliveries from a worker that went quiet"
                        );
                    }
                    spawn_deliveries(&core, deliveries, claims, s.delivery_timeout, false).await;
                }
                Err(e) => tracing::warn!(error = %e, "reclaiming deliveries failed; retrying"),
            }
        }
        let room = ticks.room(TICKS_IN_FLIGHT);
        if room > 0 {
            match core.triggers.reclaim_ticks(consumer, room).await {
                Ok(taken) => {
                    if !taken.is_empty() {
                        tracing::info!(
                            n = taken.len(),
                            "took over timer and poll ticks from a worker that went quiet"
                        );
                    }
                    spawn_ticks(&core, ticks, taken, false).await;
                }
                Err(e) => tracing::warn!(error = %e, "reclaiming timer ticks failed; retrying"),
            }
        }
    }
}
