//! Credentials at rest: XChaCha20-Poly1305 (random 192-bit nonces are safe)
//! under a keyring of named 32-byte keys. A sealed value is the string
//! `sb1.<key id>.<base64url(nonce | ciphertext+tag)>`, so every ciphertext
//! names its key and `admin rotate-key` can find and re-encrypt old ones.
//! The AAD binds a ciphertext to the record it belongs to.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ids::{random_bytes, random_hex};

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("ciphertext is not a sealed value")]
    Malformed,
    #[error("no key with id {0:?} in the keyring")]
    UnknownKey(String),
    #[error("decryption failed under key {0:?}: wrong key or tampered data")]
    Decrypt(String),
    #[error("keyring: {0}")]
    Keyring(String),
}

/// Named keys plus the one new ciphertexts use. Debug never prints keys.
#[derive(Clone)]
pub struct Keyring {
    active: String,
    keys: BTreeMap<String, [u8; 32]>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("active", &self.active)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
struct KeyringFile {
    active: String,
    keys: BTreeMap<String, String>,
}

impl Keyring {
    /// A keyring with one fresh key.
    pub fn generate() -> Self {
        let id = format!("k{}", random_hex(4));
        Keyring {
            active: id.clone(),
            keys: BTreeMap::from([(id, random_bytes::<32>())]),
        }
    }

    /// From configuration: key id -> base64 of 32 bytes.
    pub fn from_config(active: &str, keys: &BTreeMap<String, String>) -> Result<Self, CryptoError> {
        let mut out = BTreeMap::new();
        for (id, b64) in keys {
            let raw = STANDARD
                .decode(b64.trim())
                .or_else(|_| URL_SAFE_NO_PAD.decode(b64.trim()))
                .map_err(|_| CryptoError::Keyring(format!("key {id:?} is not valid base64")))?;
            let key: [u8; 32] = raw.try_into().map_err(|_| {
                CryptoError::Keyring(format!("key {id:?} must be exactly 32 bytes"))
            })?;
            if id.is_empty() || id.contains('.') {
                return Err(CryptoError::Keyring(format!("key id {id:?} is invalid")));
            }
            out.insert(id.clone(), key);
        }
        if !out.contains_key(active) {
            return Err(CryptoError::Keyring(format!(
                "active key {active:?} is not in the keyring"
            )));
        }
        Ok(Keyring {
            active: active.to_string(),
            keys: out,
        })
    }

    pub fn load_file(path: &Path) -> Result<Self, CryptoError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CryptoError::Keyring(format!("cannot read {}: {e}", path.display())))?;
        let f: KeyringFile = serde_json::from_str(&text)
            .map_err(|e| CryptoError::Keyring(format!("{} is malformed: {e}", path.display())))?;
        Self::from_config(&f.active, &f.keys)
    }

    /// Writes the keyring readable by the owner only.
    pub fn save_file(&self, path: &Path) -> Result<(), CryptoError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let f = KeyringFile {
            active: self.active.clone(),
            keys: self
                .keys
                .iter()
                .map(|(id, k)| (id.clone(), STANDARD.encode(k)))
                .collect(),
        };
        let tmp = path.with_extension("tmp");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| CryptoError::Keyring(format!("cannot write {}: {e}", tmp.display())))?;
        let body =
            serde_json::to_vec_pretty(&f).map_err(|e| CryptoError::Keyring(e.to_string()))?;
        file.write_all(&body)
            .and_then(|_| file.sync_all())
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| CryptoError::Keyring(format!("cannot write {}: {e}", path.display())))
    }

    pub fn active_id(&self) -> &str {
        &self.active
    }

    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// Adds a fresh key and makes it active; returns its id.
    pub fn add_generated(&mut self) -> String {
        let id = loop {
            let id = format!("k{}", random_hex(4));
            if !self.keys.contains_key(&id) {
                break id;
            }
        };
        self.keys.insert(id.clone(), random_bytes::<32>());
        self.active = id.clone();
        id
    }

    /// Drops every key but the active one.
    pub fn retain_active(&mut self) {
        let active = self.active.clone();
        self.keys.retain(|id, _| *id == active);
    }

    pub fn seal(&self, plaintext: &[u8], aad: &str) -> String {
        let key = &self.keys[&self.active];
        let cipher = XChaCha20Poly1305::new(key.into());
        let nonce_bytes = random_bytes::<24>();
        let nonce = XNonce::from_slice(&nonce_bytes);
        let ct = cipher
            .encrypt(
                nonce,
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory buffers");
        let mut blob = nonce_bytes.to_vec();
        blob.extend_from_slice(&ct);
        format!("sb1.{}.{}", self.active, URL_SAFE_NO_PAD.encode(blob))
    }

    pub fn open(&self, sealed: &str, aad: &str) -> Result<Vec<u8>, CryptoError> {
        let id = key_id_of(sealed).ok_or(CryptoError::Malformed)?;
        let key = self
            .keys
            .get(id)
            .ok_or_else(|| CryptoError::UnknownKey(id.to_string()))?;
        let b64 = sealed.rsplit('.').next().ok_or(CryptoError::Malformed)?;
        let blob = URL_SAFE_NO_PAD
            .decode(b64)
            .map_err(|_| CryptoError::Malformed)?;
        if blob.len() < 24 + 16 {
            return Err(CryptoError::Malformed);
        }
        let (nonce, ct) = blob.split_at(24);
        XChaCha20Poly1305::new(key.into())
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Decrypt(id.to_string()))
    }
}

/// The key id a sealed value names.
pub fn key_id_of(sealed: &str) -> Option<&str> {
    let mut parts = sealed.splitn(3, '.');
    (parts.next()? == "sb1").then_some(())?;
    let id = parts.next()?;
    parts.next()?;
    Some(id)
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Constant-time comparison for secrets and their hashes.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_aad_binding() {
        let k = Keyring::generate();
        let s = k.seal(b"{\"api_key\":\"sk_live\"}", "acct:p:production:apn_1");
        assert!(!s.contains("sk_live"));
        assert_eq!(key_id_of(&s), Some(k.active_id()));
        assert_eq!(
            k.open(&s, "acct:p:production:apn_1").unwrap(),
            b"{\"api_key\":\"sk_live\"}"
        );
        assert!(matches!(
            k.open(&s, "acct:p:production:apn_2"),
            Err(CryptoError::Decrypt(_))
        ));
        assert_ne!(k.seal(b"x", "a"), k.seal(b"x", "a"), "random nonces");
    }

    #[test]
    fn wrong_key_and_tampering_are_detected() {
        let a = Keyring::generate();
        let mut b = a.clone();
        b.keys.insert(a.active.clone(), [7u8; 32]);
        let s = a.seal(b"secret", "x");
        assert!(matches!(b.open(&s, "x"), Err(CryptoError::Decrypt(_))));
        let mut t = s.clone();
        t.pop();
        t.push(if s.ends_with('A') { 'B' } else { 'A' });
        assert!(a.open(&t, "x").is_err());
        assert!(matches!(
            a.open("garbage", "x"),
            Err(CryptoError::Malformed)
        ));
    }

    #[test]
    fn rotation_keeps_old_ciphertexts_readable_until_dropped() {
        let mut k = Keyring::generate();
        let old = k.seal(b"v", "x");
        let new_id = k.add_generated();
        assert_eq!(k.active_id(), new_id);
        assert_eq!(k.open(&old, "x").unwrap(), b"v");
        let resealed = k.seal(&k.open(&old, "x").unwrap(), "x");
        k.retain_active();
        assert!(matches!(k.open(&old, "x"), Err(CryptoError::UnknownKey(_))));
        assert_eq!(k.open(&resealed, "x").unwrap(), b"v");
    }

    #[test]
    fn config_keys_are_validated() {
        let mut m = BTreeMap::new();
        m.insert("k1".to_string(), STANDARD.encode([1u8; 32]));
        assert!(Keyring::from_config("k1", &m).is_ok());
        assert!(Keyring::from_config("k2", &m).is_err());
        m.insert("k2".to_string(), STANDARD.encode([1u8; 31]));
        assert!(
            Keyring::from_config("k1", &m)
                .unwrap_err()
                .to_string()
                .contains("32 bytes")
        );
    }

    #[test]
    fn keyring_file_round_trip_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("keyring.json");
        let k = Keyring::generate();
        k.save_file(&p).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let back = Keyring::load_file(&p).unwrap();
        assert_eq!(back.open(&k.seal(b"z", "a"), "a").unwrap(), b"z");
    }
}
