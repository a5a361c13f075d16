# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lz_route_failover where the tables change under it, in-process against the EC2 endpoint.

The appliance's interface deleted while on the VPN, a route call failing half-way
through a plan, and a route pointed elsewhere between the module's read and its
delete or replace. A few seconds in all.
"""

from __future__ import annotations

import pytest

from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import apply_plan
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import load_snapshot
from ansible_collections.localzones.failover.plugins.module_utils.aws.modules import run_or_fail
from ansible_collections.localzones.failover.plugins.module_utils.aws.pacing import Pacer
from ansible_collections.localzones.failover.plugins.module_utils.errors import FailoverError
from ansible_collections.localzones.failover.plugins.module_utils.errors import ValidationError
from ansible_collections.localzones.failover.plugins.module_utils.routes import PATH_DX
from ansible_collections.localzones.failover.plugins.module_utils.routes import PATH_VPN
from ansible_collections.localzones.failover.plugins.module_utils.routes import plan_routes
from ansible_collections.localzones.failover.plugins.modules import lz_route_failover
from harness.aws import VPN_APPLIANCE_TAG
from harness.aws import delete_faults
from harness.aws import get_fault_stats
from harness.aws import put_fault
from harness.monitor import route_changing_requests
from harness.monitor import static_routes
from tests.support.module_doubles import RecordingModule

pytestmark = pytest.mark.moto


class FailingModule(RecordingModule):
    """RecordingModule that also records ``fail_json``, as run_or_fail ends a failed run."""

    failure = None

    def fail_json(self, **failure):
        self.failure = failure


def options(world, path, tables=None, **extra):
    params = {"route_table_ids": tables or [world.prod_rtb_id], "destination_cidrs": list(world.onprem_cidrs), "vpn_eni_id": world.vpn_eni_id, "path": path}
    params.update(extra)
    return params


def run(ec2, params):
    module = RecordingModule(params, ec2)
    lz_route_failover.run(module)
    return module


def new_eni(ec2, world, tagged):
    tags = [{"ResourceType": "network-interface", "Tags": [VPN_APPLIANCE_TAG]}] if tagged else []
    return ec2.create_network_interface(SubnetId=world.public_subnet_id, TagSpecifications=tags)["NetworkInterface"]["NetworkInterfaceId"]


def route_states(ec2, rtb_id):
    table = ec2.describe_route_tables(RouteTableIds=[rtb_id])["RouteTables"][0]
    return {route.get("DestinationCidrBlock") or route.get("DestinationIpv6CidrBlock"): route["State"]
            for route in table["Routes"] if route.get("Origin") == "CreateRoute"}


# --------------------------------------------------------------------------- case 1: the appliance's interface deleted


def test_failback_removes_the_routes_to_a_deleted_vpn_interface_and_failover_to_it_is_refused(ec2, lz_world):
    rtb = lz_world.prod_rtb_id
    run(ec2, options(lz_world, "vpn"))
    ec2.delete_network_interface(NetworkInterfaceId=lz_world.vpn_eni_id)
    assert set(route_states(ec2, rtb).values()) == {"blackhole"}, "on-premises traffic is blackholed until failback"

    with pytest.raises(ValidationError, match="vpn_eni_id %s does not exist in us-east-1: refusing to fail over" % lz_world.vpn_eni_id):
        run(ec2, options(lz_world, "vpn"))
    assert len(static_routes(ec2, rtb)) == 2, "the refused failover changed nothing"

    back = run(ec2, options(lz_world, "dx"))
    assert [(action["action"], action["outcome"]) for action in back.result["actions"]] == [("delete", "done")] * 2
    assert static_routes(ec2, rtb) == {} and back.result["route_tables"][0]["active_path"] == "dx"
    assert any("vpn_eni_id %s not found in us-east-1" % lz_world.vpn_eni_id in warning for warning in back.warnings)


def test_a_blackholed_route_of_a_former_appliance_is_a_conflict_named_with_the_command_that_clears_it(ec2, lz_world):
    rtb, onprem = lz_world.prod_rtb_id, lz_world.onprem_cidrs[0]
    former = new_eni(ec2, lz_world, tagged=True)
    ec2.create_route(RouteTableId=rtb, DestinationCidrBlock=onprem, NetworkInterfaceId=former)
    ec2.delete_network_interface(NetworkInterfaceId=former)  # its tag went with it: the route's owner cannot be verified
    before = route_changing_requests(lz_world.endpoint_url)

    module = FailingModule(options(lz_world, "dx"), ec2)
    run_or_fail(module, lz_route_failover.run, failure_report=lz_route_failover.completed_actions)
    command = "aws ec2 delete-route --route-table-id %s --destination-cidr-block %s --region us-east-1" % (rtb, onprem)
    assert command in module.failure["msg"]
    assert module.failure["conflicts"] == [
        {"route_table_id": rtb, "destination_cidr": onprem, "target": former, "state": "blackhole", "clear_command": command}]
    assert route_changing_requests(lz_world.endpoint_url) == before, "a conflict changes nothing"

    ec2.delete_route(RouteTableId=rtb, DestinationCidrBlock=onprem)  # what the command does
    assert run(ec2, options(lz_world, "dx")).result["changed"] is False


# --------------------------------------------------------------------------- case 2: a route call failing half-way


def test_a_plan_stopped_by_route_limit_exceeded_reports_what_was_applied_and_a_second_run_converges(ec2, lz_world, ec2_endpoint):
    second = ec2.create_route_table(VpcId=lz_world.vpc_id)["RouteTable"]["RouteTableId"]
    tables = [lz_world.prod_rtb_id, second]
    delete_faults(ec2_endpoint)
    # The first CreateRoute is answered (after 1 ms), the second gets RouteLimitExceeded, the rest succeed.
    put_fault(ec2_endpoint, "CreateRoute", delay_ms=1)
    put_fault(ec2_endpoint, "CreateRoute", "RouteLimitExceeded", message="The maximum number of routes has been reached.")

    module = FailingModule(options(lz_world, "vpn", tables), ec2)
    run_or_fail(module, lz_route_failover.run, failure_report=lz_route_failover.completed_actions)
    failure = module.failure
    assert failure["code"] == "RouteLimitExceeded" and failure["changed"] is True
    assert "has reached its routes-per-table quota" in failure["msg"] and "run the task again to converge" in failure["msg"]
    applied, failed, not_applied = failure["actions"], failure["failed_action"], failure["not_applied"]
    assert all(action["outcome"] == "done" for action in applied) and applied, "the first call went through"
    planned = {(rtb, cidr) for rtb in tables for cidr in lz_world.onprem_cidrs}
    named = [(action["route_table_id"], action["destination_cidr"]) for action in applied + [failed] + not_applied]
    assert sorted(named) == sorted(planned), "every planned call is named exactly once: applied, failed or not applied"
    in_tables = {(rtb, cidr) for rtb in tables for cidr in static_routes(ec2, rtb)}
    assert in_tables == {(action["route_table_id"], action["destination_cidr"]) for action in applied}, "the result says exactly what is in place"

    again = run(ec2, options(lz_world, "vpn", tables)).result
    assert len(again["actions"]) == 4 - len(applied), "only the calls still missing"
    assert all(static_routes(ec2, rtb) == {cidr: lz_world.vpn_eni_id for cidr in lz_world.onprem_cidrs} for rtb in tables)


# --------------------------------------------------------------------------- cases 3 and 4: a route changed under the plan


def test_a_route_pointed_elsewhere_after_the_read_is_not_deleted(ec2, lz_world, ec2_endpoint):
    rtb, (first, other) = lz_world.prod_rtb_id, lz_world.onprem_cidrs
    run(ec2, options(lz_world, "vpn"))
    snapshot = load_snapshot(ec2, [rtb], lz_world.onprem_cidrs, lz_world.vpn_eni_id)
    plan = plan_routes(snapshot.tables, snapshot.destinations, PATH_DX, snapshot.ownership)
    foreign = new_eni(ec2, lz_world, tagged=False)
    ec2.replace_route(RouteTableId=rtb, DestinationCidrBlock=first, NetworkInterfaceId=foreign)  # someone else, meanwhile
    delete_faults(ec2_endpoint)  # zero the counters

    outcomes = apply_plan(ec2, plan, pacer=Pacer())
    assert [(outcome.action.destination, outcome.outcome) for outcome in outcomes] == [(first, "skipped"), (other, "done")]
    assert "now points at %s" % foreign in outcomes[0].reason and outcomes[0].as_dict()["reason"] == outcomes[0].reason
    requests = get_fault_stats(ec2_endpoint)["requests"]
    assert (requests.get("DescribeRouteTables"), requests.get("DeleteRoute")) == (1, 1), "one read of the table for its deletes"
    assert static_routes(ec2, rtb) == {first: foreign}


def test_a_route_pointed_elsewhere_after_the_read_is_not_replaced(ec2, lz_world):
    rtb, (first, other) = lz_world.prod_rtb_id, lz_world.onprem_cidrs
    run(ec2, options(lz_world, "vpn"))
    successor = new_eni(ec2, lz_world, tagged=True)  # a new appliance: the old one's routes are replaced
    snapshot = load_snapshot(ec2, [rtb], lz_world.onprem_cidrs, successor)
    plan = plan_routes(snapshot.tables, snapshot.destinations, PATH_VPN, snapshot.ownership)
    assert [action.action for action in plan.actions] == ["replace", "replace"]
    foreign = new_eni(ec2, lz_world, tagged=False)
    ec2.replace_route(RouteTableId=rtb, DestinationCidrBlock=first, NetworkInterfaceId=foreign)

    outcomes = apply_plan(ec2, plan)
    assert [(outcome.action.destination, outcome.outcome) for outcome in outcomes] == [(first, "skipped"), (other, "done")]
    assert static_routes(ec2, rtb) == {first: foreign, other: successor}


def test_the_module_lists_and_warns_about_a_skipped_delete(ec2, lz_world, monkeypatch):
    rtb, first = lz_world.prod_rtb_id, lz_world.onprem_cidrs[0]
    run(ec2, options(lz_world, "vpn"))
    foreign = new_eni(ec2, lz_world, tagged=False)
    real_load = lz_route_failover.load_managed_routes

    def load_then_change(module):
        """The module's read, then another client's change before the module's calls."""
        loaded = real_load(module)
        ec2.replace_route(RouteTableId=rtb, DestinationCidrBlock=first, NetworkInterfaceId=foreign)
        return loaded

    monkeypatch.setattr(lz_route_failover, "load_managed_routes", load_then_change)
    module = run(ec2, options(lz_world, "dx"))
    assert [action["outcome"] for action in module.result["actions"]] == ["skipped", "done"]
    assert module.result["changed"] is True and "reason" in module.result["actions"][0]
    assert any("skipped" in warning and foreign in warning for warning in module.warnings)
    assert static_routes(ec2, rtb) == {first: foreign}
    with pytest.raises(FailoverError):  # the next run sees it as what it now is: someone else's route
        lz_route_failover.run(RecordingModule(options(lz_world, "dx"), ec2))
