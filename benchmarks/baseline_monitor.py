# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark's comparison point: the simple rule of the original reference monitor.

This is NOT a product and is kept deliberately short: no configuration file, no
metrics, no state file, no drift repair, no care for restarts. It exists only so
that ``benchmarks/monitor_failover.py`` can run the same scenarios against the
old rule and the daemon.

The rule, for one target:

* a cycle sends 3 echoes, 1 s apart, each allowed 1 s (what ``ping -c 3 -W 1``
  does), then pauses ``--pause`` seconds (default 2) before the next cycle;
* on DX, a cycle in which all 3 echoes are lost fails over to the VPN;
* on the VPN, ``--failback-cycles`` good cycles in a row (default 10; good means
  at least one reply) fail back to DX.

Probing and route changes use the collection's core (``ansible_collections.localzones.failover.plugins.module_utils``:
``probing.icmp.IcmpProber``, ``ec2.load_snapshot``/``apply_plan``, ``routes.plan_routes``), so
only the decision rule differs from the daemon. A route change that fails is
retried after the next cycle. One JSON line per event on stdout (``ts`` in UTC
with milliseconds, like the daemon): ``started``, ``transition``,
``routes_applied``, ``route_error``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time

import boto3
import botocore.config

from ansible_collections.localzones.failover.plugins.module_utils.aws.calls import retry_config
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import apply_plan
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import load_snapshot
from ansible_collections.localzones.failover.plugins.module_utils.errors import FailoverError
from ansible_collections.localzones.failover.plugins.module_utils.probing.icmp import IcmpProber
from ansible_collections.localzones.failover.plugins.module_utils.routes import PATH_DX
from ansible_collections.localzones.failover.plugins.module_utils.routes import PATH_VPN
from ansible_collections.localzones.failover.plugins.module_utils.routes import path_of
from ansible_collections.localzones.failover.plugins.module_utils.routes import plan_routes

ECHOES = 3
ECHO_INTERVAL_S = 1.0
ECHO_TIMEOUT_S = 1.0


def log(event, **fields):
    now = time.time()
    line = {"ts": "%s.%03dZ" % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)), int(now % 1 * 1000)), "event": event}
    line.update(fields)
    print(json.dumps(line), flush=True)


class Baseline:
    """Desired path from the rule; the tables are brought to it after every cycle until that works."""

    def __init__(self, args):
        self.args = args
        config = botocore.config.Config(**retry_config())
        self.client = boto3.client("ec2", region_name=args.region, endpoint_url=args.endpoint_url, config=config)
        self.path = None
        self.applied = None
        self.good_cycles = 0

    def snapshot(self):
        return load_snapshot(self.client, self.args.route_table_id, self.args.destination, self.args.vpn_eni_id)

    def read_path(self):
        """What the tables show; anything but all-DX counts as the VPN path."""
        snapshot = self.snapshot()
        paths = {path_of([table], snapshot.destinations, snapshot.ownership) for table in snapshot.tables}
        return PATH_DX if paths == {PATH_DX} else PATH_VPN

    def apply(self):
        started = time.monotonic()
        try:
            snapshot = self.snapshot()
            plan = plan_routes(snapshot.tables, snapshot.destinations, self.path, snapshot.ownership)
            apply_plan(self.client, plan)
        except FailoverError as exc:
            log("route_error", path=self.path, error=exc.message)
            return
        self.applied = self.path
        log("routes_applied", path=self.path, actions=len(plan.actions), latency_ms=round((time.monotonic() - started) * 1000.0, 1))

    def judge(self, answered):
        if self.path == PATH_DX and answered == 0:
            self.move(PATH_VPN, "all_echoes_lost")
        elif self.path == PATH_VPN:
            self.good_cycles = self.good_cycles + 1 if answered else 0
            if self.good_cycles >= self.args.failback_cycles:
                self.move(PATH_DX, "good_cycles")

    def move(self, path, reason):
        log("transition", from_path=self.path, to_path=path, reason=reason)
        self.path = path
        self.good_cycles = 0

    def run(self):
        with IcmpProber([self.args.target], privileged=True, timeout=ECHO_TIMEOUT_S) as prober:
            self.path = self.applied = self.read_path()
            log("started", path=self.path, target=self.args.target, failback_cycles=self.args.failback_cycles, pause_s=self.args.pause)
            while True:
                echoes = prober.series(ECHOES, ECHO_INTERVAL_S, ECHO_TIMEOUT_S)[0]
                self.judge(sum(1 for echo in echoes if echo.received))
                if self.applied != self.path:
                    self.apply()
                time.sleep(self.args.pause)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Baseline failover monitor (the reference rule), for benchmarks only")
    parser.add_argument("--endpoint-url", help="EC2 endpoint (the fidelity endpoint in the benchmark)")
    parser.add_argument("--region", required=True)
    parser.add_argument("--route-table-id", action="append", required=True, help="a managed route table (repeat for several)")
    parser.add_argument("--destination", action="append", required=True, help="an on-premises CIDR (repeat for several)")
    parser.add_argument("--vpn-eni-id", required=True)
    parser.add_argument("--target", required=True, help="the one address probed")
    parser.add_argument("--failback-cycles", type=int, default=10, help="good cycles in a row before failback (default 10)")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between cycles (default 2)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    try:
        Baseline(args).run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
