"""Test-session wiring shared by every test directory.

Tests import the collection the way Ansible does
(``ansible_collections.localzones.failover...``), so the checkout is exposed
under ``.cache/collections/ansible_collections/localzones/failover``.

Under ``CI=true`` (``.ci/run``) a run with a missing setup prerequisite does not start,
and a run in which any test skipped fails (tests/support/prerequisites.py says why).
"""

from __future__ import annotations

import os
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS_ROOT = os.path.join(REPO_ROOT, ".cache", "collections")


def _expose_collection():
    namespace_dir = os.path.join(COLLECTIONS_ROOT, "ansible_collections", "localzones")
    link = os.path.join(namespace_dir, "failover")
    os.makedirs(namespace_dir, exist_ok=True)
    if not os.path.islink(link) or os.path.realpath(link) != REPO_ROOT:
        if os.path.islink(link):
            os.unlink(link)
        os.symlink(REPO_ROOT, link)
    if COLLECTIONS_ROOT not in sys.path:
        sys.path.insert(0, COLLECTIONS_ROOT)


_expose_collection()

# Imported after the collection is exposed: the support package imports from it.
from tests.support import prerequisites  # noqa: E402  pylint: disable=wrong-import-position

pytest_plugins = ["tests.support.aws", "tests.support.netns"]

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
                              "tests/support/prerequisites.py CI_SKIP_ALLOWED with the reason.")
