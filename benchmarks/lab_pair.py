# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's two monitors while DX flaps: one writer, and the transitions of a single monitor (issue 14).

Runs on the converged failover lab (lab/README.md, "Two monitors"): a monitor on each
utility host (utility, utility-2), one lease in the coordination table on the lab's
endpoint, each monitor signing with an access key id of its own
(inventories/lab/group_vars/utility.yml), as each instance's role session does on AWS.

1. Fresh start (unless ``--no-restart``): both monitors stopped, no fault, DX healthy,
   the production table on DX, the state files (flap-dampening history) removed; the
   first utility host's monitor started and holding the lease, then the second's.
2. DX cut and repaired for ``--minutes`` on a schedule drawn from ``--seed``: down
   ``--down`` seconds, up ``--up`` seconds (uniform; the nftables blackhole of
   benchmarks/lab_failover.py and playbooks/lab_fault.yml's dx_flap, one transaction each way).
3. After the last repair, up to ``--settle-cap`` seconds for both monitors and the table
   to be back on DX (the failback hold, doubled by flap dampening).
4. The evidence, from the endpoint's request log (``GET /_fidelity/requests``, per access
   key) and the monitors' journals: route calls and lease writes per caller,
   ``overlapping_writers`` (tools/endpoint/writers.py), every route call checked against
   the lease holder of its moment, the lease changes (fencing), each monitor's
   ``transition`` events (the standby decides as well) compared with the other's, and
   the route table's path changes compared with the holder's transitions.

The analysis of the request log is benchmarks/monitor_pair.py's (the same functions).
Needs root and the lab. Prints a table, writes benchmarks/results/lab-pair-<UTC>.json.
Exit status: 0 when measured (whatever the verdict), 1 on a setup error or a run that
could not be measured, 2 on bad usage, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
import traceback


from benchmarks.lab_failover import BROWNOUT_WINDOW_S
from benchmarks.lab_failover import DxFault
from benchmarks.lab_failover import Lab
from benchmarks.lab_failover import json_events
from benchmarks.lab_failover import lab_problem
from benchmarks.lab_failover import read_lab_settings
from benchmarks.lab_failover import sleep_until
from benchmarks.monitor_pair import MATCH_TOLERANCE_S
from benchmarks.monitor_pair import compare_changes
from benchmarks.monitor_pair import mutating_calls
from benchmarks.monitor_pair import path_changes
from benchmarks.monitor_pair import term_breaches
from harness.aws import get_request_log
from harness.bench import EXIT_INTERRUPTED
from harness.bench import EXIT_OK
from harness.bench import EXIT_SETUP
from harness.bench import load_average
from harness.bench import machine_info
from harness.bench import note
from harness.bench import positive
from harness.bench import raise_keyboard_interrupt
from harness.bench import results_path
from harness.bench import write_results
from harness.waiting import first_within
from lab import lab as lab_tool
from lab import monitors
from lab import nspawn
from lab import topology as topo
from tools.endpoint.writers import overlapping_writers

DOWN_S = (2.0, 20.0)  # longer than the detection (about 0.5 s): every cut while on DX is a failover
UP_S = (5.0, 60.0)  # either side of the lab's failback hold (10 s, doubled by dampening)
WARMUP_S = BROWNOUT_WINDOW_S + 2.0  # both monitors' brownout windows full of clean rounds
START_CAP_S = 30.0
HEALTHY_CAP_S = 60.0
SETTLE_CAP_S = 240.0
SETTLE_POLL_S = 1.0
LEASE_WRITE = "UpdateItem"  # take, renew, release (plugins/module_utils/aws/coordination.py); views are PutItem
LEASE_EVENTS = ("lease_acquired", "lease_lost", "lease_released", "lease_left_to_expire", "lease_stepped_down")


class BenchError(Exception):
    """The run could not be measured (a monitor would not start, the lab never healed)."""


# --------------------------------------------------------------------------- pure parts (tests/unit/benchmarks)


def dx_flap_schedule(seed, total_s, down_s=DOWN_S, up_s=UP_S):
    """``[(cut offset s, repair offset s), ...]`` within ``total_s``: up-times and outages uniform in ``up_s`` / ``down_s``."""
    rng = random.Random(seed)
    schedule = []
    at = up_s[0]
    while at < total_s:
        repair = min(at + rng.uniform(*down_s), total_s)
        schedule.append((round(at, 3), round(repair, 3)))
        at = repair + rng.uniform(*up_s)
    return schedule


def holder_terms(holder_at_start, acquisitions, origin):
    """``[(start, key), ...]``: the holder at ``origin`` (a key, or None), then every ``(time, key)`` lease acquisition after it."""
    terms = [(origin, holder_at_start)] if holder_at_start else []
    return terms + sorted((at, key) for at, key in acquisitions if at >= origin)


def holder_at(terms, moment):
    """The key of the term ``moment`` falls in, or None before the first."""
    holder = None
    for start, key in terms:
        if start <= moment:
            holder = key
    return holder


def transition_offsets(transitions, origin):
    """``[(offset s, to_path), ...]`` of ``(time, event)`` transitions."""
    return [(round(at - origin, 3), event.get("to_path")) for at, event in transitions]


def holder_transitions(transitions_by_key, terms, origin):
    """The transitions each monitor logged while it held the lease, in order, as ``(offset s, to_path)``."""
    chosen = [(at, event) for key, transitions in transitions_by_key.items() for at, event in transitions if holder_at(terms, at) == key]
    return transition_offsets(sorted(chosen, key=lambda pair: pair[0]), origin)


def lease_writes(records, key):
    """The lease's conditional writes (DynamoDB UpdateItem) signed with ``key``: ``{"accepted", "refused"}``."""
    writes = [entry for entry in records if entry.get("service") == "dynamodb" and entry.get("action") == LEASE_WRITE
              and entry.get("access_key_id") == key]
    accepted = sum(entry.get("status") == 200 for entry in writes)
    return {"accepted": accepted, "refused": len(writes) - accepted}


def verdict(result):
    """``{check: bool}``: one writer and the same transitions as a single monitor."""
    return {
        "no overlapping writers": not result["overlapping_writers"],
        "every route call by the lease holder": not any(term["not_the_holder"] or term["overlapping_writers"] for term in result["terms"]),
        "no lease change": not result["lease_acquisitions"],
        "both monitors made the same transitions": result["monitors_compared"]["within_tolerance"],
        "the route table followed the holder's transitions": result["routes_vs_holder"]["within_tolerance"],
        "back on DX at the end": result["settled_s"] is not None,
    }


def summary_rows(result):
    """``[(what, measured), ...]``: the printed table (and benchmarks/README.md's) from the result."""
    names = result["names"]
    schedule = result["schedule"]
    downs = [repair - cut for cut, repair in schedule]
    rows = [
        ("schedule (seed %s)" % result["seed"], "%d outages over %.0f s, down %.1f-%.1f s, %.0f s down in all" % (
            len(schedule), result["minutes"] * 60, min(downs, default=0), max(downs, default=0), sum(downs))),
        ("route calls per caller", ", ".join("%s %d" % (names.get(key, key), count) for key, count in result["route_calls_per_caller"].items())),
        ("lease writes per caller (accepted / refused)", ", ".join("%s %d / %d" % (names[key], writes["accepted"], writes["refused"])
                                                                   for key, writes in result["lease_writes_per_caller"].items())),
        ("lease at the start; changes during the run", "%s holds it (fencing %s); %d change%s" % (
            names.get(result["holder_at_start"], result["holder_at_start"]), result["fencing_at_start"], len(result["lease_acquisitions"]),
            "" if len(result["lease_acquisitions"]) == 1 else "s")),
        ("overlapping_writers; route calls not by the holder", "%d; %d" % (
            len(result["overlapping_writers"]), sum(len(term["not_the_holder"]) for term in result["terms"]))),
    ]
    for key, transitions in result["transitions"].items():
        to_vpn = sum(to == "vpn" for _offset, to in transitions)
        rows.append(("transitions logged by %s" % names[key], "%d (%d to VPN, %d to DX)" % (len(transitions), to_vpn, len(transitions) - to_vpn)))
    compared = result["monitors_compared"]
    rows.append(("the two monitors' transitions", "same order: %s, all within %.1f s: %s, largest difference %s s" % (
        "yes" if compared["same_order"] else "no", compared["tolerance_s"], "yes" if compared["within_tolerance"] else "no",
        compared["max_offset_diff_s"])))
    routes = result["routes_vs_holder"]
    rows.append(("route-path changes vs the holder's transitions", "%d vs %d, same order: %s, largest delay %s s" % (
        routes["counts"][1], routes["counts"][0], "yes" if routes["same_order"] else "no", routes["max_offset_diff_s"])))
    rows.append(("back on DX (both monitors and the table) after the last repair", "%s s" % result["settled_s"] if result["settled_s"] is not None else
                 "not within %.0f s" % result["settle_cap_s"]))
    return rows


# --------------------------------------------------------------------------- the lab's monitors


class PairMonitor:
    """The monitor service of one utility host: its identity, its journal, its state file."""

    def __init__(self, lab, machine):
        self.lab = lab
        self.machine = machine
        document = monitors.monitor_config(lab.pids, machine) or {}
        self.monitor_id = (document.get("coordination") or {}).get("monitor_id")
        self.access_key_id = monitors.monitor_access_key_id(lab.pids, machine)

    def systemctl(self, *arguments):
        return self.lab.inside(self.machine, ["systemctl"] + list(arguments), check=False)

    def stop(self):
        self.systemctl("stop", monitors.MONITOR_UNIT)

    def start(self):
        completed = self.systemctl("start", monitors.MONITOR_UNIT)
        if completed.returncode != 0:
            raise BenchError("systemctl start in %s failed: %s" % (self.machine, completed.stderr.strip()))

    def remove_state(self):
        try:
            os.unlink(self.lab.path(self.machine, monitors.MONITOR_STATE))
        except FileNotFoundError:
            pass

    def desired_path(self):
        text = self.lab.read(self.machine, monitors.MONITOR_STATE)
        try:
            return json.loads(text).get("desired_path") if text else None
        except ValueError:
            return None

    def log_lines(self, start):
        completed = self.lab.inside(self.machine, ["journalctl", "--unit", monitors.MONITOR_UNIT, "--output", "cat", "--no-pager",
                                                   "--since", "@%d" % (int(start) - 1)], check=False, timeout=60)
        return completed.stdout.splitlines()

    def events(self, name, start, end=None):
        return json_events(self.log_lines(start), name, start, end)

    def wait_for_event(self, name, start, timeout=START_CAP_S):
        if not first_within(lambda: self.events(name, start), timeout, 0.5):
            raise BenchError("%s logged no %s within %g s; journal:\n%s" % (self.machine, name, timeout, "\n".join(self.log_lines(start)[-15:])))


def lab_pair_problem(pair):
    """Why the two monitors cannot be told apart or are not a pair, or None."""
    if any(monitor.monitor_id is None for monitor in pair):
        return "a utility host's monitor has no coordination (monitor_id): converge the lab (bash lab/lab.sh site)"
    keys = [monitor.access_key_id for monitor in pair]
    if None in keys or len(set(keys)) != len(keys):
        return ("the monitors do not sign with access keys of their own (%s): converge the lab with "
                "inventories/lab/group_vars/utility.yml's per-host keys (bash lab/lab.sh site)" % ", ".join(map(str, keys)))
    return None


class PairRun:
    """One run: the lab, its two monitors, the DX fault."""

    def __init__(self, lab, args):
        self.lab = lab
        self.args = args
        self.fault = DxFault()
        self.pair = [PairMonitor(lab, machine) for machine in topo.UTILITY_HOSTS]
        self.coordination = monitors.coordination_of(lab.pids)

    def dx_healthy(self):
        return self.lab.dx_learned() and self.lab.vrrp_master() == "onprem-dx"

    def table_on_dx(self):
        table = self.lab.ec2.describe_route_tables(RouteTableIds=[self.lab.route_table_id])["RouteTables"][0]
        return not any(route.get("Origin") == "CreateRoute" and route.get("DestinationCidrBlock") in self.lab.settings["destination_cidrs"]
                       for route in table["Routes"])

    def fresh_start(self):
        """Both stopped, no fault, DX healthy, routes on DX, no state files; the first monitor takes the lease, then the second starts."""
        # utility-2 first: utility usually holds the lease, and a holder stopped first would hand it to the other for a moment.
        for monitor in reversed(self.pair):
            monitor.stop()
        self.fault.heal()
        if not first_within(self.dx_healthy, HEALTHY_CAP_S, 0.2):
            raise BenchError("DX did not become healthy within %g s (BGP routes learned and onprem-dx VRRP master)" % HEALTHY_CAP_S)
        self.lab.put_routes_on_dx()
        for monitor in self.pair:
            monitor.remove_state()
        first, *others = self.pair
        started = time.time()
        first.start()
        first.wait_for_event("lease_acquired", started)
        for monitor in others:
            monitor.start()
            monitor.wait_for_event("initial_path", started)

    def settle(self, since):
        """Seconds from ``since`` (the last repair) until both monitors want DX and the table is on it; None when not within the cap."""
        settled = first_within(lambda: self.table_on_dx() and all(monitor.desired_path() == "dx" for monitor in self.pair),
                               self.args.settle_cap, SETTLE_POLL_S)
        return None if settled is None else round(time.time() - since, 1)

    def play(self, schedule):
        origin = time.time()
        moments = []
        for cut, repair in schedule:
            sleep_until(origin + cut)
            moments.append(self.fault.start("blackhole"))
            sleep_until(origin + repair)
            moments.append(self.fault.end("blackhole"))
        return origin, moments

    def run(self):
        if self.args.restart:
            note("fresh start: both monitors stopped, routes on DX, state files removed, %s then %s started" % tuple(topo.UTILITY_HOSTS))
            self.fresh_start()
        time.sleep(WARMUP_S)
        lease = monitors.read_lease(*self.coordination)
        schedule = dx_flap_schedule(self.args.seed, self.args.minutes * 60.0, tuple(self.args.down), tuple(self.args.up))
        note("schedule (seed %d): %s" % (self.args.seed, ", ".join("%.1f-%.1f" % pair for pair in schedule)))
        note("lease: %s (fencing %s); flapping DX for %.0f s" % (lease and lease["holder"], lease and lease["fencing"], self.args.minutes * 60))
        origin, moments = self.play(schedule)
        last_repair = moments[-1]["wall"] if moments else origin
        sleep_until(origin + self.args.minutes * 60.0)  # the last up-time belongs to the run
        note("schedule played; waiting up to %.0f s for both monitors and the table to be back on DX" % self.args.settle_cap)
        settled_s = self.settle(last_repair)
        lease_end = monitors.read_lease(*self.coordination)
        time.sleep(1.0)  # the last route call's record is in the log once answered
        return self.evidence(origin, schedule, moments, lease, lease_end, settled_s)

    def evidence(self, origin, schedule, moments, lease, lease_end, settled_s):  # pylint: disable=too-many-arguments,too-many-locals
        log = get_request_log(topo.ENDPOINT_URL, since=origin)
        if log["dropped"]:
            raise BenchError("the endpoint's request log dropped %d records" % log["dropped"])
        records = [entry for entry in log["requests"] if entry["start"] >= origin]
        keys = {monitor.access_key_id: monitor for monitor in self.pair}
        names = {key: monitor.machine for key, monitor in keys.items()}
        by_id = {monitor.monitor_id: monitor.access_key_id for monitor in self.pair}
        calls = mutating_calls(records)
        lines = {key: monitor.log_lines(origin) for key, monitor in keys.items()}
        lease_events = {key: sorted((event for name in LEASE_EVENTS for event in json_events(lines[key], name, origin)), key=lambda event: event["time"])
                        for key in keys}
        acquisitions = [(event["time"], key) for key, events in lease_events.items() for event in events if event["event"] == "lease_acquired"]
        holder_key = by_id.get(lease["holder"]) if lease else None
        terms = holder_terms(holder_key, acquisitions, origin)
        transitions = {key: [(event["time"], event) for event in json_events(lines[key], "transition", origin)] for key in keys}
        offsets = {key: transition_offsets(value, origin) for key, value in transitions.items()}
        first, second = (monitor.access_key_id for monitor in self.pair[:2])
        changes = path_changes(calls)
        other_callers = sorted({entry["access_key_id"] for entry in calls} - set(keys), key=str)  # must stay empty
        result = {
            "seed": self.args.seed, "minutes": self.args.minutes, "down_s": list(self.args.down), "up_s": list(self.args.up),
            "schedule": schedule, "fault_moments": [dict(moment, offset_s=round(moment["wall"] - origin, 3)) for moment in moments],
            "origin": origin, "names": names, "monitor_ids": {key: monitor.monitor_id for key, monitor in keys.items()},
            "coordination": {"table": self.coordination[0], "failover_group": self.coordination[1]},
            "holder_at_start": holder_key, "fencing_at_start": lease and lease["fencing"], "lease_at_end": lease_end,
            "requests": len(records),
            "route_calls_per_caller": {key: len(mutating_calls(records, key)) for key in list(keys) + other_callers},
            "lease_writes_per_caller": {key: lease_writes(records, key) for key in keys},
            "route_calls": [{"offset_s": round(entry["start"] - origin, 3), "duration_s": round(entry["end"] - entry["start"], 3),
                             "caller": names.get(entry["access_key_id"], entry["access_key_id"]), "action": entry["action"],
                             "status": entry["status"]} for entry in calls],
            "overlapping_writers": [conflict._asdict() for conflict in overlapping_writers(calls)],
            "terms": term_breaches(calls, terms),
            "lease_acquisitions": [{"offset_s": round(event["time"] - origin, 3), "caller": names[key], "fencing": event.get("fencing")}
                                   for key, events in lease_events.items() for event in events if event["event"] == "lease_acquired"],
            "lease_events": {names[key]: [{"offset_s": round(event["time"] - origin, 3), "event": event["event"]} for event in events]
                             for key, events in lease_events.items()},
            "transitions": offsets,
            "transitions_detail": {names[key]: [{"offset_s": round(at - origin, 3), "from": event.get("from_path"), "to": event.get("to_path"),
                                                 "reason": event.get("reason")} for at, event in value] for key, value in transitions.items()},
            "monitors_compared": compare_changes(offsets[first], offsets[second], self.args.tolerance),
            "path_changes": [{"offset_s": round(at - origin, 3), "path": path, "caller": names.get(caller, caller)} for at, path, caller in changes],
            "routes_vs_holder": compare_changes(holder_transitions(transitions, terms, origin),
                                                [(round(at - origin, 3), path) for at, path, _caller in changes], self.args.tolerance),
            "settled_s": settled_s, "settle_cap_s": self.args.settle_cap,
        }
        result["verdict"] = verdict(result)
        return result


# --------------------------------------------------------------------------- main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0], epilog="See benchmarks/README.md. Needs root and the converged lab.")
    parser.add_argument("--minutes", type=positive(float), default=10.0, help="how long DX flaps (default 10)")
    parser.add_argument("--seed", type=int, default=14, help="seed of the schedule (default 14)")
    parser.add_argument("--down", type=positive(float), nargs=2, default=list(DOWN_S), metavar=("MIN", "MAX"),
                        help="outage lengths, s (default %g %g)" % DOWN_S)
    parser.add_argument("--up", type=positive(float), nargs=2, default=list(UP_S), metavar=("MIN", "MAX"),
                        help="up-times between outages, s (default %g %g)" % UP_S)
    parser.add_argument("--tolerance", type=positive(float), default=MATCH_TOLERANCE_S,
                        help="largest time difference of two matching transitions, s (default %g)" % MATCH_TOLERANCE_S)
    parser.add_argument("--settle-cap", type=positive(float), default=SETTLE_CAP_S,
                        help="how long to wait for the failback after the last repair, s (default %g)" % SETTLE_CAP_S)
    parser.add_argument("--no-restart", dest="restart", action="store_false",
                        help="measure the monitors as they run (default: a fresh start, state files and so dampening history removed)")
    parser.add_argument("--output", help="JSON file (default benchmarks/results/lab-pair-<UTC timestamp>.json)")
    args = parser.parse_args(argv)
    for name in ("down", "up"):
        low, high = getattr(args, name)
        if low > high:
            parser.error("--%s: MIN must not exceed MAX" % name)
    return args


def setup_problem():
    if os.geteuid() != 0:
        return "the lab benchmark needs root (namespaces, nftables, nsenter)"
    problem = lab_problem()
    if problem:
        return "%s. Bring it up and converge it first: bash lab/lab.sh up && bash lab/lab.sh site" % problem
    if monitors.coordination_of(lab_tool.host_pids()) is None:
        return "the lab's monitors have no coordination table: converge the lab (bash lab/lab.sh site)"
    return None


def main(argv=None):
    args = parse_args(argv)
    problem = setup_problem()
    if problem:
        print("setup error: %s" % problem, file=sys.stderr)
        return EXIT_SETUP
    signal.signal(signal.SIGTERM, raise_keyboard_interrupt)
    started = time.time()
    document = {"benchmark": "lab_pair", "options": vars(args), "machine": machine_info(), "errors": []}
    exit_code = EXIT_OK
    run = None
    try:
        run = PairRun(Lab(read_lab_settings()), args)
        problem = lab_pair_problem(run.pair)
        if problem:
            raise BenchError(problem)
        document["result"] = run.run()
    except KeyboardInterrupt:
        exit_code = EXIT_INTERRUPTED
        note("interrupted: cleaning up")
    except (BenchError, OSError, subprocess.SubprocessError, nspawn.LabError, lab_tool.LabUpError, KeyError, AssertionError) as exc:
        document["errors"].append({"error": str(exc), "traceback": traceback.format_exc()})
        note("could not be measured: %s" % exc)
        exit_code = EXIT_SETUP
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if run is not None:
            try:
                run.fault.heal()
            except Exception as exc:  # pylint: disable=broad-exception-caught  # the results must still be written
                note("clean-up problem: %s" % exc)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    document["machine"]["loadavg_end"] = load_average()
    document["duration_s"] = round(time.time() - started, 1)
    output = results_path("lab-pair", started, args.output)
    write_results(output, document, end="", indent=1, default=str)
    if "result" in document:
        for what, measured in summary_rows(document["result"]):
            print("| %s | %s |" % (what, measured))
        for check, passed in document["result"]["verdict"].items():
            print("%s: %s" % (check, "yes" if passed else "NO"))
    print("raw numbers: %s" % output)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
