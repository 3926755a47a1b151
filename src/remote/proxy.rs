//! The proxy for a registry host, chosen from the environment as Go's net/http (and so
//! podman, skopeo and docker) chooses it: `HTTPS_PROXY`/`https_proxy` for https,
//! `HTTP_PROXY`/`http_proxy` for http; `NO_PROXY`/`no_proxy` lists hosts reached directly.
//!
//! `NO_PROXY` entries: `*` (everything), a domain (`example.com`: it and its subdomains),
//! `.example.com` (its subdomains), an IP address, a CIDR block (`10.0.0.0/8`), any of
//! these with `:PORT` (then only that port). `localhost` and loopback addresses are never
//! proxied. The connection goes through the proxy with CONNECT, for https and http alike.

use std::net::IpAddr;

fn env(names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()))
}

/// Splits `HOST[:PORT]` (with `[v6]` brackets) into host and port.
fn split_host(host: &str) -> (String, Option<u16>) {
    if let Some(rest) = host.strip_prefix('[') {
        let (h, tail) = rest.split_once(']').unwrap_or((rest, ""));
        return (h.to_ascii_lowercase(), tail.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h.to_ascii_lowercase(), p.parse().ok()),
        _ => (host.to_ascii_lowercase(), None),
    }
}

fn in_cidr(ip: IpAddr, cidr: &str) -> bool {
    let Some((net, bits)) = cidr.split_once('/') else { return false };
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else { return false };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) if bits <= 32 => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) if bits <= 128 => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// True when `host` (`HOST[:PORT]`) is reached without the proxy under `no_proxy`.
pub fn bypass(host: &str, default_port: u16, no_proxy: &str) -> bool {
    let (h, port) = split_host(host);
    let port = port.unwrap_or(default_port);
    let ip = h.parse::<IpAddr>().ok();
    if h == "localhost" || ip.is_some_and(|i| i.is_loopback()) {
        return true;
    }
    for entry in no_proxy.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if entry == "*" {
            return true;
        }
        if let Some(ip) = ip
            && in_cidr(ip, entry)
        {
            return true;
        }
        let (eh, eport) = split_host(entry);
        if eport.is_some_and(|p| p != port) {
            continue;
        }
        if let (Some(ip), Ok(e)) = (ip, eh.parse::<IpAddr>()) {
            if ip == e {
                return true;
            }
            continue;
        }
        if let Some(suffix) = eh.strip_prefix('.') {
            if h.ends_with(&format!(".{suffix}")) {
                return true;
            }
            continue;
        }
        let eh = eh.strip_prefix("*.").unwrap_or(&eh);
        if h == eh || h.ends_with(&format!(".{eh}")) {
            return true;
        }
    }
    false
}

/// The proxy URL for `host` over https (or http), from the environment.
pub fn proxy_url(host: &str, https: bool) -> Option<String> {
    let url = if https { env(&["HTTPS_PROXY", "https_proxy"]) } else { env(&["HTTP_PROXY", "http_proxy"]) }?;
    let no_proxy = env(&["NO_PROXY", "no_proxy"]).unwrap_or_default();
    if bypass(host, if https { 443 } else { 80 }, &no_proxy) {
        return None;
    }
    Some(if url.contains("://") { url } else { format!("http://{url}") })
}

/// The ureq proxy for `host`, or `None` for a direct connection (or a proxy URL ureq
/// cannot use, which is then ignored as Go ignores it).
pub fn for_host(host: &str, https: bool) -> Option<ureq::Proxy> {
    ureq::Proxy::new(&proxy_url(host, https)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("reg.example.com:5000", "example.com", true),
            ("example.com", "example.com", true),
            ("reg.example.com", ".example.com", true),
            ("example.com", ".example.com", false),
            ("reg.example.com", "*.example.com", true),
            ("notexample.com", "example.com", false),
            ("reg.example.com:5000", "reg.example.com:5001", false),
            ("reg.example.com:5000", "reg.example.com:5000", true),
            ("reg.example.com", "reg.example.com:443", true),
            ("10.1.2.3:5000", "10.0.0.0/8", true),
            ("11.1.2.3:5000", "10.0.0.0/8", false),
            ("10.1.2.3", "10.1.2.3", true),
            ("anything", "*", true),
            ("anything", "", false),
            ("127.0.0.1:5000", "", true),
            ("localhost:5000", "", true),
            ("[::1]:5000", "", true),
            ("Reg.Example.COM", "reg.example.com", true),
        ];
        for (host, np, want) in cases {
            assert_eq!(bypass(host, 443, np), *want, "{host} with NO_PROXY={np}");
        }
    }
}
