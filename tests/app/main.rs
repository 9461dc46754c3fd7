//! In-process tests: the application built by `Application::build` on the
//! test's runtime, the API on port 0, on the embedded store in a temporary
//! directory. They need nothing running (no Redis, Node, Python or
//! Chromium); `tests/e2e` keeps what needs the real process or those.
//! Modules name the harness `super::helpers` so that `tests/app_redis.rs`
//! can run them all again on Redis.

#[path = "../common/api.rs"]
mod api;
mod app_overrides;
mod bad_input;
mod components;
mod data_limits;
#[path = "../common/eventually.rs"]
mod eventually;
mod file_stash;
mod harness;
mod helpers;
mod isolation;
mod ops;
mod override_page;
mod projects;
#[path = "../common/receiver.rs"]
mod receiver;
mod triggers;
mod usage;
mod web_security;
