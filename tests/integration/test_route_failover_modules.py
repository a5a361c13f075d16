"""lz_route_failover, lz_route_failover_info and the playbooks, run by Ansible itself
against the EC2 fidelity endpoint."""

from __future__ import annotations

import json

import pytest

from harness.aws import delete_faults
from harness.monitor import route_changing_requests
from tests.support.route_modules import ONPREM
from tests.support.route_modules import ONPREM6
from tests.support.route_modules import failover_args
from tests.support.route_modules import old_appliance_eni
from tests.support.route_modules import put_routes
from tests.support.route_modules import run_module
from tests.support.route_modules import run_playbook
from tests.support.route_modules import static_targets

NO_ROUTE_CALLS = {"CreateRoute": 0, "ReplaceRoute": 0, "DeleteRoute": 0}


def test_check_mode_plans_and_diffs_without_changing(ec2, lz_world):
    result = run_module(lz_world, "lz_route_failover", failover_args(lz_world, "vpn"), check=True, diff=True)
    assert result["changed"] is True
    assert [(a["action"], a["destination_cidr"]) for a in result["actions"]] == [("create", ONPREM), ("create", ONPREM6)]
    assert result["route_tables"][0]["active_path"] == "vpn"
    assert result["route_tables"][0]["previous_path"] == "dx"
    diff = result["diff"]
    assert diff["before"][lz_world.prod_rtb_id][ONPREM] == "%s (propagated)" % lz_world.vgw_id
    assert diff["after"][lz_world.prod_rtb_id][ONPREM] == "%s (static)" % lz_world.vpn_eni_id
    assert static_targets(ec2, lz_world.prod_rtb_id) == []


def check_then_apply(ec2, world, path):
    """Run the module in check mode, then for real: the check changes nothing and plans exactly what is then done."""
    before = static_targets(ec2, world.prod_rtb_id)
    delete_faults(world.endpoint_url)  # zero the endpoint's request counters
    checked = run_module(world, "lz_route_failover", failover_args(world, path), check=True, diff=True)
    assert static_targets(ec2, world.prod_rtb_id) == before, "check mode changed the table"
    assert route_changing_requests(world.endpoint_url) == NO_ROUTE_CALLS, "check mode made a route call"
    applied = run_module(world, "lz_route_failover", failover_args(world, path))
    planned = [(action["action"], action["destination_cidr"], action.get("target")) for action in checked["actions"]]
    assert [(action["action"], action["destination_cidr"], action.get("target")) for action in applied["actions"]] == planned
    assert applied["changed"] is checked["changed"] is True
    return checked


def test_check_mode_plans_deletes_without_calling_them(ec2, lz_world):
    put_routes(ec2, lz_world.prod_rtb_id, lz_world.vpn_eni_id)
    checked = check_then_apply(ec2, lz_world, "dx")
    assert [(a["action"], a["destination_cidr"]) for a in checked["actions"]] == [("delete", ONPREM), ("delete", ONPREM6)]
    assert (checked["route_tables"][0]["previous_path"], checked["route_tables"][0]["active_path"]) == ("vpn", "dx")
    diff = checked["diff"]
    assert diff["before"][lz_world.prod_rtb_id][ONPREM] == "%s (static)" % lz_world.vpn_eni_id
    assert diff["after"][lz_world.prod_rtb_id][ONPREM] == "%s (propagated)" % lz_world.vgw_id
    assert static_targets(ec2, lz_world.prod_rtb_id) == [], "the real run deleted what the check planned"


def test_check_mode_plans_replaces_without_calling_them(ec2, lz_world):
    old_eni = old_appliance_eni(ec2, lz_world)
    put_routes(ec2, lz_world.prod_rtb_id, old_eni)
    checked = check_then_apply(ec2, lz_world, "vpn")
    assert [(a["action"], a["destination_cidr"], a["target"]) for a in checked["actions"]] == [
        ("replace", ONPREM, lz_world.vpn_eni_id), ("replace", ONPREM6, lz_world.vpn_eni_id),
    ]
    assert (checked["route_tables"][0]["previous_path"], checked["route_tables"][0]["active_path"]) == ("vpn", "vpn"), "the old appliance's routes are ours"
    diff = checked["diff"]
    assert diff["before"][lz_world.prod_rtb_id][ONPREM] == "%s (static)" % old_eni
    assert diff["after"][lz_world.prod_rtb_id][ONPREM] == "%s (static)" % lz_world.vpn_eni_id
    assert static_targets(ec2, lz_world.prod_rtb_id) == sorted([(ONPREM, lz_world.vpn_eni_id), (ONPREM6, lz_world.vpn_eni_id)])


@pytest.mark.parametrize("path", ["vpn", "dx"])
def test_blackholed_route_is_a_conflict_and_no_table_changes(ec2, lz_world, path):
    """The README's case: a static route to an interface that was deleted, so its owner cannot be verified."""
    doomed_eni = ec2.create_network_interface(SubnetId=lz_world.public_subnet_id)["NetworkInterface"]["NetworkInterfaceId"]
    ec2.create_route(RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock=ONPREM, NetworkInterfaceId=doomed_eni)
    ec2.delete_network_interface(NetworkInterfaceId=doomed_eni)
    second_rtb = ec2.create_route_table(VpcId=lz_world.vpc_id)["RouteTable"]["RouteTableId"]
    tables_before = {rtb_id: static_targets(ec2, rtb_id) for rtb_id in (lz_world.prod_rtb_id, second_rtb)}
    delete_faults(lz_world.endpoint_url)

    # The second table needs a change on the VPN path; the conflict in the first must stop that too.
    result = run_module(lz_world, "lz_route_failover", failover_args(lz_world, path, route_table_ids=[second_rtb, lz_world.prod_rtb_id]))
    assert result.get("failed") is True and result["changed"] is False, result
    clear = "aws ec2 delete-route --route-table-id %s --destination-cidr-block %s --region %s" % (lz_world.prod_rtb_id, ONPREM, lz_world.region)
    assert ("%s has a static route %s -> %s (blackhole: its target no longer exists, so its owner cannot be verified; "
            "if it was yours, clear it with: %s)" % (lz_world.prod_rtb_id, ONPREM, doomed_eni, clear)) in result["msg"]
    assert result["conflicts"] == [{"route_table_id": lz_world.prod_rtb_id, "destination_cidr": ONPREM, "target": doomed_eni, "state": "blackhole",
                                    "clear_command": clear}]
    assert {rtb_id: static_targets(ec2, rtb_id) for rtb_id in tables_before} == tables_before
    assert route_changing_requests(lz_world.endpoint_url) == NO_ROUTE_CALLS


def test_switch_is_idempotent_both_ways(ec2, lz_world):
    first = run_module(lz_world, "lz_route_failover", failover_args(lz_world, "vpn"))
    assert first["changed"] is True
    assert [a["outcome"] for a in first["actions"]] == ["done", "done"]
    assert all(a["latency_ms"] >= 0 for a in first["actions"])
    assert static_targets(ec2, lz_world.prod_rtb_id) == sorted([(ONPREM, lz_world.vpn_eni_id), (ONPREM6, lz_world.vpn_eni_id)])

    second = run_module(lz_world, "lz_route_failover", failover_args(lz_world, "vpn"))
    assert second["changed"] is False and second["actions"] == []

    back = run_module(lz_world, "lz_route_failover", failover_args(lz_world, "dx"))
    assert back["changed"] is True and [a["action"] for a in back["actions"]] == ["delete", "delete"]
    assert back["route_tables"][0]["active_path"] == "dx"
    assert static_targets(ec2, lz_world.prod_rtb_id) == []
    assert run_module(lz_world, "lz_route_failover", failover_args(lz_world, "dx"))["changed"] is False


def test_bad_input_is_one_clear_error_and_changes_nothing(ec2, lz_world):
    args = failover_args(lz_world, "vpn", destination_cidrs=[ONPREM, "198.19.0.1/24"], route_table_ids=[lz_world.prod_rtb_id, lz_world.probe_rtb_id])
    result = run_module(lz_world, "lz_route_failover", args)
    assert result["failed"] is True
    assert "host bits set; did you mean 198.19.0.0/24" in result["msg"]
    assert "probe subnet's route table" in result["msg"]
    assert "Traceback" not in json.dumps(result)
    assert static_targets(ec2, lz_world.prod_rtb_id) == []


def test_interface_in_another_vpc_is_refused(ec2, lz_world):
    result = run_module(lz_world, "lz_route_failover", failover_args(lz_world, "vpn", vpn_eni_id=lz_world.other_eni_id))
    assert result["failed"] is True
    assert "belongs" not in result["msg"] and lz_world.other_vpc_id in result["msg"]
    assert static_targets(ec2, lz_world.prod_rtb_id) == []


def test_foreign_route_fails_naming_it(ec2, lz_world):
    tgw_like_eni = ec2.create_network_interface(SubnetId=lz_world.public_subnet_id)["NetworkInterface"]["NetworkInterfaceId"]
    ec2.create_route(RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock=ONPREM, NetworkInterfaceId=tgw_like_eni)
    result = run_module(lz_world, "lz_route_failover", failover_args(lz_world, "dx"))
    assert result["failed"] is True and result["changed"] is False
    assert "%s has a static route %s -> %s" % (lz_world.prod_rtb_id, ONPREM, tgw_like_eni) in result["msg"]
    assert result["conflicts"] == [{"route_table_id": lz_world.prod_rtb_id, "destination_cidr": ONPREM, "target": tgw_like_eni, "state": "active"}]
    assert static_targets(ec2, lz_world.prod_rtb_id) == [(ONPREM, tgw_like_eni)]


def test_warns_about_source_dest_check(ec2, lz_world):
    ec2.modify_network_interface_attribute(NetworkInterfaceId=lz_world.vpn_eni_id, SourceDestCheck={"Value": True})
    result = run_module(lz_world, "lz_route_failover", failover_args(lz_world, "vpn"), check=True)
    assert any("source/destination check is enabled" in warning for warning in result["warnings"])


def test_info_module_reports_paths(ec2, lz_world):
    ec2.create_route(RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock=ONPREM, NetworkInterfaceId=lz_world.vpn_eni_id)
    result = run_module(lz_world, "lz_route_failover_info", failover_args(lz_world))
    assert result["changed"] is False
    table = result["route_tables"][0]
    assert table["active_path"] == "mixed"
    assert [(d["destination_cidr"], d["path"], d["propagated_dx_route"]) for d in table["destinations"]] == [(ONPREM, "vpn", True), (ONPREM6, "dx", True)]


def test_failover_playbook_check_diff_then_switch(ec2, lz_world):
    checked = run_playbook(lz_world, "failover.yml", "-e", "lz_failover_path=vpn", "--check", "--diff")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "%s (static)" % lz_world.vpn_eni_id in checked.stdout, "the diff shows the planned route"
    assert static_targets(ec2, lz_world.prod_rtb_id) == []

    switched = run_playbook(lz_world, "failover.yml", "-e", "lz_failover_path=vpn")
    assert switched.returncode == 0, switched.stdout + switched.stderr
    assert static_targets(ec2, lz_world.prod_rtb_id) == [(ONPREM, lz_world.vpn_eni_id)]


def test_failover_playbook_requires_a_path(lz_world):
    completed = run_playbook(lz_world, "failover.yml")
    assert completed.returncode != 0
    assert "lz_failover_path=vpn" in completed.stdout
