# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The route modules and playbooks run by Ansible itself against the EC2 fidelity endpoint's ``lz_world``.

``run_module`` runs one module ad hoc (``ansible``, JSON result), ``run_playbook`` one of
playbooks/ (``ansible-playbook``, its usual text output); ``failover_args`` are the module
arguments for the world's production table. The rest reads or sets up the world's routes,
and ``check_changes_nothing`` holds a check-mode run to changing nothing and only reading.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from harness.aws import ONPREM_CIDRS
from harness.aws import ansible_json_environment
from harness.aws import delete_request_log
from harness.aws import get_request_log
from harness.paths import REPO_ROOT

ONPREM, ONPREM6 = ONPREM_CIDRS  # lz_world's on-premises destinations (198.19.0.0/24, 2001:db8:100::/56)
BIN = os.path.dirname(sys.executable)
READ_ONLY_PREFIXES = ("Describe", "Get", "List")
RUN_ONLY_KEYS = ("outcome", "latency_ms", "reason")


def ansible_text_environment():
    """The playbook tests read ansible-playbook's usual text output."""
    return ansible_json_environment(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")


def run_module(world, module, args, check=False, diff=False):
    """Run one module through ``ansible`` ad hoc; return its JSON result."""
    argv = [os.path.join(BIN, "ansible"), "localhost", "-m", "localzones.failover." + module, "-a", json.dumps(dict(args, endpoint_url=world.endpoint_url))]
    argv += ["--check"] * check + ["--diff"] * diff
    completed = subprocess.run(argv, env=ansible_json_environment(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    try:
        output = json.loads(completed.stdout)
    except ValueError:
        pytest.fail("ansible printed no JSON:\n%s\n%s" % (completed.stdout, completed.stderr))
    return output["plays"][0]["tasks"][0]["hosts"]["localhost"]


def run_playbook(world, playbook, *extra):
    """Run ``playbooks/<playbook>`` with inventories/local and the world's tables and interfaces; return the CompletedProcess."""
    extra_vars = {
        "lz_failover_aws": {"endpoint_url": world.endpoint_url, "access_key": "testing", "secret_key": "testing"},
        "lz_failover_route_table_ids": [world.prod_rtb_id],
        "lz_failover_destination_cidrs": [ONPREM],
        "lz_failover_vpn_eni_id": world.vpn_eni_id,
        "lz_failover_probe_route_table_id": world.probe_rtb_id,
    }
    argv = [os.path.join(BIN, "ansible-playbook"), "-i", "inventories/local", os.path.join("playbooks", playbook), "-e", json.dumps(extra_vars)]
    return subprocess.run(argv + list(extra), env=ansible_text_environment(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=180, check=False)


def failover_args(world, path=None, **extra):
    """lz_route_failover's arguments for the world's production table and both on-premises destinations."""
    args = {
        "route_table_ids": [world.prod_rtb_id],
        "destination_cidrs": [ONPREM, ONPREM6],
        "vpn_eni_id": world.vpn_eni_id,
        "probe_route_table_id": world.probe_rtb_id,
    }
    if path:
        args["path"] = path
    args.update(extra)
    return args


def static_targets(ec2, rtb_id):
    """The table's static routes as sorted (destination CIDR, interface ID) pairs."""
    table = ec2.describe_route_tables(RouteTableIds=[rtb_id])["RouteTables"][0]
    return sorted(
        (route.get("DestinationCidrBlock") or route.get("DestinationIpv6CidrBlock"), route.get("NetworkInterfaceId"))
        for route in table["Routes"]
        if route["Origin"] == "CreateRoute"
    )


def put_routes(ec2, rtb_id, eni_id):
    """Static routes for both on-premises destinations to ``eni_id``."""
    ec2.create_route(RouteTableId=rtb_id, DestinationCidrBlock=ONPREM, NetworkInterfaceId=eni_id)
    ec2.create_route(RouteTableId=rtb_id, DestinationIpv6CidrBlock=ONPREM6, NetworkInterfaceId=eni_id)


def old_appliance_eni(ec2, world):
    """An ENI of a replaced appliance: in the VPC, tagged as a VPN appliance, so its routes are ours."""
    eni_id = ec2.create_network_interface(SubnetId=world.public_subnet_id)["NetworkInterface"]["NetworkInterfaceId"]
    ec2.create_tags(Resources=[eni_id], Tags=[{"Key": "localzones.failover/role", "Value": "vpn-appliance"}])
    return eni_id


def endpoint_state(ec2):
    """Everything a route module could change, as the endpoint answers it, in one comparable text."""
    tables = ec2.describe_route_tables()["RouteTables"]
    lists = [pl for pl in ec2.describe_managed_prefix_lists()["PrefixLists"] if pl.get("OwnerId") != "AWS"]
    entries = {pl["PrefixListId"]: ec2.get_managed_prefix_list_entries(PrefixListId=pl["PrefixListId"])["Entries"] for pl in lists}
    interfaces = ec2.describe_network_interfaces()["NetworkInterfaces"]
    return json.dumps({"route_tables": tables, "prefix_lists": lists, "entries": entries, "interfaces": interfaces}, sort_keys=True, default=str)


def writes_since_cleared(endpoint_url):
    """The API calls in the endpoint's request log that are not reads, and how many calls it holds in all."""
    actions = [record["action"] for record in get_request_log(endpoint_url)["requests"]]
    return [action for action in actions if not action.startswith(READ_ONLY_PREFIXES)], len(actions)


def planned(actions):
    """A result's actions without what only a real run adds (outcome, latency), to compare a plan with its run."""
    return [{key: value for key, value in action.items() if key not in RUN_ONLY_KEYS} for action in actions]


def check_changes_nothing(ec2, world, args):
    """Run the module with --check --diff; assert the endpoint is unchanged and was only read; return the result."""
    before = endpoint_state(ec2)
    delete_request_log(world.endpoint_url)
    checked = run_module(world, "lz_route_failover", args, check=True, diff=True)
    writes, calls = writes_since_cleared(world.endpoint_url)
    assert calls > 0, "the request log saw the module's reads (else 'no writes' proves nothing)"
    # Not a test module, so pytest does not rewrite these asserts: the message carries the values.
    assert writes == [], "check mode made calls that change EC2: %s" % writes
    assert endpoint_state(ec2) == before, "check mode changed what the endpoint reports"
    return checked
