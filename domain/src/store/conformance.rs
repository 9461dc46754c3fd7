//! One conformance suite, run against both backends: the embedded store in a
//! temporary directory (the unit tests below) and Redis at
//! `SWITCHBOARD_TEST_REDIS_URL` (`domain/tests/redis_store.rs`; the test
//! command starts a throwaway redis-server and sets it).

use super::*;
use crate::model::{Environment, Tenant};

fn tenant(p: &str) -> Tenant {
    Tenant {
        project_id: p.into(),
        env: Environment::Production,
    }
}

/// Checks every semantic the backends share, on `s`.
pub async fn run_all(s: &dyn Store) {
    records_and_ttl(s).await;
    commits_are_atomic_and_indexes_page(s).await;
    put_if_absent_is_exclusive(s).await;
    locks_are_released_only_by_their_owner(s).await;
    counters_count_within_a_window(s).await;
    durable_counters_add_up_and_expire(s).await;
    swaps_only_what_was_read(s).await;
    guarded_commits_apply_whole_or_not_at_all(s).await;
    queues_hand_out_each_entry_once_until_reclaimed(s).await;
    due_index_members_are_promoted_once(s).await;
    s.ping().await.unwrap();
}

async fn records_and_ttl(s: &dyn Store) {
    let t = tenant("proj_a");
    let k = Key::tenant(&t, "rec:1");
    assert_eq!(s.get(&k).await.unwrap(), None);
    s.commit(vec![Op::put(k.clone(), b"one".to_vec())])
        .await
        .unwrap();
    assert_eq!(s.get(&k).await.unwrap().as_deref(), Some(&b"one"[..]));
    // Same name in another tenant or environment is another key.
    let other = Key::tenant(
        &Tenant {
            env: Environment::Development,
            ..t.clone()
        },
        "rec:1",
    );
    assert_eq!(s.get(&other).await.unwrap(), None);
    let short = Key::global("ttl:x", "");
    s.commit(vec![Op::Put {
        key: short.clone(),
        value: b"v".to_vec(),
        ttl_ms: Some(150),
    }])
    .await
    .unwrap();
    let got = s
        .get_many(&[k.clone(), short.clone(), other])
        .await
        .unwrap();
    assert_eq!(got[0].as_deref(), Some(&b"one"[..]));
    assert_eq!(got[1].as_deref(), Some(&b"v"[..]));
    assert_eq!(got[2], None);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(s.get(&short).await.unwrap(), None, "expired record is gone");
    s.sweep_expired().await.unwrap();
    s.commit(vec![Op::Delete(k.clone())]).await.unwrap();
    assert_eq!(s.get(&k).await.unwrap(), None);
}

async fn commits_are_atomic_and_indexes_page(s: &dyn Store) {
    s.commit(Vec::new())
        .await
        .expect("an empty commit is a no-op");
    let t = tenant("proj_b");
    let ix = Key::tenant(&t, "idx:things");
    let mut ops = Vec::new();
    for i in 0..25 {
        let id = format!("id{i:02}");
        ops.push(Op::put(
            Key::tenant(&t, format!("thing:{id}")),
            id.clone().into_bytes(),
        ));
        ops.push(Op::IndexAdd {
            index: ix.clone(),
            member: id,
        });
    }
    s.commit(ops).await.unwrap();
    assert_eq!(s.index_count(&ix).await.unwrap(), 25);
    let page = |after: Option<&str>, before: Option<&str>, limit| IndexRange {
        after: after.map(str::to_string),
        before: before.map(str::to_string),
        limit,
    };
    let first = s.index_range(&ix, &page(None, None, 10)).await.unwrap();
    assert_eq!(first.first().unwrap(), "id00");
    assert_eq!(first.last().unwrap(), "id09");
    let next = s
        .index_range(&ix, &page(Some("id09"), None, 10))
        .await
        .unwrap();
    assert_eq!(next.first().unwrap(), "id10");
    let last = s
        .index_range(&ix, &page(Some("id19"), None, 10))
        .await
        .unwrap();
    assert_eq!(last.len(), 5);
    let back = s
        .index_range(&ix, &page(None, Some("id10"), 4))
        .await
        .unwrap();
    assert_eq!(back, vec!["id06", "id07", "id08", "id09"]);
    let empty = s
        .index_range(&ix, &page(Some("id24"), None, 10))
        .await
        .unwrap();
    assert!(empty.is_empty());
    // Another index with a name that sorts right after must not leak in.
    let ix2 = Key::tenant(&t, "idx:things2");
    s.commit(vec![Op::IndexAdd {
        index: ix2.clone(),
        member: "zz".into(),
    }])
    .await
    .unwrap();
    assert_eq!(s.index_count(&ix).await.unwrap(), 25);
    let all = s.index_range(&ix, &page(None, None, 100)).await.unwrap();
    assert_eq!(all.len(), 25);
    s.commit(vec![
        Op::IndexRemove {
            index: ix.clone(),
            member: "id00".into(),
        },
        Op::Delete(Key::tenant(&t, "thing:id00")),
    ])
    .await
    .unwrap();
    assert_eq!(s.index_count(&ix).await.unwrap(), 24);
    assert_eq!(s.get(&Key::tenant(&t, "thing:id00")).await.unwrap(), None);
}

async fn put_if_absent_is_exclusive(s: &dyn Store) {
    let k = Key::global("once:1", "used");
    let (a, b) = tokio::join!(
        s.put_if_absent(&k, b"a".to_vec(), Some(60_000)),
        s.put_if_absent(&k, b"b".to_vec(), Some(60_000))
    );
    assert!(a.unwrap() ^ b.unwrap(), "exactly one writer wins");
}

async fn locks_are_released_only_by_their_owner(s: &dyn Store) {
    let k = Key::global("lock:1", "l");
    assert!(
        s.put_if_absent(&k, b"me".to_vec(), Some(60_000))
            .await
            .unwrap()
    );
    assert!(!s.delete_if_equals(&k, b"you").await.unwrap());
    assert!(
        s.get(&k).await.unwrap().is_some(),
        "someone else's lock stays"
    );
    assert!(s.delete_if_equals(&k, b"me").await.unwrap());
    assert!(s.get(&k).await.unwrap().is_none());
    assert!(!s.delete_if_equals(&k, b"me").await.unwrap());
}

async fn swaps_only_what_was_read(s: &dyn Store) {
    let k = Key::global("cas", "rec");
    assert!(
        !s.swap_if(&k, b"v0", b"v1".to_vec()).await.unwrap(),
        "absent"
    );
    s.commit(vec![Op::put(k.clone(), b"v0".to_vec())])
        .await
        .unwrap();
    assert!(s.swap_if(&k, b"v0", b"v1".to_vec()).await.unwrap());
    assert!(
        !s.swap_if(&k, b"v0", b"v2".to_vec()).await.unwrap(),
        "a writer that read the old value loses"
    );
    assert_eq!(s.get(&k).await.unwrap().as_deref(), Some(&b"v1"[..]));
}

async fn guarded_commits_apply_whole_or_not_at_all(s: &dyn Store) {
    let guard = Key::global("gc", "rec");
    let q = Key::global("gcq", "q:work");
    let ops = |tag: &str| {
        vec![
            Op::put(guard.clone(), format!("after-{tag}").into_bytes()),
            Op::Put {
                key: Key::global("gc", "ttl"),
                value: tag.as_bytes().to_vec(),
                ttl_ms: Some(60_000),
            },
            Op::IndexAdd {
                index: Key::global("gc", "idx:x"),
                member: tag.to_string(),
            },
            Op::QueuePush {
                queue: q.clone(),
                item: tag.to_string(),
            },
        ]
    };
    s.commit(vec![Op::put(guard.clone(), b"v0".to_vec())])
        .await
        .unwrap();
    assert!(
        !s.commit_if(&guard, b"stale", ops("a")).await.unwrap(),
        "a stale guard writes nothing"
    );
    assert_eq!(s.get(&guard).await.unwrap().as_deref(), Some(&b"v0"[..]));
    assert!(s.get(&Key::global("gc", "ttl")).await.unwrap().is_none());
    assert_eq!(s.index_count(&Key::global("gc", "idx:x")).await.unwrap(), 0);
    assert!(s.queue_read(&q, "c", 10, 0).await.unwrap().is_empty());

    assert!(s.commit_if(&guard, b"v0", ops("b")).await.unwrap());
    assert_eq!(
        s.get(&guard).await.unwrap().as_deref(),
        Some(&b"after-b"[..])
    );
    assert_eq!(
        s.get(&Key::global("gc", "ttl")).await.unwrap().as_deref(),
        Some(&b"b"[..])
    );
    let got = s.queue_read(&q, "c", 10, 0).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].item, "b");
    // An ack and a removal in a guarded commit too.
    assert!(
        s.commit_if(
            &guard,
            b"after-b",
            vec![
                Op::QueueAck {
                    queue: q.clone(),
                    id: got[0].id.clone()
                },
                Op::IndexRemove {
                    index: Key::global("gc", "idx:x"),
                    member: "b".into()
                },
                Op::Delete(Key::global("gc", "ttl")),
            ],
        )
        .await
        .unwrap()
    );
    assert_eq!(s.index_count(&Key::global("gc", "idx:x")).await.unwrap(), 0);
    assert!(s.get(&Key::global("gc", "ttl")).await.unwrap().is_none());
    assert!(
        s.queue_reclaim(&q, "d", 0, 10).await.unwrap().is_empty(),
        "acknowledged"
    );
}

async fn counters_count_within_a_window(s: &dyn Store) {
    let k = Key::global("rl:x", "");
    for i in 1..=3 {
        let (n, left) = s.incr_window(&k, 200).await.unwrap();
        assert_eq!(n, i);
        assert!(left <= 200);
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(s.incr_window(&k, 200).await.unwrap().0, 1, "new window");
}

async fn durable_counters_add_up_and_expire(s: &dyn Store) {
    let (k, guard) = (Key::global("ctr", "n"), Key::global("ctr", "g"));
    let count = |v: Option<Vec<u8>>| String::from_utf8(v.unwrap()).unwrap();
    s.commit(vec![
        Op::incr(k.clone(), 2, None),
        Op::incr(k.clone(), 3, None),
    ])
    .await
    .unwrap();
    assert_eq!(
        count(s.get(&k).await.unwrap()),
        "5",
        "decimal text, added up"
    );
    s.commit(vec![Op::put(guard.clone(), b"v".to_vec())])
        .await
        .unwrap();
    assert!(
        !s.commit_if(&guard, b"x", vec![Op::incr(k.clone(), 1, None)])
            .await
            .unwrap()
    );
    assert!(
        s.commit_if(&guard, b"v", vec![Op::incr(k.clone(), 1, None)])
            .await
            .unwrap()
    );
    assert_eq!(
        count(s.get(&k).await.unwrap()),
        "6",
        "in guarded commits too"
    );
    // The expiry is set when the counter is created; increments keep it.
    let t = Key::global("ctr", "ttl");
    s.commit(vec![Op::incr(t.clone(), 1, Some(300))])
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    s.commit(vec![Op::incr(t.clone(), 1, Some(300))])
        .await
        .unwrap();
    assert_eq!(count(s.get(&t).await.unwrap()), "2");
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    assert!(
        s.get(&t).await.unwrap().is_none(),
        "expired with its first expiry"
    );
    s.commit(vec![Op::incr(t.clone(), 4, Some(300))])
        .await
        .unwrap();
    assert_eq!(
        count(s.get(&t).await.unwrap()),
        "4",
        "starts again from zero"
    );
}

async fn queues_hand_out_each_entry_once_until_reclaimed(s: &dyn Store) {
    let q = Key::global("qs", "q:work");
    // Nothing there: a blocking read waits its time and returns empty.
    let t0 = std::time::Instant::now();
    assert!(s.queue_read(&q, "c1", 10, 150).await.unwrap().is_empty());
    assert!(t0.elapsed() >= std::time::Duration::from_millis(100));
    s.commit(
        (1..=3)
            .map(|i| Op::QueuePush {
                queue: q.clone(),
                item: format!("item{i}"),
            })
            .collect(),
    )
    .await
    .unwrap();
    let a = s.queue_read(&q, "c1", 2, 0).await.unwrap();
    let items: Vec<_> = a.iter().map(|e| e.item.as_str()).collect();
    assert_eq!(items, ["item1", "item2"], "in order, at most max");
    let b = s.queue_read(&q, "c2", 10, 0).await.unwrap();
    assert_eq!(b.len(), 1, "another consumer gets only what is left");
    assert_eq!(b[0].item, "item3");
    assert!(s.queue_read(&q, "c2", 10, 0).await.unwrap().is_empty());
    // c1 acknowledges one entry and dies holding the other.
    s.commit(vec![Op::QueueAck {
        queue: q.clone(),
        id: a[0].id.clone(),
    }])
    .await
    .unwrap();
    assert!(
        s.queue_reclaim(&q, "c2", 60_000, 10)
            .await
            .unwrap()
            .is_empty(),
        "young pending entries stay with their consumer"
    );
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    let mut back: Vec<_> = s
        .queue_reclaim(&q, "c2", 100, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.item)
        .collect();
    back.sort();
    assert_eq!(
        back,
        ["item2", "item3"],
        "idle entries move; acked ones do not"
    );
    assert!(
        s.queue_reclaim(&q, "c3", 100, 10).await.unwrap().is_empty(),
        "a reclaim resets the idle time"
    );
    // A blocked reader wakes when an item arrives.
    let (read, _) = tokio::join!(s.queue_read(&q, "c1", 10, 5_000), async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        s.commit(vec![Op::QueuePush {
            queue: q.clone(),
            item: "late".into(),
        }])
        .await
        .unwrap();
    });
    assert_eq!(read.unwrap()[0].item, "late");
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(4),
        "woken, not timed out"
    );

    // A reader blocked on one queue does not hold up a reader of another.
    let other = Key::global("qs", "q:other");
    let idle = s.queue_read(&other, "c9", 1, 3_000);
    let woken = async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        s.commit(vec![Op::QueuePush {
            queue: q.clone(),
            item: "second".into(),
        }])
        .await
        .unwrap();
        s.queue_read(&q, "c1", 10, 3_000).await.unwrap()
    };
    tokio::select! {
        got = woken => assert_eq!(got[0].item, "second"),
        _ = idle => panic!("the reader of the other queue was held up until it timed out"),
    }
}

async fn due_index_members_are_promoted_once(s: &dyn Store) {
    let ix = Key::global("qd", "idx:due");
    let q = Key::global("qd", "q:ready");
    s.commit(
        ["0001:a", "0002:b", "0009:c"]
            .iter()
            .map(|m| Op::IndexAdd {
                index: ix.clone(),
                member: m.to_string(),
            })
            .collect(),
    )
    .await
    .unwrap();
    let (n1, n2) = tokio::join!(
        s.promote_due(&ix, "0005", &q, 10),
        s.promote_due(&ix, "0005", &q, 10)
    );
    assert_eq!(n1.unwrap() + n2.unwrap(), 2, "each due member moves once");
    let got: Vec<_> = s
        .queue_read(&q, "c", 10, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.item)
        .collect();
    assert_eq!(got, ["0001:a", "0002:b"]);
    let left = s
        .index_range(
            &ix,
            &IndexRange {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(left, ["0009:c"], "members not yet due stay");
}

/// The Redis URL of the throwaway server the test command starts.
pub fn test_redis_url() -> String {
    std::env::var("SWITCHBOARD_TEST_REDIS_URL").unwrap_or_else(|_| {
        panic!(
            "SWITCHBOARD_TEST_REDIS_URL is not set. Run the suite with ./scripts/test \
             (it starts a throwaway redis-server; install one with `apt-get install \
             redis-server`), or point the variable at a Redis you can flush."
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn embedded_backend_conforms() {
        let dir = tempfile::tempdir().unwrap();
        let s = EmbeddedStore::open(dir.path()).unwrap();
        run_all(&s).await;
    }

    #[tokio::test]
    async fn embedded_backend_is_durable_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let k = Key::global("dur", "x");
        {
            let s = EmbeddedStore::open(dir.path()).unwrap();
            s.commit(vec![Op::put(k.clone(), b"kept".to_vec())])
                .await
                .unwrap();
            assert!(
                EmbeddedStore::open(dir.path()).is_err(),
                "second opener is refused"
            );
        }
        let s = EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(s.get(&k).await.unwrap().as_deref(), Some(&b"kept"[..]));
    }
}
