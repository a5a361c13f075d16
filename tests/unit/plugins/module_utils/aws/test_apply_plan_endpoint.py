# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reads and paced route calls against the EC2 endpoint, counted by its fault statistics.

The throttling test takes about 4 s (3 s of them the throttling episode it injects);
the others well under a second each.
"""

from __future__ import annotations

import threading
import time

import botocore.config
import pytest

from ansible_collections.localzones.failover.plugins.module_utils.aws.calls import ROUTE_CALL_MAX_ATTEMPTS
from ansible_collections.localzones.failover.plugins.module_utils.aws.calls import retry_config
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import apply_plan
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import load_snapshot
from ansible_collections.localzones.failover.plugins.module_utils.aws.pacing import Pacer
from ansible_collections.localzones.failover.plugins.module_utils.routes import PATH_VPN
from ansible_collections.localzones.failover.plugins.module_utils.routes import path_of
from ansible_collections.localzones.failover.plugins.module_utils.routes import plan_routes
from harness.aws import delete_faults
from harness.aws import ec2_client
from harness.aws import get_fault_stats
from harness.aws import put_fault

pytestmark = pytest.mark.moto

THROTTLING_S = 3.0
# The time is the behaviour (issue 15's goal: 2 s from the API answering again to the plan's last
# call). The pacer waits at most 1 s (jittered) before a throttled call runs again; measured
# 0.15-0.48 s (load 4) and 0.55 s (beside a CPU hog, load 7), and by benchmarks/throttle_recovery.py
# median 0.53 s, max 0.72 s: 2.5 s is 3.5x the slowest seen.
RECOVERY_LIMIT_S = 2.5


def route_client(endpoint_url):
    """A client built the way the modules build theirs for route calls."""
    return ec2_client(endpoint_url, config=botocore.config.Config(**retry_config(max_attempts=ROUTE_CALL_MAX_ATTEMPTS)))


def extra_route_tables(ec2, world, count):
    return [ec2.create_route_table(VpcId=world.vpc_id)["RouteTable"]["RouteTableId"] for _table in range(count)]


def test_one_describe_route_tables_reads_every_table(ec2, lz_world, ec2_endpoint):
    tables = [lz_world.prod_rtb_id] + extra_route_tables(ec2, lz_world, 5)
    delete_faults(ec2_endpoint)  # zero the counters
    snapshot = load_snapshot(ec2, tables, lz_world.onprem_cidrs, lz_world.vpn_eni_id, lz_world.probe_rtb_id)
    assert len(snapshot.tables) == 6
    assert get_fault_stats(ec2_endpoint)["requests"].get("DescribeRouteTables") == 1


def test_a_switch_completes_soon_after_a_throttling_episode(ec2, lz_world, ec2_endpoint):
    tables = [lz_world.prod_rtb_id] + extra_route_tables(ec2, lz_world, 1)
    snapshot = load_snapshot(ec2, tables, lz_world.onprem_cidrs, lz_world.vpn_eni_id)
    plan = plan_routes(snapshot.tables, snapshot.destinations, PATH_VPN, snapshot.ownership)
    assert len(plan.actions) == 4
    put_fault(ec2_endpoint, "CreateRoute", "RequestLimitExceeded", count=-1)

    finished = []
    pacer = Pacer()
    runner = threading.Thread(target=lambda: finished.append((apply_plan(route_client(ec2_endpoint), plan, pacer=pacer), time.monotonic())))
    runner.start()
    time.sleep(THROTTLING_S)
    assert not finished, "every CreateRoute is throttled during the episode"
    delete_faults(ec2_endpoint)
    cleared = time.monotonic()
    runner.join(30)

    outcomes, last_call_done = finished[0]
    assert [outcome.outcome for outcome in outcomes] == ["done"] * 4
    assert pacer.throttled > 0
    after = load_snapshot(ec2, tables, lz_world.onprem_cidrs, lz_world.vpn_eni_id)
    assert path_of(after.tables, after.destinations, after.ownership) == PATH_VPN
    print("the plan ended %.2f s after the throttling" % (last_call_done - cleared))
    assert last_call_done - cleared < RECOVERY_LIMIT_S, "the plan ended %.2f s after the throttling" % (last_call_done - cleared)
