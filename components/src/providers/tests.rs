use super::*;
use crate::{AuthType, Catalog, ClientAuth, Pagination};

/// Runs the importer over a real catalog when one is given (not in CI:
/// the file is its publisher's; the e2e target installs it).
#[test]
#[ignore]
fn real_catalog_from_env() {
    let Ok(path) = std::env::var("PROVIDERS_YAML") else {
        return;
    };
    let (c, reports) = Catalog::with_providers(&[path.into()]).unwrap();
    print!("{}", reports[0].text());
    println!("apps in catalog: {}", c.apps().len());
}
