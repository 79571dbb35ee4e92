//! Bytes on the wire: targets, TCP (IPv4, IPv6, a chosen source address, a SOCKS5 proxy) and
//! Unix sockets with deadlines, TLS (implicit and STARTTLS) with client certificates and the
//! certificate summary, and MX lookups; DNSSEC-validated lookups (TLSA, TXT, addresses), the
//! MTA-STS policy fetch, and the I/O behind the `diag` reports (`policy`). Knows SMTP only as
//! far as reading whole replies.

pub mod anchor;
pub mod conn;
pub mod dial;
pub mod dns;
pub mod fetch;
pub mod memory;
pub mod mx;
pub mod policy;
pub mod proxy;
pub mod route;
pub mod sock;
pub mod target;
pub mod tls;

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    /// The files of this layer import one another without a cycle: each can be read (and
    /// changed) knowing only what is below it.
    // See: issue 12, net/dial.rs and net/proxy.rs imported each other.
    #[test]
    fn the_import_graph_of_net_has_no_cycle() {
        let files: &[(&str, &str)] = &[
            ("anchor", include_str!("anchor.rs")),
            ("conn", include_str!("conn.rs")),
            ("dial", include_str!("dial.rs")),
            ("dns", include_str!("dns.rs")),
            ("fetch", include_str!("fetch.rs")),
            ("memory", include_str!("memory.rs")),
            ("mx", include_str!("mx.rs")),
            ("policy", include_str!("policy.rs")),
            ("proxy", include_str!("proxy.rs")),
            ("route", include_str!("route.rs")),
            ("sock", include_str!("sock.rs")),
            ("target", include_str!("target.rs")),
            ("tls", include_str!("tls/mod.rs")),
        ];
        let names: BTreeSet<&str> = files.iter().map(|f| f.0).collect();
        let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (name, text) in files {
            // Only the code above the tests (a test module may use anything), and not the
            // comments, which may name any module.
            let code: String = text
                .split("#[cfg(test)]")
                .next()
                .unwrap_or("")
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            for rest in code
                .split("super::")
                .skip(1)
                .chain(code.split("crate::net::").skip(1))
            {
                let word: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if let Some(to) = names.get(word.as_str())
                    && to != name
                {
                    edges.entry(name).or_default().insert(to);
                }
            }
        }
        // Depth-first search for a back edge.
        fn visit<'a>(
            n: &'a str,
            edges: &BTreeMap<&'a str, BTreeSet<&'a str>>,
            path: &mut Vec<&'a str>,
            done: &mut BTreeSet<&'a str>,
        ) {
            if done.contains(n) {
                return;
            }
            assert!(!path.contains(&n), "import cycle: {path:?} -> {n}");
            path.push(n);
            for m in edges.get(n).into_iter().flatten() {
                visit(m, edges, path, done);
            }
            path.pop();
            done.insert(n);
        }
        let mut done = BTreeSet::new();
        for n in &names {
            visit(n, &edges, &mut Vec::new(), &mut done);
        }
    }
}
