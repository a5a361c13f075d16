"""The route core (read, validate, plan, apply) against the EC2 fidelity endpoint."""

from __future__ import annotations

import boto3
import botocore.config
import pytest

from ansible_collections.localzones.failover.plugins.module_utils.aws.calls import retry_config
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import apply_plan
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import load_snapshot
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import read_route_tables
from ansible_collections.localzones.failover.plugins.module_utils.errors import AwsApiError
from ansible_collections.localzones.failover.plugins.module_utils.errors import RouteConflictError
from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError
from ansible_collections.localzones.failover.plugins.module_utils.routes import plan_routes

ONPREM = "198.19.0.0/24"
ONPREM6 = "2001:db8:100::/56"


def routes_for(ec2, rtb_id, destination):
    """(origin, target) of every route for ``destination``, straight from DescribeRouteTables."""
    table = ec2.describe_route_tables(RouteTableIds=[rtb_id])["RouteTables"][0]
    found = []
    for route in table["Routes"]:
        if destination in (route.get("DestinationCidrBlock"), route.get("DestinationIpv6CidrBlock")):
            found.append((route["Origin"], route.get("NetworkInterfaceId") or route.get("GatewayId")))
    return sorted(found)


def switch(ec2, world, path, destinations=(ONPREM,), route_table_ids=None):
    snapshot = load_snapshot(ec2, route_table_ids or [world.prod_rtb_id], list(destinations), world.vpn_eni_id, world.probe_rtb_id)
    plan = plan_routes(snapshot.tables, snapshot.destinations, path, snapshot.ownership)
    return plan, apply_plan(ec2, plan)


def create_foreign_eni(ec2, world):
    return ec2.create_network_interface(SubnetId=world.public_subnet_id)["NetworkInterface"]["NetworkInterfaceId"]


def test_snapshot_reads_propagated_routes_and_ownership(ec2, lz_world):
    snapshot = load_snapshot(ec2, [lz_world.prod_rtb_id], [ONPREM, ONPREM6], lz_world.vpn_eni_id, lz_world.probe_rtb_id)
    table = snapshot.tables[0]
    assert table.propagating_vgws == (lz_world.vgw_id,)
    assert [route.target for route in table.propagated_routes(ONPREM)] == [lz_world.vgw_id]
    assert lz_world.vpn_eni_id in snapshot.ownership.appliance_eni_ids
    assert snapshot.warnings == ()


def test_failover_and_failback_round_trip(ec2, lz_world):
    plan, outcomes = switch(ec2, lz_world, "vpn", [ONPREM, ONPREM6])
    assert [(o.action.action, o.outcome) for o in outcomes] == [("create", "done"), ("create", "done")]
    assert routes_for(ec2, lz_world.prod_rtb_id, ONPREM) == [("CreateRoute", lz_world.vpn_eni_id), ("EnableVgwRoutePropagation", lz_world.vgw_id)]
    assert routes_for(ec2, lz_world.prod_rtb_id, ONPREM6) == [("CreateRoute", lz_world.vpn_eni_id), ("EnableVgwRoutePropagation", lz_world.vgw_id)]
    assert routes_for(ec2, lz_world.probe_rtb_id, ONPREM) == [("EnableVgwRoutePropagation", lz_world.vgw_id)], "probe table must not change"

    again, outcomes = switch(ec2, lz_world, "vpn", [ONPREM, ONPREM6])
    assert not again.changed and outcomes == []

    plan, outcomes = switch(ec2, lz_world, "dx", [ONPREM, ONPREM6])
    assert [o.action.action for o in outcomes] == ["delete", "delete"]
    assert routes_for(ec2, lz_world.prod_rtb_id, ONPREM) == [("EnableVgwRoutePropagation", lz_world.vgw_id)]
    assert routes_for(ec2, lz_world.prod_rtb_id, ONPREM6) == [("EnableVgwRoutePropagation", lz_world.vgw_id)]
    assert not switch(ec2, lz_world, "dx", [ONPREM, ONPREM6])[0].changed


def test_failover_works_while_dx_routes_are_withdrawn(ec2, lz_world):
    lz_world.set_learned([])
    _plan, outcomes = switch(ec2, lz_world, "vpn")
    assert [o.outcome for o in outcomes] == ["done"]
    assert routes_for(ec2, lz_world.prod_rtb_id, ONPREM) == [("CreateRoute", lz_world.vpn_eni_id)]


def test_route_of_a_replaced_appliance_moves_to_the_new_one(ec2, lz_world):
    new_eni = create_foreign_eni(ec2, lz_world)
    ec2.create_tags(Resources=[new_eni], Tags=[{"Key": "localzones.failover/role", "Value": "vpn-appliance"}])
    ec2.create_route(RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock=ONPREM, NetworkInterfaceId=lz_world.vpn_eni_id)

    snapshot = load_snapshot(ec2, [lz_world.prod_rtb_id], [ONPREM], new_eni)
    plan = plan_routes(snapshot.tables, snapshot.destinations, "vpn", snapshot.ownership)
    assert [(a.action, a.previous_target, a.target) for a in plan.actions] == [("replace", lz_world.vpn_eni_id, new_eni)]
    apply_plan(ec2, plan)
    assert routes_for(ec2, lz_world.prod_rtb_id, ONPREM) == [("CreateRoute", new_eni), ("EnableVgwRoutePropagation", lz_world.vgw_id)]


def test_foreign_route_in_one_table_changes_nothing_anywhere(ec2, lz_world):
    second_rtb = ec2.create_route_table(VpcId=lz_world.vpc_id)["RouteTable"]["RouteTableId"]
    foreign_eni = create_foreign_eni(ec2, lz_world)
    ec2.create_route(RouteTableId=second_rtb, DestinationCidrBlock=ONPREM, NetworkInterfaceId=foreign_eni)

    with pytest.raises(RouteConflictError) as caught:
        switch(ec2, lz_world, "vpn", route_table_ids=[lz_world.prod_rtb_id, second_rtb])
    assert foreign_eni in caught.value.message and second_rtb in caught.value.message
    assert routes_for(ec2, lz_world.prod_rtb_id, ONPREM) == [("EnableVgwRoutePropagation", lz_world.vgw_id)]
    assert routes_for(ec2, second_rtb, ONPREM) == [("CreateRoute", foreign_eni)]

    with pytest.raises(RouteConflictError):
        switch(ec2, lz_world, "dx", route_table_ids=[second_rtb])
    assert routes_for(ec2, second_rtb, ONPREM) == [("CreateRoute", foreign_eni)], "a foreign route is never deleted"


def test_every_validation_problem_is_reported_at_once(ec2, lz_world):
    with pytest.raises(ValidationError) as caught:
        load_snapshot(ec2, [lz_world.prod_rtb_id, lz_world.other_rtb_id, "rtb-0000000000000dead"], [ONPREM, "198.18.2.0/24"], lz_world.vpn_eni_id,
                      "rtb-0000000000000beef")
    text = caught.value.message
    assert "rtb-0000000000000dead" in text and "not found" in text
    assert "probe_route_table_id rtb-0000000000000beef not found" in text
    assert lz_world.other_rtb_id in text and lz_world.other_vpc_id in text
    assert "198.18.2.0/24 overlaps 198.18.0.0/16" in text
    assert len(caught.value.problems) == 4


def test_an_unknown_interface_allows_failback_only(ec2, lz_world):
    """A deleted appliance's routes must still be removable, so a missing interface only refuses the VPN path."""
    snapshot = load_snapshot(ec2, [lz_world.prod_rtb_id], [ONPREM], "eni-0000000000000dead")
    assert any("vpn_eni_id eni-0000000000000dead not found in us-east-1" in warning for warning in snapshot.warnings)
    assert not plan_routes(snapshot.tables, snapshot.destinations, "dx", snapshot.ownership).actions
    with pytest.raises(ValidationError, match="vpn_eni_id eni-0000000000000dead does not exist in us-east-1"):
        plan_routes(snapshot.tables, snapshot.destinations, "vpn", snapshot.ownership)


def test_warnings_for_source_dest_check_and_probe_table_route(ec2, lz_world):
    ec2.modify_network_interface_attribute(NetworkInterfaceId=lz_world.vpn_eni_id, SourceDestCheck={"Value": True})
    ec2.create_route(RouteTableId=lz_world.probe_rtb_id, DestinationCidrBlock=ONPREM, NetworkInterfaceId=lz_world.vpn_eni_id)
    snapshot = load_snapshot(ec2, [lz_world.prod_rtb_id], [ONPREM], lz_world.vpn_eni_id, lz_world.probe_rtb_id)
    assert any("source/destination check is enabled" in warning for warning in snapshot.warnings)
    assert any("probes there do not measure Direct Connect" in warning for warning in snapshot.warnings)


def test_create_race_that_already_reached_the_goal_is_not_an_error(ec2, lz_world):
    snapshot = load_snapshot(ec2, [lz_world.prod_rtb_id], [ONPREM], lz_world.vpn_eni_id)
    plan = plan_routes(snapshot.tables, snapshot.destinations, "vpn", snapshot.ownership)
    ec2.create_route(RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock=ONPREM, NetworkInterfaceId=lz_world.vpn_eni_id)
    assert [o.outcome for o in apply_plan(ec2, plan)] == ["already-done"]


def test_create_race_lost_to_a_foreign_route_is_a_conflict(ec2, lz_world):
    snapshot = load_snapshot(ec2, [lz_world.prod_rtb_id], [ONPREM], lz_world.vpn_eni_id)
    plan = plan_routes(snapshot.tables, snapshot.destinations, "vpn", snapshot.ownership)
    foreign_eni = create_foreign_eni(ec2, lz_world)
    ec2.create_route(RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock=ONPREM, NetworkInterfaceId=foreign_eni)
    with pytest.raises(RouteConflictError, match=foreign_eni):
        apply_plan(ec2, plan)
    assert routes_for(ec2, lz_world.prod_rtb_id, ONPREM) == [("CreateRoute", foreign_eni), ("EnableVgwRoutePropagation", lz_world.vgw_id)]


def test_delete_race_is_not_an_error(ec2, lz_world):
    switch(ec2, lz_world, "vpn")
    snapshot = load_snapshot(ec2, [lz_world.prod_rtb_id], [ONPREM], lz_world.vpn_eni_id)
    plan = plan_routes(snapshot.tables, snapshot.destinations, "dx", snapshot.ownership)
    ec2.delete_route(RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock=ONPREM)
    assert [o.outcome for o in apply_plan(ec2, plan)] == ["already-done"]


def test_a_plan_stopped_half_way_reports_what_already_ran(ec2, lz_world):
    second_rtb = ec2.create_route_table(VpcId=lz_world.vpc_id)["RouteTable"]["RouteTableId"]
    snapshot = load_snapshot(ec2, [lz_world.prod_rtb_id, second_rtb], [ONPREM], lz_world.vpn_eni_id)
    plan = plan_routes(snapshot.tables, snapshot.destinations, "vpn", snapshot.ownership)
    ec2.delete_route_table(RouteTableId=second_rtb)
    with pytest.raises(AwsApiError) as caught:
        apply_plan(ec2, plan)
    assert caught.value.code == "InvalidRouteTableID.NotFound"
    assert [o.action.route_table_id for o in caught.value.completed] == [lz_world.prod_rtb_id]


def test_read_route_tables_leaves_missing_ids_out(ec2, lz_world):
    found = read_route_tables(ec2, [lz_world.prod_rtb_id, "rtb-0000000000000dead"])
    assert list(found) == [lz_world.prod_rtb_id]


def test_unreachable_endpoint_is_an_api_error_not_a_crash(lz_world):
    client = boto3.client(
        "ec2",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=botocore.config.Config(**retry_config(max_attempts=2, connect_timeout=1, read_timeout=1)),
    )
    with pytest.raises(AwsApiError) as caught:
        load_snapshot(client, [lz_world.prod_rtb_id], [ONPREM], lz_world.vpn_eni_id)
    assert caught.value.code == "EndpointConnectionError"
