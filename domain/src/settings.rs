//! What the domain needs from configuration: the server's `Config` is
//! copied into these once, at start-up (see `src/application.rs`).

/// What the domain needs from configuration.
#[derive(Debug, Clone)]
pub struct CoreSettings {
    /// Public base URL without a trailing slash.
    pub public_base: String,
    pub access_token_ttl_secs: u64,
    pub connect_token_ttl_secs: u64,
    /// 0 disables.
    pub tokens_per_user_per_minute: u64,
    /// 0 disables.
    pub accounts_per_project_per_5min: u64,
    /// Account requests by one end user (connect token) per 5 minutes;
    /// 0 disables.
    pub accounts_per_user_per_5min: u64,
    /// Requests to one inbound URL per minute; 0 disables.
    pub hook_requests_per_minute: u64,
    /// Inbound requests of one tenant processed at once, per process; 0
    /// disables.
    pub in_flight_per_tenant: usize,
    /// Non-public networks outbound requests may reach (CIDRs).
    pub allow_private_networks: Vec<String>,
    /// How long the proxy waits for the upstream before answering 504.
    pub proxy_timeout_secs: u64,
    /// Emitted events kept per deployed trigger (`GET …/events`).
    pub events_retained: usize,
    /// After a signing key is regenerated, the old one signs too this long.
    pub key_overlap_secs: u64,
    /// Deliveries in flight to one origin at once, per process.
    pub delivery_per_endpoint: usize,
    /// Deliveries in flight for one tenant at once, per process.
    pub delivery_per_tenant: usize,
    /// Delivery attempts sending at once, per process.
    pub delivery_in_flight: usize,
    /// Timer and poll ticks in flight for one tenant at once, per process.
    pub ticks_per_tenant: usize,
    /// Seconds before each retry; empty means the default schedule.
    pub retry_schedule_secs: Vec<u64>,
    /// A delivery taken by a worker that then goes quiet this long is
    /// taken over by another (longer than any attempt's timeout).
    pub delivery_lease_ms: u64,
    /// A webhook failing without a success this long is deactivated.
    pub deactivate_after_secs: u64,
    /// The shortest timer interval a deployment may have.
    pub min_interval_secs: u64,
    /// Refreshable accounts are refreshed at least this often.
    pub refresh_touch_secs: u64,
    /// After a failed refresh, the next one waits this long, doubling up
    /// to the maximum.
    pub refresh_retry_min_secs: u64,
    pub refresh_retry_max_secs: u64,
    /// Refreshes failing this long make an account dead.
    pub account_dead_after_secs: u64,
    /// Ids a `unique` polling source remembers.
    pub dedupe_unique_bound: usize,
    /// Failed polls in a row before the project webhook is told.
    pub poll_failures_notify_after: u32,
    /// How long what Switchboard keeps may live (`[retention]`).
    pub retention: Retention,
    /// Per-tenant limits on what can be created (`[quotas]`).
    pub quotas: Quotas,
}

/// How long stored data lives (`[retention]` in the config).
#[derive(Debug, Clone)]
pub struct Retention {
    /// Dead letters (and every delivery attempt) expire this long after
    /// they are written.
    pub dead_letter_secs: u64,
    /// Emitted events expire this long after they are recorded (besides the
    /// newest-`events_retained` cap).
    pub events_secs: u64,
    /// A deleted external user's tombstone lives this long after the delete
    /// finished: meanwhile the user cannot be used again (409).
    pub user_tombstone_secs: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            dead_letter_secs: 30 * 86_400,
            events_secs: 30 * 86_400,
            user_tombstone_secs: 600,
        }
    }
}

impl Retention {
    /// The TTL of delivery attempt records: at least the 7 days of the
    /// attempts log, and as long as the dead letters they explain.
    pub fn attempt_ttl_ms(&self) -> u64 {
        self.dead_letter_secs.max(7 * 86_400) * 1000
    }
}

/// Per-tenant quotas (`[quotas]` in the config); 0 means unlimited.
#[derive(Debug, Clone)]
pub struct Quotas {
    pub deployments_per_user: u64,
    pub deployments_per_environment: u64,
    pub accounts_per_user: u64,
    pub webhooks_per_deployment: u64,
    pub private_components_per_project: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            deployments_per_user: 100,
            deployments_per_environment: 10_000,
            accounts_per_user: 100,
            webhooks_per_deployment: 10,
            private_components_per_project: 500,
        }
    }
}

impl Default for CoreSettings {
    fn default() -> Self {
        CoreSettings {
            public_base: "http://127.0.0.1:8080".into(),
            access_token_ttl_secs: 3600,
            connect_token_ttl_secs: 14400,
            tokens_per_user_per_minute: 100,
            accounts_per_project_per_5min: 2000,
            accounts_per_user_per_5min: 500,
            hook_requests_per_minute: 6000,
            in_flight_per_tenant: 128,
            allow_private_networks: Vec::new(),
            proxy_timeout_secs: 30,
            events_retained: 100,
            key_overlap_secs: 86_400,
            delivery_per_endpoint: 16,
            delivery_per_tenant: 64,
            delivery_in_flight: 512,
            ticks_per_tenant: 64,
            retry_schedule_secs: Vec::new(),
            delivery_lease_ms: 60_000,
            deactivate_after_secs: 5 * 86_400,
            min_interval_secs: 900,
            refresh_touch_secs: 86_400,
            refresh_retry_min_secs: 30,
            refresh_retry_max_secs: 3600,
            account_dead_after_secs: 4 * 86_400,
            dedupe_unique_bound: 1000,
            poll_failures_notify_after: 5,
            retention: Retention::default(),
            quotas: Quotas::default(),
        }
    }
}
