//! Bounded fuzzing (proptest) of the cron and time zone parser that
//! `schedule-custom-interval` and every polling trigger's timer prop take
//! from end users: mutations of the committed corpus (`fuzz/corpus/cron/`)
//! and generated long/odd fields. No panic, bounded time (parsing and the
//! next-run search), and a bounded error. Cases: 256, or `PROPTEST_CASES`.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;
use switchboard_domain::triggers::schedule::Timer;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256)
}

fn corpus() -> Vec<String> {
    let dir = format!("{}/../fuzz/corpus/cron", env!("CARGO_MANIFEST_DIR"));
    let mut v: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| String::from_utf8_lossy(&std::fs::read(e.unwrap().path()).unwrap()).into_owned())
        .collect();
    v.sort();
    v
}

const PIECES: &[&str] = &[
    "*",
    "/",
    ",",
    "-",
    " ",
    "0",
    "59",
    "60",
    "7",
    "31",
    "jan",
    "MON",
    "*/0",
    "*/1",
    "1-5",
    "5-1",
    "\t",
    "99999999999999999999",
    "",
    "?",
    "L",
    "#",
];

fn input() -> impl Strategy<Value = String> {
    let seeds = corpus();
    prop_oneof![
        // A seed with pieces spliced in and repeated.
        (
            0..seeds.len(),
            prop::collection::vec((any::<usize>(), 0..PIECES.len(), 1usize..2000), 0..5)
        )
            .prop_map(move |(i, edits)| {
                let mut s = seeds[i].clone();
                for (at, p, k) in edits {
                    let mut at = at % (s.len() + 1);
                    while !s.is_char_boundary(at) {
                        at -= 1;
                    }
                    s.insert_str(at, &PIECES[p].repeat(k));
                }
                s
            }),
        // Five generated fields.
        prop::collection::vec(
            prop::collection::vec(0..PIECES.len(), 1..6)
                .prop_map(|ix| ix.into_iter().map(|i| PIECES[i]).collect::<String>()),
            0..8
        )
        .prop_map(|f| f.join(" ")),
    ]
}

#[test]
fn fuzz_cron_and_time_zones() {
    let zones = [
        "UTC",
        "Europe/Paris",
        "America/New_York",
        "Australia/Lord_Howe",
        "Mars/Olympus",
    ];
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(
            &(input(), 0..zones.len(), any::<u64>()),
            |(expr, z, after)| {
                let t = Instant::now();
                let tz = if z == 4 {
                    expr.clone()
                } else {
                    zones[z].to_string()
                };
                match Timer::parse(&json!({"cron": expr, "timezone": tz}), 60) {
                    Ok(timer) => {
                        // The next-run search is bounded too (about 5 years).
                        let after = after % 4_000_000_000_000;
                        let _ = timer.next_after(after, after);
                    }
                    Err(e) => prop_assert!(e.len() < 600, "{e}"),
                }
                prop_assert!(
                    t.elapsed() < Duration::from_secs(3),
                    "{expr:?} took {:?}",
                    t.elapsed()
                );
                Ok(())
            },
        )
        .unwrap();
}
