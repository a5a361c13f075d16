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


@dataclass(frozen=True)
class Subnet:
    """A VPC subnet: one veth from the VPC router (its .1) to the host that lives in it."""

    name: str
    cidr: str
    router_device: str
    router_address: str
    host: str
    host_address: str


SUBNETS = (
    Subnet("publicsubnet1", "198.18.1.0/24", "sn-public1", "198.18.1.1", "vpn-appliance", "198.18.1.10"),
    Subnet("privatesubnet1", "198.18.2.0/24", "sn-private1", "198.18.2.1", "workload", "198.18.2.10"),
    Subnet("privatesubnet2", "198.18.3.0/24", "sn-private2", "198.18.3.1", "utility", "198.18.3.10"),
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

HOSTS = ("vpc-router", "workload", "utility", "vpn-appliance", "onprem-dx", "onprem-vpn", "onprem-host")
PROBE_TARGET = "198.19.0.10"
TEST_SERVICE_PORT = 7000


def subnet_of(host):
    return next(subnet for subnet in SUBNETS if subnet.host == host)


def namespace(role):
    """The network namespace of a host (or of the LAN bridge)."""
    return NAMESPACE_PREFIX + role
