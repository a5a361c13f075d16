"""Check mode of lz_route_failover and playbooks/failover.yml when routes must be deleted or replaced,
run by Ansible itself against the EC2 fidelity endpoint (issue 17).

test_route_failover_modules.py shows check mode planning creates, and deletes or replaces of
CIDR routes while counting the three route calls.  These tests hold check mode to more: a plan
that replaces *and* deletes in several tables at once (prefix-list strategy, a route of a
replaced appliance and the routes of the other strategy), and the failback playbook with
``--check --diff``; each time everything the endpoint can tell about routes, prefix lists and
interfaces is byte-for-byte the same afterwards, its request log holds no call but reads, and
the real run then does exactly what check mode predicted.
"""

from __future__ import annotations

import pytest

from harness.aws import delete_request_log
from tests.support.route_modules import ONPREM
from tests.support.route_modules import check_changes_nothing
from tests.support.route_modules import endpoint_state
from tests.support.route_modules import failover_args
from tests.support.route_modules import old_appliance_eni
from tests.support.route_modules import planned
from tests.support.route_modules import run_module
from tests.support.route_modules import run_playbook
from tests.support.route_modules import static_targets
from tests.support.route_modules import writes_since_cleared

pytestmark = pytest.mark.moto

ONPREM_B = "198.19.1.0/24"


def prefix_list(ec2, cidrs):
    created = ec2.create_managed_prefix_list(
        PrefixListName="on-prem", AddressFamily="IPv4", MaxEntries=len(cidrs), Entries=[{"Cidr": cidr} for cidr in cidrs],
        TagSpecifications=[{"ResourceType": "prefix-list", "Tags": [{"Key": "localzones.failover/role", "Value": "on-prem-destinations"}]}],
    )
    return created["PrefixList"]["PrefixListId"]


def prefix_list_targets(ec2, rtb_id):
    table = ec2.describe_route_tables(RouteTableIds=[rtb_id])["RouteTables"][0]
    return {route["DestinationPrefixListId"]: route.get("NetworkInterfaceId") for route in table["Routes"] if "DestinationPrefixListId" in route}


def test_check_mode_plans_replaces_and_deletes_across_tables_without_a_write_and_the_run_does_exactly_that(ec2, lz_world):
    """Fails if check mode makes any call but a read (e.g. ``if plan.changed and not module.check_mode`` losing
    its ``not module.check_mode``), if it plans other calls than the real run makes (a replace planned as
    delete + create), or if the real run leaves a stale route (the apply skipping deletes after a replace)."""
    pl_id = prefix_list(ec2, [ONPREM, ONPREM_B])
    old_eni = old_appliance_eni(ec2, lz_world)
    first, second = lz_world.prod_rtb_id, ec2.create_route_table(VpcId=lz_world.vpc_id)["RouteTable"]["RouteTableId"]
    # First table: already on the prefix-list route, but to the replaced appliance (a stale target), and
    # still holding the per-CIDR routes of the other strategy.  Second table: only the per-CIDR routes.
    ec2.create_route(RouteTableId=first, DestinationPrefixListId=pl_id, NetworkInterfaceId=old_eni)
    for rtb_id, eni_id in ((first, lz_world.vpn_eni_id), (second, old_eni)):
        for cidr in (ONPREM, ONPREM_B):
            ec2.create_route(RouteTableId=rtb_id, DestinationCidrBlock=cidr, NetworkInterfaceId=eni_id)
    args = failover_args(lz_world, "vpn", route_table_ids=[first, second], destination_cidrs=[ONPREM, ONPREM_B],
                         route_strategy="prefix_list", prefix_list_id=pl_id)

    checked = check_changes_nothing(ec2, lz_world, args)
    assert checked["changed"] is True
    assert [(a["action"], a["route_table_id"], a.get("destination_prefix_list_id") or a["destination_cidr"], a.get("target"))
            for a in checked["actions"]] == [
        # Every table is on the prefix-list route before the first per-CIDR route goes: none leaves the VPN.
        ("replace", first, pl_id, lz_world.vpn_eni_id), ("create", second, pl_id, lz_world.vpn_eni_id),
        ("delete", first, ONPREM, None), ("delete", first, ONPREM_B, None), ("delete", second, ONPREM, None), ("delete", second, ONPREM_B, None),
    ]
    via_list = "%s (prefix list %s)" % (lz_world.vpn_eni_id, pl_id)
    assert checked["diff"]["before"][first] == {ONPREM: "%s (static)" % lz_world.vpn_eni_id, ONPREM_B: "%s (static)" % lz_world.vpn_eni_id}
    assert checked["diff"]["before"][second] == {ONPREM: "%s (static)" % old_eni, ONPREM_B: "%s (static)" % old_eni}
    assert checked["diff"]["after"] == {first: {ONPREM: via_list, ONPREM_B: via_list}, second: {ONPREM: via_list, ONPREM_B: via_list}}

    applied = run_module(lz_world, "lz_route_failover", args, diff=True)
    assert applied["changed"] is True and [a["outcome"] for a in applied["actions"]] == ["done"] * 6
    assert planned(applied["actions"]) == planned(checked["actions"])
    assert (applied["route_tables"], applied["diff"]) == (checked["route_tables"], checked["diff"])
    for rtb_id in (first, second):
        per_cidr = [route for route in static_targets(ec2, rtb_id) if route[0]]  # the prefix-list route has no CIDR
        assert (per_cidr, prefix_list_targets(ec2, rtb_id)) == ([], {pl_id: lz_world.vpn_eni_id})


def test_failover_playbook_check_diff_of_a_failback_deletes_nothing_and_the_run_deletes(ec2, lz_world):
    """Fails if the playbook's route task is not check-mode safe (``check_mode: false`` on it, or a new task
    that writes in check mode), or if --diff stops showing the route that would go."""
    ec2.create_route(RouteTableId=lz_world.prod_rtb_id, DestinationCidrBlock=ONPREM, NetworkInterfaceId=lz_world.vpn_eni_id)
    before = endpoint_state(ec2)
    delete_request_log(lz_world.endpoint_url)
    checked = run_playbook(lz_world, "failover.yml", "-e", "lz_failover_path=dx", "--check", "--diff")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "changed=1" in checked.stdout, checked.stdout
    diff_lines = [line.strip() for line in checked.stdout.splitlines() if line.startswith(("-", "+")) and not line.startswith(("---", "+++"))]
    assert any(line.startswith("-") and "%s (static)" % lz_world.vpn_eni_id in line for line in diff_lines), checked.stdout
    assert any(line.startswith("+") and "%s (propagated)" % lz_world.vgw_id in line for line in diff_lines), checked.stdout
    writes, calls = writes_since_cleared(lz_world.endpoint_url)
    assert calls > 0 and writes == [], writes
    assert endpoint_state(ec2) == before

    switched = run_playbook(lz_world, "failover.yml", "-e", "lz_failover_path=dx")
    assert switched.returncode == 0, switched.stdout + switched.stderr
    assert static_targets(ec2, lz_world.prod_rtb_id) == []
    assert writes_since_cleared(lz_world.endpoint_url)[0] == ["DeleteRoute"], "the real run makes the one call the diff showed"
