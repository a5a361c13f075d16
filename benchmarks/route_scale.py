# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hundreds of routes under EC2's rate limits: how long a switch takes, per route strategy.

The EC2 fidelity endpoint runs as its own process with EC2's request throttling on
(``--throttle``: a token bucket per account, Region and API action; CreateRoute,
ReplaceRoute and DeleteRoute 50 tokens refilled at 5 per second, Describe* 100 at 20).
The monitor's own actuator (``monitor/actuator.py``, the thread that does every EC2
call of the daemon, with its pacing and retries) moves the route tables; there is no
probing here, a decision is set by hand, so the figures are the route half of a
failover only.

Scenarios (``--only`` takes these names):

* ``one_group``: one failover group, ``--tables`` route tables x ``--cidrs`` on-premises
  CIDRs (default 100 x 4 = 400 routes), switched to the VPN and back, per strategy.
* ``ten_groups``: ``--groups`` failover groups (default 10) of 10 tables x 4 CIDRs in one
  account and Region, all cut at the same moment and then restored. Run twice per strategy:
  every monitor with the default pacing (each assumes the whole bucket is its own) and with
  the account's budget divided among the groups (``api.mutating_burst`` and
  ``api.mutating_rate_per_s`` divided by the number of groups).

For every switch the table gives the time from the decision until the first and until
the last route table is on the new path, the mutating calls made, the floor those calls
impose (the first 50 from the bucket, the rest at 5 per second), the RequestLimitExceeded
answers EC2 gave, and whether every monitor converged (none gave up). The floor of the
routes that must move is printed beside each figure so the reader sees how close it is
to EC2's limit.

It measures and reports; it asserts nothing. Exit code 0 whatever was measured, 1 on a
setup error, 2 on bad usage, 130 when interrupted (the partial table is still printed
and saved). Raw numbers: ``benchmarks/results/route-scale-<UTC timestamp>.json``.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from lz_failover_monitor.actuator import Actuator
from lz_failover_monitor.aws import ec2_client as monitor_ec2_client
from lz_failover_monitor.config import validate_document
from lz_failover_monitor.metrics import Metrics
from ansible_collections.localzones.failover.plugins.module_utils import events
from ansible_collections.localzones.failover.plugins.module_utils.routes import PATH_DX
from ansible_collections.localzones.failover.plugins.module_utils.routes import PATH_VPN
from harness.aws import DUMMY_CREDENTIALS
from harness.aws import REGION
from harness.aws import VPN_APPLIANCE_TAG
from harness.aws import ec2_client
from harness.aws import http_json
from harness.aws import name_tags
from harness.aws import put_learned_prefixes
from harness.aws import reset_server
from harness.bench import EXIT_INTERRUPTED
from harness.bench import EXIT_OK
from harness.bench import EXIT_SETUP
from harness.bench import machine_info
from harness.bench import positive
from harness.bench import raise_keyboard_interrupt
from harness.bench import results_path
from harness.bench import rounded
from harness.bench import write_results
from harness.paths import REPO_ROOT
from harness.processes import stop_process
from harness.waiting import first_within
from harness.waiting import wait_for

SCENARIOS = ("one_group", "ten_groups")
STRATEGIES = ("per_route", "prefix_list")

# EC2's default bucket of each route action (mutating: 50 tokens, 5 per second).
MUTATING_BURST = 50
MUTATING_REFILL_PER_S = 5.0
ROUTE_ACTIONS = ("CreateRoute", "ReplaceRoute", "DeleteRoute")

VPC_CIDR = "198.18.0.0/16"
APPLIANCE_SUBNET_CIDR = "198.18.1.0/24"
ONPREM_SUPERNET = ipaddress.ip_network("198.19.0.0/16")
PREFIX_LIST_TAG = {"Key": "localzones.failover/role", "Value": "on-prem-destinations"}
SWITCH_TIMEOUT_S = 600.0


class BenchError(Exception):
    """The benchmark could not set up or measure a scenario."""


def onprem_cidrs(count):
    """``count`` on-premises /24 networks (from 198.19.0.0/16, documentation space)."""
    return [str(network) for network in list(ONPREM_SUPERNET.subnets(new_prefix=24))[:count]]


def route_floor_s(calls):
    """The least time EC2's bucket allows for ``calls`` calls of one route action."""
    return max(0, calls - MUTATING_BURST) / MUTATING_REFILL_PER_S


# --------------------------------------------------------------------------- the endpoint


class Endpoint:
    """``python -m tools.endpoint`` as a separate process, so the actuators do not share its interpreter."""

    def __init__(self):
        environment = dict(os.environ, **DUMMY_CREDENTIALS)
        self.process = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, "-m", "tools.endpoint", "--host", "127.0.0.1", "--port", "0"],
            cwd=REPO_ROOT, env=environment, stdout=subprocess.PIPE, text=True,
        )
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            stop_process(self.process)
            raise BenchError("the endpoint did not start (printed %r)" % self.url)

    def throttling(self, enabled):
        status, body = http_json("PUT" if enabled else "DELETE", self.url + "/_fidelity/throttling", {"enabled": True} if enabled else None)
        if status != 200:
            raise BenchError("the endpoint refused the throttling settings: %s" % body)
        return body

    def throttled(self):
        """RequestLimitExceeded answers per route action since throttling was last switched on."""
        status, body = http_json("GET", self.url + "/_fidelity/throttling")
        if status != 200:
            raise BenchError("could not read the throttling counters: %s" % body)
        counts = dict.fromkeys(ROUTE_ACTIONS + ("DescribeRouteTables",), 0)
        for bucket in body.get("counters", []):
            if bucket.get("action") in counts:
                counts[bucket["action"]] += bucket.get("throttled", 0)
        return counts

    def stop(self):
        stop_process(self.process)


# --------------------------------------------------------------------------- the EC2 world


@dataclass
class Group:
    """One failover group: its VPC's route tables, the appliance interface and, for prefix_list, its list."""

    name: str
    route_table_ids: list
    destination_cidrs: list
    vpn_eni_id: str
    prefix_list_id: str = None


def build_group(ec2, endpoint_url, name, tables, cidrs, strategy):
    vpc_id = ec2.create_vpc(CidrBlock=VPC_CIDR, TagSpecifications=name_tags("vpc", name))["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock=APPLIANCE_SUBNET_CIDR, AvailabilityZone=REGION + "a")["Subnet"]["SubnetId"]
    eni_id = ec2.create_network_interface(
        SubnetId=subnet_id, TagSpecifications=name_tags("network-interface", name + "-vpn", VPN_APPLIANCE_TAG),
    )["NetworkInterface"]["NetworkInterfaceId"]
    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni_id, SourceDestCheck={"Value": False})
    vgw_id = ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]
    ec2.attach_vpn_gateway(VpcId=vpc_id, VpnGatewayId=vgw_id)
    destinations = onprem_cidrs(cidrs)
    put_learned_prefixes(endpoint_url, vgw_id, destinations, REGION)
    route_table_ids = []
    for index in range(tables):
        rtb_id = ec2.create_route_table(VpcId=vpc_id, TagSpecifications=name_tags("route-table", "%s-%03d" % (name, index)))["RouteTable"]["RouteTableId"]
        ec2.enable_vgw_route_propagation(RouteTableId=rtb_id, GatewayId=vgw_id)
        route_table_ids.append(rtb_id)
    prefix_list_id = None
    if strategy == "prefix_list":
        prefix_list_id = ec2.create_managed_prefix_list(
            PrefixListName=name + "-on-prem", AddressFamily="IPv4", MaxEntries=len(destinations),
            Entries=[{"Cidr": cidr} for cidr in destinations],
            TagSpecifications=[{"ResourceType": "prefix-list", "Tags": [PREFIX_LIST_TAG]}],
        )["PrefixList"]["PrefixListId"]
    return Group(name, route_table_ids, destinations, eni_id, prefix_list_id)


def monitor_document(endpoint_url, group, strategy, api):
    document = {
        "region": REGION,
        "endpoint_url": endpoint_url,
        "route_table_ids": group.route_table_ids,
        "destination_cidrs": group.destination_cidrs,
        "vpn_eni_id": group.vpn_eni_id,
        "probe": {"targets": [str(ipaddress.ip_network(group.destination_cidrs[0])[10])]},
        "route_strategy": strategy,
        "api": api,
    }
    if group.prefix_list_id:
        document["prefix_list_id"] = group.prefix_list_id
    return document


# --------------------------------------------------------------------------- one switch


class TimedLog:
    """The actuator's event log, kept in memory with the monotonic time of each event."""

    def __init__(self):
        self._lock = threading.Lock()
        self.records = []

    def _add(self, name, fields):
        with self._lock:
            self.records.append((time.monotonic(), name, fields))

    def debug(self, name, **fields):
        self._add(name, fields)

    info = warning = error = exception = debug

    def since(self, moment, name):
        with self._lock:
            return [(at, fields) for at, event, fields in self.records if at >= moment and event == name]


@dataclass
class Monitor:
    group: Group
    actuator: Actuator
    log: TimedLog


def start_monitors(endpoint_url, groups, strategy, api):
    monitors = []
    for group in groups:
        config = validate_document(monitor_document(endpoint_url, group, strategy, api))
        log = TimedLog()
        actuator = Actuator(config, log, Metrics(), client_factory=monitor_ec2_client).start()
        monitors.append(Monitor(group, actuator, log))
    wait_for(lambda: all(monitor.actuator.initial_path == PATH_DX for monitor in monitors), 120,
             "every monitor to read its tables on Direct Connect", interval=0.1)
    return monitors


def table_times(monitor, started):
    """When each route table made its last successful route call of the switch that began at ``started``."""
    done = {}
    for at, fields in monitor.log.since(started, events.ROUTE_ACTION):
        if fields.get("outcome") in ("done", "already-done"):
            done[fields["route_table_id"]] = max(done.get(fields["route_table_id"], at), at)
    return done


def switch(endpoint, monitors, path):
    """Set ``path`` on every monitor at once; wait until all converged; return the measured figures."""
    before = endpoint.throttled()
    started = time.monotonic()
    for monitor in monitors:
        monitor.actuator.set_desired(path)
    converged = first_within(lambda: all(monitor.actuator.book.converged for monitor in monitors), SWITCH_TIMEOUT_S, 0.05)
    after = endpoint.throttled()
    times = {}
    calls = 0
    failures = 0
    for monitor in monitors:
        times.update(table_times(monitor, started))
        actions = monitor.log.since(started, events.ROUTE_ACTION)
        calls += sum(1 for _at, fields in actions if fields.get("outcome") in ("done", "already-done"))
        failures += len(monitor.log.since(started, events.API_ERROR))
    expected_tables = sum(len(monitor.group.route_table_ids) for monitor in monitors)
    moments = sorted(at - started for at in times.values())
    return {
        "path": path,
        "converged": bool(converged),
        "tables": expected_tables,
        "tables_switched": len(moments),
        "first_table_s": rounded(moments[0]) if moments else None,
        "last_table_s": rounded(moments[-1]) if moments and len(moments) == expected_tables else None,
        "route_calls": calls,
        "floor_s": route_floor_s(calls),
        "throttled": {action: after[action] - before.get(action, 0) for action in after},
        "failed_attempts": failures,
    }


def stop_monitors(monitors):
    for monitor in monitors:
        monitor.actuator.stop(timeout=5.0)


# --------------------------------------------------------------------------- scenarios


def run_case(endpoint, note, label, groups_spec, strategy, api):
    """Build ``groups_spec`` ([(name, tables, cidrs)]) afresh, then switch to the VPN and back."""
    reset_server(endpoint.url)
    ec2 = ec2_client(endpoint.url)
    groups = [build_group(ec2, endpoint.url, name, tables, cidrs, strategy) for name, tables, cidrs in groups_spec]
    endpoint.throttling(True)
    monitors = start_monitors(endpoint.url, groups, strategy, api)
    try:
        results = []
        for path in (PATH_VPN, PATH_DX):
            result = switch(endpoint, monitors, path)
            note("%s, %s -> %s: first table %s s, last %s s, %d calls (floor %.1f s), throttled %s%s" % (
                label, strategy, path, result["first_table_s"], result["last_table_s"], result["route_calls"], result["floor_s"],
                sum(result["throttled"].values()), "" if result["converged"] else ", NOT CONVERGED"))
            results.append(result)
        return results
    finally:
        stop_monitors(monitors)
        endpoint.throttling(False)


def scenario_cases(args):
    """(scenario, label, groups_spec, strategy, api) of every case to run, in order."""
    cases = []
    for strategy in args.strategies:
        if "one_group" in args.scenarios:
            cases.append(("one_group", "1 group x %d tables x %d CIDRs" % (args.tables, args.cidrs), [("g00", args.tables, args.cidrs)], strategy, {}))
        if "ten_groups" in args.scenarios:
            spec = [("g%02d" % index, 10, 4) for index in range(args.groups)]
            cases.append(("ten_groups", "%d groups x 10 x 4, default pacing" % args.groups, spec, strategy, {}))
            shared = {"mutating_burst": max(1, MUTATING_BURST // args.groups), "mutating_rate_per_s": MUTATING_REFILL_PER_S / args.groups}
            cases.append(("ten_groups", "%d groups x 10 x 4, budget shared" % args.groups, spec, strategy, shared))
    return cases


def table_rows(results):
    rows = []
    for case in results:
        for switch_result in case["switches"]:
            rows.append([
                case["label"], case["strategy"], "to " + switch_result["path"],
                "%s" % switch_result["first_table_s"], "%s" % switch_result["last_table_s"],
                "%d" % switch_result["route_calls"], "%.1f" % switch_result["floor_s"],
                "%d" % sum(switch_result["throttled"].values()), "yes" if switch_result["converged"] else "NO",
            ])
    return rows


def render_table(rows):
    headers = ["case", "strategy", "switch", "first table s", "last table s", "route calls", "floor s", "throttled", "all converged"]
    widths = [max(len(text) for text in column) for column in zip(headers, *rows)] if rows else [len(h) for h in headers]
    lines = [headers, ["-" * width for width in widths]] + rows
    return "\n".join("  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip() for line in lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.route_scale", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--only", default=",".join(SCENARIOS), help="scenarios, comma-separated: %s" % ", ".join(SCENARIOS))
    parser.add_argument("--strategies", default=",".join(STRATEGIES), help="comma-separated: %s" % ", ".join(STRATEGIES))
    parser.add_argument("--tables", type=positive(int), default=100, help="route tables of the one group (default 100)")
    parser.add_argument("--cidrs", type=positive(int), default=4, help="on-premises CIDRs of the one group (default 4)")
    parser.add_argument("--groups", type=positive(int), default=10, help="failover groups of ten_groups (default 10)")
    parser.add_argument("--output", help="where to write the raw numbers (JSON)")
    args = parser.parse_args(argv)
    args.scenarios = [name.strip() for name in args.only.split(",") if name.strip()]
    args.strategies = [name.strip() for name in args.strategies.split(",") if name.strip()]
    unknown = sorted(set(args.scenarios) - set(SCENARIOS)) + sorted(set(args.strategies) - set(STRATEGIES))
    if unknown:
        parser.error("unknown scenario or strategy: %s" % ", ".join(unknown))
    return args


def main(argv=None):
    args = parse_args(argv)
    started, started_wall = time.monotonic(), time.time()

    def note(message):
        print("[%7.1f s] %s" % (time.monotonic() - started, message), file=sys.stderr, flush=True)

    signal.signal(signal.SIGTERM, raise_keyboard_interrupt)
    for name, value in DUMMY_CREDENTIALS.items():
        os.environ[name] = value
    results, interrupted, exit_code = [], False, EXIT_OK
    try:
        endpoint = Endpoint()
    except (BenchError, OSError) as exc:
        print("setup error: %s" % exc, file=sys.stderr)
        return EXIT_SETUP
    try:
        for scenario, label, spec, strategy, api in scenario_cases(args):
            switches = run_case(endpoint, note, label, spec, strategy, api)
            results.append({"scenario": scenario, "label": label, "strategy": strategy, "api": api, "switches": switches})
    except KeyboardInterrupt:
        interrupted, exit_code = True, EXIT_INTERRUPTED
    except BenchError as exc:
        note("setup error: %s" % exc)
        exit_code = EXIT_SETUP
    finally:
        endpoint.stop()
    output = results_path("route-scale", started_wall, args.output)
    write_results(output, {"benchmark": "route_scale", "interrupted": interrupted, "machine": machine_info(),
                           "bucket": {"route_actions_burst": MUTATING_BURST, "route_actions_refill_per_s": MUTATING_REFILL_PER_S},
                           "options": {key: value for key, value in vars(args).items() if key != "only"}, "cases": results}, indent=2)
    print()
    print("route scale under EC2 throttling%s: %.1f min; floor = (calls - %d) / %g per s, EC2's bucket of one route action" % (
        " (interrupted, partial)" if interrupted else "", (time.monotonic() - started) / 60.0, MUTATING_BURST, MUTATING_REFILL_PER_S))
    print(render_table(table_rows(results)))
    print("raw numbers: %s" % os.path.relpath(output))
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
