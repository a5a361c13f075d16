# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's address plan: hosts, links and addresses, in one place.

Every other lab file (lab.py, the agents, the demo) takes its addresses from
here; the playbooks' group_vars (inventories/lab/group_vars/all/lab.yml) and the
table in lab/README.md describe the same plan.  Only 198.18.0.0/15 is used.
"""

from __future__ import annotations

from dataclasses import dataclass

NAMESPACE_PREFIX = "lzlab-"
REGION = "us-east-1"

VPC_CIDR = "198.18.0.0/16"
ONPREM_CIDR = "198.19.0.0/24"
VRRP_ADDRESS = "198.19.0.1"
VGW_ASN = 64512
ONPREM_ASN = 65000
# Direct Connect's own BGP and BFD timers (Direct Connect User Guide, "BGP-specific settings"):
# hold 90 s / keepalive 30 s, and asynchronous BFD at 300 ms x 3, so a silent cut of the link
# takes the session down after about 0.9 s (BFD), not after the hold time.
BGP_HOLD_SECONDS = 90
BGP_KEEPALIVE_SECONDS = 30
BFD_INTERVAL_MS = 300
BFD_MULTIPLIER = 3

# The DX link's virtual interface and BGP peer, as the EC2 endpoint's Direct Connect shows them:
# a BGP failover test started on it takes the lab's BGP session down (lab/vgw_agent.py).
DX_VIRTUAL_INTERFACE_ID = "dxvif-lzlab001"
DX_BGP_PEER_ID = "dxpeer-lzlab001"

# The only link into the host namespace: the EC2 endpoint listens on its host end.
HOST_LINK_DEVICE = "lzlab-api"
HOST_LINK_HOST = "198.18.255.1"
HOST_LINK_ROUTER = "198.18.255.2"
HOST_LINK_PREFIX = 30
ENDPOINT_PORT = 5055
ENDPOINT_URL = "http://%s:%d" % (HOST_LINK_HOST, ENDPOINT_PORT)

DX_DEVICE = "dx0"
DX_VGW_ADDRESS = "198.19.250.1"
DX_ONPREM_ADDRESS = "198.19.250.2"
INTERNET_DEVICE = "inet0"
INTERNET_APPLIANCE_ADDRESS = "198.19.251.1"
INTERNET_ONPREM_ADDRESS = "198.19.251.2"
LINK_PREFIX = 30

LAN_NAMESPACE_ROLE = "lan"
LAN_BRIDGE = "br0"


# Linux interface names hold at most 15 characters (IFNAMSIZ 16 with the NUL).
MAX_DEVICE_NAME = 15


@dataclass(frozen=True)
class SubnetHost:
    """A host in a VPC subnet; ``port_device`` is its veth's end in the vpc-router when the subnet is bridged."""

    name: str
    address: str
    port_device: str = ""


@dataclass(frozen=True)
class Subnet:
    """A VPC subnet: the VPC router's .1 on ``router_device`` and the hosts that live in it.

    A subnet with one host is one veth, ``router_device`` in the vpc-router to the host's
    ``eth0``.  A subnet with more hosts (the probe subnet's two utility hosts) is a bridge
    called ``router_device`` in the vpc-router, holding the .1, with one veth per host
    (``port_device`` its bridge port).  Either way the subnet is ONE interface of the router
    holding ONE address in its CIDR, which is what lab/router_agent.py maps a subnet to (its
    ``ip rule iif <device>``): routed traffic from any host of a bridged subnet comes in on
    the bridge.  Two veths sharing the gateway address instead would give two interfaces in
    one CIDR, of which the agent's subnet_devices() would pick one, leaving the other host's
    traffic without the subnet's route table.
    """

    name: str
    cidr: str
    router_device: str
    router_address: str
    hosts: tuple

    @property
    def host(self):
        """The subnet's first host (the only one of an unbridged subnet)."""
        return self.hosts[0].name

    @property
    def host_address(self):
        return self.hosts[0].address

    @property
    def bridged(self):
        return len(self.hosts) > 1

    @property
    def prefix(self):
        return self.cidr.split("/")[1]


SUBNETS = (
    Subnet("publicsubnet1", "198.18.1.0/24", "sn-public1", "198.18.1.1", (SubnetHost("vpn-appliance", "198.18.1.10"),)),
    Subnet("privatesubnet1", "198.18.2.0/24", "sn-private1", "198.18.2.1", (SubnetHost("workload", "198.18.2.10"),)),
    # The probe subnet: two utility hosts, a monitor on each, one lease between them (issue 14).
    Subnet("privatesubnet2", "198.18.3.0/24", "sn-private2", "198.18.3.1", (
        SubnetHost("utility", "198.18.3.10", "sn2-utility"),
        SubnetHost("utility-2", "198.18.3.11", "sn2-utility-2"),
    )),
)


@dataclass(frozen=True)
class LanPort:
    """An on-premises host's port on the LAN bridge."""

    host: str
    bridge_device: str
    address: str


LAN_PORTS = (
    LanPort("onprem-dx", "lan-dx", "198.19.0.2"),
    LanPort("onprem-vpn", "lan-vpn", "198.19.0.3"),
    LanPort("onprem-host", "lan-host", "198.19.0.10"),
)

HOSTS = ("vpc-router", "workload", "utility", "utility-2", "vpn-appliance", "onprem-dx", "onprem-vpn", "onprem-host")
# The hosts that run a monitor (the utility_instance role's instances, in index order).
UTILITY_HOSTS = ("utility", "utility-2")
PROBE_TARGET = "198.19.0.10"
TEST_SERVICE_PORT = 7000


def subnet_of(host):
    """The subnet ``host`` lives in."""
    return next(subnet for subnet in SUBNETS if host in (member.name for member in subnet.hosts))


def subnet_host(host):
    """The SubnetHost record of ``host`` (its address, its bridge port)."""
    return next(member for member in subnet_of(host).hosts if member.name == host)


def router_port(host):
    """The vpc-router's end of ``host``'s link: its bridge port, or the subnet's device when unbridged.

    Setting it down isolates the host from everything (lab fault ``holder_isolate``).
    """
    subnet = subnet_of(host)
    return subnet_host(host).port_device if subnet.bridged else subnet.router_device


def namespace(role):
    """The network namespace of a host (or of the LAN bridge)."""
    return NAMESPACE_PREFIX + role
