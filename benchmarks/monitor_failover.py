# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measure lz-failover-monitor against the project's targets and print one table.

Real ICMP between network namespaces, the EC2 fidelity endpoint as the EC2 API and
the real daemon process, built with the integration tests' lab
(``harness/monitor.py``): the daemon and the endpoint run in one namespace,
the DX targets answer in another, and nftables in the target namespace drops echo
requests to play a cut or lossy DX link. Route changes are observed from outside,
by polling DescribeRouteTables. ``benchmarks/baseline_monitor.py`` (the reference
rule: 3 echoes, 1 s timeout) runs the same scenarios as the comparison column.

Scenarios (``--only`` takes these names or their numbers):

1. ``hard_failure``: hard DX cut -> production route table on the VPN; N cuts.
2. ``random_loss``: 10% random loss on DX for 10 minutes (``--loss-pct``, ``--loss-minutes``),
   the daemon probing one target (``--loss-targets``); failovers counted.
3. ``loss40``: sustained 40% loss; time to failover, several trials.
4. ``flapping``: DX down 1.5 s / up 1.5 s for 60 s; transitions counted until settled.
5. ``failback``: DX restored -> static route deleted, against the failback hold.
6. ``resources``: RSS and CPU of the daemon over 60 s, with 1 and 3 targets.

It measures and reports; it asserts nothing. The exit code is 0 whatever was
measured, 1 on a setup error (not root, a tool missing, a process that would not
start or died), 2 on bad usage, 130 when interrupted (the partial table is still
printed and saved). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

from lz_failover_monitor.config import POLICY_SCHEMA
from lz_failover_monitor.config import PROBE_SCHEMA
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import read_route_tables
from ansible_collections.localzones.failover.plugins.module_utils.errors import FailoverError
from ansible_collections.localzones.failover.plugins.module_utils.routes import PATH_DX
from ansible_collections.localzones.failover.plugins.module_utils.routes import PATH_VPN
from ansible_collections.localzones.failover.plugins.module_utils.routes import Ownership
from ansible_collections.localzones.failover.plugins.module_utils.routes import path_of
from harness.bench import EXIT_INTERRUPTED
from harness.bench import EXIT_OK
from harness.bench import EXIT_SETUP
from harness.bench import log_time
from harness.bench import machine_info
from harness.bench import plural
from harness.bench import positive
from harness.bench import proc_usage
from harness.bench import results_path
from harness.bench import start_netns_benchmark
from harness.bench import rounded
from harness.bench import stats
from harness.bench import write_results
from harness.monitor import DX_TARGETS
from harness.monitor import METRICS_PORT
from harness.monitor import Daemon
from harness.monitor import MonitorLab
from harness.monitor import daemon_environment
from harness.monitor import deep_update
from harness.netns import PYTHON
from harness.netns import NetnsLab
from harness.paths import REPO_ROOT
from harness.waiting import wait_for

SCENARIOS = (
    ("hard_failure", "hard DX failure -> route table switched"),
    ("random_loss", "random loss on DX (--loss-pct, default 10%)"),
    ("loss40", "sustained 40% loss on DX"),
    ("flapping", "DX flapping, down 1.5 s / up 1.5 s"),
    ("failback", "DX restored -> failback"),
    ("resources", "monitor RSS and CPU"),
)
SCENARIO_NAMES = tuple(name for name, _title in SCENARIOS)

BASELINE_SCRIPT = os.path.join(REPO_ROOT, "benchmarks", "baseline_monitor.py")

# The daemon's defaults, as its configuration schema defines them.
PROBE_INTERVAL_S = PROBE_SCHEMA["interval"][0]
FAILBACK_HOLD_S = POLICY_SCHEMA["failback_hold_s"][0]
BROWNOUT_WINDOW_S = POLICY_SCHEMA["brownout_window_s"][0]

FAST_POLL_S = 0.01  # scenario 1: the route switch is timed to ~10 ms
POLL_S = 0.05  # elsewhere the targets are in seconds; fewer reads leave the endpoint to the daemon
BASELINE_CYCLE_S = 4.0  # healthy cycle of the reference rule: 3 echoes 1 s apart (~2 s) + 2 s pause
SWITCH_TARGET_S = 1.0
LOSS40_TARGET_S = 10.0
LOSS40_CAP_S = 20.0
FAILBACK_TOLERANCE_S = 1.0
FLAP_DOWN_S = 1.5
FLAP_UP_S = 1.5
# Scenario 1 cuts only when every target's brownout window holds at most this much loss:
# then the brownout rule (more than 25% of the echoes) cannot fire before the hard-failure rule
# (4 failed rounds by default: 8 more lost echoes, 4% of the window's 200).
CLEAN_WINDOW_RATIO = 0.10


class BenchError(Exception):
    """Something the measurement needs did not happen (a process died, a table never changed)."""


# --------------------------------------------------------------------------- small helpers


def events_since(process, name, since_wall, **fields):
    # ``ts`` is truncated to the millisecond, hence the small allowance.
    return [event for event in process.events(name, **fields) if log_time(event) >= since_wall - 0.002]


def seconds(value):
    return "-" if value is None else "%.2f s" % value


def describe_stats(summary, what):
    if "median" not in summary:
        return "none of %d %s switched" % (summary["n"], what)
    text = "median %s, p90 %s, max %s (%d %s)" % (seconds(summary["median"]), seconds(summary["p90"]), seconds(summary["max"]), summary["n"], what)
    if summary["missed"]:
        text += ", %d never switched" % summary["missed"]
    return text


def sleep_until(moment):
    remaining = moment - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)


def ensure_running(*processes):
    for process in processes:
        if process is not None and process.process.poll() is not None:
            raise BenchError("%s exited with code %s; its log ends with:\n%s" % (process.log_path, process.process.returncode, process.log_tail()))


def counter(metrics, name, **labels):
    return metrics.value(name, **labels) or 0.0


class BaselineProcess(Daemon):
    """``baseline_monitor.py`` as a process in the daemon namespace; Daemon's log helpers apply to its JSON lines."""

    def __init__(self, lab, ns, argv, log_path):  # pylint: disable=super-init-not-called
        self.log_path = str(log_path)
        self.metrics_url = None
        self.started_at = time.time()
        with open(self.log_path, "ab") as log_file:
            self.process = lab.spawn_in(ns, argv, env=daemon_environment(), stdout=log_file, stderr=subprocess.STDOUT)


# --------------------------------------------------------------------------- the bench


class Bench:
    """The lab, the processes of the current scenario, and the scenarios themselves."""

    def __init__(self, netns_lab, workdir, args, note):
        self.args = args
        self.note = note
        self.workdir = workdir
        self.rng = random.Random(args.seed)
        self.mlab = MonitorLab(netns_lab, workdir)
        self.ec2 = self.mlab.ec2()
        self._numbers = itertools.count(1)

    @property
    def with_baseline(self):
        return not self.args.no_baseline

    # -- world and processes

    def begin(self, name):
        """A fresh EC2 world, healthy network, files under the scenario's directory."""
        workdir = os.path.join(self.workdir, name)
        os.makedirs(workdir, exist_ok=True)
        self.mlab.begin_test(workdir)
        return self.mlab.fresh_world()

    def end(self):
        """Every process of the scenario ended by PID, the network healed."""
        self.mlab.end_test()

    def extra_table(self, world):
        """Another production route table learning the DX routes, for a second monitor to manage alone."""
        rtb_id = self.ec2.create_route_table(VpcId=world.vpc_id)["RouteTable"]["RouteTableId"]
        self.ec2.enable_vgw_route_propagation(RouteTableId=rtb_id, GatewayId=world.vgw_id)
        return rtb_id

    def start_daemon(self, world, rtb_id, label, targets=DX_TARGETS, metrics_port=METRICS_PORT, **overrides):
        """The daemon on ``rtb_id`` with its default settings, plus ``overrides``; a fresh state file."""
        number = next(self._numbers)
        document = {
            "region": world.region,
            "endpoint_url": self.mlab.endpoint_url,
            "route_table_ids": [rtb_id],
            "destination_cidrs": list(world.onprem_cidrs),
            "vpn_eni_id": world.vpn_eni_id,
            "probe_route_table_id": world.probe_rtb_id,
            "probe": {"targets": list(targets)},
            "metrics": {"address": self.mlab.address, "port": metrics_port, "allow_remote": True},  # scraped over the host link
            "state_file": os.path.join(self.mlab.workdir, "%s-%d-state.json" % (label, number)),
        }
        config_path = self.mlab.write_config(deep_update(document, overrides), "%s-%d.yaml" % (label, number))
        log_path = os.path.join(self.mlab.workdir, "%s-%d.log" % (label, number))
        daemon = Daemon(self.mlab.lab, self.mlab.ns, config_path, log_path, "http://%s:%d/metrics" % (self.mlab.address, metrics_port))
        self.mlab.daemons.append(daemon)
        return daemon

    def start_baseline(self, world, rtb_id, label="baseline", failback_cycles=10):
        if not self.with_baseline:
            return None
        number = next(self._numbers)
        argv = [
            PYTHON, BASELINE_SCRIPT, "--endpoint-url", self.mlab.endpoint_url, "--region", world.region, "--route-table-id", rtb_id,
            "--vpn-eni-id", world.vpn_eni_id, "--target", DX_TARGETS[0], "--failback-cycles", str(failback_cycles),
        ]
        for cidr in world.onprem_cidrs:
            argv += ["--destination", cidr]
        process = BaselineProcess(self.mlab.lab, self.mlab.ns, argv, os.path.join(self.mlab.workdir, "%s-%d.log" % (label, number)))
        self.mlab.daemons.append(process)
        return process

    def start_contenders(self, world):
        """The daemon on the production table and, unless --no-baseline, the baseline on a table of its own; both ready.

        Returns ``(daemon, baseline or None, {label: route table ID})``.
        """
        daemon = self.start_daemon(world, world.prod_rtb_id, "daemon")
        tables = {"daemon": world.prod_rtb_id}
        baseline = None
        if self.with_baseline:
            tables["baseline"] = self.extra_table(world)
            baseline = self.start_baseline(world, tables["baseline"])
        self.wait_ready(daemon, baseline)
        return daemon, baseline, tables

    def run_trials(self, name, count, one_trial):
        """``count`` trials of ``one_trial(world, daemon, baseline, tables)``; the trials' dicts.

        Each trial has a fresh world and freshly started contenders (``start_contenders``).
        ``one_trial`` returns a dict with the seconds the daemon and the baseline took
        under the labels "daemon" and "baseline" (None: not within the cap).
        """
        trials = []
        for index in range(count):
            world = self.begin("%s-%d" % (name, index + 1))
            daemon, baseline, tables = self.start_contenders(world)
            trial = one_trial(world, daemon, baseline, tables)
            trials.append(trial)
            self.note("%s: trial %d/%d, daemon %s, baseline %s" % (
                name, index + 1, count, seconds(trial["daemon"]), seconds(trial.get("baseline"))))
            self.end()
        return trials

    @staticmethod
    def wait_ready(*processes):
        for process in processes:
            if process is None:
                continue
            if isinstance(process, BaselineProcess):
                process.wait_for_event("started", timeout=60)
            else:
                process.wait_for_event("initial_path", timeout=60)
                process.wait_for_event("routes_converged", timeout=60)

    # -- network

    def cut_dx(self):
        """Drop every echo request to the DX targets; the cut counts from before the nftables call."""
        mono, wall = time.monotonic(), time.time()
        self.mlab.set_dx(up=False)
        return {"mono": mono, "wall": wall, "nft_s": time.monotonic() - mono}

    def set_loss(self, percent, targets=DX_TARGETS):
        """Drop ``percent``% of the echo requests to each of ``targets``, packet by packet at random; 0 heals DX.

        One way only: the requests are dropped where they arrive, so each echo is lost with ``percent``% chance."""
        self.mlab.reset_network()
        if percent:
            for address in targets:
                self.mlab.lab.drop_icmp(self.mlab.pair.target, address, percent=percent)

    # -- observation

    def watch_tables(self, world, tables, path, timeout, processes=(), interval=POLL_S):
        """Read the tables every ``interval`` until each of ``tables`` ({label: rtb_id}) shows ``path``.

        Returns {label: monotonic time of the first answer showing it, or None when ``timeout`` ran out}.
        """
        seen = dict.fromkeys(tables)
        deadline = time.monotonic() + timeout
        while True:
            pending = {label: rtb_id for label, rtb_id in tables.items() if seen[label] is None}
            try:
                current = read_route_tables(self.ec2, list(pending.values()))
            except FailoverError:
                current = {}
            now = time.monotonic()
            for label, rtb_id in pending.items():
                if rtb_id in current and path_of([current[rtb_id]], world.onprem_cidrs, Ownership(world.vpn_eni_id)) == path:
                    seen[label] = now
            if all(value is not None for value in seen.values()) or now >= deadline:
                return seen
            ensure_running(*processes)
            time.sleep(interval)

    @staticmethod
    def window_loss(daemon, targets=DX_TARGETS):
        metrics = daemon.scrape()
        return [metrics.value("lz_failover_target_window_loss_ratio", target=target) for target in targets]

    def wait_clean_window(self, daemon, timeout=BROWNOUT_WINDOW_S + 20):
        def clean():
            ratios = self.window_loss(daemon)
            return all(ratio is not None and ratio <= CLEAN_WINDOW_RATIO for ratio in ratios)
        wait_for(clean, timeout, "the brownout windows to hold <= %d%% loss" % (CLEAN_WINDOW_RATIO * 100), 0.2)

    # -- 1. hard failure

    def scenario_hard_failure(self):
        cuts = self.args.cuts
        world = self.begin("hard_failure")
        # A 1 s hold (not doubled by dampening) only shortens the failback between cuts;
        # detection and the route change do not depend on it.
        daemon = self.start_daemon(world, world.prod_rtb_id, "daemon", policy={"failback_hold_s": 1, "dampening_max_hold_s": 1})
        self.wait_ready(daemon)
        time.sleep(2.0)
        tables = {"daemon": world.prod_rtb_id}
        records = []
        for index in range(cuts):
            self.wait_clean_window(daemon)
            time.sleep(self.rng.uniform(0.3, 1.0))
            cut = self.cut_dx()
            seen = self.watch_tables(world, tables, PATH_VPN, 10.0, [daemon], FAST_POLL_S)["daemon"]
            restored = time.monotonic()
            self.mlab.set_dx(up=True)
            back = self.watch_tables(world, tables, PATH_DX, 20.0, [daemon])["daemon"]
            record = {
                "switch_s": rounded(None if seen is None else seen - cut["mono"]), "nft_s": rounded(cut["nft_s"]), "cut_wall": cut["wall"],
                "cut_lasted_s": rounded(restored - cut["mono"]), "failback_after_restore_s": rounded(None if back is None else back - restored),
            }
            records.append(record)
            self.note("hard_failure: cut %d/%d, daemon switched after %s" % (index + 1, cuts, seconds(record["switch_s"])))
            if back is None:
                raise BenchError("the daemon did not fail back within 20 s after cut %d" % (index + 1))
        for record in records:
            transition = next(iter(events_since(daemon, "transition", record["cut_wall"], to_path=PATH_VPN)), None)
            if transition is not None:
                record["decision_s"] = rounded(log_time(transition) - record["cut_wall"])
                record["reason"] = transition["reason"]
            converged = next(iter(events_since(daemon, "routes_converged", record["cut_wall"], path=PATH_VPN)), None)
            if converged is not None:
                record["decision_to_routes_ms"] = converged.get("since_decision_ms")
        self.end()
        summary = stats([record["switch_s"] for record in records])
        raw = {
            "cuts": cuts, "poll_interval_s": FAST_POLL_S, "daemon_overrides": {"policy": {"failback_hold_s": 1, "dampening_max_hold_s": 1}},
            "clean_window_ratio": CLEAN_WINDOW_RATIO, "daemon": {"summary": summary, "cuts": records},
        }
        row = {
            "target": "median <= %g s" % SWITCH_TARGET_S,
            "measured": describe_stats(summary, "cuts"),
            "result": "PASS" if summary["missed"] == 0 and summary.get("median", float("inf")) <= SWITCH_TARGET_S else "FAIL",
        }
        if self.with_baseline:
            raw["baseline"] = self._baseline_cuts(cuts)
            row["baseline"] = describe_stats(raw["baseline"]["summary"], "cuts")
        return [row], raw

    def _baseline_cuts(self, cuts):
        world = self.begin("hard_failure-baseline")
        # One good cycle fails back (instead of 10) only to keep the cuts short.
        baseline = self.start_baseline(world, world.prod_rtb_id, failback_cycles=1)
        self.wait_ready(baseline)
        tables = {"baseline": world.prod_rtb_id}
        records = []
        for index in range(cuts):
            time.sleep(self.rng.uniform(0.0, BASELINE_CYCLE_S))  # a random point of its cycle
            cut = self.cut_dx()
            seen = self.watch_tables(world, tables, PATH_VPN, 20.0, [baseline], FAST_POLL_S)["baseline"]
            self.mlab.set_dx(up=True)
            back = self.watch_tables(world, tables, PATH_DX, 30.0, [baseline])["baseline"]
            record = {"switch_s": rounded(None if seen is None else seen - cut["mono"]), "nft_s": rounded(cut["nft_s"]), "cut_wall": cut["wall"]}
            transition = next(iter(events_since(baseline, "transition", cut["wall"], to_path=PATH_VPN)), None)
            if transition is not None:
                record["decision_s"] = rounded(log_time(transition) - cut["wall"])
            records.append(record)
            self.note("hard_failure: baseline cut %d/%d, switched after %s" % (index + 1, cuts, seconds(record["switch_s"])))
            if back is None:
                raise BenchError("the baseline did not fail back within 30 s after cut %d" % (index + 1))
        self.end()
        return {"overrides": {"failback_cycles": 1}, "summary": stats([record["switch_s"] for record in records]), "cuts": records}

    # -- 2. random loss

    def scenario_random_loss(self):
        duration, percent = self.args.loss_minutes * 60.0, self.args.loss_pct
        # With fewer targets there is less redundancy: one target at quorum 1 is the case the rules must bear alone.
        targets = DX_TARGETS[:self.args.loss_targets]
        world = self.begin("random_loss")
        daemon = self.start_daemon(world, world.prod_rtb_id, "daemon", targets=targets)
        baseline = self.start_baseline(world, self.extra_table(world)) if self.with_baseline else None
        self.wait_ready(daemon, baseline)
        time.sleep(BROWNOUT_WINDOW_S)  # a full brownout window, as on a daemon that has run for a while
        before = daemon.scrape()
        start, start_wall = time.monotonic(), time.time()
        self.set_loss(percent, targets)
        max_window = dict.fromkeys(targets, 0.0)
        next_note = start + 60.0
        while time.monotonic() - start < duration:
            time.sleep(min(2.0, max(0.0, start + duration - time.monotonic())))
            ensure_running(daemon, baseline)
            for target, ratio in zip(targets, self.window_loss(daemon, targets)):
                max_window[target] = max(max_window[target], ratio or 0.0)
            if time.monotonic() >= next_note:
                next_note += 60.0
                self.note("random_loss: %d of %d min at %g%%, daemon failovers so far: %d" % (
                    (time.monotonic() - start) // 60, duration // 60, percent,
                    len(events_since(daemon, "transition", start_wall, to_path=PATH_VPN))))
        end_wall = time.time()
        after = daemon.scrape()
        self.set_loss(0)
        loss = {}
        for target in targets:
            sent = counter(after, "lz_failover_echoes_sent_total", target=target) - counter(before, "lz_failover_echoes_sent_total", target=target)
            lost = counter(after, "lz_failover_echoes_lost_total", target=target) - counter(before, "lz_failover_echoes_lost_total", target=target)
            loss[target] = {"sent": int(sent), "lost": int(lost), "loss_pct": rounded(100.0 * lost / sent if sent else None, 2)}
        transitions = [event for event in events_since(daemon, "transition", start_wall) if log_time(event) <= end_wall]
        failovers = sum(1 for event in transitions if event["to_path"] == PATH_VPN)
        self.end()
        raw = {
            "duration_s": duration, "loss_pct_applied": percent, "direction": "echo requests only", "targets": list(targets), "daemon": {
                "failovers": failovers, "transitions": [{"ts": e["ts"], "to_path": e["to_path"], "reason": e["reason"]} for e in transitions],
                "echoes": loss, "max_window_loss_ratio": {target: round(value, 3) for target, value in max_window.items()},
            },
        }
        seen_loss = [value["loss_pct"] for value in loss.values() if value["loss_pct"] is not None]
        row = {
            "target": "0 failovers in %g min at %g%%, %s" % (duration / 60.0, percent, plural(len(targets), "target")),
            "measured": "%s (echo loss seen %s%%, worst window loss %d%%)" % (
                plural(failovers, "failover"), "/".join("%.1f" % value for value in seen_loss), round(100 * max(max_window.values()))),
            "result": "PASS" if failovers == 0 else "FAIL",
        }
        if baseline is not None:
            base_transitions = [event for event in events_since(baseline, "transition", start_wall) if log_time(event) <= end_wall]
            base_failovers = sum(1 for event in base_transitions if event["to_path"] == PATH_VPN)
            raw["baseline"] = {"failovers": base_failovers, "transitions": [{"ts": e["ts"], "to_path": e["to_path"]} for e in base_transitions]}
            row["baseline"] = plural(base_failovers, "failover")
        return [row], raw

    # -- 3. 40% loss

    def scenario_loss40(self):
        trials = self.run_trials("loss40", self.args.loss40_trials, self._loss40_trial)
        daemon_times = [trial["daemon"] for trial in trials]
        ok = all(value is not None and value <= LOSS40_TARGET_S for value in daemon_times)
        row = {
            "target": "failover <= %g s, every trial" % LOSS40_TARGET_S,
            "measured": self._each_and_max(daemon_times),
            "result": "PASS" if ok else "FAIL",
        }
        raw = {"loss_pct_applied": 40, "cap_s": LOSS40_CAP_S, "poll_interval_s": POLL_S, "trials": trials, "daemon": stats(daemon_times)}
        if self.with_baseline:
            base_times = [trial["baseline"] for trial in trials]
            raw["baseline"] = stats(base_times)
            row["baseline"] = self._each_and_max(base_times)
        return [row], raw

    def _loss40_trial(self, world, daemon, baseline, tables):
        time.sleep(BROWNOUT_WINDOW_S)
        start, start_wall = time.monotonic(), time.time()
        self.set_loss(40)
        seen = self.watch_tables(world, tables, PATH_VPN, LOSS40_CAP_S, [daemon, baseline])
        self.set_loss(0)
        trial = {label: rounded(None if moment is None else moment - start) for label, moment in seen.items()}
        transition = next(iter(events_since(daemon, "transition", start_wall, to_path=PATH_VPN)), None)
        trial["daemon_reason"] = transition["reason"] if transition else None
        if transition is not None:
            trial["daemon_decision_s"] = rounded(log_time(transition) - start_wall)
            trial["daemon_window_loss_pct"] = transition["evidence"].get("window_loss_pct")
        return trial

    @staticmethod
    def _each_and_max(values):
        each = ", ".join(">%g" % LOSS40_CAP_S if value is None else "%.1f" % value for value in values)
        measured = [value for value in values if value is not None]
        if len(measured) < len(values):
            return "%s s; %d of %d within %g s" % (each, len(measured), len(values), LOSS40_CAP_S)
        return "%s s; max %.1f s" % (each, max(measured))

    # -- 4. flapping

    def scenario_flapping(self):
        flap_s = self.args.flap_seconds
        world = self.begin("flapping")
        daemon, baseline, tables = self.start_contenders(world)
        time.sleep(BROWNOUT_WINDOW_S)
        start, start_wall = time.monotonic(), time.time()
        period = FLAP_DOWN_S + FLAP_UP_S
        for cycle in range(int(flap_s // period)):
            sleep_until(start + cycle * period)
            self.mlab.set_dx(up=False)
            sleep_until(start + cycle * period + FLAP_DOWN_S)
            self.mlab.set_dx(up=True)
        sleep_until(start + flap_s)
        flap_end, flap_end_wall = time.monotonic(), time.time()
        self.note("flapping: %g s of flapping done, waiting for both monitors to settle on DX" % flap_s)
        settle_cap = 4 * FAILBACK_HOLD_S + 30.0
        settled = self.watch_tables(world, tables, PATH_DX, settle_cap, [daemon, baseline], 0.2)
        time.sleep(5.0)  # anything after settling would count too
        raw = {"flap_seconds": flap_s, "down_s": FLAP_DOWN_S, "up_s": FLAP_UP_S, "settle_cap_s": settle_cap}
        for label, process in (("daemon", daemon), ("baseline", baseline)):
            if process is None:
                continue
            transitions = events_since(process, "transition", start_wall)
            failovers = [event for event in transitions if event["to_path"] == PATH_VPN]
            failbacks = [event for event in transitions if event["to_path"] == PATH_DX]
            raw[label] = {
                "failovers": len(failovers), "failbacks": len(failbacks),
                "during_flapping": sum(1 for event in transitions if log_time(event) <= flap_end_wall),
                "settled_after_flapping_s": rounded(None if settled[label] is None else settled[label] - flap_end),
                "transitions": [{"ts": e["ts"], "to_path": e["to_path"], "reason": e.get("reason"), "after_start_s": round(log_time(e) - start_wall, 3)}
                                for e in transitions],
            }
        self.end()
        result = raw["daemon"]
        text = "%s, %s" % (plural(result["failovers"], "failover"), plural(result["failbacks"], "failback"))
        if result["settled_after_flapping_s"] is None:
            text += ", not back on DX %g s after the flapping" % settle_cap
        elif result["failbacks"]:
            text += " (back on DX %.1f s after the flapping)" % result["settled_after_flapping_s"]
        ok = result["failovers"] <= 1 and result["failbacks"] <= 1 and result["settled_after_flapping_s"] is not None
        row = {"target": "<= 1 failover and <= 1 failback", "measured": text, "result": "PASS" if ok else "FAIL"}
        if baseline is not None:
            base = raw["baseline"]
            row["baseline"] = "%s, %s" % (plural(base["failovers"], "failover"), plural(base["failbacks"], "failback"))
        return [row], raw

    # -- 5. failback

    def scenario_failback(self):
        trials = self.run_trials("failback", self.args.failback_trials, self._failback_trial)
        daemon_times = [trial["daemon"] for trial in trials]
        ok = all(value is not None and abs(value - FAILBACK_HOLD_S) <= FAILBACK_TOLERANCE_S for value in daemon_times)
        each = ", ".join("never" if value is None else "%.2f" % value for value in daemon_times)
        errors = [value - FAILBACK_HOLD_S for value in daemon_times if value is not None]
        measured = "%s s" % each
        if errors:
            measured += " (worst %+.2f s)" % max(errors, key=abs)
        row = {"target": "hold %g s +- %g s" % (FAILBACK_HOLD_S, FAILBACK_TOLERANCE_S), "measured": measured, "result": "PASS" if ok else "FAIL"}
        raw = {"hold_s": FAILBACK_HOLD_S, "tolerance_s": FAILBACK_TOLERANCE_S, "poll_interval_s": POLL_S, "trials": trials, "daemon": stats(daemon_times)}
        if self.with_baseline:
            base_times = [trial.get("baseline") for trial in trials]
            raw["baseline"] = stats(base_times)
            row["baseline"] = "%s s (10 good cycles)" % ", ".join("never" if value is None else "%.1f" % value for value in base_times)
        return [row], raw

    def _failback_trial(self, world, daemon, baseline, tables):
        time.sleep(3.0)
        cut = self.cut_dx()
        switched = self.watch_tables(world, tables, PATH_VPN, LOSS40_CAP_S, [daemon, baseline])
        sleep_until(cut["mono"] + 3.0)  # DX down for 3 s at least
        on_vpn = {label: rtb_id for label, rtb_id in tables.items() if switched[label] is not None}
        if "daemon" not in on_vpn:
            raise BenchError("the daemon did not fail over within %g s of a hard cut" % LOSS40_CAP_S)
        restored, restored_wall = time.monotonic(), time.time()
        self.mlab.set_dx(up=True)
        back = self.watch_tables(world, on_vpn, PATH_DX, FAILBACK_HOLD_S + 60.0, [daemon, baseline])
        trial = {label: rounded(None if moment is None else moment - restored) for label, moment in back.items()}
        trial["cut_lasted_s"] = rounded(restored - cut["mono"])
        if trial["daemon"] is not None:
            trial["daemon_error_s"] = rounded(trial["daemon"] - FAILBACK_HOLD_S)
        transition = next(iter(events_since(daemon, "transition", restored_wall, to_path=PATH_DX)), None)
        if transition is not None:
            trial["daemon_decision_s"] = rounded(log_time(transition) - restored_wall)
            trial["daemon_hold_s"] = transition["evidence"].get("failback_hold_s")
        return trial

    # -- 6. resources

    def scenario_resources(self):
        window = self.args.resource_seconds
        raw = {"window_s": window, "probe_interval_s": PROBE_INTERVAL_S, "clock_ticks_per_s": os.sysconf("SC_CLK_TCK")}
        # One daemon at a time: a raw ICMP socket receives every reply in the namespace, so
        # two daemons side by side would each pay for the other's echoes. The baseline
        # (3 echoes every ~4 s) runs beside the 1-target daemon.
        for label, targets in (("daemon_1_target", DX_TARGETS[:1]), ("daemon_3_targets", DX_TARGETS)):
            world = self.begin("resources-%d" % len(targets))
            processes = {label: self.start_daemon(world, world.prod_rtb_id, label.replace("_", "-"), targets=targets)}
            if len(targets) == 1 and self.with_baseline:
                processes["baseline"] = self.start_baseline(world, self.extra_table(world))
            self.wait_ready(*processes.values())
            time.sleep(5.0)  # start-up is not part of the steady state
            raw.update(self._usage_over(processes, window))
            self.end()
            self.note("resources: %s: CPU %.2f%% of a core, RSS %.1f MiB" % (label, raw[label]["cpu_pct_of_one_core"], raw[label]["rss_mib_end"]))
        rows = []
        for label, targets in (("daemon_1_target", 1), ("daemon_3_targets", 3)):
            usage = raw[label]
            row = {
                "scenario": "monitor RSS and CPU, %d target%s" % (targets, "" if targets == 1 else "s"),
                "target": "report (%g s at the default rate)" % window,
                "measured": "CPU %.2f%% of a core, RSS %.1f MiB (peak %.1f), %.1f rounds/s" % (
                    usage["cpu_pct_of_one_core"], usage["rss_mib_end"], usage["vmhwm_mib"], usage["probe_rounds_per_s"]),
                "result": "info",
            }
            if label == "daemon_1_target" and "baseline" in raw:
                row["baseline"] = "CPU %.2f%%, RSS %.1f MiB" % (raw["baseline"]["cpu_pct_of_one_core"], raw["baseline"]["rss_mib_end"])
            rows.append(row)
        return rows, raw

    @staticmethod
    def _usage_over(processes, window):
        """CPU and memory of ``processes`` ({label: process}) over ``window`` seconds, sampled every second."""
        daemons = {label: process for label, process in processes.items() if not isinstance(process, BaselineProcess)}
        rounds_before = {label: counter(process.scrape(), "lz_failover_probe_rounds_total") for label, process in daemons.items()}
        first = {label: proc_usage(process.pid) for label, process in processes.items()}
        start = time.monotonic()
        samples = {label: [] for label in processes}
        while time.monotonic() - start < window:
            time.sleep(min(1.0, max(0.0, start + window - time.monotonic())))
            ensure_running(*processes.values())
            for label, process in processes.items():
                samples[label].append(proc_usage(process.pid))
        elapsed = time.monotonic() - start
        rounds_after = {label: counter(process.scrape(), "lz_failover_probe_rounds_total") for label, process in daemons.items()}
        usage = {}
        for label, series in samples.items():
            last, rss = series[-1], [sample["rss_kib"] for sample in series]
            cpu_s = last["cpu_s"] - first[label]["cpu_s"]
            usage[label] = {
                "elapsed_s": round(elapsed, 3), "cpu_s": round(cpu_s, 3), "cpu_pct_of_one_core": round(100.0 * cpu_s / elapsed, 2),
                "rss_mib_end": round(last["rss_kib"] / 1024.0, 1), "rss_mib_max": round(max(rss) / 1024.0, 1),
                "rss_mib_mean": round(sum(rss) / len(rss) / 1024.0, 1), "vmhwm_mib": round(last["hwm_kib"] / 1024.0, 1),
                "threads": last["threads"], "rss_kib_samples": rss,
            }
            if label in daemons:
                usage[label]["probe_rounds_per_s"] = round((rounds_after[label] - rounds_before[label]) / elapsed, 2)
        return usage


# --------------------------------------------------------------------------- report


class Report:
    """Rows of the table and the raw numbers, in scenario order."""

    def __init__(self, args, scenarios):
        self.args = args
        self.scenarios = scenarios
        self.rows = []
        self.raw = {}
        self.errors = {}
        self.interrupted = False
        self.started_wall = time.time()
        self.started = time.monotonic()
        self.loadavg_start = os.getloadavg()
        self.durations = {}

    def note(self, message):
        print("[%7.1f s] %s" % (time.monotonic() - self.started, message), file=sys.stderr, flush=True)

    def add(self, number, name, title, rows, raw, duration):
        for index, row in enumerate(rows):
            label = str(number) if len(rows) == 1 else "%d%s" % (number, "abcdefgh"[index])
            self.rows.append(dict({"number": label, "name": name, "scenario": title}, **row))
        self.raw[name] = raw
        self.durations[name] = round(duration, 1)

    def failed(self, number, name, title, message, duration):
        self.rows.append({"number": str(number), "name": name, "scenario": title, "target": "-", "measured": "not measured: %s" % message, "result": "ERROR"})
        self.errors[name] = message
        self.durations[name] = round(duration, 1)

    def table(self):
        with_baseline = not self.args.no_baseline
        headers = ["#", "scenario", "target", "measured", "result"] + (["baseline (3 echoes / 1 s, 10 good cycles)"] if with_baseline else [])
        keys = ["number", "scenario", "target", "measured", "result"] + (["baseline"] if with_baseline else [])
        cells = [[str(row.get(key) or "-") for key in keys] for row in self.rows]
        widths = [max(len(text) for text in column) for column in zip(headers, *cells)]
        lines = ["  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip() for line in [headers, ["-" * w for w in widths]] + cells]
        return "\n".join(lines)

    def document(self):
        finished = time.time()
        return {
            "benchmark": "monitor_failover",
            "started_at": datetime.datetime.fromtimestamp(self.started_wall, datetime.timezone.utc).isoformat(),
            "finished_at": datetime.datetime.fromtimestamp(finished, datetime.timezone.utc).isoformat(),
            "duration_s": round(time.monotonic() - self.started, 1),
            "interrupted": self.interrupted,
            "options": {key: value for key, value in vars(self.args).items() if key != "only"},
            "scenarios_selected": list(self.scenarios),
            "machine": dict(machine_info(), loadavg_start=[round(v, 2) for v in self.loadavg_start], loadavg_end=[round(v, 2) for v in os.getloadavg()]),
            "daemon_defaults": {
                "probe": {name: default for name, (default, _check) in PROBE_SCHEMA.items() if name != "targets"},
                "policy": {name: default for name, (default, _check) in POLICY_SCHEMA.items()},
                "dx_targets": list(DX_TARGETS),
            },
            "baseline_rule": {
                "script": "benchmarks/baseline_monitor.py", "target": DX_TARGETS[0], "echoes_per_cycle": 3, "echo_interval_s": 1.0,
                "echo_timeout_s": 1.0, "pause_s": 2.0, "failover": "all 3 echoes of a cycle lost", "failback": "10 good cycles in a row",
            } if not self.args.no_baseline else None,
            "scenario_durations_s": self.durations,
            "errors": self.errors,
            "table": self.rows,
            "scenarios": self.raw,
        }

    def write(self, path):
        write_results(path, self.document(), indent=2, sort_keys=False)


# --------------------------------------------------------------------------- command line


def scenario_list(text):
    names = []
    for item in text.split(","):
        item = item.strip()
        if item.isdigit() and 1 <= int(item) <= len(SCENARIOS):
            item = SCENARIO_NAMES[int(item) - 1]
        if item not in SCENARIO_NAMES:
            raise argparse.ArgumentTypeError("unknown scenario %r (choose from %s, or 1-%d)" % (item, ", ".join(SCENARIO_NAMES), len(SCENARIOS)))
        names.append(item)
    return names


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0], epilog="See benchmarks/README.md. Needs root (network namespaces).")
    parser.add_argument("--quick", action="store_true", help="fewer trials and a 1-minute loss run (about 7 minutes)")
    parser.add_argument("--only", type=scenario_list, action="append", metavar="SCENARIO",
                        help="run only these scenarios (names or numbers, comma-separated, repeatable): %s" % ", ".join(SCENARIO_NAMES))
    parser.add_argument("--cuts", type=positive(int), help="hard DX cuts of scenario 1 (default 20, quick 5)")
    parser.add_argument("--loss-minutes", type=positive(float), help="length of the random loss run (default 10, quick 1)")
    parser.add_argument("--loss-pct", type=positive(int), default=10, help="random loss of the random loss run, in %% (default 10)")
    parser.add_argument("--loss-targets", type=positive(int), default=1,
                        help="DX targets the daemon probes in the random loss run, all of them lossy (default 1, at most %d)" % len(DX_TARGETS))
    parser.add_argument("--loss40-trials", type=positive(int), help="trials of the 40%% loss scenario (default 5, quick 2)")
    parser.add_argument("--failback-trials", type=positive(int), help="trials of the failback scenario (default 3, quick 1)")
    parser.add_argument("--flap-seconds", type=positive(float), default=60.0, help="length of the flapping (default 60)")
    parser.add_argument("--resource-seconds", type=positive(float), help="RSS/CPU window (default 60, quick 30)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline runs")
    parser.add_argument("--seed", type=int, default=None, help="seed of the random pauses before cuts")
    parser.add_argument("--output", help="JSON file (default benchmarks/results/monitor-<UTC timestamp>.json)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the daemon, baseline and endpoint logs (their directory is printed)")
    args = parser.parse_args(argv)
    if args.loss_targets > len(DX_TARGETS):
        parser.error("--loss-targets: the lab has %d DX targets, got %d" % (len(DX_TARGETS), args.loss_targets))
    if args.loss_pct >= 100:
        parser.error("--loss-pct: a random loss below 100%%, got %d" % args.loss_pct)
    defaults = {"cuts": (20, 5), "loss_minutes": (10.0, 1.0), "loss40_trials": (5, 2), "failback_trials": (3, 1), "resource_seconds": (60.0, 30.0)}
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    selected = set(itertools.chain.from_iterable(args.only or [SCENARIO_NAMES]))
    args.scenarios = [name for name in SCENARIO_NAMES if name in selected]
    return args


def estimated_minutes(args):
    baseline = 0 if args.no_baseline else 1
    seconds_by_scenario = {
        "hard_failure": 15 + args.cuts * (4.5 + baseline * 9.5),
        "random_loss": 20 + args.loss_minutes * 60,
        "loss40": args.loss40_trials * (14 + (LOSS40_CAP_S if baseline else 7)),
        "flapping": 20 + args.flap_seconds + 35 + baseline * 12,
        "failback": args.failback_trials * (14 + FAILBACK_HOLD_S + baseline * 12),
        "resources": 2 * (15 + args.resource_seconds),
    }
    return sum(seconds_by_scenario[name] for name in args.scenarios) / 60.0


def run_scenarios(bench, report, args):
    """Run the selected scenarios; return True when every one was measured."""
    all_measured = True
    for name in args.scenarios:
        number = SCENARIO_NAMES.index(name) + 1
        title = SCENARIOS[number - 1][1]
        report.note("scenario %d: %s" % (number, title))
        started = time.monotonic()
        try:
            rows, raw = getattr(bench, "scenario_" + name)()
        except (BenchError, AssertionError, FailoverError, OSError, subprocess.SubprocessError) as exc:
            message = " ".join(str(exc).split())[:300]
            report.note("scenario %d could not be measured: %s\n%s" % (number, exc, traceback.format_exc()))
            report.failed(number, name, title, message, time.monotonic() - started)
            all_measured = False
            continue
        finally:
            bench.end()
        report.add(number, name, title, rows, raw, time.monotonic() - started)
        report.note("scenario %d done in %.0f s: %s" % (number, time.monotonic() - started, "; ".join(row["measured"] for row in rows)))
    return all_measured


def main(argv=None):
    args = parse_args(argv)
    setup_error = start_netns_benchmark()
    if setup_error is not None:
        return setup_error
    report = Report(args, args.scenarios)
    report.note("scenarios: %s; expect roughly %.0f minutes" % (", ".join(args.scenarios), estimated_minutes(args)))
    workdir = tempfile.mkdtemp(prefix="lz-bench-")
    netns_lab = NetnsLab()
    exit_code = EXIT_OK
    try:
        try:
            bench = Bench(netns_lab, workdir, args, report.note)
        except (AssertionError, OSError, subprocess.SubprocessError) as exc:
            print("setup error: the lab could not be built: %s" % exc, file=sys.stderr)
            return EXIT_SETUP
        if not run_scenarios(bench, report, args):
            exit_code = EXIT_SETUP
    except KeyboardInterrupt:
        report.interrupted = True
        exit_code = EXIT_INTERRUPTED
        report.note("interrupted: cleaning up")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        netns_lab.cleanup()
        if args.keep_logs:
            report.note("logs kept in %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    output = results_path("monitor", report.started_wall, args.output)
    report.write(output)
    info = report.document()["machine"]
    print()
    print("lz-failover-monitor benchmark%s: %.1f min, commit %s%s, %s CPUs, kernel %s, Python %s, load %.2f at start / %.2f at end" % (
        " (interrupted, partial)" if report.interrupted else "", (time.monotonic() - report.started) / 60.0, (info["commit"] or "?")[:12],
        " (uncommitted changes)" if info["worktree_dirty"] else "", info["nproc"], info["kernel"], info["python"],
        info["loadavg_start"][0], info["loadavg_end"][0]))
    print(report.table())
    shown = os.path.relpath(output)
    print("raw numbers: %s" % (output if shown.startswith("..") else shown))
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
