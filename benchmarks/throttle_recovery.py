# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long a switch takes to finish once EC2 stops throttling: the project's pacing versus botocore's adaptive mode.

Against a local EC2 endpoint (tools/endpoint/), every CreateRoute is answered
RequestLimitExceeded for ``--throttle-s`` seconds (a fault rule, then cleared);
a plan of ``--tables`` x 2 CreateRoute runs meanwhile. Printed per client kind:
the seconds from the rule being cleared to the plan's last call, over ``--runs`` runs.

* ``pacing``: the route client of the modules and the monitor (botocore standard
  mode, ``calls.ROUTE_CALL_MAX_ATTEMPTS``) and ``apply_plan`` with a ``pacing.Pacer``.
* ``adaptive``: botocore's adaptive mode with the monitor's previous 8 attempts,
  calls one after the other (what the project did before issue 15); a call that
  gives up is started again at once, as the monitor's next attempt would.

    .venv/bin/python -m benchmarks.throttle_recovery --runs 5
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import threading
import time

import botocore.config

from ansible_collections.localzones.failover.plugins.module_utils.aws.calls import ROUTE_CALL_MAX_ATTEMPTS
from ansible_collections.localzones.failover.plugins.module_utils.aws.calls import retry_config
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import apply_plan
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import load_snapshot
from ansible_collections.localzones.failover.plugins.module_utils.aws.pacing import Pacer
from ansible_collections.localzones.failover.plugins.module_utils.errors import AwsApiError
from ansible_collections.localzones.failover.plugins.module_utils.routes import PATH_VPN
from ansible_collections.localzones.failover.plugins.module_utils.routes import plan_routes
from harness.aws import DUMMY_CREDENTIALS
from harness.aws import build_lz_world
from harness.aws import delete_faults
from harness.aws import ec2_client
from harness.aws import put_fault
from harness.aws import reset_server
from tools.endpoint.server import serve

ADAPTIVE_ATTEMPTS = 8


def pacing_switch(endpoint_url, plan):
    client = ec2_client(endpoint_url, config=botocore.config.Config(**retry_config(max_attempts=ROUTE_CALL_MAX_ATTEMPTS)))
    apply_plan(client, plan, pacer=Pacer())


def adaptive_switch(endpoint_url, plan):
    settings = retry_config()
    settings["retries"] = {"mode": "adaptive", "total_max_attempts": ADAPTIVE_ATTEMPTS}
    client = ec2_client(endpoint_url, config=botocore.config.Config(**settings))
    remaining = plan
    while remaining.actions:
        try:
            apply_plan(client, remaining)
            return
        except AwsApiError as exc:
            remaining = dataclasses.replace(remaining, actions=remaining.actions[len(exc.completed):])


SWITCHES = {"pacing": pacing_switch, "adaptive": adaptive_switch}


def one_run(endpoint_url, switch, tables, throttle_s):
    """Seconds from the end of the throttling episode to the plan's last call."""
    reset_server(endpoint_url)
    ec2 = ec2_client(endpoint_url)
    world = build_lz_world(ec2, endpoint_url)
    table_ids = [world.prod_rtb_id] + [ec2.create_route_table(VpcId=world.vpc_id)["RouteTable"]["RouteTableId"] for _table in range(tables - 1)]
    snapshot = load_snapshot(ec2, table_ids, world.onprem_cidrs, world.vpn_eni_id)
    plan = plan_routes(snapshot.tables, snapshot.destinations, PATH_VPN, snapshot.ownership)
    put_fault(endpoint_url, "CreateRoute", "RequestLimitExceeded", count=-1)
    done = []
    runner = threading.Thread(target=lambda: (switch(endpoint_url, plan), done.append(time.monotonic())))
    runner.start()
    time.sleep(throttle_s)
    delete_faults(endpoint_url)
    cleared = time.monotonic()
    runner.join()
    return done[0] - cleared


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tables", type=int, default=2)
    parser.add_argument("--throttle-s", type=float, default=3.0)
    args = parser.parse_args(argv)
    for name, value in DUMMY_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    server = serve("127.0.0.1", 0)
    try:
        print("%-9s %5s %9s %9s %9s  (s from throttling cleared to last call; %d CreateRoute, %.1f s throttled)"
              % ("client", "runs", "median", "max", "min", args.tables * 2, args.throttle_s))
        for name, switch in SWITCHES.items():
            times = [one_run(server.url, switch, args.tables, args.throttle_s) for _run in range(args.runs)]
            print("%-9s %5d %9.2f %9.2f %9.2f" % (name, len(times), statistics.median(times), max(times), min(times)))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
