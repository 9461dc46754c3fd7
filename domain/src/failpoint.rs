//! Fault injection for crash tests: `SWITCHBOARD_FAILPOINT=<name>` makes
//! the process abort when it reaches that point, as a crash or a SIGKILL
//! there would. Unset (always, outside tests), a check is one atomic load.

use std::sync::OnceLock;

/// Aborts the process if the configured failpoint is `name`.
pub(crate) fn hit(name: &str) {
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    let armed = ARMED.get_or_init(|| std::env::var("SWITCHBOARD_FAILPOINT").ok());
    if armed.as_deref() == Some(name) {
        eprintln!("failpoint {name}: aborting");
        std::process::abort();
    }
}
