"""Hand-built route tables for the route tests (no API involved)."""

from __future__ import annotations

from ansible_collections.localzones.failover.plugins.module_utils.routes import Ownership
from ansible_collections.localzones.failover.plugins.module_utils.routes import Route
from ansible_collections.localzones.failover.plugins.module_utils.routes import RouteTable

ENI = "eni-0123456789abcdef0"
OLD_ENI = "eni-0aaaaaaaaaaaaaaaa"  # the interface of a replaced appliance: tagged, so still ours
FOREIGN_ENI = "eni-0bbbbbbbbbbbbbbbb"
VGW = "vgw-0123456789abcdef0"
RTB = "rtb-0123456789abcdef0"
ONPREM = "198.19.0.0/24"
ONPREM6 = "2001:db8:100::/56"

OWNERSHIP = Ownership(vpn_eni_id=ENI, appliance_eni_ids=frozenset({ENI, OLD_ENI}))


def table(*routes, rtb=RTB, vgws=(VGW,)):
    local = Route("198.18.0.0/16", "CreateRouteTable", "local")
    return RouteTable(route_table_id=rtb, vpc_id="vpc-01", routes=(local,) + routes, propagating_vgws=vgws)


def static(destination, target, state="active"):
    return Route(destination, "CreateRoute", target, state)


def propagated(destination):
    return Route(destination, "EnableVgwRoutePropagation", VGW)
