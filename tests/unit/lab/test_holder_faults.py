# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Losing the lease holder in the lab: the faults' commands, the drill's settings, and lab_fault.yml's lease lookup.

No lab runs here. A throw-away inventory holds the lab's own group_vars/all/lab.yml and
drill.yml and two utility instances at the lab's addresses (as aws_ec2.yml would list
them), every host entered with the local connection. The commands are only templated
(printed), and lab_fault.yml runs in check mode, where its shell tasks do nothing; its
lease lookup is real (lz_failover_pin against the local endpoint's DynamoDB).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
import yaml

from harness.paths import REPO_ROOT
from harness.provision import BIN
from harness.provision import ansible_environment
from lab import topology as topo
from tests.support.coordination_table import create_coordination_table
from tests.support.coordination_table import dynamodb_client
from tests.support.coordination_table import put_lease
from tests.support.coordination_table import put_view

GROUP = "lz-failover"
TABLE = "lz-lab-coordination"
HOLDER = "lz-failover-utility-2"
LAB_GROUP_VARS = os.path.join(REPO_ROOT, "inventories", "lab", "group_vars", "all")


def write_inventory(root, endpoint_url="http://127.0.0.1:9"):
    """``root/inventories/lab``: the lab's lab.yml and drill.yml, the two utility instances, the vpc-router."""
    inventory = root / "inventories" / "lab"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    for name in ("lab.yml", "drill.yml"):
        shutil.copy(os.path.join(LAB_GROUP_VARS, name), inventory / "group_vars" / "all" / name)
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    instances = {"lz-failover-utility": {"private_ip_address": topo.subnet_host("utility").address},
                 HOLDER: {"private_ip_address": topo.subnet_host("utility-2").address}}
    hosts = {"all": {"hosts": {"localhost": local}, "children": {
        "vpc_router": {"hosts": {"vpc-router": dict(local, lab_machine="vpc-router")}},
        "vpn_appliances": {"hosts": {}},
        # As group_vars/lz_failover_instances/lab.yml maps an instance to its container.
        "utility": {"hosts": instances, "vars": dict(local, lab_machine="{{ lz_lab_machine_by_address[private_ip_address] }}")},
    }}}
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts), encoding="utf-8")
    settings = {"lz_failover_name": GROUP, "lz_failover_region": topo.REGION, "lz_failover_coordination_table": TABLE,
                "lz_failover_aws": {"endpoint_url": endpoint_url, "access_key": "testing", "secret_key": "testing"}}
    (inventory / "group_vars" / "all" / "test.yml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    return inventory


def run_playbook(inventory, playbook, *args):
    completed = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", str(inventory), str(playbook)] + list(args),
                               env=ansible_environment(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=180, check=False)
    try:
        plays = json.loads(completed.stdout)["plays"]
    except (ValueError, LookupError):
        raise AssertionError("ansible-playbook printed no result (rc %s):\n%s\n%s" % (completed.returncode, completed.stdout, completed.stderr)) from None
    return completed.returncode, {task["task"]["name"]: task["hosts"].get("localhost", {}) for play in plays for task in play["tasks"]}


def test_each_holder_fault_acts_on_the_holders_own_machine_and_the_drill_bounds_the_takeover(tmp_path):
    inventory = write_inventory(tmp_path)
    scenarios = ["", "kill", "poweroff", "crash", "isolate"]
    play = [{"name": "Print the drill's holder settings", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "fault %s" % fault, "ansible.builtin.debug": {"msg": {
            "fault": "{{ drill_holder_fault }}", "route": "{{ drill_max_route_change_s }}", "outage": "{{ drill_max_outage_s }}"}},
         "vars": {"lab_holder_fault": fault, "drill_lease_holder": HOLDER}} for fault in scenarios]}]
    playbook = tmp_path / "print.yml"
    playbook.write_text(yaml.safe_dump(play), encoding="utf-8")
    returncode, tasks = run_playbook(inventory, playbook)
    assert returncode == 0, tasks
    results = {fault: tasks["fault %s" % fault]["msg"] for fault in scenarios}

    # No holder fault: the drill of issue 13, nothing taken away, no bound on the first route change.
    # (float(): ansible-core 2.18 renders these as strings, 2.19 as numbers.)
    assert (results[""]["fault"], float(results[""]["route"]), float(results[""]["outage"])) == ({}, 0, 10)
    for fault in scenarios[1:]:
        assert float(results[fault]["route"]) == 12 and float(results[fault]["outage"]) == 13
    kill, poweroff, crash, isolate = (results[fault]["fault"] for fault in scenarios[1:])
    # The monitor is killed on the holder itself, and kept from restarting until `stop`.
    assert kill["host"] == HOLDER
    assert "Restart=no" in kill["start"] and kill["start"].endswith("systemctl kill --kill-whom=main --signal=SIGKILL lz-failover-monitor")
    assert "rm -f /run/systemd/system/lz-failover-monitor.service.d/" in kill["stop"]
    assert kill["stop"].endswith("systemctl start lz-failover-monitor")
    # The machine is stopped from the lab machine (the controller), by the holder's container name.
    root = str(tmp_path)
    assert (poweroff["host"], crash["host"]) == ("localhost", "localhost")
    assert poweroff["start"].startswith("cd %s && " % root) and poweroff["start"].endswith(" -m lab.nspawn down utility-2")
    assert crash["start"].endswith(" -m lab.nspawn kill utility-2") and "stop" not in crash
    # Isolation: the holder's port on the probe subnet's bridge, in the vpc-router.
    assert isolate == {"name": isolate["name"], "host": "vpc-router", "start": "ip link set %s down" % topo.router_port("utility-2"),
                       "stop": "ip link set %s up" % topo.router_port("utility-2")}


@pytest.mark.moto
def test_lab_fault_finds_the_holder_in_the_lease_and_refuses_when_nobody_holds_it(tmp_path, ec2, ec2_endpoint):  # pylint: disable=unused-argument
    client = dynamodb_client(ec2_endpoint)
    create_coordination_table(client, table=TABLE)
    now = time.time()
    put_lease(client, GROUP, HOLDER, 3, now + 8, table=TABLE)
    put_view(client, GROUP, HOLDER, "holder", "healthy", "dx", now, table=TABLE)
    put_view(client, GROUP, "lz-failover-utility", "standby", "healthy", "dx", now, table=TABLE)
    inventory = write_inventory(tmp_path, ec2_endpoint)
    playbook = os.path.join(REPO_ROOT, "playbooks", "lab_fault.yml")

    returncode, tasks = run_playbook(inventory, playbook, "--check", "-e", "lab_fault=holder_isolate")
    assert returncode == 0, tasks
    assert tasks["Remember the holder"]["ansible_facts"] == {"lz_lab_holder": HOLDER}
    said = tasks["Say what the standby should do"]["msg"]
    assert said.startswith("%s (machine utility-2): the holder's host isolated" % HOLDER)

    # restore takes nobody away (Ansible templates delegate_to before the block's condition) and gives every
    # utility host its link and its monitor back.
    returncode, tasks = run_playbook(inventory, playbook, "--check", "-e", "lab_fault=restore")
    assert returncode == 0, tasks
    given_back = tasks["Give the utility hosts their link and their monitor back"]["results"]
    assert sorted(result["item"][0] for result in given_back) == sorted(["lz-failover-utility", HOLDER] * 2)

    # The holder stopped renewing: no live lease, nothing to take away, and the playbook says so.
    put_lease(client, GROUP, HOLDER, 3, now - 1, table=TABLE)
    returncode, tasks = run_playbook(inventory, playbook, "--check", "-e", "lab_fault=holder_crash")
    assert returncode != 0
    assert "No utility host holds a live lease" in tasks["Stop unless a monitor of the inventory holds the lease"]["msg"]
