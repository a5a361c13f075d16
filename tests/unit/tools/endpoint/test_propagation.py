# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""VGW route propagation (tools/endpoint/propagation.py): propagated routes from the learned prefixes, the propagation calls,
the route filters, and the learned prefixes' control and in-process API.

Every assertion reads what the server answers, so each test fails on plain moto wherever moto and EC2 differ.
"""

from __future__ import annotations

import pytest

from harness.aws import ONPREM_CIDRS
from harness.aws import ec2_client
from harness.aws import get_learned_prefixes
from harness.aws import http_json
from harness.aws import learned_prefixes_url
from harness.aws import put_learned_prefixes
from harness.aws import reset_server
from tests.unit.tools.endpoint.ec2_calls import ONPREM_V4
from tests.unit.tools.endpoint.ec2_calls import ONPREM_V6
from tests.unit.tools.endpoint.ec2_calls import PROPAGATED
from tests.unit.tools.endpoint.ec2_calls import STATIC
from tests.unit.tools.endpoint.ec2_calls import api_error
from tests.unit.tools.endpoint.ec2_calls import destination_of
from tests.unit.tools.endpoint.ec2_calls import origins_to
from tests.unit.tools.endpoint.ec2_calls import propagated_destinations
from tests.unit.tools.endpoint.ec2_calls import route_table
from tests.unit.tools.endpoint.ec2_calls import route_via_eni
from tests.unit.tools.endpoint.ec2_calls import routes_to
from tests.unit.tools.endpoint.ec2_calls import rtb_ids_matching
from tools.endpoint import propagation

pytestmark = pytest.mark.moto


# --------------------------------------------------------------------------- static over propagated


@pytest.mark.parametrize("destination", [ONPREM_V4, ONPREM_V6])
def test_static_route_over_a_propagated_one_is_created_and_both_are_listed(ec2, lz_world, destination):
    route_via_eni(ec2, lz_world.prod_rtb_id, destination, lz_world.vpn_eni_id)

    routes = sorted(routes_to(ec2, lz_world.prod_rtb_id, destination), key=lambda route: route["Origin"])
    assert len(routes) == 2
    static, propagated = routes
    assert (static["Origin"], static["NetworkInterfaceId"], static["State"]) == (STATIC, lz_world.vpn_eni_id, "active")
    assert "GatewayId" not in static
    assert (propagated["Origin"], propagated["GatewayId"], propagated["State"]) == (PROPAGATED, lz_world.vgw_id, "active")
    assert "NetworkInterfaceId" not in propagated


# --------------------------------------------------------------------------- propagation


def test_propagating_vgw_and_propagated_routes_are_described(ec2, lz_world):
    for rtb_id in lz_world.route_table_ids:
        table = route_table(ec2, rtb_id)
        assert table["PropagatingVgws"] == [{"GatewayId": lz_world.vgw_id}]
        propagated = [route for route in table["Routes"] if route["Origin"] == PROPAGATED]
        assert sorted(propagated, key=destination_of) == [
            {"DestinationCidrBlock": ONPREM_V4, "GatewayId": lz_world.vgw_id, "Origin": PROPAGATED, "State": "active"},
            {"DestinationIpv6CidrBlock": ONPREM_V6, "GatewayId": lz_world.vgw_id, "Origin": PROPAGATED, "State": "active"},
        ]
    assert route_table(ec2, lz_world.other_rtb_id)["PropagatingVgws"] == []


def test_propagated_routes_follow_the_learned_prefixes(ec2, lz_world):
    lz_world.set_learned([])  # DX BGP session down
    for rtb_id in lz_world.route_table_ids:
        assert propagated_destinations(ec2, rtb_id) == []
        assert route_table(ec2, rtb_id)["PropagatingVgws"] == [{"GatewayId": lz_world.vgw_id}]

    lz_world.set_learned(["198.19.0.0/24", "198.19.1.0/24"])
    assert propagated_destinations(ec2, lz_world.prod_rtb_id) == ["198.19.0.0/24", "198.19.1.0/24"]

    lz_world.set_learned(["198.19.1.0/24"])
    assert propagated_destinations(ec2, lz_world.probe_rtb_id) == ["198.19.1.0/24"]


def test_withdrawn_prefix_leaves_the_static_route(ec2, lz_world):
    route_via_eni(ec2, lz_world.prod_rtb_id, ONPREM_V4, lz_world.vpn_eni_id)

    lz_world.set_learned([ONPREM_V6])

    assert origins_to(ec2, lz_world.prod_rtb_id, ONPREM_V4) == [STATIC]


def test_enable_twice_lists_the_vgw_once(ec2, lz_world):
    ec2.enable_vgw_route_propagation(RouteTableId=lz_world.prod_rtb_id, GatewayId=lz_world.vgw_id)

    table = route_table(ec2, lz_world.prod_rtb_id)
    assert table["PropagatingVgws"] == [{"GatewayId": lz_world.vgw_id}]
    assert len([route for route in table["Routes"] if route["Origin"] == PROPAGATED]) == 2


def test_disable_removes_propagated_routes_and_keeps_static_ones(ec2, lz_world):
    route_via_eni(ec2, lz_world.prod_rtb_id, ONPREM_V4, lz_world.vpn_eni_id)

    ec2.disable_vgw_route_propagation(RouteTableId=lz_world.prod_rtb_id, GatewayId=lz_world.vgw_id)

    table = route_table(ec2, lz_world.prod_rtb_id)
    assert table["PropagatingVgws"] == []
    assert propagated_destinations(ec2, lz_world.prod_rtb_id) == []
    assert origins_to(ec2, lz_world.prod_rtb_id, ONPREM_V4) == [STATIC]
    assert propagated_destinations(ec2, lz_world.probe_rtb_id) == sorted(ONPREM_CIDRS)


def test_disable_when_not_propagating_is_a_no_op(ec2, lz_world):
    ec2.disable_vgw_route_propagation(RouteTableId=lz_world.prod_rtb_id, GatewayId=lz_world.vgw_id)
    ec2.disable_vgw_route_propagation(RouteTableId=lz_world.prod_rtb_id, GatewayId=lz_world.vgw_id)

    assert route_table(ec2, lz_world.prod_rtb_id)["PropagatingVgws"] == []


def test_enable_again_brings_the_routes_back(ec2, lz_world):
    ec2.disable_vgw_route_propagation(RouteTableId=lz_world.prod_rtb_id, GatewayId=lz_world.vgw_id)
    ec2.enable_vgw_route_propagation(RouteTableId=lz_world.prod_rtb_id, GatewayId=lz_world.vgw_id)

    assert propagated_destinations(ec2, lz_world.prod_rtb_id) == sorted(ONPREM_CIDRS)


@pytest.mark.parametrize("call", ["enable_vgw_route_propagation", "disable_vgw_route_propagation"])
def test_propagation_call_with_unknown_ids(ec2, lz_world, call):
    method = getattr(ec2, call)

    assert api_error(method, RouteTableId="rtb-0123456789abcdef0", GatewayId=lz_world.vgw_id)[:2] == ("InvalidRouteTableID.NotFound", 400)
    assert api_error(method, RouteTableId=lz_world.prod_rtb_id, GatewayId="vgw-0123456789abcdef0")[:2] == ("InvalidVpnGatewayID.NotFound", 400)


def test_enable_with_an_unattached_vgw_is_refused(ec2, lz_world):
    lone_vgw = ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]

    assert api_error(ec2.enable_vgw_route_propagation, RouteTableId=lz_world.prod_rtb_id, GatewayId=lone_vgw)[:2] == ("Gateway.NotAttached", 400)
    assert route_table(ec2, lz_world.prod_rtb_id)["PropagatingVgws"] == [{"GatewayId": lz_world.vgw_id}]


def test_enable_with_a_vgw_of_another_vpc_is_refused(ec2, lz_world):
    error = api_error(ec2.enable_vgw_route_propagation, RouteTableId=lz_world.other_rtb_id, GatewayId=lz_world.vgw_id)

    assert error.code == "Gateway.NotAttached"
    assert route_table(ec2, lz_world.other_rtb_id)["PropagatingVgws"] == []


def test_detached_vgw_propagates_nothing(ec2, lz_world):
    ec2.detach_vpn_gateway(VpcId=lz_world.vpc_id, VpnGatewayId=lz_world.vgw_id)

    assert propagated_destinations(ec2, lz_world.prod_rtb_id) == []


# --------------------------------------------------------------------------- filters


def test_route_filters_see_propagated_routes(ec2, lz_world):
    both = sorted(lz_world.route_table_ids)
    assert rtb_ids_matching(ec2, {"Name": "route.origin", "Values": [PROPAGATED]}) == both
    assert rtb_ids_matching(ec2, {"Name": "route.destination-cidr-block", "Values": [ONPREM_V4]}) == both
    assert rtb_ids_matching(ec2, {"Name": "route.destination-ipv6-cidr-block", "Values": [ONPREM_V6]}) == both
    assert rtb_ids_matching(ec2, {"Name": "route.gateway-id", "Values": [lz_world.vgw_id]}) == both

    lz_world.set_learned([])

    assert rtb_ids_matching(ec2, {"Name": "route.origin", "Values": [PROPAGATED]}) == []


def test_other_filters_keep_working(ec2, lz_world):
    assert rtb_ids_matching(ec2, {"Name": "association.subnet-id", "Values": [lz_world.prod_subnet_id]}) == [lz_world.prod_rtb_id]
    assert rtb_ids_matching(ec2, {"Name": "tag:Name", "Values": ["probe_rtb"]}) == [lz_world.probe_rtb_id]
    in_vpc = rtb_ids_matching(ec2, {"Name": "vpc-id", "Values": [lz_world.vpc_id]})
    assert set(lz_world.route_table_ids) <= set(in_vpc)
    assert lz_world.other_rtb_id not in in_vpc
    route_via_eni(ec2, lz_world.prod_rtb_id, ONPREM_V4, lz_world.vpn_eni_id)
    assert rtb_ids_matching(ec2, {"Name": "route.origin", "Values": [STATIC]}) == [lz_world.prod_rtb_id]


# --------------------------------------------------------------------------- reset


def test_reset_clears_learned_prefixes_and_propagation(ec2, ec2_endpoint, lz_world):
    reset_server(ec2_endpoint)

    status, body = http_json("GET", learned_prefixes_url(ec2_endpoint, lz_world.vgw_id))
    assert (status, body["error"]["code"]) == (404, "InvalidVpnGatewayID.NotFound")
    assert api_error(ec2.describe_route_tables, RouteTableIds=[lz_world.prod_rtb_id]).code == "InvalidRouteTableID.NotFound"
    vpc_id = ec2.create_vpc(CidrBlock="198.18.0.0/16")["Vpc"]["VpcId"]
    vgw_id = ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]
    ec2.attach_vpn_gateway(VpcId=vpc_id, VpnGatewayId=vgw_id)
    assert get_learned_prefixes(ec2_endpoint, vgw_id) == []


# --------------------------------------------------------------------------- control API


def test_control_put_canonicalises_and_get_reads_back(ec2_endpoint, lz_world):
    stored = put_learned_prefixes(ec2_endpoint, lz_world.vgw_id, ["2001:DB8:100::/56", "198.19.0.0/24", "198.19.0.0/24"])

    assert stored == ["2001:db8:100::/56", "198.19.0.0/24"]
    assert get_learned_prefixes(ec2_endpoint, lz_world.vgw_id) == stored


@pytest.mark.parametrize("body", [{"prefixes": ["198.19.0.1/24"]}, {"prefixes": ["not-a-cidr"]}, {"prefixes": "198.19.0.0/24"}, {}])
def test_control_put_rejects_bad_bodies_and_keeps_the_set(ec2_endpoint, lz_world, body):
    status, answer = http_json("PUT", learned_prefixes_url(ec2_endpoint, lz_world.vgw_id), body)

    assert status == 400
    assert answer["error"]["code"]
    assert lz_world.learned() == list(ONPREM_CIDRS)


def test_control_put_rejects_non_json(ec2_endpoint, lz_world):
    assert http_json("PUT", learned_prefixes_url(ec2_endpoint, lz_world.vgw_id), None)[0] == 400


def test_control_unknown_vgw_method_path_and_region(ec2_endpoint, lz_world):
    assert http_json("PUT", learned_prefixes_url(ec2_endpoint, "vgw-0123456789abcdef0"), {"prefixes": []})[0] == 404
    assert http_json("DELETE", learned_prefixes_url(ec2_endpoint, lz_world.vgw_id))[0] == 405
    assert http_json("GET", f"{ec2_endpoint}/_fidelity/nothing-here")[0] == 404
    assert http_json("GET", f"{learned_prefixes_url(ec2_endpoint, lz_world.vgw_id)}?region=xx-nowhere-1")[0] == 400


def test_control_addresses_vgws_by_region(ec2, ec2_endpoint):
    west = ec2_client(ec2_endpoint, region="us-west-2")
    vgw_id = west.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]

    assert put_learned_prefixes(ec2_endpoint, vgw_id, ["198.19.3.0/24"], region="us-west-2") == ["198.19.3.0/24"]
    assert http_json("GET", learned_prefixes_url(ec2_endpoint, vgw_id))[0] == 404
    assert ec2.describe_vpn_gateways()["VpnGateways"] == []


def test_in_process_api_shares_state_with_the_server(ec2, lz_world):
    propagation.set_vgw_learned_prefixes(lz_world.vgw_id, ["198.19.5.0/24"])

    assert propagated_destinations(ec2, lz_world.prod_rtb_id) == ["198.19.5.0/24"]
    assert lz_world.learned() == ["198.19.5.0/24"]
    assert propagation.get_vgw_learned_prefixes(lz_world.vgw_id) == ["198.19.5.0/24"]


def test_in_process_api_errors(lz_world):
    with pytest.raises(LookupError):
        propagation.set_vgw_learned_prefixes("vgw-0123456789abcdef0", [])
    with pytest.raises(ValueError):
        propagation.set_vgw_learned_prefixes(lz_world.vgw_id, ["198.19.0.1/24"])
