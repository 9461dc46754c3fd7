//! Data survives a restart, and credentials still decrypt.

use crate::harness::{BACKENDS, Instance};

#[tokio::test(flavor = "multi_thread")]
async fn accounts_survive_a_restart_on_both_backends() {
    for backend in BACKENDS {
        let inst = Instance::new(backend);
        let p = inst.create_project("Durable");
        let server = inst.start().await;
        let bearer = server.token(&p).await;
        let id = server
            .key_account(&bearer, &p.id, None, "durable-user", "sk_live_kept")
            .await;
        server.stop().await;

        let server = inst.start().await;
        // The access token was persisted too.
        let path = format!("/v1/connect/{}/accounts?include_credentials=true", p.id);
        let (s, v, _) = server.get(&path, &bearer, None).await;
        assert_eq!(s, 200, "{backend:?}: {v}");
        assert_eq!(v["data"][0]["id"], id.as_str(), "{backend:?}");
        assert_eq!(
            v["data"][0]["credentials"]["api_key"], "sk_live_kept",
            "{backend:?}"
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_are_not_stored_in_plaintext() {
    let inst = Instance::new(crate::harness::Backend::Embedded);
    let p = inst.create_project("Sealed");
    let server = inst.start().await;
    let bearer = server.token(&p).await;
    server
        .key_account(&bearer, &p.id, None, "u1", "sk_live_findme_123")
        .await;
    server.stop().await;
    let db = std::fs::read(inst.data_dir().join("switchboard.redb")).unwrap();
    let needle = b"sk_live_findme_123";
    assert!(
        !db.windows(needle.len()).any(|w| w == needle),
        "plaintext key in the store file"
    );
    assert!(
        !db.windows(p.client_secret.len())
            .any(|w| w == p.client_secret.as_bytes())
    );
    let log = std::fs::read_to_string(inst.log_path()).unwrap();
    assert!(
        !log.contains("sk_live_findme_123")
            && !log.contains(&p.client_secret)
            && !log.contains(&bearer)
    );
}
