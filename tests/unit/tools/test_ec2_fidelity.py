# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The EC2 fidelity layer, tested through boto3 against the running server.

Every assertion reads what the server answers (routes, error codes, HTTP status),
so each test fails on plain moto wherever moto and EC2 differ.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import namedtuple

import pytest
from botocore.exceptions import ClientError

from harness.aws import ONPREM_CIDRS
from harness.aws import ec2_client
from harness.aws import get_learned_prefixes
from harness.aws import http_json
from harness.aws import learned_prefixes_url
from harness.aws import put_learned_prefixes
from harness.aws import reset_server
from tools import ec2_fidelity

pytestmark = pytest.mark.moto

ONPREM_V4 = "198.19.0.0/24"
ONPREM_V6 = "2001:db8:100::/56"
STATIC = "CreateRoute"
PROPAGATED = "EnableVgwRoutePropagation"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


# --------------------------------------------------------------------------- helpers


def route_table(ec2, rtb_id):
    return ec2.describe_route_tables(RouteTableIds=[rtb_id])["RouteTables"][0]


def destination_of(route):
    return route.get("DestinationCidrBlock") or route.get("DestinationIpv6CidrBlock")


def routes_to(ec2, rtb_id, destination):
    return [route for route in route_table(ec2, rtb_id)["Routes"] if destination_of(route) == destination]


def origins_to(ec2, rtb_id, destination):
    return sorted(route["Origin"] for route in routes_to(ec2, rtb_id, destination))


def propagated_destinations(ec2, rtb_id):
    return sorted(destination_of(route) for route in route_table(ec2, rtb_id)["Routes"] if route["Origin"] == PROPAGATED)


ApiError = namedtuple("ApiError", "code status message")


def api_error(call, **kwargs):
    """Call the API expecting an error; return what the server answered."""
    with pytest.raises(ClientError) as excinfo:
        call(**kwargs)
    response = excinfo.value.response
    return ApiError(response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"])


def destination_kwargs(destination):
    key = "DestinationIpv6CidrBlock" if ":" in destination else "DestinationCidrBlock"
    return {key: destination}


def route_via_eni(ec2, rtb_id, destination, eni_id):
    ec2.create_route(RouteTableId=rtb_id, NetworkInterfaceId=eni_id, **destination_kwargs(destination))


def second_appliance_eni(ec2, world):
    return ec2.create_network_interface(SubnetId=world.public_subnet_id)["NetworkInterface"]["NetworkInterfaceId"]


def static_route(ec2, rtb_id, destination):
    (route,) = [route for route in routes_to(ec2, rtb_id, destination) if route["Origin"] == STATIC]
    return route


# --------------------------------------------------------------------------- the reference world


def test_world_has_the_reference_topology(ec2, lz_world):
    vpc = ec2.describe_vpcs(VpcIds=[lz_world.vpc_id])["Vpcs"][0]
    assert vpc["CidrBlock"] == "198.18.0.0/16"
    assert vpc["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"] == lz_world.vpc_ipv6_cidr
    subnets = {subnet["SubnetId"]: subnet for subnet in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [lz_world.vpc_id]}])["Subnets"]}
    assert subnets[lz_world.public_subnet_id]["CidrBlock"] == "198.18.1.0/24"
    assert subnets[lz_world.prod_subnet_id]["CidrBlock"] == "198.18.2.0/24"
    assert subnets[lz_world.probe_subnet_id]["CidrBlock"] == "198.18.3.0/24"
    assert {subnet["AvailabilityZone"] for subnet in subnets.values()} == {lz_world.availability_zone}
    for rtb_id, subnet_id in ((lz_world.prod_rtb_id, lz_world.prod_subnet_id), (lz_world.probe_rtb_id, lz_world.probe_subnet_id)):
        assert [assoc["SubnetId"] for assoc in route_table(ec2, rtb_id)["Associations"]] == [subnet_id]
    vgw = ec2.describe_vpn_gateways(VpnGatewayIds=[lz_world.vgw_id])["VpnGateways"][0]
    assert vgw["VpcAttachments"] == [{"VpcId": lz_world.vpc_id, "State": "attached"}]
    assert lz_world.learned() == list(ONPREM_CIDRS)


def test_world_vpn_appliance_eni_is_tagged_and_forwards(ec2, lz_world):
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[lz_world.vpn_eni_id])["NetworkInterfaces"][0]
    assert eni["SubnetId"] == lz_world.public_subnet_id
    assert eni["PrivateIpAddress"] == lz_world.vpn_eni_ip
    assert eni["SourceDestCheck"] is False
    assert {"Key": "localzones.failover/role", "Value": "vpn-appliance"} in eni["TagSet"]


def test_modify_source_dest_check_round_trips(ec2, lz_world):
    ec2.modify_network_interface_attribute(NetworkInterfaceId=lz_world.vpn_eni_id, SourceDestCheck={"Value": True})
    attribute = ec2.describe_network_interface_attribute(NetworkInterfaceId=lz_world.vpn_eni_id, Attribute="sourceDestCheck")
    assert attribute["SourceDestCheck"] == {"Value": True}


# --------------------------------------------------------------------------- CreateRoute duplicates


@pytest.mark.parametrize("destination", [ONPREM_V4, ONPREM_V6])
def test_duplicate_eni_route_is_rejected_and_keeps_the_first_target(ec2, lz_world, destination):
    route_via_eni(ec2, lz_world.prod_rtb_id, destination, lz_world.vpn_eni_id)
    other_eni = second_appliance_eni(ec2, lz_world)

    error = api_error(
        ec2.create_route, RouteTableId=lz_world.prod_rtb_id, NetworkInterfaceId=other_eni, **destination_kwargs(destination))

    assert (error.code, error.status) == ("RouteAlreadyExists", 400)
    assert destination in error.message
    assert static_route(ec2, lz_world.prod_rtb_id, destination)["NetworkInterfaceId"] == lz_world.vpn_eni_id


@pytest.mark.parametrize("destination", ["198.19.7.0/24", "2001:db8:700::/56"])
def test_duplicate_gateway_route_is_rejected(ec2, lz_world, destination):
    ec2.create_route(RouteTableId=lz_world.prod_rtb_id, GatewayId=lz_world.vgw_id, **destination_kwargs(destination))

    error = api_error(ec2.create_route, RouteTableId=lz_world.prod_rtb_id, GatewayId=lz_world.vgw_id, **destination_kwargs(destination))

    assert (error.code, error.status) == ("RouteAlreadyExists", 400)
    assert len(routes_to(ec2, lz_world.prod_rtb_id, destination)) == 1


def test_duplicate_across_target_kinds_is_rejected(ec2, lz_world):
    ec2.create_route(RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock="198.19.7.0/24", GatewayId=lz_world.vgw_id)

    error = api_error(ec2.create_route, RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock="198.19.7.0/24", NetworkInterfaceId=lz_world.vpn_eni_id)

    assert error.code == "RouteAlreadyExists"
    assert static_route(ec2, lz_world.prod_rtb_id, "198.19.7.0/24")["GatewayId"] == lz_world.vgw_id


def test_ipv6_duplicate_is_found_whatever_the_spelling(ec2, lz_world):
    route_via_eni(ec2, lz_world.prod_rtb_id, ONPREM_V6, lz_world.vpn_eni_id)

    error = api_error(
        ec2.create_route, RouteTableId=lz_world.prod_rtb_id, DestinationIpv6CidrBlock="2001:DB8:100:0::/56", NetworkInterfaceId=lz_world.vpn_eni_id)

    assert error.code == "RouteAlreadyExists"


@pytest.mark.parametrize("which", ["ipv4", "ipv6"])
def test_route_for_the_local_destination_is_rejected(ec2, lz_world, which):
    destination = lz_world.vpc_cidr if which == "ipv4" else lz_world.vpc_ipv6_cidr

    error = api_error(ec2.create_route, RouteTableId=lz_world.prod_rtb_id, NetworkInterfaceId=lz_world.vpn_eni_id, **destination_kwargs(destination))

    assert error.code == "RouteAlreadyExists"
    assert [(route["GatewayId"], route["Origin"]) for route in routes_to(ec2, lz_world.prod_rtb_id, destination)] == [("local", "CreateRouteTable")]


def test_invalid_ipv4_destination_is_rejected_for_an_eni_target(ec2, lz_world):
    error = api_error(ec2.create_route, RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock="198.19.0.0/33", NetworkInterfaceId=lz_world.vpn_eni_id)

    assert (error.code, error.status) == ("InvalidParameterValue", 400)


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


def rtb_ids_matching(ec2, *filters):
    return sorted(table["RouteTableId"] for table in ec2.describe_route_tables(Filters=list(filters))["RouteTables"])


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


# --------------------------------------------------------------------------- DeleteRoute / ReplaceRoute


@pytest.mark.parametrize("destination", [ONPREM_V4, ONPREM_V6])
def test_delete_of_a_propagated_only_destination_is_not_found(ec2, lz_world, destination):
    error = api_error(ec2.delete_route, RouteTableId=lz_world.prod_rtb_id, **destination_kwargs(destination))

    assert (error.code, error.status) == ("InvalidRoute.NotFound", 400)
    assert origins_to(ec2, lz_world.prod_rtb_id, destination) == [PROPAGATED]


@pytest.mark.parametrize("destination", [ONPREM_V4, ONPREM_V6])
def test_replace_of_a_propagated_only_destination_is_refused(ec2, lz_world, destination):
    error = api_error(
        ec2.replace_route, RouteTableId=lz_world.prod_rtb_id, NetworkInterfaceId=lz_world.vpn_eni_id, **destination_kwargs(destination))

    assert (error.code, error.status) == ("InvalidParameterValue", 400)
    (route,) = routes_to(ec2, lz_world.prod_rtb_id, destination)
    assert (route["Origin"], route["GatewayId"]) == (PROPAGATED, lz_world.vgw_id)


@pytest.mark.parametrize("destination", [ONPREM_V4, ONPREM_V6])
def test_delete_removes_only_the_static_route(ec2, lz_world, destination):
    route_via_eni(ec2, lz_world.prod_rtb_id, destination, lz_world.vpn_eni_id)

    ec2.delete_route(RouteTableId=lz_world.prod_rtb_id, **destination_kwargs(destination))

    assert origins_to(ec2, lz_world.prod_rtb_id, destination) == [PROPAGATED]


def test_replace_changes_only_the_static_route(ec2, lz_world):
    route_via_eni(ec2, lz_world.prod_rtb_id, ONPREM_V4, lz_world.vpn_eni_id)
    other_eni = second_appliance_eni(ec2, lz_world)

    ec2.replace_route(RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock=ONPREM_V4, NetworkInterfaceId=other_eni)

    assert static_route(ec2, lz_world.prod_rtb_id, ONPREM_V4)["NetworkInterfaceId"] == other_eni
    (propagated,) = [route for route in routes_to(ec2, lz_world.prod_rtb_id, ONPREM_V4) if route["Origin"] == PROPAGATED]
    assert propagated["GatewayId"] == lz_world.vgw_id


def test_local_route_cannot_be_deleted(ec2, lz_world):
    error = api_error(ec2.delete_route, RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock=lz_world.vpc_cidr)

    assert (error.code, error.status) == ("InvalidParameterValue", 400)
    assert origins_to(ec2, lz_world.prod_rtb_id, lz_world.vpc_cidr) == ["CreateRouteTable"]


# --------------------------------------------------------------------------- other EC2 checks on the failover path


def test_static_route_origin_is_create_route(ec2, lz_world):
    route_via_eni(ec2, lz_world.prod_rtb_id, ONPREM_V4, lz_world.vpn_eni_id)

    route = static_route(ec2, lz_world.prod_rtb_id, ONPREM_V4)
    assert (route["Origin"], route["State"]) == (STATIC, "active")
    assert [route["Origin"] for route in routes_to(ec2, lz_world.prod_rtb_id, lz_world.vpc_cidr)] == ["CreateRouteTable"]


def test_create_route_to_an_eni_of_another_vpc_is_refused(ec2, lz_world):
    error = api_error(ec2.create_route, RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock="198.19.9.0/24", NetworkInterfaceId=lz_world.other_eni_id)

    assert (error.code, error.status) == ("InvalidParameterValue", 400)
    assert "belong to different networks" in error.message
    assert routes_to(ec2, lz_world.prod_rtb_id, "198.19.9.0/24") == []


def test_replace_route_to_an_eni_of_another_vpc_is_refused(ec2, lz_world):
    route_via_eni(ec2, lz_world.prod_rtb_id, ONPREM_V4, lz_world.vpn_eni_id)

    error = api_error(ec2.replace_route, RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock=ONPREM_V4, NetworkInterfaceId=lz_world.other_eni_id)

    assert error.code == "InvalidParameterValue"
    assert "belong to different networks" in error.message
    assert static_route(ec2, lz_world.prod_rtb_id, ONPREM_V4)["NetworkInterfaceId"] == lz_world.vpn_eni_id


def test_create_route_to_a_vgw_of_another_vpc_is_refused(ec2, lz_world):
    error = api_error(ec2.create_route, RouteTableId=lz_world.other_rtb_id, DestinationCidrBlock="198.19.9.0/24", GatewayId=lz_world.vgw_id)

    assert error.code == "InvalidParameterValue"
    assert "belong to different networks" in error.message


def test_route_to_a_deleted_eni_is_a_blackhole(ec2, lz_world):
    doomed_eni = second_appliance_eni(ec2, lz_world)
    route_via_eni(ec2, lz_world.prod_rtb_id, ONPREM_V4, doomed_eni)

    ec2.delete_network_interface(NetworkInterfaceId=doomed_eni)

    route = static_route(ec2, lz_world.prod_rtb_id, ONPREM_V4)
    assert (route["State"], route["NetworkInterfaceId"]) == ("blackhole", doomed_eni)
    assert rtb_ids_matching(ec2, {"Name": "route.state", "Values": ["blackhole"]}) == [lz_world.prod_rtb_id]


def test_static_route_to_a_detached_vgw_is_a_blackhole(ec2, lz_world):
    ec2.create_route(RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock="198.19.7.0/24", GatewayId=lz_world.vgw_id)

    ec2.detach_vpn_gateway(VpcId=lz_world.vpc_id, VpnGatewayId=lz_world.vgw_id)

    assert static_route(ec2, lz_world.prod_rtb_id, "198.19.7.0/24")["State"] == "blackhole"


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


def test_control_health(ec2_endpoint):
    assert http_json("GET", f"{ec2_endpoint}/_fidelity/health") == (200, {"status": "ok"})


def test_control_addresses_vgws_by_region(ec2, ec2_endpoint):
    west = ec2_client(ec2_endpoint, region="us-west-2")
    vgw_id = west.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]

    assert put_learned_prefixes(ec2_endpoint, vgw_id, ["198.19.3.0/24"], region="us-west-2") == ["198.19.3.0/24"]
    assert http_json("GET", learned_prefixes_url(ec2_endpoint, vgw_id))[0] == 404
    assert ec2.describe_vpn_gateways()["VpnGateways"] == []


def test_in_process_api_shares_state_with_the_server(ec2, lz_world):
    ec2_fidelity.set_vgw_learned_prefixes(lz_world.vgw_id, ["198.19.5.0/24"])

    assert propagated_destinations(ec2, lz_world.prod_rtb_id) == ["198.19.5.0/24"]
    assert lz_world.learned() == ["198.19.5.0/24"]
    assert ec2_fidelity.get_vgw_learned_prefixes(lz_world.vgw_id) == ["198.19.5.0/24"]


def test_in_process_api_errors(lz_world):
    with pytest.raises(LookupError):
        ec2_fidelity.set_vgw_learned_prefixes("vgw-0123456789abcdef0", [])
    with pytest.raises(ValueError):
        ec2_fidelity.set_vgw_learned_prefixes(lz_world.vgw_id, ["198.19.0.1/24"])


def test_install_is_idempotent(ec2, lz_world):
    ec2_fidelity.install()
    ec2_fidelity.install()

    route_via_eni(ec2, lz_world.prod_rtb_id, ONPREM_V4, lz_world.vpn_eni_id)
    error = api_error(ec2.create_route, RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock=ONPREM_V4, NetworkInterfaceId=lz_world.vpn_eni_id)
    assert error.code == "RouteAlreadyExists"
    assert origins_to(ec2, lz_world.prod_rtb_id, ONPREM_V4) == [STATIC, PROPAGATED]


# --------------------------------------------------------------------------- command line


def test_cli_serves_until_sigterm(ec2_endpoint):  # the fixture provides the dummy credentials
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, os.path.join(REPO_ROOT, "tools", "ec2_fidelity.py"), "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url != ec2_endpoint

        vpc_id = ec2_client(url).create_vpc(CidrBlock="198.18.0.0/16")["Vpc"]["VpcId"]
        rtb_id = ec2_client(url).create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
        assert route_table(ec2_client(url), rtb_id)["PropagatingVgws"] == []
        assert http_json("GET", f"{url}/_fidelity/health")[0] == 200

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
