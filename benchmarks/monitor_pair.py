# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Two monitors of one failover group on one lease: how long a takeover takes, and one writer under DX flapping.

Both daemons run in the monitor lab of harness/monitor.py (real ICMP, the endpoint as a
process, the daemons as processes) with the PRODUCTION coordination defaults (lease 8 s,
renewed every 1 s, 1 s of clock skew) and the production probe and API defaults; the
coordination table is created on the endpoint's DynamoDB. Each daemon signs with an access
key of its own, so the endpoint's request log says who made every call.

* ``takeover``: ``--runs`` times, both up, monitor-a holding the lease: DX is cut and the
  holder SIGKILLed at the same moment; timed from the cut until every managed route is on
  the VPN path (DescribeRouteTables polled every 20 ms). The same cut with the holder alive
  is the pair's normal failover, for comparison.
* ``flapping``: ``--flap-minutes`` of DX cut and restored on a seeded random schedule (see
  ``flap_schedule``) with both monitors alive, then the same schedule with one monitor and
  no table (``--single-minutes``: a shorter prefix of it). From the request log: every
  mutating EC2 call per caller, one writer per holder term (``overlapping_writers``), the
  lease changes, and the sequence of route-path changes, compared between the two runs.

Needs root (network namespaces). Results: benchmarks/results/monitor-pair-<UTC stamp>.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

import boto3

from ansible_collections.localzones.failover.plugins.module_utils.coordination import schema
from ansible_collections.localzones.failover.plugins.module_utils.policy.defaults import default
from harness.aws import get_request_log
from harness.bench import EXIT_INTERRUPTED
from harness.bench import EXIT_OK
from harness.bench import EXIT_SETUP
from harness.bench import log_time
from harness.bench import machine_info
from harness.bench import positive
from harness.bench import start_netns_benchmark
from harness.bench import rounded
from harness.bench import results_path
from harness.bench import stats
from harness.bench import write_results
from harness.monitor import METRICS_PORT
from harness.monitor import MonitorLab
from harness.monitor import static_routes
from harness.netns import NetnsLab
from harness.waiting import wait_for
from tools.endpoint.writers import ROUTE_MUTATIONS
from tools.endpoint.writers import overlapping_writers

TABLE = "lz-failover-coordination"
GROUP = "pair-bench"
MONITORS = {
    # monitor_id: (access key id, metrics port)
    "monitor-a": ("AKIAPAIRBENCHMONA", METRICS_PORT),
    "monitor-b": ("AKIAPAIRBENCHMONB", METRICS_PORT + 1),
}
SINGLE = ("single", "AKIASINGLEBENCHMON", METRICS_PORT + 2)

LEASE_S = default("coordination.lease_s")
RENEW_INTERVAL_S = default("coordination.renew_interval_s")
MAX_CLOCK_SKEW_S = default("coordination.max_clock_skew_s")
# A silent cut is detected after hard_failure_rounds failed rounds, the last waiting its timeout.
DETECTION_S = default("policy.hard_failure_rounds") * default("probe.interval") + default("probe.timeout")
TAKEOVER_BOUND_S = LEASE_S + RENEW_INTERVAL_S + MAX_CLOCK_SKEW_S + DETECTION_S
# The flapping's failback hold, not doubled by dampening (max hold = hold): the production 30 s,
# doubled up to 600 s, would leave 10 minutes of flapping on the VPN path after the third failover.
FLAP_FAILBACK_HOLD_S = 10.0
TAKEOVER_CAP_S = TAKEOVER_BOUND_S + 20
POLL_S = 0.02
# Pair and single: a path change matches when it has the same path and its offset from the
# schedule's start differs by at most this (probe phase 0.1 s, a route call, a loaded machine).
MATCH_TOLERANCE_S = 1.0
PATH_OF_ACTION = {"CreateRoute": "vpn", "ReplaceRoute": "vpn", "DeleteRoute": "dx"}


# --------------------------------------------------------------------------- pure parts (tests/unit/benchmarks)


def flap_schedule(seed, total_s, detection_s=DETECTION_S, hold_s=FLAP_FAILBACK_HOLD_S):
    """``[(cut offset s, restore offset s), ...]`` covering ``total_s``, drawn from ``random.Random(seed)``.

    Outages: a third blips shorter than the detection (half of it at most, so even a cut
    that straddles a probe round cannot fail 4 rounds), a third 1-5 s, a third 1-2 holds.
    Up-times: half shorter than the failback hold (it restarts), half longer (a failback).
    """
    rng = random.Random(seed)
    schedule = []
    at = 2.0  # healthy at first: both monitors see DX
    while at < total_s:
        kind = rng.choice(("blip", "outage", "long"))
        if kind == "blip":
            down = rng.uniform(0.05, detection_s / 2)
        elif kind == "outage":
            down = rng.uniform(1.0, 5.0)
        else:
            down = rng.uniform(hold_s, 2 * hold_s)
        restore = min(at + down, total_s)
        schedule.append((round(at, 3), round(restore, 3)))
        if rng.random() < 0.5:
            up = rng.uniform(0.5, hold_s - 2.0)
        else:
            up = rng.uniform(hold_s + 2.0, hold_s + 20.0)
        at = restore + up
    return schedule


def schedule_prefix(schedule, total_s):
    """The outages of ``schedule`` that begin before ``total_s``, the last cut short at ``total_s``."""
    return [(cut, min(restore, total_s)) for cut, restore in schedule if cut < total_s]


def mutating_calls(records, access_key_id=None):
    """The EC2 route calls of the request log (of one caller when given), by start."""
    calls = [entry for entry in records if entry.get("service") == "ec2" and entry.get("action") in ROUTE_MUTATIONS
             and (access_key_id is None or entry.get("access_key_id") == access_key_id)]
    return sorted(calls, key=lambda entry: entry["start"])


def path_changes(calls, start_path="dx"):
    """``[(time, path, caller), ...]``: where successful route calls moved the table to another path.

    A CreateRoute/ReplaceRoute to the VPN ENI means the VPN path, a DeleteRoute the DX path;
    the run of calls that converged one path counts once, at its first call's start.
    """
    changes = []
    current = start_path
    for entry in calls:
        if entry.get("status") != 200:
            continue
        path = PATH_OF_ACTION[entry["action"]]
        if path != current:
            changes.append((entry["start"], path, entry.get("access_key_id")))
            current = path
    return changes


def holder_terms(acquisitions):
    """``[(start, access key), ...]`` from ``(time, access key)`` lease acquisitions, in order."""
    return sorted(acquisitions)


def calls_by_term(calls, terms):
    """Each holder term with the route calls that started in it: ``[(start, holder, [calls])]``.

    Calls before the first term are put in a term of their own with holder ``None``.
    """
    grouped = [(None, None, [])] + [(start, holder, []) for start, holder in terms]
    for entry in calls:
        index = 0
        for position, (start, _holder) in enumerate(terms, 1):
            if entry["start"] >= start:
                index = position
        grouped[index][2].append(entry)
    return [term for term in grouped if term[0] is not None or term[2]]


def term_breaches(calls, terms):
    """Per holder term: ``overlapping_writers`` of its calls and the calls of any caller but its holder."""
    breaches = []
    for start, holder, term_calls in calls_by_term(calls, terms):
        conflicts = overlapping_writers(term_calls, ROUTE_MUTATIONS)
        foreign = [entry for entry in term_calls if entry.get("access_key_id") != holder]
        breaches.append({"term_start": start, "holder": holder, "calls": len(term_calls),
                         "overlapping_writers": [conflict._asdict() for conflict in conflicts], "not_the_holder": foreign})
    return breaches


def compare_changes(first, second, tolerance_s=MATCH_TOLERANCE_S):
    """Two sequences of ``(offset s, path)`` compared: counts, same order of paths, and offsets within ``tolerance_s``.

    Returns ``{"counts", "same_order", "within_tolerance", "mismatches", "max_offset_diff_s"}``;
    ``mismatches``: the positions (in the shorter sequence) whose path differs or whose offsets
    differ by more than the tolerance.
    """
    paths_first = [path for _offset, path in first]
    paths_second = [path for _offset, path in second]
    mismatches = []
    diffs = []
    for index, ((offset_a, path_a), (offset_b, path_b)) in enumerate(zip(first, second)):
        diff = abs(offset_a - offset_b)
        diffs.append(diff)
        if path_a != path_b or diff > tolerance_s:
            mismatches.append({"index": index, "first": [round(offset_a, 3), path_a], "second": [round(offset_b, 3), path_b]})
    return {
        "counts": [len(first), len(second)],
        "same_order": paths_first == paths_second,
        "within_tolerance": not mismatches and len(first) == len(second),
        "mismatches": mismatches,
        "max_offset_diff_s": round(max(diffs), 3) if diffs else None,
        "tolerance_s": tolerance_s,
    }


def compare_runs(pair_changes, single_changes, prefix_s=None):
    """``compare_changes`` of two runs' ``path_changes``; with ``prefix_s`` (the single run played only a
    prefix of the schedule) both are cut at ``prefix_s``: after it each run saw a different network."""
    def offsets(changes):
        return [(change["offset_s"], change["path"]) for change in changes if prefix_s is None or change["offset_s"] <= prefix_s]
    return compare_changes(offsets(pair_changes), offsets(single_changes))


# --------------------------------------------------------------------------- the lab


class BenchError(Exception):
    """A run could not be measured (a process died, a wait ran out)."""


class PairBench:
    """The monitor lab and the daemons of the current run."""

    def __init__(self, netns_lab, workdir, note):
        self.workdir = workdir
        self.note = note
        self.mlab = MonitorLab(netns_lab, workdir)
        self.ec2 = self.mlab.ec2()
        self.world = None

    def begin(self, name):
        workdir = os.path.join(self.workdir, name)
        os.makedirs(workdir, exist_ok=True)
        self.mlab.begin_test(workdir)
        self.world = self.mlab.fresh_world()  # the reset also empties DynamoDB and the request log's faults

    def end(self):
        self.mlab.end_test()

    def create_table(self):
        dynamodb = boto3.client("dynamodb", region_name=self.world.region, endpoint_url=self.mlab.endpoint_url,
                                aws_access_key_id="testing", aws_secret_access_key="testing")
        dynamodb.create_table(
            TableName=TABLE, BillingMode=schema.BILLING_MODE,
            AttributeDefinitions=[{"AttributeName": schema.PARTITION_KEY, "AttributeType": "S"}, {"AttributeName": schema.SORT_KEY, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": schema.PARTITION_KEY, "KeyType": "HASH"}, {"AttributeName": schema.SORT_KEY, "KeyType": "RANGE"}],
        )

    def config(self, name, metrics_port, coordination):
        """The lab's document with the production API, interval and coordination defaults; the flapping's hold."""
        document = self.mlab.config(
            self.world, policy={"failback_hold_s": FLAP_FAILBACK_HOLD_S, "dampening_max_hold_s": FLAP_FAILBACK_HOLD_S},
            metrics={"address": self.mlab.address, "port": metrics_port},
            state_file=os.path.join(self.mlab.workdir, "state-%s.json" % name),
        )
        for test_only in ("api", "reconcile_interval_s", "status_interval_s"):
            document.pop(test_only, None)  # production defaults
        if coordination:
            document["coordination"] = {"table": TABLE, "failover_group": GROUP, "monitor_id": name}
        return document

    def start(self, name, access_key_id, metrics_port, coordination=True):
        path = self.mlab.write_config(self.config(name, metrics_port, coordination), "%s.yaml" % name)
        daemon = self.mlab.start_daemon(path, name=name, access_key_id=access_key_id, metrics_port=metrics_port)
        daemon.wait_for_event("initial_path", timeout=30)
        return daemon

    def start_pair(self):
        """monitor-a takes the lease first; monitor-b then runs as its standby."""
        self.create_table()
        holder = self.start("monitor-a", *MONITORS["monitor-a"])
        holder.wait_for_event("lease_acquired", timeout=20)
        standby = self.start("monitor-b", *MONITORS["monitor-b"])
        wait_for(lambda: standby.scrape().value("lz_failover_lease_fencing") == 1, 20, "the standby to read the lease", 0.1)
        wait_for(lambda: holder.scrape().value("lz_failover_lease_holder") == 1, 10, "the holder to report itself the writer", 0.1)
        return holder, standby

    def on_vpn(self):
        return static_routes(self.ec2, self.world.prod_rtb_id) == {cidr: self.world.vpn_eni_id for cidr in self.world.onprem_cidrs}

    def requests(self):
        log = get_request_log(self.mlab.endpoint_url)
        if log["dropped"]:
            raise BenchError("the request log dropped %d records" % log["dropped"])
        return log["requests"]


def acquisitions(daemons):
    """``[(time, access key, fencing), ...]`` of every lease_acquired logged by ``daemons`` ({key: daemon})."""
    return sorted((log_time(event), key, event.get("fencing")) for key, daemon in daemons.items() for event in daemon.events("lease_acquired"))


def lease_ends(daemons):
    """Every lease_lost / lease_released / lease_stepped_down logged."""
    return [{"key": key, "event": event["event"], "ts": event["ts"]} for key, daemon in daemons.items() for event in daemon.lines()
            if event.get("event") in ("lease_lost", "lease_released", "lease_stepped_down")]


# --------------------------------------------------------------------------- takeover


def takeover_run(bench, kill_holder, rng):
    bench.begin("takeover-%s" % ("kill" if kill_holder else "alive"))
    try:
        holder, standby = bench.start_pair()
        time.sleep(rng.uniform(1.0, 2.0))  # probes warm, the renewal at an arbitrary phase
        cut_at = time.time()
        bench.mlab.set_dx(up=False)
        if kill_holder:
            holder.kill()
        try:
            wait_for(bench.on_vpn, TAKEOVER_CAP_S, "every managed route on the VPN path", POLL_S)
            switched_s = time.time() - cut_at
        except AssertionError:
            switched_s = None
        daemons = {MONITORS["monitor-a"][0]: holder, MONITORS["monitor-b"][0]: standby}
        if kill_holder and switched_s is not None:
            standby.wait_for_event("routes_converged", path="vpn", timeout=10)
        else:
            time.sleep(1.0)
        records = bench.requests()
        acquired = acquisitions(daemons)
        calls = mutating_calls(records)
        writer = MONITORS["monitor-b" if kill_holder else "monitor-a"][0]
        new_terms = [(at, key, fencing) for at, key, fencing in acquired if at >= cut_at - 0.5]
        return {
            "holder_killed": kill_holder,
            "switched_s": rounded(switched_s),
            "lease_acquired_after_cut_s": [rounded(at - cut_at) for at, _key, _fencing in new_terms],
            "new_fencing": [fencing for _at, _key, fencing in new_terms],
            "overlapping_writers": [conflict._asdict() for conflict in overlapping_writers(records, ROUTE_MUTATIONS)],
            "route_calls": {("monitor-a" if key == MONITORS["monitor-a"][0] else "monitor-b"): len(mutating_calls(records, key)) for key in daemons},
            "writes_by_expected_writer_only": all(entry["access_key_id"] == writer for entry in calls),
            "lease_ends": lease_ends(daemons),
        }
    finally:
        bench.end()


def scenario_takeover(bench, args, note):
    rng = random.Random(args.seed)
    result = {"bound_s": rounded(TAKEOVER_BOUND_S), "bound": "lease_s %g + renew_interval_s %g + max_clock_skew_s %g + detection %g" % (
        LEASE_S, RENEW_INTERVAL_S, MAX_CLOCK_SKEW_S, DETECTION_S), "killed": [], "alive": []}
    for run in range(args.runs):
        for kill_holder in (True, False):
            trial = takeover_run(bench, kill_holder, rng)
            result["killed" if kill_holder else "alive"].append(trial)
            note("takeover run %d (%s): routes on VPN after %s s, lease acquired after %s s (fencing %s), overlapping writers: %d" % (
                run + 1, "holder killed" if kill_holder else "holder alive", trial["switched_s"], trial["lease_acquired_after_cut_s"],
                trial["new_fencing"], len(trial["overlapping_writers"])))
    for kind in ("killed", "alive"):
        result[kind + "_stats"] = stats([trial["switched_s"] for trial in result[kind]])
    result["killed_lease_acquired_stats"] = stats([(trial["lease_acquired_after_cut_s"] or [None])[0] for trial in result["killed"]])
    return result


# --------------------------------------------------------------------------- flapping


def play(bench, schedule, note):
    """Cut and restore DX at the schedule's offsets; return the wall time of offset 0."""
    started = time.time()
    for cut, restore in schedule:
        sleep_until(started + cut)
        bench.mlab.set_dx(up=False)
        sleep_until(started + restore)
        bench.mlab.set_dx(up=True)
    note("schedule played: %d outages in %.0f s" % (len(schedule), time.time() - started))
    return started


def sleep_until(moment):
    delay = moment - time.time()
    if delay > 0:
        time.sleep(delay)


def settle_s():
    """After the last restore: the failback hold and room for its route calls."""
    return FLAP_FAILBACK_HOLD_S + 5.0


def flap_run(bench, schedule, pair, note):
    bench.begin("flap-%s" % ("pair" if pair else "single"))
    try:
        if pair:
            holder, standby = bench.start_pair()
            daemons = {MONITORS["monitor-a"][0]: holder, MONITORS["monitor-b"][0]: standby}
        else:
            name, key, port = SINGLE
            daemons = {key: bench.start(name, key, port, coordination=False)}
        time.sleep(2.0)
        started = play(bench, schedule, note)
        time.sleep(settle_s())
        for daemon in daemons.values():
            daemon.assert_running()
        records = bench.requests()
        calls = [entry for entry in mutating_calls(records) if entry["start"] >= started - 2.0]
        changes = path_changes(calls)
        result = {
            "monitors": len(daemons),
            "route_calls_per_caller": {key: len([entry for entry in calls if entry["access_key_id"] == key]) for key in daemons},
            "route_calls": [{"offset_s": round(entry["start"] - started, 3), "duration_s": round(entry["end"] - entry["start"], 3),
                             "caller": entry["access_key_id"], "action": entry["action"], "status": entry["status"]} for entry in calls],
            "path_changes": [{"offset_s": round(at - started, 3), "path": path, "caller": caller} for at, path, caller in changes],
            "transitions_logged": {key: [{"offset_s": round(log_time(event) - started, 3), "to": event.get("to_path"), "reason": event.get("reason")}
                                         for event in daemon.events("transition")] for key, daemon in daemons.items()},
        }
        if pair:
            acquired = acquisitions(daemons)
            terms = holder_terms([(at, key) for at, key, _fencing in acquired])
            result.update(
                lease_acquisitions=[{"offset_s": round(at - started, 3), "key": key, "fencing": fencing} for at, key, fencing in acquired],
                lease_changes_while_both_live=max(0, len(acquired) - 1),
                lease_ends=lease_ends(daemons),
                terms=term_breaches(calls, terms),
                overlapping_writers_whole_run=[conflict._asdict() for conflict in overlapping_writers(calls, ROUTE_MUTATIONS)],
            )
        return result
    finally:
        bench.end()


def scenario_flapping(bench, args, note):
    total_s = args.flap_minutes * 60.0
    schedule = flap_schedule(args.seed, total_s)
    note("flapping: %d outages over %.0f s (seed %s)" % (len(schedule), total_s, args.seed))
    result = {"seed": args.seed, "failback_hold_s": FLAP_FAILBACK_HOLD_S, "detection_s": DETECTION_S, "schedule": schedule}
    result["pair"] = flap_run(bench, schedule, True, note)
    note("pair: %d path changes, lease changes while both live: %s, per-term breaches: %s" % (
        len(result["pair"]["path_changes"]), result["pair"]["lease_changes_while_both_live"],
        sum(len(term["overlapping_writers"]) + len(term["not_the_holder"]) for term in result["pair"]["terms"])))
    single_s = min(total_s, args.single_minutes * 60.0) if args.single_minutes else total_s
    single_schedule = schedule_prefix(schedule, single_s)
    result["single_prefix_s"] = single_s
    result["single"] = flap_run(bench, single_schedule, False, note)
    result["comparison"] = compare_runs(result["pair"]["path_changes"], result["single"]["path_changes"], single_s if single_s < total_s else None)
    note("pair vs single (first %.0f s): %s" % (single_s, json.dumps(result["comparison"])))
    return result


# --------------------------------------------------------------------------- the table


def _seconds(summary):
    if not summary or "median" not in summary:
        return "not measured"
    missed = ", %d missed" % summary["missed"] if summary["missed"] else ""
    return "median %.2f s, max %.2f s (n=%d%s)" % (summary["median"], summary["max"], summary["n"], missed)


def summary_rows(scenarios):
    """``[(what, measured), ...]``: the rows of the printed table (and of benchmarks/README.md) from the JSON's scenarios."""
    rows = []
    takeover = scenarios.get("takeover")
    if takeover:
        killed = takeover["killed"]
        rows.append(("takeover: DX cut + holder SIGKILLed -> routes on VPN", _seconds(takeover["killed_stats"])))
        rows.append(("takeover: DX cut + holder SIGKILLed -> standby's lease_acquired", "%s; fencing %s" % (
            _seconds(takeover["killed_lease_acquired_stats"]), sorted({fencing for trial in killed for fencing in trial["new_fencing"]}))))
        rows.append(("bound: %s" % takeover["bound"], "%.2f s" % takeover["bound_s"]))
        rows.append(("normal failover: DX cut, holder alive -> routes on VPN", _seconds(takeover["alive_stats"])))
        conflicts = sum(len(trial["overlapping_writers"]) for kind in ("killed", "alive") for trial in takeover[kind])
        rows.append(("takeover runs: overlapping_writers / a write by the wrong monitor", "%d / %d" % (
            conflicts, sum(not trial["writes_by_expected_writer_only"] for kind in ("killed", "alive") for trial in takeover[kind]))))
    flapping = scenarios.get("flapping")
    if flapping and "pair" in flapping:
        pair = flapping["pair"]
        schedule = flapping["schedule"]
        rows.append(("flapping schedule (seed %s)" % flapping["seed"], "%d outages over %.0f s" % (len(schedule), schedule[-1][1] if schedule else 0)))
        rows.append(("pair: route calls per caller", ", ".join("%s %d" % (key, count) for key, count in pair["route_calls_per_caller"].items())))
        breaches = sum(len(term["overlapping_writers"]) + len(term["not_the_holder"]) for term in pair["terms"])
        rows.append(("pair: lease changes while both live; per-term breaches", "%d; %d (%d term%s)" % (
            pair["lease_changes_while_both_live"], breaches, len(pair["terms"]), "" if len(pair["terms"]) == 1 else "s")))
        rows.append(("pair: route-path changes", _path_counts(pair["path_changes"])))
    if flapping and "single" in flapping:
        rows.append(("single (first %.0f s): route-path changes" % flapping["single_prefix_s"], _path_counts(flapping["single"]["path_changes"])))
        comparison = flapping["comparison"]
        rows.append(("pair vs single over the same prefix", "counts %s, same order: %s, all within %.1f s: %s (max diff %s s)" % (
            comparison["counts"], "yes" if comparison["same_order"] else "no", comparison["tolerance_s"],
            "yes" if comparison["within_tolerance"] else "no", comparison["max_offset_diff_s"])))
    return rows


def _path_counts(changes):
    to_vpn = sum(change["path"] == "vpn" for change in changes)
    return "%d (%d to VPN, %d to DX)" % (len(changes), to_vpn, len(changes) - to_vpn)


# --------------------------------------------------------------------------- main


SCENARIOS = {"takeover": scenario_takeover, "flapping": scenario_flapping}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0], epilog="See benchmarks/README.md. Needs root (network namespaces).")
    parser.add_argument("--only", choices=sorted(SCENARIOS), action="append", help="run only this scenario (repeatable)")
    parser.add_argument("--runs", type=positive(int), default=5, help="takeover runs, each with the holder killed and alive (default 5)")
    parser.add_argument("--flap-minutes", type=positive(float), default=10.0, help="length of the flapping schedule (default 10)")
    parser.add_argument("--single-minutes", type=positive(float), default=None,
                        help="run the single monitor on this prefix of the schedule (default: all of it)")
    parser.add_argument("--seed", type=int, default=14, help="seed of the schedule and the pauses (default 14)")
    parser.add_argument("--output", help="JSON file (default benchmarks/results/monitor-pair-<UTC timestamp>.json)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the daemon and endpoint logs (their directory is printed)")
    args = parser.parse_args(argv)
    args.scenarios = args.only or ["takeover", "flapping"]
    return args


def main(argv=None):
    args = parse_args(argv)
    setup_error = start_netns_benchmark()
    if setup_error is not None:
        return setup_error
    started_wall = time.time()
    document = {"options": dict(vars(args)), "machine": machine_info(),
                "coordination": {"lease_s": LEASE_S, "renew_interval_s": RENEW_INTERVAL_S, "max_clock_skew_s": MAX_CLOCK_SKEW_S},
                "scenarios": {}, "errors": [], "notes": []}
    document["machine"]["loadavg_start"] = os.getloadavg()

    def note(message):
        print("[%s] %s" % (datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S"), message), flush=True)
        document["notes"].append(message)

    workdir = tempfile.mkdtemp(prefix="lz-pair-bench-")
    netns_lab = NetnsLab()
    exit_code = EXIT_OK
    try:
        bench = PairBench(netns_lab, workdir, note)
        for name in args.scenarios:
            try:
                document["scenarios"][name] = SCENARIOS[name](bench, args, note)
            except (AssertionError, BenchError, OSError, subprocess.SubprocessError) as exc:
                document["errors"].append({"scenario": name, "error": str(exc), "traceback": traceback.format_exc()})
                note("%s failed: %s" % (name, exc))
                exit_code = EXIT_SETUP
    except KeyboardInterrupt:
        exit_code = EXIT_INTERRUPTED
        note("interrupted: cleaning up")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        netns_lab.cleanup()
        if args.keep_logs:
            note("logs kept in %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    document["machine"]["loadavg_end"] = os.getloadavg()
    document["duration_s"] = round(time.time() - started_wall, 1)
    output = results_path("monitor-pair", started_wall, args.output)
    write_results(output, document, end="", indent=1, default=str)
    for what, measured in summary_rows(document["scenarios"]):
        print("| %s | %s |" % (what, measured))
    print("raw numbers: %s" % output)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
