# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the lab's VPC router turns route tables into kernel routes (lab/router_agent.py), without a lab."""

from __future__ import annotations

import ipaddress

from lab import router_agent

VPC = "198.18.0.0/16"
ONPREM = "198.19.0.0/24"
DX_NEXT_HOP = "198.19.250.2"
ENI = "eni-0123456789abcdef0"
NETWORKS = [
    (ipaddress.ip_network("198.18.1.0/24"), "sn-public1"),
    (ipaddress.ip_network("198.18.2.0/24"), "sn-private1"),
    (ipaddress.ip_network("198.19.250.0/30"), "dx0"),
]
API = {"vpc_cidrs": {"vpc-1": [VPC]}, "eni_addresses": {ENI: "198.18.1.10"}}


def local():
    return {"DestinationCidrBlock": VPC, "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"}


def propagated(destination=ONPREM):
    return {"DestinationCidrBlock": destination, "GatewayId": "vgw-1", "Origin": "EnableVgwRoutePropagation", "State": "active"}


def static(destination=ONPREM, state="active"):
    return {"DestinationCidrBlock": destination, "NetworkInterfaceId": ENI, "Origin": "CreateRoute", "State": state}


def table(*routes, associations=()):
    return {"RouteTableId": "rtb-1", "VpcId": "vpc-1", "Routes": [local()] + list(routes), "Associations": list(associations)}


def test_a_static_route_beats_a_propagated_one_in_either_order():
    for routes in ((propagated(), static()), (static(), propagated())):
        assert router_agent.effective_routes(table(*routes))[ONPREM]["Origin"] == "CreateRoute"


def test_vgw_routes_go_to_the_dx_link_and_eni_routes_to_the_eni_address():
    assert router_agent.kernel_route(propagated(), API, DX_NEXT_HOP) == "via " + DX_NEXT_HOP
    assert router_agent.kernel_route(static(), API, DX_NEXT_HOP) == "via 198.18.1.10"


def test_a_blackhole_stays_a_blackhole_and_other_targets_are_unreachable():
    assert router_agent.kernel_route(static(state="blackhole"), API, DX_NEXT_HOP) == "blackhole"
    internet = {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "Origin": "CreateRoute", "State": "active"}
    assert router_agent.kernel_route(internet, API, DX_NEXT_HOP) == "unreachable"


def test_the_local_route_is_the_subnets_the_router_is_in():
    routes = router_agent.desired_table(table(propagated()), API, NETWORKS, DX_NEXT_HOP)
    assert routes == {
        "default": "unreachable",
        VPC: "unreachable",
        "198.18.1.0/24": "dev sn-public1",
        "198.18.2.0/24": "dev sn-private1",
        ONPREM: "via " + DX_NEXT_HOP,
    }


def test_a_subnet_without_an_association_uses_the_main_table():
    main = dict(table(), RouteTableId="rtb-main", Associations=[{"Main": True}])
    other = table(associations=[{"SubnetId": "subnet-other"}])
    assert router_agent.route_table_of_subnet([other, main], "subnet-1", "vpc-1")["RouteTableId"] == "rtb-main"
    assert router_agent.route_table_of_subnet([other, main], "subnet-other", "vpc-1") is other


def test_route_arguments_put_the_type_first():
    assert router_agent.route_arguments("default", "unreachable") == "unreachable default"
    assert router_agent.route_arguments(ONPREM, "via 198.18.1.10") == ONPREM + " via 198.18.1.10"
