//! Bounded fuzzing on stable Rust (proptest) of every parser that takes
//! user input: JSONPath, templates, feed XML, manifests, signature headers
//! and the proxy's `url_64` / path handling. Inputs are mutations of the
//! committed seed corpus (`fuzz/corpus/<target>/`, the attack inputs of
//! issue 12 included) plus structured generators of deep nesting. Each case
//! must not panic, must return within a bounded time, and must produce
//! bounded output. Cases per target: 256 (override with `PROPTEST_CASES`).

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value, json};
use switchboard_components::limits::{self, Fuel};
use switchboard_components::{feed, jsonpath, manifest, proxy, template};
use switchboard_net::signature::{self, SignatureScheme};

/// Longest one case may take (debug build, shared CPU).
const CASE_TIME: Duration = Duration::from_secs(3);

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

/// The seed corpus of one target.
fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = format!("{}/../fuzz/corpus/{target}", env!("CARGO_MANIFEST_DIR"));
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| {
            let p = e.unwrap().path();
            (p.display().to_string(), std::fs::read(&p).unwrap())
        })
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "{dir} is empty");
    seeds.into_iter().map(|(_, b)| b).collect()
}

/// Bytes that matter to the parsers: brackets, operators, quotes, escapes.
const INTERESTING: &[u8] = b"[](){}<>?@$.*,:'\"!=&|%-+/\\ 0123456789ez_\x00\xff";

#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, u8),
    Delete(usize, usize),
    Replace(usize, u8),
    /// Repeats a short range many times (deep nesting, long input).
    Repeat(usize, usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), any::<usize>())
            .prop_map(|(i, b)| Mutation::Insert(i, INTERESTING[b % INTERESTING.len()])),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<usize>(), any::<usize>())
            .prop_map(|(i, b)| Mutation::Replace(i, INTERESTING[b % INTERESTING.len()])),
        (any::<usize>(), 1usize..6, 2usize..3000).prop_map(|(i, n, k)| Mutation::Repeat(i, n, k)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(mut b: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
        match *m {
            Mutation::Insert(i, x) => {
                let i = at(i, b.len());
                b.insert(i, x);
            }
            Mutation::Delete(i, n) => {
                let i = at(i, b.len());
                let end = (i + n).min(b.len());
                b.drain(i..end);
            }
            Mutation::Replace(i, x) => {
                if !b.is_empty() {
                    let i = i % b.len();
                    b[i] = x;
                }
            }
            Mutation::Repeat(i, n, k) => {
                let i = at(i, b.len());
                let end = (i + n).min(b.len());
                let piece = b[i..end].to_vec();
                if !piece.is_empty() && b.len() + piece.len() * k < 1 << 20 {
                    let rep = piece.repeat(k);
                    b.splice(end..end, rep);
                }
            }
            Mutation::Truncate(i) => {
                let i = at(i, b.len());
                b.truncate(i);
            }
        }
    }
    b
}

/// A mutated seed of `target`.
fn mutated(target: &str) -> impl Strategy<Value = Vec<u8>> {
    let seeds = corpus(target);
    (0..seeds.len(), prop::collection::vec(mutation(), 0..6))
        .prop_map(move |(i, muts)| apply(seeds[i].clone(), &muts))
}

/// Deep nesting: `open` × n, a middle, `close` × n, for n up to 30,000.
fn nested(
    opens: &'static [(&'static str, &'static str)],
    middle: &'static str,
) -> impl Strategy<Value = Vec<u8>> {
    (
        0..opens.len(),
        prop_oneof![0usize..40, 0usize..30_001],
        any::<bool>(),
    )
        .prop_map(move |(k, n, closed)| {
            let (o, c) = opens[k];
            let mut s = o.repeat(n);
            s.push_str(middle);
            if closed {
                s.push_str(&c.repeat(n));
            }
            s.into_bytes()
        })
}

fn timed<T>(what: &str, input: &[u8], f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    let e = t.elapsed();
    assert!(
        e < CASE_TIME,
        "{what} took {e:?} on {:?}",
        String::from_utf8_lossy(&input[..input.len().min(200)])
    );
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A document for paths to run over: nested arrays and objects.
fn doc() -> Value {
    let mut v: Value =
        serde_json::from_str(&format!("{}1{}", "[".repeat(60), "]".repeat(60))).unwrap();
    v = json!({"items": [{"id": 1, "t": "abcd", "a": v}, {"id": "x", "c": {"d": [1, 2, 3]}}],
               "store": {"book": [{"price": 8.95}, {"price": 22.99, "isbn": "1"}]}});
    v
}

fn check_jsonpath(input: &[u8]) -> Result<(), TestCaseError> {
    let path = text(input);
    let d = doc();
    timed("JSONPath", input, || {
        if let Ok(p) = jsonpath::compile(&path) {
            let mut fuel = Fuel::new("JSONPath", limits::JSONPATH_FUEL);
            if let Ok(nodes) = p.all_with(&d, &mut fuel) {
                // Every node returned was paid for.
                assert!(nodes.len() as u64 <= limits::JSONPATH_FUEL);
            }
            let _ = jsonpath::first(&path, &d);
        } else {
            assert!(path.len() > limits::MAX_JSONPATH_LEN || jsonpath::compile(&path).is_err());
        }
    });
    Ok(())
}

#[test]
fn fuzz_jsonpath() {
    let strategy = prop_oneof![
        mutated("jsonpath"),
        nested(
            &[
                ("(", ")"),
                ("[?", "]"),
                ("[?(", ")]"),
                ("..[?@", "]"),
                ("[", "]"),
                ("!(", ")")
            ],
            "@.a"
        )
        .prop_map(|mut b| {
            b.splice(0..0, b"$[?".iter().copied());
            b.push(b']');
            b
        }),
    ];
    runner().run(&strategy, |b| check_jsonpath(&b)).unwrap();
}

#[test]
fn fuzz_template() {
    let ctx = json!({"props": {"url": "https://x.example", "b": "y z"},
                     "items": [{"id": 1}, {"id": 2}], "item": {"id": 3}});
    let strategy = prop_oneof![
        mutated("template"),
        nested(
            &[
                ("(", ")"),
                ("[", "]"),
                ("{% if true %}", "{% endif %}"),
                ("{", "}")
            ],
            "1"
        )
        .prop_map(|mut b| {
            b.splice(0..0, b"{{ ".iter().copied());
            b.extend_from_slice(b" }}");
            b
        }),
    ];
    runner()
        .run(&strategy, |b| {
            let src = text(&b);
            timed("template", &b, || {
                let _ = template::check(&src);
                if let Ok(out) = template::render(&src, &ctx) {
                    assert!(out.len() <= limits::MAX_TEMPLATE_OUTPUT_BYTES);
                }
                if let Ok(v) = template::eval(&src, &ctx) {
                    assert!(v.to_string().len() <= limits::MAX_TEMPLATE_OUTPUT_BYTES);
                }
                let _ = template::truthy(&src, &ctx);
            });
            Ok(())
        })
        .unwrap();
}

#[test]
fn fuzz_feed() {
    let strategy = prop_oneof![
        mutated("feed"),
        nested(
            &[("<x>", "</x>"), ("<a b='>'>", "</a>"), ("<![CDATA[", "]]>")],
            "t"
        )
        .prop_map(|mut b| {
            b.splice(0..0, b"<rss><channel><item><description>".iter().copied());
            b.extend_from_slice(b"</description></item></channel></rss>");
            b
        }),
    ];
    runner()
        .run(&strategy, |b| {
            timed("feed", &b, || {
                if let Ok(v) = feed::parse(&b) {
                    // The JSON is bounded, whatever entities expand to.
                    assert!(v.to_string().len() <= limits::MAX_FEED_JSON_BYTES);
                }
            });
            Ok(())
        })
        .unwrap();
}

#[test]
fn fuzz_manifest() {
    let strategy = prop_oneof![
        mutated("manifest"),
        nested(&[("[", "]"), ("{\"a\":", "}")], "1"),
    ];
    runner()
        .run(&strategy, |b| {
            let t = text(&b);
            timed("manifest", &b, || {
                let _ = manifest::parse("fuzz.json", &t);
            });
            Ok(())
        })
        .unwrap();
}

#[test]
fn fuzz_signature_headers() {
    let schemes = [
        (SignatureScheme::GithubSha256, "x-hub-signature-256"),
        (SignatureScheme::Stripe, "stripe-signature"),
        (SignatureScheme::SlackV0, "x-slack-signature"),
        (SignatureScheme::StandardWebhooks, "webhook-signature"),
    ];
    let strategy = (mutated("signature"), 0..schemes.len(), any::<u64>());
    runner()
        .run(&strategy, |(b, k, ts)| {
            let (scheme, name) = schemes[k];
            let v = text(&b);
            let mut h = Map::new();
            h.insert(name.into(), Value::String(v.clone()));
            h.insert("x-slack-request-timestamp".into(), json!(ts.to_string()));
            h.insert("webhook-timestamp".into(), json!(ts.to_string()));
            h.insert("webhook-id".into(), json!("msg_1"));
            timed("signature", &b, || {
                let r = signature::verify(scheme, "whsec_c2VjcmV0", &h, b"{}", ts, None);
                // A fuzzed header never verifies, and errors never echo it whole.
                if let Err(e) = r {
                    assert!(e.len() < 500, "{e}");
                }
            });
            Ok(())
        })
        .unwrap();
}

#[test]
fn fuzz_proxy_inbound() {
    runner()
        .run(&mutated("proxy"), |b| {
            let s = text(&b);
            timed("proxy", &b, || {
                if let Ok(url) = proxy::decode_url64(&s) {
                    assert!(url.len() <= s.len());
                }
                let repaired = proxy::repair_query(&s);
                assert!(repaired.len() <= 3 * s.len() + 16);
                let _ = proxy::upstream_header(&s);
                let _ = proxy::forbidden_header(&s);
                let _ = proxy::hop_by_hop(&s);
            });
            Ok(())
        })
        .unwrap();
}

/// The attack inputs themselves, not just their mutations.
#[test]
fn corpus_attacks_are_refused_quickly() {
    for seed in corpus("jsonpath") {
        check_jsonpath(&seed).unwrap();
    }
    let bomb = "$..[?(@..[?(@..[?(@..[?(@..[?(@..*)])])])])]";
    let d: Value = serde_json::from_str(&format!("{}1{}", "[".repeat(60), "]".repeat(60))).unwrap();
    let e = timed("bomb", bomb.as_bytes(), || jsonpath::all(bomb, &d)).unwrap_err();
    assert!(e.contains("work budget"), "{e}");
}
