"""lz_route_watch run by Ansible against the EC2 fidelity endpoint, while this test process moves the routes.

The server's per-Action request counters tell when the watch is reading and how
many reads it made, independently of what the module reports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from harness.aws import ansible_json_environment
from harness.aws import delete_faults
from harness.aws import get_fault_stats
from harness.aws import put_fault
from harness.paths import REPO_ROOT
from harness.waiting import wait_for

pytestmark = pytest.mark.moto

ONPREM = "198.19.0.0/24"
ONPREM6 = "2001:db8:100::/56"
BIN = os.path.dirname(sys.executable)
MODULE = "localzones.failover.lz_route_watch"

DRILL_PLAYBOOK = """\
---
- name: A failover drill's recording, as the drill runs it
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Start watching the route tables
      localzones.failover.lz_route_watch: "{{ watch_args }}"
      async: 90
      poll: 0
      register: route_watch_job

    - name: Wait while the drill moves production to the VPN and back
      ansible.builtin.wait_for:
        path: "{{ drill_done }}"
        timeout: 60

    - name: Tell the watch that the drill is over
      ansible.builtin.file:
        path: "{{ watch_args.stop_file }}"
        state: touch
        mode: "0600"

    - name: Collect the record
      ansible.builtin.async_status:
        jid: "{{ route_watch_job.ansible_job_id }}"
      register: route_record
      until: route_record.finished
      retries: 30
      delay: 1
"""


def ansible_env(endpoint_url, tmp_path):
    return ansible_json_environment(ANSIBLE_ASYNC_DIR=str(tmp_path / "async"))


def watch_args(world, **extra):
    args = {
        "endpoint_url": world.endpoint_url,
        "region": world.region,
        "route_table_ids": [world.prod_rtb_id],
        "destination_cidrs": [ONPREM, ONPREM6],
        "vpn_eni_id": world.vpn_eni_id,
        "probe_route_table_id": world.probe_rtb_id,
        "interval": 0.2,
        "duration": 60,
    }
    args.update(extra)
    return args


def start_module(world, tmp_path, args):
    """Start the module through ``ansible`` ad hoc, in the background; finish with ``module_result``."""
    argv = [os.path.join(BIN, "ansible"), "localhost", "-i", "localhost,", "-c", "local", "-m", MODULE, "-a", json.dumps(args)]
    return subprocess.Popen(argv, env=ansible_env(world.endpoint_url, tmp_path), cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def task_results(process, timeout=90):
    stdout, stderr = process.communicate(timeout=timeout)
    try:
        output = json.loads(stdout)
    except ValueError:
        pytest.fail("ansible printed no JSON:\n%s\n%s" % (stdout, stderr))
    return [task["hosts"]["localhost"] for task in output["plays"][0]["tasks"]]


def module_result(process, timeout=90):
    return task_results(process, timeout)[0]


def describe_reads(endpoint_url):
    return get_fault_stats(endpoint_url)["requests"].get("DescribeRouteTables", 0)


def wait_for_watch_reads(endpoint_url, count):
    """Block until the server has answered ``count`` DescribeRouteTables calls (the first one validates)."""
    wait_for(lambda: describe_reads(endpoint_url) >= count, 30, "%d DescribeRouteTables reads" % count)


def timed(action):
    """Run ``action``; return the epoch seconds just before and just after it."""
    before = time.time()
    action()
    return before, time.time()


def move_to_vpn(ec2, world):
    for destination, key in ((ONPREM, "DestinationCidrBlock"), (ONPREM6, "DestinationIpv6CidrBlock")):
        ec2.create_route(RouteTableId=world.prod_rtb_id, NetworkInterfaceId=world.vpn_eni_id, **{key: destination})


def move_to_dx(ec2, world):
    for destination, key in ((ONPREM, "DestinationCidrBlock"), (ONPREM6, "DestinationIpv6CidrBlock")):
        ec2.delete_route(RouteTableId=world.prod_rtb_id, **{key: destination})


def settle(endpoint_url):
    """Let the watch make two more reads, so it has surely seen the last change."""
    wait_for_watch_reads(endpoint_url, describe_reads(endpoint_url) + 2)


def assert_bounded(change, window):
    """The change happened between ``previous_read_time`` and ``time``; so did the API calls that made it."""
    before, after = window
    assert change["previous_read_time"] <= after and change["time"] >= before
    # Two reads at a 0.2 s cadence bracket it, so the bounds are tight.
    assert change["time"] - change["previous_read_time"] < 2.0


def test_drill_playbook_records_failover_and_failback(ec2, lz_world, tmp_path):
    stop_file, drill_done = tmp_path / "watch.stop", tmp_path / "drill.done"
    extra_vars = {"watch_args": watch_args(lz_world, stop_file=str(stop_file)), "drill_done": str(drill_done)}
    playbook = tmp_path / "drill.yml"
    playbook.write_text(DRILL_PLAYBOOK)
    argv = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", str(playbook), "-e", json.dumps(extra_vars)]
    reads_before = describe_reads(lz_world.endpoint_url)
    process = subprocess.Popen(argv, env=ansible_env(lz_world.endpoint_url, tmp_path), cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    wait_for_watch_reads(lz_world.endpoint_url, reads_before + 3)
    failover = timed(lambda: move_to_vpn(ec2, lz_world))
    settle(lz_world.endpoint_url)
    failback = timed(lambda: move_to_dx(ec2, lz_world))
    settle(lz_world.endpoint_url)
    drill_done.touch()

    started, *_waits, record = task_results(process, timeout=120)
    assert "ansible_job_id" in started and record["finished"] is True
    assert record["ended_by"] == "stop_file"
    assert record["initial"] == {lz_world.prod_rtb_id: "dx"} and record["final"] == {lz_world.prod_rtb_id: "dx"}
    # The two static routes are made one call after the other, so a read may fall between them.
    paths = [(change["from_path"], change["to_path"]) for change in record["changes"]]
    assert paths in ([("dx", "vpn"), ("vpn", "dx")], [("dx", "mixed"), ("mixed", "vpn"), ("vpn", "dx")],
                     [("dx", "vpn"), ("vpn", "mixed"), ("mixed", "dx")], [("dx", "mixed"), ("mixed", "vpn"), ("vpn", "mixed"), ("mixed", "dx")])
    to_vpn = next(change for change in record["changes"] if change["to_path"] == "vpn")
    to_dx = record["changes"][-1]
    assert_bounded(to_vpn, failover)
    assert_bounded(to_dx, failback)
    assert [entry["target"] for entry in to_vpn["destinations"]] == [lz_world.vpn_eni_id] * 2
    assert all(entry["propagated_dx_route"] for entry in to_vpn["destinations"])
    assert record["read_errors"] == 0 and record["last_error"] is None
    assert record["reads"] == describe_reads(lz_world.endpoint_url) - reads_before
    assert record["started_at"] < failover[0] and record["ended_at"] > failback[1]


def test_until_path_ends_the_watch_after_failback(ec2, lz_world, tmp_path):
    reads_before = describe_reads(lz_world.endpoint_url)
    process = start_module(lz_world, tmp_path, watch_args(lz_world, until_path="dx"))
    wait_for_watch_reads(lz_world.endpoint_url, reads_before + 3)
    failover = timed(lambda: move_to_vpn(ec2, lz_world))
    settle(lz_world.endpoint_url)
    failback = timed(lambda: move_to_dx(ec2, lz_world))

    result = module_result(process, timeout=30)
    assert result["ended_by"] == "until_path"
    assert result["changed"] is False
    assert result["final"] == {lz_world.prod_rtb_id: "dx"}
    assert_bounded(next(change for change in result["changes"] if change["to_path"] == "vpn"), failover)
    assert_bounded(result["changes"][-1], failback)
    assert result["ended_at"] - failback[1] < 2.0, "the watch ends at the first read on the wanted path"


def test_duration_ends_the_watch_and_counts_every_read(lz_world, tmp_path):
    reads_before = describe_reads(lz_world.endpoint_url)
    result = module_result(start_module(lz_world, tmp_path, watch_args(lz_world, interval=0.25, duration=1.5)))
    assert result["ended_by"] == "duration"
    assert result["changes"] == []
    assert result["reads"] == describe_reads(lz_world.endpoint_url) - reads_before
    # The first read plus one per 0.25 s slot up to the end; a slow read may skip a slot.
    assert 4 <= result["reads"] <= 7
    assert result["ended_at"] - result["started_at"] == pytest.approx(1.5, abs=1.0)


def test_failed_reads_are_counted_and_the_watch_carries_on(ec2, lz_world, tmp_path):
    stop_file = tmp_path / "watch.stop"
    reads_before = describe_reads(lz_world.endpoint_url)
    process = start_module(lz_world, tmp_path, watch_args(lz_world, stop_file=str(stop_file)))
    wait_for_watch_reads(lz_world.endpoint_url, reads_before + 2)
    # Three 5xx answers in a row use up one read's attempts.
    put_fault(lz_world.endpoint_url, "DescribeRouteTables", "InternalError", count=3)
    wait_for(lambda: not get_fault_stats(lz_world.endpoint_url)["rules"], 30, "the faults to be served")
    failover = timed(lambda: move_to_vpn(ec2, lz_world))
    settle(lz_world.endpoint_url)
    stop_file.touch()

    result = module_result(process, timeout=30)
    delete_faults(lz_world.endpoint_url)
    assert result["ended_by"] == "stop_file"
    assert result["read_errors"] >= 1
    assert "InternalError" in result["last_error"]
    assert any("reads failed" in warning for warning in result["warnings"])
    assert result["final"] == {lz_world.prod_rtb_id: "vpn"}
    assert_bounded(result["changes"][-1], failover)


def test_bad_inputs_fail_before_any_read(lz_world, tmp_path):
    leftover = tmp_path / "leftover.stop"
    leftover.touch()
    args = watch_args(lz_world, destination_cidrs=[ONPREM, "198.19.0.1/24"], interval=0.01, duration=7200, stop_file=str(leftover))
    args["route_table_ids"] = [lz_world.prod_rtb_id, lz_world.probe_rtb_id]
    reads_before = describe_reads(lz_world.endpoint_url)

    result = module_result(start_module(lz_world, tmp_path, args), timeout=30)
    assert result["failed"] is True
    for problem in ("host bits set", "probe subnet's route table", "interval must be at least 0.1",
                    "duration must be more than 0 and at most 3600", "stop_file %s already exists" % leftover):
        assert problem in result["msg"]
    assert "Traceback" not in json.dumps(result)
    assert describe_reads(lz_world.endpoint_url) == reads_before


def test_inputs_wrong_for_ec2_fail_at_the_validating_read(lz_world, tmp_path):
    args = watch_args(lz_world, vpn_eni_id=lz_world.other_eni_id, route_table_ids=[lz_world.prod_rtb_id, "rtb-0000000000000000f"])
    reads_before = describe_reads(lz_world.endpoint_url)
    started = time.monotonic()

    result = module_result(start_module(lz_world, tmp_path, args), timeout=30)
    assert result["failed"] is True
    assert "rtb-0000000000000000f not found" in result["msg"] and lz_world.other_vpc_id in result["msg"]
    assert describe_reads(lz_world.endpoint_url) == reads_before + 1, "only the validating read"
    assert time.monotonic() - started < 30, "it fails at once, not after the duration"
