# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How fast the on-premises gateway leaves the DX router: the fhrp role's ``routes`` check beside ``ping``.

Two booted Debian 12 routers on a LAN bridge (harness/fhrp.py, the topology the fhrp role's
integration tests use), VRRPv3 with 0.1 s adverts, priorities 150 (DX) and 100 (VPN),
preempt delay 1 s. Each trial cuts DX and times, from the cut:

* ``track_file``: the watcher's track file replaced (its mtime; ``routes`` only);
* ``dx_leaves_master``: the DX router's keepalived "Entering FAULT STATE" (its journal);
* ``backup_owns_vip``: the VPN router's lan0 gets the gateway address (``ip -ts monitor address``
  in its namespace, so the time is the kernel's event, not a poll).

``routes``: the check follows ``proto bird`` routes; the cut is ``ip route del PREFIX`` in the
DX router (what BIRD does when BFD or the hold timer ends the session); the cut time is taken
by the same shell, right before it. ``ping`` (interval 1 s, fall 2, the role's defaults): the cut
is an nftables rule in the DX peer's namespace that drops the echo requests.
Between trials DX is restored and the DX router waits to be MASTER again.

    .venv/bin/python -m benchmarks.fhrp_dx_watch [--trials 20] [--only routes|ping]

Prints one table and writes the raw numbers to benchmarks/results/fhrp-dx-watch-<UTC>.json.
Exit status: 0 whatever was measured, 1 on a setup error, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time

from harness.bench import EXIT_INTERRUPTED
from harness.bench import EXIT_OK
from harness.bench import EXIT_SETUP
from harness.bench import stats
from harness.paths import REPO_ROOT
from harness.waiting import wait_for
from harness.fhrp import DX_PEER
from harness.fhrp import VIP
from harness.fhrp import router_lab
from harness.fhrp import router_vars

PREFIX = "198.18.128.0/20"
PREEMPT_DELAY = 1
TRACK_FILE = "/run/lz-fhrp-dx-watch/dx-routes"
CHECKS = ("routes", "ping")
MEASURES = ("track_file", "dx_leaves_master", "backup_owns_vip")
SETTLE_S = 0.5
# `ip -ts monitor` prints the local time of the event: "[2026-12-03T11:25:01.123456] 5: lan0 inet ..."
MONITOR_LINE = re.compile(r"^\[(?P<time>[0-9T:.-]+)\] (?P<deleted>Deleted )?.*inet (?P<address>[0-9.]+)/")


def check_vars(check):
    if check == "routes":
        return {"fhrp_track_script": {"enabled": True, "check": "routes", "prefixes": [PREFIX]}}
    return {}  # router_vars' ping check of the DX peer: interval 1, fall 2, rise 2


def converge(lab, check):
    lab.host_vars("dx", router_vars("dx", fhrp_preempt_delay=PREEMPT_DELAY, **check_vars(check)))
    lab.host_vars("vpn", router_vars("vpn", fhrp_preempt_delay=PREEMPT_DELAY))
    run = lab.apply()
    if run.returncode != 0:
        raise RuntimeError("converging with check %s failed:\n%s" % (check, run.summary(lab.hosts["dx"].name)))


def restore(lab, check):
    if check == "routes":
        lab.hosts["dx"].run(["ip", "route", "replace", PREFIX, "via", DX_PEER, "dev", "dx0", "proto", "bird"])
    else:
        lab.lab.clear_icmp_rules(lab.dx_peer)
    wait_for(lambda: lab.master() == "dx" and lab.state("dx").get("state") == "MASTER", 30, "the DX router to be MASTER again")
    time.sleep(SETTLE_S)


def cut(lab, check):
    """Cut DX; returns the epoch time of the cut."""
    if check == "routes":
        # The same shell takes the time and deletes the route: no process start in between.
        output = lab.hosts["dx"].run(["sh", "-c", "date +%s.%N; ip route del " + PREFIX]).stdout
        return float(output.split()[0])
    cut_at = time.time()
    lab.lab.drop_icmp(lab.dx_peer, DX_PEER)
    return cut_at


def keepalived_fault_time(host, since):
    """Epoch time of the first "Entering FAULT STATE" in the DX router's keepalived journal after ``since``."""
    output = host.run(["journalctl", "-u", "keepalived", "-o", "short-unix", "--no-pager", "--since", "@%.6f" % since]).stdout
    for line in output.splitlines():
        if "Entering FAULT STATE" in line:
            return float(line.split()[0])
    return None


def track_file_time(host):
    return float(host.python("import os; print(repr(os.stat(%r).st_mtime))" % TRACK_FILE).strip())


class AddressMonitor:
    """``ip -ts monitor address`` in the VPN router's namespace, read after each trial."""

    def __init__(self, lab, output_path):
        self.output_path = output_path
        self.handle = open(output_path, "w", encoding="utf-8")  # pylint: disable=consider-using-with
        argv = ["ip", "-ts", "monitor", "address", "dev", "lan0"]
        self.process = lab.lab.spawn_in(lab.hosts["vpn"].netns, argv, stdout=self.handle, stderr=subprocess.STDOUT)

    def first_add_after(self, since):
        with open(self.output_path, encoding="utf-8") as handle:
            for line in handle:
                match = MONITOR_LINE.match(line.strip())
                if not match or match.group("deleted") or match.group("address") != VIP:
                    continue
                moment = datetime.datetime.strptime(match.group("time"), "%Y-%m-%dT%H:%M:%S.%f").timestamp()
                if moment >= since:
                    return moment
        return None

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        self.handle.close()


def run_trial(lab, check, monitor):
    cut_at = cut(lab, check)
    wait_for(lambda: lab.master() == "vpn" and lab.state("vpn").get("state") == "MASTER", 30, "the VPN router to take over")
    time.sleep(0.3)
    dx = lab.hosts["dx"]
    trial = {
        "track_file": track_file_time(dx) - cut_at if check == "routes" else None,
        "dx_leaves_master": (keepalived_fault_time(dx, cut_at - 0.5) or float("nan")) - cut_at,
        "backup_owns_vip": (monitor.first_add_after(cut_at) or float("nan")) - cut_at,
    }
    restore(lab, check)
    return trial


def measure(lab, check, trials, directory):
    converge(lab, check)
    restore(lab, check)
    monitor = AddressMonitor(lab, os.path.join(directory, "vpn-%s.monitor" % check))
    try:
        time.sleep(0.5)
        results = []
        for number in range(trials):
            results.append(run_trial(lab, check, monitor))
            shown = {key: None if value is None else round(value, 3) for key, value in results[-1].items()}
            print("%s trial %d: %s" % (check, number + 1, json.dumps(shown)), flush=True)
        return results
    finally:
        monitor.stop()


def summary(results):
    return {measure_name: stats([trial[measure_name] for trial in results]) if results and results[0][measure_name] is not None else None
            for measure_name in MEASURES}


def print_table(summaries, trials):
    print("\nDX cut -> (seconds, %d trials each; VRRPv3 advert 0.1 s)" % trials)
    print("| check | track file written | DX keepalived leaves MASTER | VPN router owns the gateway address |")
    print("| --- | --- | --- | --- |")
    for check, summary_of_check in summaries.items():
        cells = []
        for measure_name in MEASURES:
            value = summary_of_check[measure_name]
            cells.append("n/a" if value is None else "median %.3f, max %.3f" % (value["median"], value["max"]))
        print("| %s | %s |" % (check, " | ".join(cells)))


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0], epilog="Needs root and the lab image (LAB_IMAGES_DIR).")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--only", choices=CHECKS, help="measure one check only")
    return parser.parse_args(argv)


def main(argv=None):
    arguments = parse_arguments(argv)
    if os.geteuid() != 0:
        print("needs root (network namespaces, nftables, containers)", file=sys.stderr)
        return EXIT_SETUP
    checks = (arguments.only,) if arguments.only else CHECKS
    raw, summaries = {}, {}
    directory = tempfile.mkdtemp(prefix="fhrp-dx-watch-")
    try:
        with router_lab(directory) as lab:
            for check in checks:
                raw[check] = measure(lab, check, arguments.trials, directory)
                summaries[check] = summary(raw[check])
    except KeyboardInterrupt:
        print_table(summaries, arguments.trials)
        return EXIT_INTERRUPTED
    except (RuntimeError, AssertionError, subprocess.SubprocessError) as error:
        print("setup error: %s" % error, file=sys.stderr)
        return EXIT_SETUP
    print_table(summaries, arguments.trials)
    results_dir = os.path.join(REPO_ROOT, "benchmarks", "results")
    os.makedirs(results_dir, exist_ok=True)
    path = os.path.join(results_dir, "fhrp-dx-watch-%s.json" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ"))
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"trials": arguments.trials, "summary": summaries, "raw": raw}, handle, indent=2)
    print("raw numbers: %s" % path)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
