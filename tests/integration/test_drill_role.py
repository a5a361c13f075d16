# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drill's settings are checked before anything is touched.

The drill itself runs in the lab (the molecule scenario); here only its first
line of defence: a bad setting stops playbooks/drill.yml with one clear message in the
argument-spec or settings check, before any task reaches AWS or a host.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from harness.aws import ansible_json_environment
from harness.paths import REPO_ROOT

PLAYBOOK = os.path.join(REPO_ROOT, "playbooks", "drill.yml")
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
# An endpoint nothing listens on: a task that tried to call AWS would fail differently.
UNREACHABLE_ENDPOINT = "http://127.0.0.1:9"

INVENTORY = {
    "all": {
        "hosts": {"localhost": {"ansible_connection": "local"}, "workload": {}, "onprem-host": {}, "utility-host": {}, "vpc-router": {}},
        "vars": {
            "lz_failover_region": "us-east-1",
            "lz_failover_aws": {"endpoint_url": UNREACHABLE_ENDPOINT},
            "lz_failover_route_table_ids": ["rtb-0123456789abcdef0"],
            "lz_failover_destination_cidrs": ["198.19.0.0/24"],
            "lz_failover_vpn_eni_id": "eni-0123456789abcdef0",
            "drill_monitor_host": "utility-host",
            "drill_fault_method": "command",
            "drill_fault_command": {"host": "vpc-router", "start": "true", "stop": "true"},
            "drill_flow": {"vpc_host": "workload", "vpc_address": "198.18.2.10", "onprem_host": "onprem-host", "onprem_address": "198.19.0.10"},
        },
    }
}


def run_drill(tmp_path, *extra_vars):
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps(INVENTORY), encoding="utf-8")
    argv = [ANSIBLE_PLAYBOOK, "-i", str(inventory), PLAYBOOK]
    for assignment in extra_vars:
        argv += ["-e", json.dumps(assignment)]
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False, cwd=str(tmp_path),
                               env=ansible_json_environment(ANSIBLE_ASYNC_DIR=str(tmp_path / "async")))
    assert completed.returncode != 0, completed.stdout
    result = json.loads(completed.stdout)
    tasks = [task for play in result["plays"] for task in play["tasks"]]
    failed = [task for task in tasks if task["hosts"].get("localhost", {}).get("failed")]
    assert len(failed) == 1, [task["task"]["name"] for task in failed]
    ran = [task["task"]["name"] for task in tasks if not task["hosts"].get("localhost", {}).get("skipped")]
    return ran[:ran.index(failed[0]["task"]["name"]) + 1], failed[0]["hosts"]["localhost"]


@pytest.mark.parametrize(
    "bad, expected",
    [
        ({"drill_max_duration_s": 5000}, "drill_max_duration_s must be between 60 and 3600"),
        ({"drill_max_duration_s": 120, "drill_failover_timeout_s": 100, "drill_hold_s": 30}, "must be larger than drill_failover_timeout_s + drill_hold_s"),
        ({"drill_flow": {"vpc_host": "nowhere", "vpc_address": "198.18.2.10", "onprem_host": "onprem-host", "onprem_address": "198.19.0.10"}},
         "drill_flow.vpc_host nowhere is not in the inventory"),
        ({"drill_fault_method": "bgp_failover_test"}, "bgp_failover_test needs drill_dx_virtual_interface_ids"),
    ],
)
def test_a_bad_setting_stops_the_drill_before_any_task_reaches_aws_or_a_host(tmp_path, bad, expected):
    names, failed = run_drill(tmp_path, bad)
    assert expected in failed["msg"]
    # One problem, one message: the other settings are fine.
    assert failed["msg"].count(";") == 0
    assert names[-1].endswith("Check the settings that depend on each other")
    assert not (tmp_path / "results").exists()


def test_an_unknown_fault_method_is_refused_by_the_argument_spec(tmp_path):
    names, failed = run_drill(tmp_path, {"drill_fault_method": "unplug"})
    assert "drill_fault_method" in failed["msg"] and "bgp_failover_test" in failed["msg"]
    assert len(names) == 1


def test_aws_settings_without_a_fault_command_pass_the_checks(tmp_path):
    # On AWS only the virtual interfaces are set; the command fault's settings stay unset.
    inventory_vars = INVENTORY["all"]["vars"]
    settings = {"drill_fault_method": "bgp_failover_test", "drill_dx_virtual_interface_ids": ["dxvif-ffabc123"], "drill_fault_command": None}
    names, failed = run_drill(tmp_path, settings)
    # The first task that needs the network is the first to fail: nothing listens on the endpoint.
    assert names[-1].endswith("Read the managed route tables"), names
    assert inventory_vars["lz_failover_aws"]["endpoint_url"] in json.dumps(failed) or "connect" in failed["msg"].lower()
