# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Static routes (tools/endpoint/routes.py): CreateRoute duplicates, ReplaceRoute and DeleteRoute, same-network targets, blackholes.

Every assertion reads what the server answers, so each test fails on plain moto wherever moto and EC2 differ.
"""

from __future__ import annotations

import pytest

from tests.unit.tools.endpoint.ec2_calls import ONPREM_V4
from tests.unit.tools.endpoint.ec2_calls import ONPREM_V6
from tests.unit.tools.endpoint.ec2_calls import PROPAGATED
from tests.unit.tools.endpoint.ec2_calls import STATIC
from tests.unit.tools.endpoint.ec2_calls import api_error
from tests.unit.tools.endpoint.ec2_calls import destination_kwargs
from tests.unit.tools.endpoint.ec2_calls import origins_to
from tests.unit.tools.endpoint.ec2_calls import route_via_eni
from tests.unit.tools.endpoint.ec2_calls import route_table
from tests.unit.tools.endpoint.ec2_calls import routes_to
from tests.unit.tools.endpoint.ec2_calls import rtb_ids_matching
from tests.unit.tools.endpoint.ec2_calls import second_appliance_eni
from tests.unit.tools.endpoint.ec2_calls import static_route

pytestmark = pytest.mark.moto


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


@pytest.mark.parametrize("call", ["delete_route", "replace_route"])
def test_an_ipv6_cidr_given_as_destination_cidr_block_is_refused(ec2, lz_world, call):
    """EC2 takes only IPv4 in DestinationCidrBlock; moto finds the IPv6 route and acts on it."""
    route_via_eni(ec2, lz_world.prod_rtb_id, ONPREM_V6, lz_world.vpn_eni_id)
    new_target = {"NetworkInterfaceId": second_appliance_eni(ec2, lz_world)} if call == "replace_route" else {}

    error = api_error(getattr(ec2, call), RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock=ONPREM_V6, **new_target)

    assert (error.code, error.status) == ("InvalidParameterValue", 400)
    assert static_route(ec2, lz_world.prod_rtb_id, ONPREM_V6)["NetworkInterfaceId"] == lz_world.vpn_eni_id


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


def test_route_to_a_terminated_instance_is_a_blackhole(ec2, lz_world):
    instance_id = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.medium",
                                    SubnetId=lz_world.public_subnet_id)["Instances"][0]["InstanceId"]
    ec2.create_route(RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock=ONPREM_V4, InstanceId=instance_id)
    assert static_route(ec2, lz_world.prod_rtb_id, ONPREM_V4)["State"] == "active"

    ec2.terminate_instances(InstanceIds=[instance_id])

    route = static_route(ec2, lz_world.prod_rtb_id, ONPREM_V4)
    assert (route["State"], route["InstanceId"]) == ("blackhole", instance_id)


# --------------------------------------------------------------------------- routes to a prefix list


def on_prem_prefix_list(ec2, cidrs=(ONPREM_V4,)):
    created = ec2.create_managed_prefix_list(
        PrefixListName="on-prem", AddressFamily="IPv4", MaxEntries=len(cidrs), Entries=[{"Cidr": cidr} for cidr in cidrs])
    return created["PrefixList"]["PrefixListId"]


def prefix_list_routes(ec2, rtb_id):
    return [route for route in route_table(ec2, rtb_id)["Routes"] if "DestinationPrefixListId" in route]


def test_route_to_a_prefix_list_via_an_eni_is_listed_and_unique_like_on_ec2(ec2, lz_world):
    # One world for the three answers of CreateRoute: the endpoint's tests are a large part of CI's time.
    prefix_list_id = on_prem_prefix_list(ec2)
    unknown = api_error(ec2.create_route, RouteTableId=lz_world.prod_rtb_id, DestinationPrefixListId="pl-0123456789abcdef0",
                        NetworkInterfaceId=lz_world.vpn_eni_id)

    ec2.create_route(RouteTableId=lz_world.prod_rtb_id, DestinationPrefixListId=prefix_list_id, NetworkInterfaceId=lz_world.vpn_eni_id)
    duplicate = api_error(ec2.create_route, RouteTableId=lz_world.prod_rtb_id, DestinationPrefixListId=prefix_list_id,
                          NetworkInterfaceId=second_appliance_eni(ec2, lz_world))

    (route,) = prefix_list_routes(ec2, lz_world.prod_rtb_id)
    assert {key: route.get(key) for key in ("DestinationPrefixListId", "NetworkInterfaceId", "Origin", "State")} == {
        "DestinationPrefixListId": prefix_list_id, "NetworkInterfaceId": lz_world.vpn_eni_id, "Origin": STATIC, "State": "active"}
    assert "DestinationCidrBlock" not in route
    assert (unknown.code, unknown.status) == ("InvalidPrefixListID.NotFound", 400)
    assert (duplicate.code, duplicate.status) == ("RouteAlreadyExists", 400)


def test_route_to_a_prefix_list_is_replaced_deleted_and_then_not_found(ec2, lz_world):
    prefix_list_id = on_prem_prefix_list(ec2)
    rtb_id, other_eni = lz_world.prod_rtb_id, second_appliance_eni(ec2, lz_world)
    ec2.create_route(RouteTableId=rtb_id, DestinationPrefixListId=prefix_list_id, NetworkInterfaceId=lz_world.vpn_eni_id)

    ec2.replace_route(RouteTableId=rtb_id, DestinationPrefixListId=prefix_list_id, NetworkInterfaceId=other_eni)
    assert [route["NetworkInterfaceId"] for route in prefix_list_routes(ec2, rtb_id)] == [other_eni]

    ec2.delete_route(RouteTableId=rtb_id, DestinationPrefixListId=prefix_list_id)
    assert prefix_list_routes(ec2, rtb_id) == []
    assert api_error(ec2.delete_route, RouteTableId=rtb_id, DestinationPrefixListId=prefix_list_id).code == "InvalidRoute.NotFound"
    replaced = api_error(ec2.replace_route, RouteTableId=rtb_id, DestinationPrefixListId=prefix_list_id, NetworkInterfaceId=other_eni)
    assert (replaced.code, replaced.status) == ("InvalidParameterValue", 400)


def test_route_to_a_prefix_list_via_a_deleted_eni_is_a_blackhole(ec2, lz_world):
    prefix_list_id, doomed_eni = on_prem_prefix_list(ec2), second_appliance_eni(ec2, lz_world)
    ec2.create_route(RouteTableId=lz_world.prod_rtb_id, DestinationPrefixListId=prefix_list_id, NetworkInterfaceId=doomed_eni)

    ec2.delete_network_interface(NetworkInterfaceId=doomed_eni)

    assert [route["State"] for route in prefix_list_routes(ec2, lz_world.prod_rtb_id)] == ["blackhole"]
