# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lz_route_failover and lz_route_failover_info with route_strategy prefix_list, in-process against the EC2 endpoint.

Each test builds one reference world (a few seconds on a loaded machine), so a
test follows a whole story: the calls each step makes are counted by the endpoint.
"""

from __future__ import annotations

import pytest

from ansible_collections.localzones.failover.plugins.module_utils.errors import RouteConflictError
from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError
from ansible_collections.localzones.failover.plugins.modules import lz_route_failover
from ansible_collections.localzones.failover.plugins.modules import lz_route_failover_info
from harness.monitor import route_changing_requests
from harness.monitor import static_routes
from tests.support.module_doubles import RecordingModule

pytestmark = pytest.mark.moto

ONPREM = "198.19.0.0/24"
ONPREM_B = "198.19.1.0/24"
DESTINATIONS = [ONPREM, ONPREM_B]


def prefix_list(ec2, cidrs):
    created = ec2.create_managed_prefix_list(
        PrefixListName="on-prem", AddressFamily="IPv4", MaxEntries=len(cidrs), Entries=[{"Cidr": cidr} for cidr in cidrs],
        TagSpecifications=[{"ResourceType": "prefix-list", "Tags": [{"Key": "localzones.failover/role", "Value": "on-prem-destinations"}]}],
    )
    return created["PrefixList"]["PrefixListId"]


def options(world, path=None, **extra):
    params = {"route_table_ids": [world.prod_rtb_id], "destination_cidrs": DESTINATIONS, "vpn_eni_id": world.vpn_eni_id, "path": path}
    params.update(extra)
    return params


def run(module_under_test, ec2, params, **mode):
    module = RecordingModule(params, ec2, **mode)
    module_under_test.run(module)
    return module


def cidr_static_routes(ec2, rtb_id):
    return {destination: target for destination, target in static_routes(ec2, rtb_id).items() if destination}


def prefix_list_targets(ec2, rtb_id):
    table = ec2.describe_route_tables(RouteTableIds=[rtb_id])["RouteTables"][0]
    return {route["DestinationPrefixListId"]: route.get("NetworkInterfaceId") for route in table["Routes"] if "DestinationPrefixListId" in route}


def calls_made(world, before):
    after = route_changing_requests(world.endpoint_url)
    return {action: after[action] - before[action] for action in after}


def test_switching_to_prefix_list_converges_with_one_route_and_returns_to_dx(ec2, lz_world):
    pl_id = prefix_list(ec2, DESTINATIONS)
    listed = {"route_strategy": "prefix_list", "prefix_list_id": pl_id}
    rtb = lz_world.prod_rtb_id
    run(lz_route_failover, ec2, options(lz_world, "vpn"))
    assert static_routes(ec2, rtb) == {ONPREM: lz_world.vpn_eni_id, ONPREM_B: lz_world.vpn_eni_id}

    before = route_changing_requests(lz_world.endpoint_url)
    planned = run(lz_route_failover, ec2, options(lz_world, "vpn", **listed), check_mode=True, diff=True).result
    assert calls_made(lz_world, before) == {"CreateRoute": 0, "ReplaceRoute": 0, "DeleteRoute": 0}, "check mode calls nothing"
    expected = [("create", pl_id), ("delete", ONPREM), ("delete", ONPREM_B)]
    assert [(action["action"], action.get("destination_prefix_list_id") or action["destination_cidr"]) for action in planned["actions"]] == expected
    assert planned["diff"]["after"][rtb] == {cidr: "%s (prefix list %s)" % (lz_world.vpn_eni_id, pl_id) for cidr in DESTINATIONS}

    switched = run(lz_route_failover, ec2, options(lz_world, "vpn", **listed)).result
    # The prefix-list route is in before the first static route goes: the table never leaves the VPN.
    assert [(action["action"], action["outcome"]) for action in switched["actions"]] == [("create", "done"), ("delete", "done"), ("delete", "done")]
    assert [(table["previous_path"], table["active_path"]) for table in switched["route_tables"]] == [("vpn", "vpn")]
    assert (cidr_static_routes(ec2, rtb), prefix_list_targets(ec2, rtb)) == ({}, {pl_id: lz_world.vpn_eni_id})
    assert run(lz_route_failover, ec2, options(lz_world, "vpn", **listed)).result["changed"] is False

    info = run(lz_route_failover_info, ec2, options(lz_world, **listed)).result
    assert [entry["path"] for entry in info["route_tables"][0]["destinations"]] == ["vpn", "vpn"]
    per_route_view = run(lz_route_failover_info, ec2, options(lz_world))
    assert per_route_view.result["route_tables"][0]["active_path"] == "dx"
    assert any("per_route never changes it" in warning for warning in per_route_view.warnings)

    back = run(lz_route_failover, ec2, options(lz_world, "dx", **listed)).result
    assert [action["action"] for action in back["actions"]] == ["delete"]
    assert prefix_list_targets(ec2, rtb) == {} and back["route_tables"][0]["active_path"] == "dx"


def test_a_list_that_differs_or_a_foreign_route_to_it_changes_nothing(ec2, lz_world):
    rtb = lz_world.prod_rtb_id
    wider = prefix_list(ec2, DESTINATIONS + ["198.19.9.0/24"])
    before = route_changing_requests(lz_world.endpoint_url)
    with pytest.raises(ValidationError) as invalid:
        run(lz_route_failover, ec2,
            options(lz_world, "vpn", route_strategy="prefix_list", prefix_list_id=wider, destination_cidrs=[ONPREM, "2001:db8:100::/56"]))
    problems = invalid.value.problems
    assert any("does not hold 2001:db8:100::/56" in problem for problem in problems)
    assert any("holds 198.19.1.0/24, 198.19.9.0/24, which destination_cidrs does not list" in problem for problem in problems)
    assert any("is an IPv4 list but destination_cidrs has 2001:db8:100::/56" in problem for problem in problems)

    exact = prefix_list(ec2, DESTINATIONS)
    ec2.create_route(RouteTableId=rtb, DestinationPrefixListId=exact, GatewayId=lz_world.vgw_id)
    with pytest.raises(RouteConflictError) as conflict:
        run(lz_route_failover, ec2, options(lz_world, "vpn", route_strategy="prefix_list", prefix_list_id=exact))
    assert conflict.value.details["conflicts"] == [
        {"route_table_id": rtb, "destination_prefix_list_id": exact, "target": lz_world.vgw_id, "state": "active"}]
    assert calls_made(lz_world, before) == {"CreateRoute": 1, "ReplaceRoute": 0, "DeleteRoute": 0}, "only the test's own foreign route"
    assert prefix_list_targets(ec2, rtb) == {exact: None}
