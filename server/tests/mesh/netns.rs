//! One scenario across network namespaces, so nodes have addresses of their
//! own: two nodes each in a namespace the test makes, joined to the host by
//! a veth pair, reach the server's mesh at 10.231.0.1 on the host. Needs
//! root and `ip netns`; anywhere else it says why it skips.
//!
//! ```text
//! host: 10.231.0.1/24 (veth) ── ns a: 10.231.0.2/24, default via 10.231.0.1
//!       10.231.1.1/24 (veth) ── ns b: 10.231.1.2/24, default via 10.231.1.1
//! ```
//!
//! The server's mesh listens on 10.231.0.1 only; namespace b reaches it
//! through its own link (the host delivers to any of its addresses), and
//! the four nodes on the host dial it there too.

use std::process::Command;

use crate::{
    BIG, PLACE, SERIAL,
    common::mesh::{
        MIB, Mesh, MeshServer, Node, assert_downloads, ip_binary, random_bytes, start_nodes,
    },
};

/// The host side's address, where the server's mesh listens.
const HOST: &str = "10.231.0.1";
/// (host side, namespace side) of each namespace's link.
const LINKS: [(&str, &str); 2] = [("10.231.0.1", "10.231.0.2"), ("10.231.1.1", "10.231.1.2")];

/// Runs `ip args…`; its stderr on failure.
fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new(ip_binary())
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Whether this process runs as root (effective uid 0).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// The namespaces and links this test made, removed when dropped (after the
/// processes in them, which the test drops first).
struct Netns {
    namespaces: Vec<String>,
    links: Vec<String>,
}

impl Netns {
    /// Makes the two namespaces and their links, or says why it cannot.
    fn setup() -> Result<Netns, String> {
        if !is_root() {
            return Err("not running as root".to_owned());
        }
        let pid = std::process::id();
        let mut net = Netns {
            namespaces: Vec::new(),
            links: Vec::new(),
        };
        for (tag, (host_ip, ns_ip)) in ["a", "b"].into_iter().zip(LINKS) {
            let ns = format!("nocturne-{pid}-{tag}");
            // Interface names are at most 15 bytes: "nv" + pid + tag + side.
            let host = format!("nv{pid}{tag}h");
            let inner = format!("nv{pid}{tag}n");
            ip(&["netns", "add", &ns])?;
            net.namespaces.push(ns.clone());
            ip(&["link", "add", &host, "type", "veth", "peer", "name", &inner])?;
            net.links.push(host.clone());
            ip(&["link", "set", &inner, "netns", &ns])?;
            ip(&["addr", "add", &format!("{host_ip}/24"), "dev", &host])?;
            ip(&["link", "set", &host, "up"])?;
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{ns_ip}/24"),
                "dev",
                &inner,
            ])?;
            ip(&["-n", &ns, "link", "set", &inner, "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            ip(&["-n", &ns, "route", "add", "default", "via", host_ip])?;
        }
        Ok(net)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            if let Err(e) = ip(&["netns", "del", ns]) {
                eprintln!("cleanup: {e}");
            }
        }
        // Gone with their namespace's end already, unless something in it
        // still ran; then this removes the pair.
        for link in &self.links {
            let _ = ip(&["link", "del", link]);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn netns_scenario() {
    let _serial = SERIAL.lock().await;
    let net = match Netns::setup() {
        Ok(net) => net,
        Err(reason) => {
            eprintln!("skipped: {reason}");
            return;
        }
    };
    let server = MeshServer::start_on(HOST, "offload", &[]).await;
    // Four nodes on the host and one in each namespace: six in all, so
    // every node holds one of the six fragments.
    let mut nodes = start_nodes(&server.tracker, &[BIG; 4]).await;
    for (i, (ns, (_, ns_ip))) in net.namespaces.iter().zip(LINKS).enumerate() {
        let mut node = Node::new(&format!("netns-node-{i}"), &server.tracker, BIG);
        node.netns = Some(ns.clone());
        node.listen = format!("/ip4/{ns_ip}/tcp/0");
        node.launch().await;
        let status = node.status().await;
        let addrs = status["listen_addrs"].to_string();
        assert!(
            addrs.contains(&format!("/ip4/{ns_ip}/tcp/")),
            "{} listens at {ns_ip}: {status}",
            node.name
        );
        nodes.push(node);
    }
    let mut m = Mesh::with(server, nodes).await;
    let (id, ct) = m.upload("across.bin", &random_bytes(4 * MIB)).await;
    m.wait_offloaded(&id, PLACE).await;
    let holders = m.holders().await;
    assert_eq!(holders.len(), 6, "every node holds a fragment: {holders:?}");
    m.assert_fragments_on_disk(&holders, ct.len());
    assert_downloads(&m.admin, &id, &ct, "across namespaces").await;

    m.nodes[4].kill().await;
    assert_downloads(&m.admin, &id, &ct, "a namespaced node killed").await;
    // The processes go before their namespaces do.
    drop(m);
    drop(net);
}
