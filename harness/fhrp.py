# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Two real Debian 12 routers sharing an on-premises LAN, for the fhrp role's tests and benchmark.

Topology (routers are systemd-nspawn containers in their own namespaces, harness/hosts.py)::

                      LAN bridge br0 (own namespace), client 198.18.30.10
                       /                                      \\
    DX router  lan0 198.18.30.2/24                  VPN router lan0 198.18.30.3/24
    dx0 198.18.40.1/30 -- DX peer (own namespace) 198.18.40.2/30

The gateway address 198.18.30.1 is shared with VRRPv3 and 0.1 s adverts; the DX router has
priority 150 and, unless its host variables say otherwise, pings the DX peer as its DX check.

``Routers.gateway_traffic`` tells which router the LAN client's traffic to the gateway address
really went through (nftables counters on the bridge ports), not only which one says MASTER.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from dataclasses import dataclass

from harness.hosts import booted_host
from harness.hosts import run_playbook
from harness.hosts import write_inventory
from harness.netns import NetnsLab

VIP = "198.18.30.1"
ROUTER_LAN = {"dx": "198.18.30.2", "vpn": "198.18.30.3"}
CLIENT = "198.18.30.10"
DX_ROUTER_END, DX_PEER = "198.18.40.1", "198.18.40.2"
PRIORITY = {"dx": 150, "vpn": 100}
PREEMPT_DELAY = 3
INSTANCE = "lan_gateway"
STATE_FILE = "/var/lib/lz-fhrp/%s.state" % INSTANCE
CONFIG_FILE = "/etc/keepalived/keepalived.conf"
SERVICE = "keepalived.service"
# Counters on the LAN bridge, per router port: the client's echo requests to the gateway address the
# bridge sent to that router, and the echo replies from the gateway address that came from it.
# prerouting/postrouting see the frames of the bridge's own address (the client) too.
GATEWAY_COUNTERS_TABLE = "lzt_gw"
GATEWAY_COUNTERS = """add table bridge {table}
add counter bridge {table} requests_dx
add counter bridge {table} requests_vpn
add counter bridge {table} replies_dx
add counter bridge {table} replies_vpn
add chain bridge {table} pre {{ type filter hook prerouting priority 0; policy accept; }}
add chain bridge {table} post {{ type filter hook postrouting priority 0; policy accept; }}
add rule bridge {table} post ip daddr {vip} icmp type echo-request counter name oifname map {{ "p-dx" : "requests_dx", "p-vpn" : "requests_vpn" }}
add rule bridge {table} pre ip saddr {vip} icmp type echo-reply counter name iifname map {{ "p-dx" : "replies_dx", "p-vpn" : "replies_vpn" }}
""".format(table=GATEWAY_COUNTERS_TABLE, vip=VIP)
PLAYBOOK = """---
- name: Share the on-premises gateway address
  hosts: routers
  gather_facts: false
  roles:
    - role: localzones.failover.fhrp
"""
GROUP_VARS = {
    "fhrp_interface": "lan0",
    "fhrp_virtual_router_id": 51,
    "fhrp_virtual_ipaddresses": [VIP + "/24"],
    "fhrp_vrrp_version": 3,
    "fhrp_advert_interval": 0.1,
    "fhrp_preempt_delay": PREEMPT_DELAY,
    # Modules over the nsenter connection's stdin: fewer round trips per task.
    "ansible_pipelining": True,
}


def router_vars(side, **extra):
    variables = {"fhrp_priority": PRIORITY[side]}
    if side == "dx":
        variables["fhrp_track_script"] = {"enabled": True, "check": "ping", "targets": [DX_PEER], "source": DX_ROUTER_END}
    variables.update(extra)
    return variables


@dataclass
class Routers:
    """Both routers, the LAN and DX peer namespaces, and the inventory."""

    hosts: dict
    lab: NetnsLab
    lan: str
    dx_peer: str
    directory: str
    inventory: str
    playbook: str

    def host_vars(self, side, variables):
        path = os.path.join(self.directory, "host_vars", self.hosts[side].name + ".yml")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(variables, handle, indent=2)

    def apply(self, extra_vars=None, check=False):
        return run_playbook(self.playbook, self.inventory, extra_vars=extra_vars, check=check)

    def state(self, side):
        """The notify script's record of the last transition ({} before the first one)."""
        content = self.hosts[side].read_file(STATE_FILE)
        return json.loads(content) if content else {}

    def has_vip(self, side):
        addresses = self.hosts[side].run(["ip", "-4", "-o", "address", "show", "dev", "lan0"]).stdout
        return " %s/24 " % VIP in addresses

    def master(self):
        """The side that holds the gateway address, or None (also None when both hold it)."""
        holders = [side for side in self.hosts if self.has_vip(side)]
        return holders[0] if len(holders) == 1 else None

    def count_gateway_traffic(self):
        """Start the LAN bridge's per-router counters of echoes to and from the gateway address."""
        self.lab.run_in(self.lan, ["nft", "-f", "-"], input_text=GATEWAY_COUNTERS)

    def gateway_traffic(self):
        """The counters so far: {"requests_dx": n, "requests_vpn": n, "replies_dx": n, "replies_vpn": n}."""
        listing = json.loads(self.lab.run_in(self.lan, ["nft", "-j", "list", "counters", "table", "bridge", GATEWAY_COUNTERS_TABLE]).stdout)
        return {item["counter"]["name"]: item["counter"]["packets"] for item in listing["nftables"] if "counter" in item}

    def ping_gateway(self, count=3):
        """Ping the gateway address from the LAN client; what the bridge counted meanwhile (``gateway_traffic``)."""
        before = self.gateway_traffic()
        self.lab.run_in(self.lan, ["ping", "-n", "-q", "-c", str(count), "-i", "0.2", "-W", "1", VIP], check=False)
        return traffic_between(before, self.gateway_traffic())

    def router_mac(self, side):
        return self.hosts[side].read_file("/sys/class/net/lan0/address").decode().strip()

    def client_gateway_mac(self):
        """The link-layer address the LAN client sends the gateway address's frames to (None without an entry)."""
        fields = self.lab.run_in(self.lan, ["ip", "neigh", "show", VIP, "dev", "br0"]).stdout.split()
        return fields[fields.index("lladdr") + 1] if "lladdr" in fields else None

    def stable_master(self, side, seconds=1.0):
        """True when ``side`` alone held the address and was MASTER for ``seconds`` of polling."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.master() != side or self.state(side).get("state") != "MASTER":
                return False
            time.sleep(0.1)
        return True


def traffic_between(before, after):
    """What ``Routers.gateway_traffic`` counted from ``before`` to ``after``."""
    return {name: after[name] - before[name] for name in after}


def assert_gateway_answered_by(routers, side, count=3):
    """The LAN client pings the gateway address: every echo went to ``side``'s router alone, which answered it.

    Checks the traffic, not the VRRP state: the client's neighbour entry for the gateway names that
    router's MAC (a stale one would send the echoes to the old owner).
    """
    other = "vpn" if side == "dx" else "dx"
    traffic = routers.ping_gateway(count)
    expected = {"requests_" + side: count, "replies_" + side: count, "requests_" + other: 0, "replies_" + other: 0}
    assert traffic == expected, ("the LAN client's echoes to the gateway address were not all answered by the %s router" % side, traffic)
    assert routers.client_gateway_mac() == routers.router_mac(side), "the LAN client sends the gateway's frames elsewhere than the %s router" % side


def file_digest(host, path):
    content = host.read_file(path)
    return hashlib.sha256(content).hexdigest() if content is not None else None


def snapshot(host):
    listing = host.run(["find", "/etc", "/usr/local", "/var/lib", "-xdev", "-printf", "%p %s %T@\\n"]).stdout
    return sorted(listing.splitlines()), host.read_file("/etc/passwd"), host.read_file("/etc/group")


@contextlib.contextmanager
def router_lab(directory):
    """Boot both routers, build the LAN bridge and the DX peer, write inventory and playbook."""
    with booted_host("dxr") as dx, booted_host("vpnr") as vpn:
        lab = NetnsLab()
        try:
            lan = lab.add_namespace("lan")
            lab.run_in(lan, ["ip", "link", "add", "br0", "type", "bridge"])
            lab.run_in(lan, ["ip", "link", "set", "br0", "up"])
            lab.add_address(lan, "br0", CLIENT + "/24")
            for side, host in (("dx", dx), ("vpn", vpn)):
                port = "p-" + side
                lab.veth(lan, host.netns, port, "lan0")
                lab.run_in(lan, ["ip", "link", "set", port, "master", "br0"])
                lab.add_address(host.netns, "lan0", ROUTER_LAN[side] + "/24")
            dx_peer = lab.add_namespace("dxpeer")
            lab.veth(dx.netns, dx_peer, "dx0", "dx0")
            lab.add_address(dx.netns, "dx0", DX_ROUTER_END + "/30")
            lab.add_address(dx_peer, "dx0", DX_PEER + "/30")
            os.makedirs(os.path.join(directory, "host_vars"), exist_ok=True)
            hosts = {"dx": dx, "vpn": vpn}
            inventory = write_inventory(os.path.join(directory, "inventory.yml"), list(hosts.values()), group="routers", group_vars=GROUP_VARS)
            playbook = os.path.join(directory, "fhrp.yml")
            with open(playbook, "w", encoding="utf-8") as handle:
                handle.write(PLAYBOOK)
            routers = Routers(hosts=hosts, lab=lab, lan=lan, dx_peer=dx_peer, directory=directory, inventory=inventory, playbook=playbook)
            for side in hosts:
                routers.host_vars(side, router_vars(side))
            yield routers
        finally:
            lab.cleanup()


# --------------------------------------------------------------------------- fixtures
