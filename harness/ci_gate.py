# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Under ``CI=true`` a run with an incomplete setup does not start, and a skipped test fails it.

A pytest plugin, registered by tests/conftest.py (``pytest_plugins``). Outside CI it does
nothing: a laptop that is not root skips the namespace tests, as it should. CI is the
README's Debian 12 machine, as root, after scripts/setup.sh (``.ci/run`` runs with
``CI=true``), so there a skip means a setup step broke. Under ``CI=true``:

* before collection, anything setup.sh installs that is missing stops the session with the
  list (``harness.prerequisites.missing_prerequisites``; a usage error, exit status 4);
* after collection and before the first test, a module skipped while it was collected (a
  module-level ``pytest.skip`` or ``importorskip``), or a module that a collected test file
  imports through ``pytest.importorskip`` and that cannot be imported, stops it the same way;
* at the end, every test that skipped anyway (``pytest.skip`` in a test or fixture, a
  ``skip``/``skipif`` mark, ...) or was an expected failure is named with its reason in a
  section of its own, and the run fails (exit status 1).

An ``xfail`` counts as a skip: an expected failure proves nothing either way, and an
``xfail(condition)`` mark would otherwise be a way round this gate (pytest.ini's
``xfail_strict`` makes an unexpected pass fail everywhere).

``CI_SKIP_ALLOWED`` below is the one place to accept a skip in CI.
"""

from __future__ import annotations

import os

import pytest

from harness import prerequisites

# Skips and xfails CI accepts: a node ID (a directory, a file, a test, or one parameter set of
# it) -> the reason it cannot run on the CI machine. Empty on purpose: every test runs in CI.
# Add an entry only with that reason written down.
CI_SKIP_ALLOWED = {}

HOW_TO_FIX = ("A skip in CI means a prerequisite is missing: fix scripts/setup.sh, or allow the test in "
              "harness/ci_gate.py CI_SKIP_ALLOWED with the reason it cannot run on the CI machine.")


def running_in_ci():
    return os.environ.get("CI", "").strip().lower() == "true"


def pytest_configure(config):
    if not running_in_ci():
        return
    problems = prerequisites.missing_prerequisites()
    if problems:
        raise pytest.UsageError("CI=true and scripts/setup.sh did not finish its work:\n  " + "\n  ".join(problems))
    config.pluginmanager.register(SkipGate(CI_SKIP_ALLOWED), "lz-ci-skip-gate")


class SkipGate:
    """The skips of one CI session; any skip not in ``allowed`` stops or fails the run."""

    def __init__(self, allowed):
        self.allowed = dict(allowed)
        self.skips = []

    def pytest_collectreport(self, report):
        self.record(report)

    def pytest_runtest_logreport(self, report):
        self.record(report)

    def pytest_collection_finish(self, session):
        problems = ["%s was skipped while collected: %s" % (nodeid, reason) for _kind, nodeid, reason in self.unexpected()]
        problems.extend(prerequisites.modules_the_tests_cannot_import(sorted({str(item.path) for item in session.items})))
        if problems:
            pytest.exit("CI=true and a test module cannot run here:\n  " + "\n  ".join(problems) + "\n" + HOW_TO_FIX,
                        returncode=pytest.ExitCode.USAGE_ERROR)

    def pytest_sessionfinish(self, session):
        if self.unexpected() and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        unexpected = self.unexpected()
        if not unexpected:
            return
        terminalreporter.section("CI=true: %d skipped test(s) fail the run" % len(unexpected), sep="=", red=True, bold=True)
        for kind, nodeid, reason in unexpected:
            terminalreporter.line("%s %s: %s" % (kind, nodeid, reason), red=True)
        terminalreporter.line(HOW_TO_FIX)

    def record(self, report):
        if not report.skipped:
            return
        if hasattr(report, "wasxfail"):
            self.skips.append(("XFAIL", report.nodeid, report.wasxfail or "no reason given"))
        else:
            self.skips.append(("SKIPPED", report.nodeid, skip_reason(report)))

    def unexpected(self):
        """``(kind, node ID, reason)`` of every skip and xfail no allow-list entry covers."""
        return [skip for skip in self.skips if not any(covers(entry, skip[1]) for entry in self.allowed)]


def covers(entry, nodeid):
    """Whether the allow-list ``entry`` names ``nodeid`` or something that contains it (not a mere name prefix)."""
    return nodeid == entry or any(nodeid.startswith(entry.rstrip("/") + separator) for separator in ("/", "::", "["))


def skip_reason(report):
    longrepr = report.longrepr
    reason = str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    # A skip raised while a module is collected says so; one in a test does not.
    return reason[len("Skipped: "):] if reason.startswith("Skipped: ") else reason
