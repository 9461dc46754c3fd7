//! Every request Switchboard makes to the outside world (actions, remote
//! options, the proxy) goes through here. Private, loopback and link-local
//! targets are refused unless allowlisted: IP literals are checked before
//! sending, and names are checked after resolution by our own resolver, so
//! DNS rebinding cannot slip a private address in. Redirects are not
//! followed, and response bodies are capped.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Largest upstream response body read into memory.
pub const MAX_RESPONSE_BYTES: usize = 10 << 20;

/// An allowlist entry: `addr/prefix`, or a bare address (one host).
fn network(s: &str) -> Result<IpNet, String> {
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{s:?} is not an IP network (address or address/prefix)"))
}

/// IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64,
/// 6to4, Teredo) are judged as that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else {
        return ip;
    };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    let s = v6.segments();
    let low32 =
        || std::net::Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let embedded = match s {
        // ::a.b.c.d (deprecated IPv4-compatible), but not :: or ::1.
        [0, 0, 0, 0, 0, 0, hi, _] if hi != 0 => Some(low32()),
        // ::ffff:0:a.b.c.d (IPv4-translated).
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some(low32()),
        // 64:ff9b::/96 and 64:ff9b:1::/48 (NAT64).
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 1, ..] => Some(low32()),
        // 2002:AABB:CCDD::/48 (6to4).
        [0x2002, a, b, ..] => Some(std::net::Ipv4Addr::new(
            (a >> 8) as u8,
            a as u8,
            (b >> 8) as u8,
            b as u8,
        )),
        // 2001:0::/32 (Teredo): the client address, inverted.
        [0x2001, 0, ..] => Some(std::net::Ipv4Addr::from(!u32::from(low32()))),
        _ => None,
    };
    embedded.map(IpAddr::V4).unwrap_or(ip)
}

/// Addresses that are not the public internet.
const NON_PUBLIC: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "100::/64",
    "2001:db8::/32",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
    "ff00::/8",
];

/// Which targets may be reached.
#[derive(Debug, Clone)]
pub struct Policy {
    blocked: Vec<IpNet>,
    allowed: Vec<IpNet>,
}

impl Policy {
    /// `allow`: networks reachable even though they are not public.
    pub fn new(allow: &[String]) -> Result<Self, String> {
        Ok(Policy {
            blocked: NON_PUBLIC
                .iter()
                .map(|s| s.parse().expect("static CIDR"))
                .collect(),
            allowed: allow.iter().map(|s| network(s)).collect::<Result<_, _>>()?,
        })
    }

    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.allowed.iter().any(|n| n.contains(&ip))
            || !self.blocked.iter().any(|n| n.contains(&ip))
    }
}

struct GuardedResolver(Arc<Policy>);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let ok: Vec<SocketAddr> = addrs
                .iter()
                .copied()
                .filter(|a| policy.permits(a.ip()))
                .collect();
            if ok.is_empty() {
                return Err(Box::new(Blocked(format!(
                    "{host} resolves only to private or reserved addresses"
                )))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(ok.into_iter()) as Addrs)
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Blocked(String);

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The target is a private address or otherwise not allowed.
    #[error("{0}")]
    Blocked(String),
    #[error("upstream did not answer within {0:?}")]
    Timeout(Duration),
    #[error("upstream response is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    #[error("upstream request failed: {0}")]
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    pub url: url::Url,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A request without headers or body.
    pub fn new(method: &str, url: url::Url) -> Self {
        HttpRequest {
            method: method.into(),
            url,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, or as a string when it is not JSON.
    pub fn body_value(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&self.body).into_owned())
        })
    }
}

/// The shared HTTP client with the address policy.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    policy: Arc<Policy>,
}

impl Outbound {
    pub fn new(policy: Policy) -> Result<Self, String> {
        // ring is the one crypto provider compiled in; installing twice is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver(policy.clone())))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Outbound { client, policy })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Refuses a URL whose scheme or literal address is not allowed.
    pub fn check_url(&self, url: &url::Url) -> Result<(), OutboundError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(OutboundError::Blocked(format!(
                "scheme {:?} is not allowed",
                url.scheme()
            )));
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(d)) => d.parse().ok(),
            None => return Err(OutboundError::Blocked("the URL has no host".into())),
        };
        if let Some(ip) = ip
            && !self.policy.permits(ip)
        {
            return Err(OutboundError::Blocked(format!(
                "{ip} is a private or reserved address; allowlist it in [outbound] allow_private_networks to reach it"
            )));
        }
        Ok(())
    }

    pub async fn send(
        &self,
        req: HttpRequest,
        timeout: Duration,
    ) -> Result<HttpResponse, OutboundError> {
        self.check_url(&req.url)?;
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|_| OutboundError::Failed(format!("bad method {:?}", req.method)))?;
        let build = || {
            let mut rb = self
                .client
                .request(method.clone(), req.url.clone())
                .timeout(timeout);
            for (k, v) in &req.headers {
                rb = rb.header(k, v);
            }
            if !req.body.is_empty() {
                rb = rb.body(req.body.clone());
            }
            rb
        };
        // A pooled connection the server closed while it sat idle (Node
        // closes after 5 s) fails the next request before any answer: an
        // idempotent request is sent once more, on a fresh connection.
        let idempotent = matches!(
            req.method.as_str(),
            "GET" | "HEAD" | "OPTIONS" | "PUT" | "DELETE"
        );
        let send = async {
            match build().send().await {
                Err(e) if idempotent && stale_connection(&e) => build().send().await,
                other => other,
            }
        };
        let work = async {
            let mut resp = send.await.map_err(|e| classify(e, timeout))?;
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .filter_map(|(k, v)| {
                    v.to_str()
                        .ok()
                        .map(|v| (k.as_str().to_string(), v.to_string()))
                })
                .collect();
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(|e| classify(e, timeout))? {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(OutboundError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(HttpResponse {
                status,
                headers,
                body,
            })
        };
        tokio::time::timeout(timeout, work)
            .await
            .unwrap_or(Err(OutboundError::Timeout(timeout)))
    }
}

/// Whether `e` is a kept-alive connection the server had already closed.
fn stale_connection(e: &reqwest::Error) -> bool {
    if e.is_timeout() || e.is_connect() {
        return false;
    }
    let mut src: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = src {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            )
        {
            return true;
        }
        if err
            .to_string()
            .contains("connection closed before message completed")
        {
            return true;
        }
        src = err.source();
    }
    false
}

fn classify(e: reqwest::Error, timeout: Duration) -> OutboundError {
    if e.is_timeout() {
        return OutboundError::Timeout(timeout);
    }
    let mut src: Option<&dyn std::error::Error> = Some(&e);
    while let Some(s) = src {
        if let Some(b) = s.downcast_ref::<Blocked>() {
            return OutboundError::Blocked(b.0.clone());
        }
        src = s.source();
    }
    // Keep the chain but never the URL's query (it may carry keys).
    let e = e.without_url();
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    OutboundError::Failed(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges_are_refused_unless_allowlisted() {
        let p = Policy::new(&[]).unwrap();
        for ip in [
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "::ffff:0:7f00:1",
            "2002:7f00:1::",
            "fec0::1",
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
            "127.0.0.1",
            "10.1.2.3",
            "172.20.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
            "100.64.0.1",
        ] {
            assert!(!p.permits(ip.parse().unwrap()), "{ip} should be refused");
        }
        for ip in ["8.8.8.8", "140.82.112.3", "2606:4700::1111"] {
            assert!(p.permits(ip.parse().unwrap()), "{ip} should pass");
        }
        let p = Policy::new(&["127.0.0.0/8".into()]).unwrap();
        assert!(p.permits("127.0.0.1".parse().unwrap()));
        assert!(!p.permits("10.0.0.1".parse().unwrap()));
        assert!(Policy::new(&["nonsense".into()]).is_err());
        assert!(Policy::new(&["10.0.0.0/33".into()]).is_err());
        // A bare address is one host; IPv4 inside IPv6 is judged as IPv4.
        let p = Policy::new(&["10.0.0.7".into(), "fd00::/8".into()]).unwrap();
        assert!(p.permits("10.0.0.7".parse().unwrap()));
        assert!(p.permits("::ffff:10.0.0.7".parse().unwrap()));
        assert!(!p.permits("10.0.0.8".parse().unwrap()));
        assert!(p.permits("fd12::1".parse().unwrap()));
        assert!(!p.permits("fc00::1".parse().unwrap()));
    }

    #[test]
    fn literal_addresses_and_schemes_are_checked_before_sending() {
        let o = Outbound::new(Policy::new(&[]).unwrap()).unwrap();
        for u in [
            "http://127.0.0.1/x",
            "http://[::1]/",
            "http://169.254.169.254/latest/meta-data",
            "file:///etc/passwd",
            "http://2130706433/",
        ] {
            let url = url::Url::parse(u).unwrap();
            assert!(
                matches!(o.check_url(&url), Err(OutboundError::Blocked(_))),
                "{u}"
            );
        }
        assert!(
            o.check_url(&url::Url::parse("https://api.github.com/").unwrap())
                .is_ok()
        );
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused() {
        let o = Outbound::new(Policy::new(&[]).unwrap()).unwrap();
        let req = HttpRequest {
            method: "GET".into(),
            url: url::Url::parse("http://localhost:9/").unwrap(),
            headers: vec![],
            body: vec![],
        };
        let e = o.send(req, Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(e, OutboundError::Blocked(_)), "{e:?}");
    }
}
