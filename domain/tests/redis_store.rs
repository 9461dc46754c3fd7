//! The store conformance suite (`store/conformance.rs`) and the retention
//! checks (`ops::retention::conformance`) on Redis at
//! `SWITCHBOARD_TEST_REDIS_URL`, under a key prefix of its own: a named
//! target (`cargo test --test redis_store`), not part of plain `cargo test`.

use switchboard_domain::store::RedisStore;
use switchboard_domain::store::conformance::{run_all, test_redis_url};

#[tokio::test]
async fn redis_backend_conforms() {
    let prefix = format!("sbtest{}", switchboard_domain::ids::random_hex(6));
    let s = RedisStore::connect(&test_redis_url(), &prefix)
        .await
        .unwrap();
    run_all(&s).await;
}

#[tokio::test]
async fn retention_on_redis() {
    let prefix = format!("sbtest{}", switchboard_domain::ids::random_hex(6));
    let s = RedisStore::connect(&test_redis_url(), &prefix)
        .await
        .unwrap();
    switchboard_domain::ops::retention::conformance::dead_letters_and_events_expire(
        std::sync::Arc::new(s),
        "proj_ret",
    )
    .await;
}
