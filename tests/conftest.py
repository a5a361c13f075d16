"""Test-session wiring shared by every test directory.

Tests import the collection the way Ansible does
(``ansible_collections.localzones.failover...``): pytest.ini puts ``.cache/collections``
on the import path, where scripts/setup.sh links the checkout as
``ansible_collections/localzones/failover``; the link is made again here when it is
missing or points elsewhere (a moved checkout), so a run never imports another copy.

Under ``CI=true`` (``.ci/run``) a run with a missing setup prerequisite does not start,
and a run in which any test skipped fails (harness/prerequisites.py says why).
"""

from __future__ import annotations

import importlib
import os

import pytest

from harness import prerequisites
from harness.paths import COLLECTION_LINK
from harness.paths import REPO_ROOT


def _link_collection():
    if os.path.islink(COLLECTION_LINK) and os.path.realpath(COLLECTION_LINK) == REPO_ROOT:
        return
    os.makedirs(os.path.dirname(COLLECTION_LINK), exist_ok=True)
    if os.path.islink(COLLECTION_LINK):
        os.unlink(COLLECTION_LINK)
    os.symlink(REPO_ROOT, COLLECTION_LINK)
    # The import system may have looked for the path before the link was there.
    importlib.invalidate_caches()


_link_collection()

pytest_plugins = ["harness.aws", "harness.netns", "harness.monitor"]

_skips = prerequisites.SkipLedger(prerequisites.CI_SKIP_ALLOWED)


def pytest_configure(config):  # pylint: disable=unused-argument
    if not prerequisites.running_in_ci():
        return
    problems = prerequisites.missing_prerequisites()
    if problems:
        raise pytest.UsageError("CI=true and scripts/setup.sh did not finish its work:\n  " + "\n  ".join(problems))


def pytest_collectreport(report):
    _skips.record(report)


def pytest_runtest_logreport(report):
    _skips.record(report)


def pytest_sessionfinish(session):
    if prerequisites.running_in_ci() and _skips.unexpected() and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    unexpected = _skips.unexpected()
    if prerequisites.running_in_ci() and unexpected:
        terminalreporter.section("CI=true: skipped tests fail the run", sep="=", red=True, bold=True)
        for nodeid, reason in unexpected:
            terminalreporter.line("%s: %s" % (nodeid, reason))
        terminalreporter.line("A skip in CI means a prerequisite is missing; fix the setup, or allow it in "
                              "harness/prerequisites.py CI_SKIP_ALLOWED with the reason.")
