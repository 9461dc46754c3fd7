//! The in-process suite (`tests/app/`) on Redis: `SWITCHBOARD_TEST_REDIS_URL`
//! must name a Redis the tests may write to (each app under a key prefix of
//! its own). Not part of plain `cargo test`; `./scripts/test` runs it.

#[path = "app/main.rs"]
mod app;
