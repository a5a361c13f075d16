# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CI on a fresh clone, several runs in a row, beside CPU-heavy processes (issue 17's done-when).

For each of ``--runs`` runs: a fresh ``git clone`` of ``--repo`` (this repository by
default) checked out at ``--commit``, then ``CI=true bash .ci/run`` in it, exactly as CI
runs it, while ``--hogs`` busy loops (``sh -c 'while :; do :; done'``, normal priority)
take CPU for the whole series. The series stops at the first failed run, because "in a
row" is what is measured.

Printed: one table row per run (result, total seconds, each stage's seconds, pytest's
summary line). Written: benchmarks/results/ci-under-load-<UTC>.json with the same numbers,
whether each hog was still running at the end of each run, the load average, and the
machine's facts; each run's whole output goes to a log file next to it. A passed run's
clone is removed before the next run starts; a failed run's clone is kept for inspection.

    .venv/bin/python -m benchmarks.ci_under_load                 # 5 runs, 1 hog: about 3.5 hours on 2 cores
    .venv/bin/python -m benchmarks.ci_under_load --runs 1 --hogs 0

Needs root (as ``.ci/run`` does) and a free lab: do not start the lab, molecule or another
CI run while it runs. Exit status: 0 when every run passed, 3 when a run failed, 1 on a
setup error, 2 on bad usage, 130 when interrupted (the running CI gets SIGINT, as after
Ctrl-C, so its tests clean up; the hogs are ended by PID).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from harness.bench import EXIT_INTERRUPTED
from harness.bench import EXIT_OK
from harness.bench import EXIT_SETUP
from harness.bench import load_average
from harness.bench import machine_info
from harness.bench import non_negative
from harness.bench import note
from harness.bench import positive
from harness.bench import raise_keyboard_interrupt
from harness.bench import results_path
from harness.bench import write_results
from harness.paths import REPO_ROOT

EXIT_RUN_FAILED = 3

HOG_COMMAND = ["sh", "-c", "while :; do :; done"]
# What the clone's CI must not inherit from the shell that started the benchmark: it makes its own venv.
INHERITED_PYTHON_VARIABLES = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
# After SIGINT the running CI has this long to clean up (its tests stop the lab) before SIGKILL.
INTERRUPT_GRACE_S = 180

# scripts/test.sh's stage lines and pytest's last line.
STAGE_STARTED = re.compile(r"^==> \[\d+/\d+\] (?P<stage>\S+)")
STAGE_PASSED = re.compile(r"^<== (?P<stage>\S+) ok in (?P<seconds>\d+)s$")
STAGE_FAILED = re.compile(r"^<== (?P<stage>\S+) FAILED \(exit (?P<rc>\d+)\) after (?P<seconds>\d+)s$")
PYTEST_SUMMARY = re.compile(r"^=+ (?P<counts>\d+ (?:passed|failed|error)[^=]*?) in [\d.]+s(?: \([\d:]+\))? =+$")


# --------------------------------------------------------------------------- pure parts (tests/unit/benchmarks)

def parse_ci_log(lines):
    """What one ``.ci/run`` output says: each finished stage's seconds, the failed stage and pytest's counts.

    The counts are those of the pytest stage; other stages run pytest too (the matrix) and do not count.
    """
    stages = {}
    failed = None
    pytest_counts = None
    current = None
    for line in lines:
        line = line.rstrip("\n")
        started = STAGE_STARTED.match(line)
        passed = STAGE_PASSED.match(line)
        failure = STAGE_FAILED.match(line)
        summary = PYTEST_SUMMARY.match(line)
        if started:
            current = started.group("stage")
        elif passed:
            stages[passed.group("stage")] = int(passed.group("seconds"))
        elif failure:
            stages[failure.group("stage")] = int(failure.group("seconds"))
            failed = {"stage": failure.group("stage"), "rc": int(failure.group("rc"))}
        elif summary and current == "pytest":
            pytest_counts = summary.group("counts").strip()
    return {"stages": stages, "failed_stage": failed, "pytest": pytest_counts}


def series_summary(runs):
    """Passes in a row from the first run, and the spread of their totals."""
    in_a_row = 0
    for run in runs:
        if not run["passed"]:
            break
        in_a_row += 1
    totals = [run["seconds"] for run in runs[:in_a_row]]
    summary = {"runs": len(runs), "passed_in_a_row": in_a_row, "all_passed": bool(runs) and in_a_row == len(runs)}
    if totals:
        summary["total_s"] = {"min": min(totals), "mean": round(statistics.mean(totals)), "max": max(totals)}
    return summary


def table_rows(runs):
    """Markdown rows: run, result, total, then each stage in the order the first run ran them."""
    stage_names = []
    for run in runs:
        stage_names += [name for name in run["stages"] if name not in stage_names]
    rows = ["| Run | Result | Total | %s | pytest counts |" % " | ".join(stage_names)]
    rows.append("|%s" % (" --- |" * (len(stage_names) + 4)))
    for run in runs:
        result = "passed" if run["passed"] else "FAILED (%s)" % ((run["failed_stage"] or {}).get("stage", "rc %s" % run["rc"]))
        cells = [str(run["stages"].get(name, "-")) for name in stage_names]
        rows.append("| %d | %s | %d s | %s | %s |" % (run["run"], result, run["seconds"], " | ".join(cells), run["pytest"] or "-"))
    return rows


# --------------------------------------------------------------------------- processes

def clean_environment():
    environment = {name: value for name, value in os.environ.items() if name not in INHERITED_PYTHON_VARIABLES}
    environment["CI"] = "true"
    return environment


def start_hogs(count):
    return [subprocess.Popen(HOG_COMMAND, stdin=subprocess.DEVNULL) for _hog in range(count)]  # pylint: disable=consider-using-with


def stop_hogs(hogs):
    for hog in hogs:
        if hog.poll() is None:
            hog.kill()
        hog.wait()


def fresh_clone(repo, commit, directory):
    subprocess.run(["git", "clone", "-q", repo, directory], check=True, stdin=subprocess.DEVNULL)
    subprocess.run(["git", "-C", directory, "checkout", "-q", "--detach", commit], check=True, stdin=subprocess.DEVNULL)


def run_ci(directory, log_path):
    """``CI=true bash .ci/run`` in the clone, output to the log; its exit status.

    It runs in a session of its own, so an interruption reaches the whole CI (SIGINT
    to its process group, as Ctrl-C in a terminal would) and nothing else.
    """
    with open(log_path, "w", encoding="utf-8") as log:
        ci = subprocess.Popen(  # pylint: disable=consider-using-with
            ["bash", ".ci/run"], cwd=directory, env=clean_environment(),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            return ci.wait()
        except KeyboardInterrupt:
            interrupt(ci)
            raise


def interrupt(ci):
    try:
        os.killpg(ci.pid, signal.SIGINT)
        ci.wait(timeout=INTERRUPT_GRACE_S)
    except subprocess.TimeoutExpired:
        os.killpg(ci.pid, signal.SIGKILL)
        ci.wait()
    except ProcessLookupError:
        ci.wait()


def one_run(number, repo, commit, workdir, log_path, hogs):
    clone = os.path.join(workdir, "run-%d" % number)
    fresh_clone(repo, commit, clone)
    load_start = load_average()
    started = time.monotonic()
    rc = run_ci(clone, log_path)
    seconds = round(time.monotonic() - started)
    with open(log_path, encoding="utf-8", errors="replace") as log:
        parsed = parse_ci_log(log)
    run = {
        "run": number, "rc": rc, "passed": rc == 0, "seconds": seconds, "log": log_path, "clone": clone,
        "hogs_running_at_end": [hog.poll() is None for hog in hogs],
        "loadavg_start": load_start,
        "loadavg_end": load_average(),
        **parsed,
    }
    if run["passed"]:
        shutil.rmtree(clone)  # a passed run's clone (its venv included) is several GB
        run["clone"] = None
    return run


def run_series(repo, commit, runs, hog_count, workdir, log_prefix, on_run=None):
    """Up to ``runs`` fresh-clone CI runs beside ``hog_count`` hogs; stops at the first failure."""
    results = []
    hogs = start_hogs(hog_count)
    try:
        for number in range(1, runs + 1):
            note("run %d of %d: fresh clone of %s, CI=true bash .ci/run" % (number, runs, commit[:12]))
            run = one_run(number, repo, commit, workdir, "%s-run-%d.log" % (log_prefix, number), hogs)
            results.append(run)
            if on_run:
                on_run(run)
            if not run["passed"]:
                break
    finally:
        stop_hogs(hogs)
    return results


# --------------------------------------------------------------------------- main

def resolve_commit(repo, commit):
    completed = subprocess.run(["git", "-C", repo, "rev-parse", "--verify", "--quiet", commit + "^{commit}"],
                               capture_output=True, text=True, check=False)
    return completed.stdout.strip() if completed.returncode == 0 else None


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0], epilog="See benchmarks/README.md. Needs root and a free lab.")
    parser.add_argument("--runs", type=positive(int), default=5, help="runs in a row (default 5)")
    parser.add_argument("--hogs", type=non_negative(int), default=1, help="busy loops beside the runs (default 1)")
    parser.add_argument("--repo", default=REPO_ROOT, help="repository to clone (default this one)")
    parser.add_argument("--commit", default="HEAD", help="commit to check out in each clone (default HEAD)")
    parser.add_argument("--workdir", help="where the clones go (default a new directory under /var/tmp)")
    parser.add_argument("--output", help="JSON file (default benchmarks/results/ci-under-load-<UTC timestamp>.json)")
    return parser.parse_args(argv)


def setup_problem(args, commit):
    if os.geteuid() != 0:
        return "needs root, as .ci/run does"
    if commit is None:
        return "%s is not a commit of %s" % (args.commit, args.repo)
    if shutil.which("git") is None or shutil.which("bash") is None:
        return "needs git and bash"
    return None


def main(argv=None):
    args = parse_args(argv)
    commit = resolve_commit(args.repo, args.commit)
    problem = setup_problem(args, commit)
    if problem:
        print("setup error: %s" % problem, file=sys.stderr)
        return EXIT_SETUP
    signal.signal(signal.SIGTERM, raise_keyboard_interrupt)
    started = time.time()
    output = results_path("ci-under-load", started, args.output)
    workdir = args.workdir or tempfile.mkdtemp(prefix="ci-under-load-", dir="/var/tmp")
    os.makedirs(workdir, exist_ok=True)
    document = {"benchmark": "ci_under_load", "options": vars(args), "commit": commit, "machine": machine_info(), "runs": []}

    def save(run=None):
        if run is not None:
            document["runs"].append(run)
        document["summary"] = series_summary(document["runs"])
        document["duration_s"] = round(time.time() - started, 1)
        write_results(output, document, end="", indent=1, default=str)

    exit_code = EXIT_OK
    try:
        run_series(args.repo, commit, args.runs, args.hogs, workdir, os.path.splitext(output)[0], on_run=save)
    except KeyboardInterrupt:
        exit_code = EXIT_INTERRUPTED
        note("interrupted: the running CI was stopped, the hogs ended")
    except (OSError, subprocess.SubprocessError) as exc:
        exit_code = EXIT_SETUP
        note("could not be measured: %s" % exc)
    save()
    kept = [run["clone"] for run in document["runs"] if run["clone"]]
    if kept:
        print("kept for inspection: %s" % ", ".join(kept))
    elif not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    for row in table_rows(document["runs"]):
        print(row)
    summary = document["summary"]
    print("commit %s, %d hog(s): %d of %d run(s) passed in a row" % (commit[:12], args.hogs, summary["passed_in_a_row"], args.runs))
    print("raw numbers: %s" % output)
    if exit_code == EXIT_OK and not summary["all_passed"]:
        exit_code = EXIT_RUN_FAILED
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
