//! Join addresses as operators write them — `host`, `host:port`, `ip`, `[v6]:port` — split
//! into host and port (Consul's serf LAN port 8301 when none is given) and resolved.

use std::net::{IpAddr, SocketAddr};

/// Consul's default serf LAN port.
pub const DEFAULT_PORT: u16 = 8301;

/// Splits a join address into host and port; the error says what is wrong with it.
pub(crate) fn split_host_port(input: &str) -> Result<(String, u16), String> {
    let input = input.trim();
    if input.is_empty() {
        return Err("empty address".to_string());
    }
    if let Some(bracketed) = input.strip_prefix('[') {
        return split_bracketed(bracketed);
    }
    if let Ok(ip) = input.parse::<IpAddr>() {
        return Ok((ip.to_string(), DEFAULT_PORT));
    }
    match input.split_once(':') {
        None => Ok((input.to_string(), DEFAULT_PORT)),
        Some((host, port)) if !port.contains(':') && !host.is_empty() => {
            Ok((host.to_string(), parse_port(port)?))
        }
        Some(_) => Err("cannot tell host from port; write IPv6 as [address]:port".to_string()),
    }
}

/// `v6]` or `v6]:port`, after the opening bracket.
fn split_bracketed(bracketed: &str) -> Result<(String, u16), String> {
    let (host, rest) = bracketed
        .split_once(']')
        .ok_or_else(|| "missing ']' after the IPv6 address".to_string())?;
    host.parse::<IpAddr>()
        .map_err(|_| format!("{host:?} is not an IP address"))?;
    let port = match rest {
        "" => DEFAULT_PORT,
        _ => match rest.strip_prefix(':') {
            Some(port) => parse_port(port)?,
            None => return Err(format!("unexpected {rest:?} after ']'")),
        },
    };
    Ok((host.to_string(), port))
}

fn parse_port(port: &str) -> Result<u16, String> {
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("invalid port {port:?}")),
        Ok(port) => Ok(port),
    }
}

/// Every socket address a join address stands for (names go through the system resolver).
pub(crate) async fn resolve(input: &str) -> Result<Vec<SocketAddr>, String> {
    let (host, port) = split_host_port(input)?;
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|error| format!("cannot resolve {host:?}: {error}"))?
        .collect();
    if found.is_empty() {
        return Err(format!("{host:?} resolves to no address"));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(input: &str) -> Result<(String, u16), String> {
        split_host_port(input)
    }

    #[test]
    fn hosts_and_ports() {
        assert_eq!(split("10.0.0.1"), Ok(("10.0.0.1".into(), 8301)));
        assert_eq!(split("10.0.0.1:9000"), Ok(("10.0.0.1".into(), 9000)));
        assert_eq!(split("consul.local"), Ok(("consul.local".into(), 8301)));
        assert_eq!(
            split(" consul.local:1234 "),
            Ok(("consul.local".into(), 1234))
        );
        assert_eq!(split("::1"), Ok(("::1".into(), 8301)));
        assert_eq!(split("[::1]"), Ok(("::1".into(), 8301)));
        assert_eq!(split("[fe80::1]:8302"), Ok(("fe80::1".into(), 8302)));
    }

    #[test]
    fn bad_addresses_say_why() {
        assert!(split("").is_err());
        assert!(split("host:").unwrap_err().contains("invalid port"));
        assert!(split("host:99999").unwrap_err().contains("invalid port"));
        assert!(split("host:0").is_err());
        assert!(split(":8301").is_err());
        assert!(split("[::1").unwrap_err().contains("']'"));
        assert!(split("[::1]x").is_err());
        assert!(split("[nothost]:1").is_err());
        assert!(split("fe80::zz:1").unwrap_err().contains("[address]:port"));
    }

    #[tokio::test]
    async fn ip_addresses_resolve_without_dns() {
        let found = resolve("127.0.0.1:4000").await.expect("resolves");
        assert_eq!(found, vec![SocketAddr::from(([127, 0, 0, 1], 4000))]);
        let found = resolve("localhost").await.expect("resolves localhost");
        assert!(found.iter().all(|addr| addr.port() == DEFAULT_PORT));
    }
}
