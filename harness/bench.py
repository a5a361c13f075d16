# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the benchmarks share: exit codes, log times, statistics, the machine's facts, argument types, results files.

benchmarks/monitor_failover.py and benchmarks/lab_failover.py report the same way; this
is the one copy of the pieces they both use.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import signal
import subprocess
import sys

from harness.paths import REPO_ROOT

EXIT_OK = 0
EXIT_SETUP = 1
EXIT_INTERRUPTED = 130

RESULTS_DIR = os.path.join(REPO_ROOT, "benchmarks", "results")


def log_time(event):
    """Epoch seconds of a JSON log line's ``ts`` (UTC, milliseconds; the daemon's and the baseline's format)."""
    moment = datetime.datetime.strptime(event["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.replace(tzinfo=datetime.timezone.utc).timestamp()


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def stats(values):
    """Summary of the measured values; ``None`` entries (nothing happened before the cap) are counted as missed."""
    measured = [value for value in values if value is not None]
    summary = {"n": len(values), "missed": len(values) - len(measured)}
    if measured:
        summary.update(
            min=round(min(measured), 3), median=round(percentile(measured, 0.5), 3), p90=round(percentile(measured, 0.9), 3),
            max=round(max(measured), 3), mean=round(sum(measured) / len(measured), 3),
        )
    return summary


def note(message):
    """A progress line on standard output, stamped with the UTC time of day."""
    print("[%s] %s" % (datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S"), message), flush=True)


def load_average():
    """The 1, 5 and 15 minute load averages, rounded for a results file."""
    return [round(value, 2) for value in os.getloadavg()]


def plural(count, noun):
    return "%d %s%s" % (count, noun, "" if count == 1 else "s")


def rounded(value, digits=3):
    return None if value is None else round(value, digits)


def proc_usage(pid):
    """CPU seconds (user + system, all threads) and memory of a process, from /proc."""
    with open("/proc/%d/stat" % pid, encoding="ascii") as handle:
        stat = handle.read()
    fields = stat[stat.rindex(")") + 2:].split()  # fields[0] is field 3 (state) of proc(5)
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    status = {}
    with open("/proc/%d/status" % pid, encoding="ascii") as handle:
        for line in handle:
            key, _sep, value = line.partition(":")
            status[key] = value.strip()
    return {
        "cpu_s": ticks / os.sysconf("SC_CLK_TCK"),
        "rss_kib": int(status["VmRSS"].split()[0]),
        "hwm_kib": int(status["VmHWM"].split()[0]),
        "threads": int(status["Threads"]),
    }


def git(*arguments):
    try:
        completed = subprocess.run(["git", "-C", REPO_ROOT] + list(arguments), capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None


def first_line_with(path, prefix):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine_info():
    versions = {}
    for package in ("boto3", "botocore", "moto", "icmplib", "prometheus-client"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    status = git("status", "--porcelain")
    return {
        "nproc": os.cpu_count(),
        "nproc_usable": len(os.sched_getaffinity(0)),
        "cpu_model": first_line_with("/proc/cpuinfo", "model name"),
        "mem_total": first_line_with("/proc/meminfo", "MemTotal"),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "commit": git("rev-parse", "HEAD"),
        "worktree_dirty": None if status is None else bool(status),
        "packages": versions,
    }


def results_path(name, started_wall, output=None):
    """Where a benchmark writes its JSON: ``output`` when given, else ``RESULTS_DIR/<name>-<UTC start>.json``.

    The start time (epoch seconds) names the file, so a run's file says when it began;
    the directory is made here, so the write after a long run cannot fail for want of it.
    """
    stamp = datetime.datetime.fromtimestamp(started_wall, datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = output or os.path.join(RESULTS_DIR, "%s-%s.json" % (name, stamp))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return path


def write_results(path, content, end="\n", **dump_options):
    """Write a benchmark's document as JSON; ``dump_options`` go to json.dump, ``end`` follows the document."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(content, handle, **dump_options)
        handle.write(end)


def checked_number(kind, accepts, requirement):
    """An argparse type: ``kind`` of the text, refused with ``must be <requirement>`` unless ``accepts`` it."""
    def convert(text):
        value = kind(text)
        if not accepts(value):
            raise argparse.ArgumentTypeError("must be %s, got %s" % (requirement, text))
        return value
    return convert


def positive(kind):
    return checked_number(kind, lambda value: value > 0, "> 0")


def non_negative(kind):
    return checked_number(kind, lambda value: value >= 0, ">= 0")


def raise_keyboard_interrupt(_signum, _frame):
    raise KeyboardInterrupt


def start_netns_benchmark():
    """What a benchmark in network namespaces does first: EXIT_SETUP (after saying why) when it cannot run, else None.

    When it can run, SIGTERM is turned into KeyboardInterrupt, so the namespaces and
    processes are cleaned up on the way out as after Ctrl-C.
    """
    from harness.netns import netns_unavailable_reason  # pylint: disable=import-outside-toplevel

    reason = netns_unavailable_reason()
    if reason:
        print("setup error: this benchmark %s" % reason, file=sys.stderr)
        return EXIT_SETUP
    signal.signal(signal.SIGTERM, raise_keyboard_interrupt)
    return None
