//! The capability folders of `domain/src` depend in one direction only:
//! each may use the kernel (the files at the top of `src/`) and the
//! capabilities before it in `ORDER`, never one after it, and the kernel
//! uses none. `core.rs` and `lib.rs` compose them and are exempt. A call
//! that must go the other way is a trait the lower capability defines
//! (see `core.rs`).

use std::path::Path;

const ORDER: &[&str] = &[
    "tenancy", "delivery", "accounts", "catalog", "triggers", "actions", "ops",
];

fn rank(cap: &str) -> Option<usize> {
    ORDER.iter().position(|c| *c == cap)
}

/// Every `crate::<capability>` a source file names (tests included).
fn uses(src: &str) -> Vec<&'static str> {
    ORDER
        .iter()
        .copied()
        .filter(|cap| {
            src.match_indices(&format!("crate::{cap}")).any(|(i, m)| {
                let next = src[i + m.len()..].chars().next();
                !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        })
        .collect()
}

fn visit(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            visit(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn capabilities_depend_in_one_direction() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    visit(&src, &mut files);
    let mut wrong = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap();
        if top == "core.rs" || top == "lib.rs" || top == "store" {
            continue;
        }
        let own = rank(top);
        for cap in uses(&std::fs::read_to_string(f).unwrap()) {
            let r = rank(cap).unwrap();
            let ok = match own {
                Some(o) => r <= o,
                None => false,
            };
            if !ok {
                wrong.push(format!("{} uses crate::{cap}", rel.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "capabilities must depend only on earlier ones ({ORDER:?}):\n{}",
        wrong.join("\n")
    );
    assert!(files.len() > 30, "the walk found the sources");
}

#[test]
fn the_check_sees_a_violation() {
    assert_eq!(uses("use crate::triggers::Deployment;"), vec!["triggers"]);
    assert_eq!(uses("crate::triggers_x::y"), Vec::<&str>::new());
}
