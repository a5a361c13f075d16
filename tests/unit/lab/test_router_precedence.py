# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's VPC router picks, for each destination, the route EC2 would use (pure; no lab, no kernel).

EC2's order: the longest prefix, then a static CIDR route, then a prefix-list route,
then a propagated route. The first is the kernel's own lookup across destinations;
``effective_routes`` decides the rest, after a prefix-list route is expanded into
its entries. Well under a second.
"""

from __future__ import annotations

from lab.router_agent import desired_table
from lab.router_agent import effective_routes

PL = "pl-0123456789abcdef0"
ENTRIES = {PL: ["192.168.0.0/16", "172.20.0.0/16", "2001:db8::/32"]}


def propagated(cidr):
    return {"DestinationCidrBlock": cidr, "GatewayId": "vgw-1", "Origin": "EnableVgwRoutePropagation", "State": "active"}


def static(cidr, eni="eni-foreign"):
    return {"DestinationCidrBlock": cidr, "NetworkInterfaceId": eni, "Origin": "CreateRoute", "State": "active"}


def to_prefix_list(eni="eni-vpn"):
    return {"DestinationPrefixListId": PL, "NetworkInterfaceId": eni, "Origin": "CreateRoute", "State": "active"}


def table(*routes):
    return {"RouteTableId": "rtb-1", "VpcId": "vpc-1", "Routes": list(routes)}


def targets(routes):
    return {destination: route.get("NetworkInterfaceId") or route.get("GatewayId") for destination, route in routes.items()}


def test_a_prefix_list_route_stands_for_each_of_its_ipv4_entries_and_beats_the_propagated_route():
    chosen = effective_routes(table(propagated("192.168.0.0/16"), to_prefix_list()), ENTRIES)
    assert targets(chosen) == {"192.168.0.0/16": "eni-vpn", "172.20.0.0/16": "eni-vpn"}


def test_a_static_route_for_the_same_cidr_beats_the_prefix_list_route_whatever_the_order():
    for routes in ((to_prefix_list(), static("172.20.0.0/16")), (static("172.20.0.0/16"), to_prefix_list())):
        assert targets(effective_routes(table(*routes), ENTRIES))["172.20.0.0/16"] == "eni-foreign"


def test_a_more_specific_propagated_route_stays_beside_the_less_specific_prefix_list_entry():
    """Both reach the kernel; its longest-prefix lookup then sends 192.168.10.0/24 over DX, as EC2 does."""
    chosen = effective_routes(table(propagated("192.168.10.0/24"), to_prefix_list()), ENTRIES)
    assert targets(chosen) == {"192.168.10.0/24": "vgw-1", "192.168.0.0/16": "eni-vpn", "172.20.0.0/16": "eni-vpn"}


def test_without_the_prefix_list_route_the_propagated_route_is_used_and_unknown_lists_add_nothing():
    assert targets(effective_routes(table(propagated("192.168.0.0/16")), ENTRIES)) == {"192.168.0.0/16": "vgw-1"}
    assert targets(effective_routes(table(propagated("192.168.0.0/16"), to_prefix_list()), {})) == {"192.168.0.0/16": "vgw-1"}


def test_the_kernel_table_sends_the_prefix_list_entries_to_the_appliance():
    api = {"vpc_cidrs": {"vpc-1": []}, "eni_addresses": {"eni-vpn": "198.18.1.10"}, "prefix_list_entries": ENTRIES}
    routes = desired_table(table(propagated("192.168.0.0/16"), propagated("10.9.0.0/16"), to_prefix_list()), api, [], "198.18.0.2")
    assert routes == {"default": "unreachable", "192.168.0.0/16": "via 198.18.1.10", "172.20.0.0/16": "via 198.18.1.10",
                      "10.9.0.0/16": "via 198.18.0.2"}
