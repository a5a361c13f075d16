# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The contract between the daemon's log and the drill's journal parser: plugins/module_utils/events.py.

The daemon's log calls are read from monitor/*.py as written (not run), so an event the
drill reads but no code path emits any more is found without driving the daemon there.
"""

from __future__ import annotations

import ast
import glob
import json
import logging
import os

import pytest

from ansible_collections.localzones.failover.plugins.module_utils import events
from ansible_collections.localzones.failover.plugins.module_utils.drill.parse import parse_monitor_log
from lz_failover_monitor.logs import JsonFormatter
from harness.paths import REPO_ROOT

LOG_LEVELS = {"debug", "info", "warning", "error", "exception"}


class LogCall:
    """One call of the daemon's EventLog in monitor/*.py: where, which event, which keyword fields."""

    def __init__(self, path, node):
        self.where = "%s:%d" % (os.path.relpath(path, REPO_ROOT), node.lineno)
        self.event = node.args[0]
        self.keywords = {keyword.arg for keyword in node.keywords if keyword.arg is not None}
        self.spreads_fields = any(keyword.arg is None for keyword in node.keywords)

    def event_constant(self):
        """The events.py constant this call names, or None when it names its event some other way."""
        node = self.event
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "events":
            return node.attr
        return None


def _is_log_call(node):
    """``log.info(...)`` and its siblings, and ``log(...)`` where a level was picked first (vpn_check.py)."""
    if not isinstance(node, ast.Call) or not node.args:
        return False
    function = node.func
    if isinstance(function, ast.Attribute):
        return function.attr in LOG_LEVELS and "log" in ast.unparse(function.value)
    return isinstance(function, ast.Name) and function.id == "log"


def daemon_log_calls():
    calls = []
    for path in sorted(glob.glob(os.path.join(REPO_ROOT, "monitor", "*.py"))):
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
        calls += [LogCall(path, node) for node in ast.walk(tree) if _is_log_call(node)]
    return calls


def emitted_events(calls):
    return {getattr(events, call.event_constant()) for call in calls if call.event_constant()}


def test_the_daemon_log_calls_are_found():
    calls = daemon_log_calls()
    assert len(calls) > 30 and any(call.event_constant() == "TRANSITION" for call in calls)


def test_every_daemon_log_call_names_its_event_by_a_constant_of_events():
    calls = daemon_log_calls()
    strays = [call.where for call in calls if call.event_constant() is None]
    assert strays == [], "log calls with an event name that is not an events.py constant"
    unknown = [call.where for call in calls if not hasattr(events, call.event_constant())]
    assert unknown == []


def test_no_two_names_in_events_are_the_same_text():
    values = [value for name, value in vars(events).items() if name.isupper() and isinstance(value, str)]
    assert len(values) == len(set(values))


def test_every_event_the_drill_reads_is_one_the_daemon_emits():
    assert set(events.DRILL_FIELDS) <= emitted_events(daemon_log_calls())


@pytest.mark.parametrize("event", sorted(events.DRILL_FIELDS))
def test_the_daemon_logs_every_field_the_drill_reads(event):
    """Calls that spread a dict (``**outcome.as_dict()``) are checked by the actuator's own tests."""
    calls = [call for call in daemon_log_calls() if call.event_constant() and getattr(events, call.event_constant()) == event]
    explicit = [call for call in calls if not call.spreads_fields]
    for call in explicit:
        missing = set(events.DRILL_FIELDS[event]) - call.keywords
        assert not missing, "%s logs %s without %s" % (call.where, event, sorted(missing))
    assert calls


def test_a_transition_the_daemon_formats_is_read_back_by_the_drill():
    record = logging.LogRecord("lz_failover_monitor", logging.WARNING, __file__, 1, events.TRANSITION, None, None)
    record.event = events.TRANSITION
    record.fields = {events.FROM_PATH: "dx", events.TO_PATH: "vpn", events.REASON: "hard_failure", "evidence": {"window_loss_pct": [100.0]}}
    line = JsonFormatter().format(record)
    [event], problems = parse_monitor_log([line])
    assert problems == []
    assert (event["event"], event["from_path"], event["to_path"], event["reason"]) == ("transition", "dx", "vpn", "hard_failure")
    assert "evidence" not in event and json.loads(line)["from_path"] == "dx"
