//! RFC 3986 percent-encoding of everything but the unreserved characters
//! (uppercase hex), which both request-signing schemes (AWS SigV4, OAuth
//! 1.0a) require byte for byte.

pub fn rfc3986(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
