//! The NAT lab: network namespaces for a customer behind one NAT router, a
//! technician behind another, and the rendezvous on a "public" segment.
//!
//! ```text
//!  customer 10.1.0.2 ── NAT 198.18.0.1 ─┐
//!                                        ├─ public 198.18.0.0/24, server 198.18.0.10
//!  technician 10.2.0.2 ─ NAT 198.18.0.2 ─┘
//! ```
//!
//! nftables `masquerade` makes a cone (port-preserving) NAT, `masquerade
//! fully-random` a symmetric one; both routers drop unsolicited inbound
//! packets, as home routers do. Every namespace and interface carries the
//! lab's prefix, and dropping the lab deletes them all, so a failed test
//! leaves nothing behind. Nothing outside the lab's namespaces is touched.
//! Needs root (CI runs as root).
//!
//! `shape` replaces a router's WAN cable with the userspace link emulator
//! (`netem`) for delay, loss and rate.

use std::process::{Command, Output};
use std::sync::Mutex;

use anyhow::{Context, bail};

use crate::netem::{Emulator, Shape};

/// Address of the rendezvous server on the public segment.
pub const SERVER_IP: &str = "198.18.0.10";
/// The customer's NAT on the public segment.
pub const CUSTOMER_NAT_IP: &str = "198.18.0.1";
/// The technician's NAT on the public segment.
pub const TECHNICIAN_NAT_IP: &str = "198.18.0.2";

/// The public segment's default gateway, which nobody answers for: frames to
/// its made-up MAC address are dropped.
const SINK_GATEWAY: &str = "198.18.0.254";
const SINK_MAC: &str = "02:00:00:00:00:fe";

/// How the two routers translate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nat {
    /// Port-preserving, endpoint-independent mapping: hole punching works.
    Cone,
    /// A new random port per destination: only a relay works.
    Symmetric,
}

impl std::str::FromStr for Nat {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s {
            "cone" => Ok(Self::Cone),
            "symmetric" => Ok(Self::Symmetric),
            _ => bail!("the NAT is cone or symmetric, not {s:?}"),
        }
    }
}

/// A machine in the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// The public segment, where the rendezvous server runs.
    Public,
    /// The customer's computer, behind its NAT.
    Customer,
    /// The technician's computer, behind its NAT.
    Technician,
    /// The customer's NAT router.
    CustomerNat,
    /// The technician's NAT router.
    TechnicianNat,
}

impl std::str::FromStr for Host {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "public" | "server" => Self::Public,
            "customer" | "agent" => Self::Customer,
            "technician" | "console" => Self::Technician,
            "customer-nat" => Self::CustomerNat,
            "technician-nat" => Self::TechnicianNat,
            _ => bail!("no lab host {s:?}: public, customer, technician, customer-nat, technician-nat"),
        })
    }
}

/// Each side: its router, the computer behind it, the router's public
/// address, the LAN's /24, and its port name on the public bridge.
const SIDES: [(Host, Host, &str, &str, &str); 2] = [
    (Host::CustomerNat, Host::Customer, CUSTOMER_NAT_IP, "10.1.0", "pc"),
    (Host::TechnicianNat, Host::Technician, TECHNICIAN_NAT_IP, "10.2.0", "pt"),
];

const HOSTS: [Host; 5] =
    [Host::Public, Host::Customer, Host::Technician, Host::CustomerNat, Host::TechnicianNat];

/// A running lab; dropping it tears it down.
#[derive(Debug)]
pub struct Lab {
    prefix: String,
    /// The NAT the routers do.
    pub nat: Nat,
    shaped: Mutex<Vec<(Host, Emulator)>>,
    /// Built by this handle, so torn down when it drops.
    owned: bool,
}

fn run(args: &[&str]) -> anyhow::Result<Output> {
    let out =
        Command::new(args[0]).args(&args[1..]).output().with_context(|| format!("running {}", args[0]))?;
    if !out.status.success() {
        bail!("`{}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(out)
}

impl Lab {
    /// Builds the lab; `prefix` (at most 6 characters) names everything in it.
    pub fn up(prefix: &str, nat: Nat) -> anyhow::Result<Self> {
        if prefix.is_empty() || prefix.len() > 6 || !prefix.chars().all(|c| c.is_ascii_alphanumeric()) {
            bail!("a lab prefix has 1 to 6 letters or digits");
        }
        let lab = Self { prefix: prefix.to_owned(), nat, shaped: Mutex::default(), owned: true };
        lab.down();
        lab.build().context("building the NAT lab (root, iproute2 and nftables are needed)")?;
        Ok(lab)
    }

    /// A lab already built with `prefix`, to run commands in or tear down
    /// (with `down`); dropping this handle leaves it standing.
    #[must_use]
    pub fn existing(prefix: &str, nat: Nat) -> Self {
        Self { prefix: prefix.to_owned(), nat, shaped: Mutex::default(), owned: false }
    }

    /// The namespace of `host`.
    #[must_use]
    pub fn ns(&self, host: Host) -> String {
        let name = match host {
            Host::Public => "pub",
            Host::Customer => "cust",
            Host::Technician => "tech",
            Host::CustomerNat => "cnat",
            Host::TechnicianNat => "tnat",
        };
        format!("{}-{name}", self.prefix)
    }

    /// Runs `args` inside `host` and waits for it.
    pub fn exec(&self, host: Host, args: &[&str]) -> anyhow::Result<Output> {
        let ns = self.ns(host);
        let mut all = vec!["ip", "netns", "exec", ns.as_str()];
        all.extend_from_slice(args);
        run(&all)
    }

    fn ip(&self, host: Host, args: &[&str]) -> anyhow::Result<()> {
        let ns = self.ns(host);
        let mut all = vec!["ip", "-n", ns.as_str()];
        all.extend_from_slice(args);
        run(&all).map(drop)
    }

    /// A veth pair from `a` (named `a_name` there) to `b` (named `b_name`).
    fn wire(&self, (a, a_name): (Host, &str), (b, b_name): (Host, &str)) -> anyhow::Result<()> {
        let (ta, tb) = (format!("{}{a_name}", self.prefix), format!("{}{b_name}", self.prefix));
        run(&["ip", "link", "add", &ta, "type", "veth", "peer", "name", &tb])?;
        run(&["ip", "link", "set", &ta, "netns", &self.ns(a)])?;
        run(&["ip", "link", "set", &tb, "netns", &self.ns(b)])?;
        self.ip(a, &["link", "set", &ta, "name", a_name])?;
        self.ip(b, &["link", "set", &tb, "name", b_name])?;
        Ok(())
    }

    fn build(&self) -> anyhow::Result<()> {
        for host in HOSTS {
            run(&["ip", "netns", "add", &self.ns(host)])?;
            self.ip(host, &["link", "set", "lo", "up"])?;
        }
        self.ip(Host::Public, &["link", "add", "br0", "type", "bridge"])?;
        self.ip(Host::Public, &["addr", "add", &format!("{SERVER_IP}/24"), "dev", "br0"])?;
        self.ip(Host::Public, &["link", "set", "br0", "up"])?;
        // The way out to "the rest of the internet": a gateway that swallows
        // everything, as the internet does with private addresses. Without a
        // default route a relay that sends to a peer's private host candidate
        // gets ENETUNREACH, and coturn closes the whole allocation over it.
        self.ip(
            Host::Public,
            &["neigh", "replace", SINK_GATEWAY, "lladdr", SINK_MAC, "dev", "br0", "nud", "permanent"],
        )?;
        self.ip(Host::Public, &["route", "add", "default", "via", SINK_GATEWAY, "dev", "br0"])?;
        for (router, inside, wan_ip, lan, port) in SIDES {
            self.wire((router, "wan"), (Host::Public, port))?;
            self.wan_up(router, wan_ip, port)?;
            self.wire((router, "lan"), (inside, "eth0"))?;
            self.ip(router, &["addr", "add", &format!("{lan}.1/24"), "dev", "lan"])?;
            self.ip(router, &["link", "set", "lan", "up"])?;
            self.ip(inside, &["addr", "add", &format!("{lan}.2/24"), "dev", "eth0"])?;
            self.ip(inside, &["link", "set", "eth0", "up"])?;
            self.ip(inside, &["route", "add", "default", "via", &format!("{lan}.1")])?;
            self.exec(router, &["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
            let how = match self.nat {
                Nat::Cone => "masquerade",
                Nat::Symmetric => "masquerade fully-random",
            };
            self.exec(router, &["nft", "add table ip lab"])?;
            self.exec(
                router,
                &["nft", "add chain ip lab post { type nat hook postrouting priority 100 ; }"],
            )?;
            self.exec(router, &["nft", &format!("add rule ip lab post oifname wan {how}")])?;
            // A home router's firewall: unsolicited packets from outside are
            // dropped before conntrack records them (a recorded stray packet
            // would make the NAT pick another port for the reply path).
            self.exec(router, &["nft", "add chain ip lab pre { type filter hook prerouting priority 0 ; }"])?;
            self.exec(router, &["nft", "add rule ip lab pre iifname wan ct state new drop"])?;
        }
        Ok(())
    }

    /// Brings up a router's WAN interface and its port on the public bridge.
    fn wan_up(&self, router: Host, wan_ip: &str, port: &str) -> anyhow::Result<()> {
        self.ip(Host::Public, &["link", "set", port, "master", "br0", "up"])?;
        self.ip(router, &["addr", "add", &format!("{wan_ip}/24"), "dev", "wan"])?;
        self.ip(router, &["link", "set", "wan", "up"])
    }

    /// Puts the link emulator on the WAN cable of `side` (the customer's or
    /// the technician's), replacing whatever was there, or reshapes the one
    /// already there: `shape.delay` is added in each direction. The emulator
    /// lives as long as this handle.
    pub fn shape(&self, side: Host, shape: Shape) -> anyhow::Result<()> {
        let (router, _, wan_ip, _, port) = SIDES
            .into_iter()
            .find(|s| s.1 == side || s.0 == side)
            .context("only the customer's and the technician's links can be shaped")?;
        let mut shaped = self.shaped.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, emulator)) = shaped.iter().find(|(r, _)| *r == router) {
            emulator.reshape(shape);
            return Ok(());
        }
        // Deleting one end of the veth (or an old emulator's TAP) removes the cable.
        let _ = self.ip(router, &["link", "del", "wan"]);
        let _ = self.ip(Host::Public, &["link", "del", port]);
        let (ta, tb) = (format!("{}{port}w", self.prefix), format!("{}{port}p", self.prefix));
        let emulator = Emulator::start(&ta, &tb, shape)?;
        run(&["ip", "link", "set", &ta, "netns", &self.ns(router)])?;
        run(&["ip", "link", "set", &tb, "netns", &self.ns(Host::Public)])?;
        self.ip(router, &["link", "set", &ta, "name", "wan"])?;
        self.ip(Host::Public, &["link", "set", &tb, "name", port])?;
        self.wan_up(router, wan_ip, port)?;
        shaped.push((router, emulator));
        Ok(())
    }

    /// Deletes every namespace of the lab (and with them its interfaces).
    pub fn down(&self) {
        // Closing the emulators' TAP devices removes them first.
        self.shaped.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
        for host in HOSTS {
            let _ = Command::new("ip").args(["netns", "del", &self.ns(host)]).output();
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.owned {
            self.down();
        }
    }
}

/// A prefix no other lab in this machine's tests uses at the same time.
#[must_use]
pub fn unique_prefix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("l{:04x}{n:x}", std::process::id() & 0xffff)
}
