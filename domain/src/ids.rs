//! Identifiers and secrets.
//!
//! Object ids are a type prefix plus 22 base62 characters of a UUIDv7: they
//! sort by creation time, so an index of ids is also a creation-ordered list
//! and a stable paging cursor. Secrets are 128 to 256 bits from the OS RNG.

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Fixed-width base62, so byte order matches numeric order.
fn base62(mut n: u128) -> String {
    let mut out = [b'0'; 22];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out.to_vec()).unwrap_or_default()
}

/// A new time-ordered id, e.g. `new_id("apn")` -> `apn_0Ffj…`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", base62(uuid::Uuid::now_v7().as_u128()))
}

/// The smallest id of type `prefix` created at `ms` (epoch ms) or later:
/// ids sort by creation, so index members before it are older than `ms`.
pub fn id_at(prefix: &str, ms: u64) -> String {
    // A UUIDv7 keeps its 48-bit millisecond timestamp in the top bits.
    format!(
        "{prefix}_{}",
        base62(((ms as u128) & 0xFFFF_FFFF_FFFF) << 80)
    )
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("OS random number generator unavailable");
    b
}

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).expect("OS random number generator unavailable");
    hex::encode(b)
}

/// `n` uniformly random base62 characters (≈ 5.95 bits each): the
/// unguessable part of inbound and app-level ingress URLs (27 characters
/// ≈ 160 bits).
pub fn random_base62(n: usize) -> String {
    // 248 = 4 × 62: bytes from 248 up are redrawn, so no character is likelier.
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in random_bytes::<32>() {
            if b < 248 && out.len() < n {
                out.push(BASE62[usize::from(b % 62)] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_creation_and_are_url_safe() {
        let ids: Vec<String> = (0..200).map(|_| new_id("apn")).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(ids.iter().all(|i| i.len() == 26 && i.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')));
    }

    #[test]
    fn id_at_bounds_ids_by_creation_time() {
        let before = id_at("evt", crate::clock::now_ms());
        let id = new_id("evt");
        let after = id_at("evt", crate::clock::now_ms() + 1);
        assert!(before <= id && id < after, "{before} {id} {after}");
        assert_eq!(before.len(), id.len());
    }

    #[test]
    fn random_base62_has_its_length_and_alphabet() {
        for n in [0, 1, 27, 100] {
            let s = random_base62(n);
            assert_eq!(s.len(), n);
            assert!(s.bytes().all(|b| BASE62.contains(&b)), "{s}");
        }
        assert!(crate::validate::hook_id(&random_base62(27)));
        assert_ne!(random_base62(27), random_base62(27));
    }

    #[test]
    fn random_hex_is_lowercase_hex() {
        let h = random_hex(16);
        assert_eq!(h.len(), 32);
        assert!(
            h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }

    #[test]
    fn base62_is_fixed_width_and_ordered() {
        assert_eq!(base62(0).len(), 22);
        assert_eq!(base62(u128::MAX).len(), 22);
        assert!(base62(61) < base62(62));
    }
}
