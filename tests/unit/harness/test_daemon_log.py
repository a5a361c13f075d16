# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""harness.monitor.Daemon's log reading: a wait for a step's event never returns an earlier step's.

The daemon's process is not started: the log file is written here, line by line, as the
daemon would write it, and a finished ``true`` stands in for the process.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from harness.monitor import Daemon


class LoggedDaemon(Daemon):
    """A Daemon over a log file the test writes; its process has already exited (0)."""

    def __init__(self, log_path):  # pylint: disable=super-init-not-called
        self.log_path = str(log_path)
        self.process = subprocess.Popen(["true"])  # pylint: disable=consider-using-with
        self.process.wait()

    def log(self, event, **fields):
        with open(self.log_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(dict(fields, event=event)) + "\n")


@pytest.fixture
def daemon(tmp_path):
    return LoggedDaemon(tmp_path / "daemon.log")


def test_events_after_a_mark_leave_out_the_earlier_ones(daemon):
    daemon.log("routes_converged", path="dx", actions=0)
    daemon.log("transition", to_path="vpn")
    mark = daemon.mark()
    assert mark == 2
    daemon.log("routes_converged", path="vpn", actions=2)
    daemon.log("routes_converged", path="dx", actions=2)
    assert [event["actions"] for event in daemon.events("routes_converged", path="dx")] == [0, 2]
    assert [event["actions"] for event in daemon.events("routes_converged", since=mark, path="dx")] == [2]
    assert daemon.events("transition", since=mark) == []


def test_wait_for_event_since_a_mark_returns_this_steps_event(daemon):
    daemon.log("routes_converged", path="dx", actions=0)  # at start
    mark = daemon.mark()
    daemon.log("routes_converged", path="dx", actions=2)  # after the restore
    assert daemon.wait_for_event("routes_converged", timeout=0, path="dx")["actions"] == 0, "without a mark: the first ever"
    assert daemon.wait_for_event("routes_converged", timeout=0, since=mark, path="dx")["actions"] == 2


def test_waiting_for_an_event_not_logged_after_the_mark_fails(daemon):
    daemon.log("routes_converged", path="dx", actions=0)
    mark = daemon.mark()
    with pytest.raises(AssertionError, match="the daemon exited"):
        daemon.wait_for_event("routes_converged", timeout=0, since=mark, path="dx")
