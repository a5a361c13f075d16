# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test doubles of the monitor daemon's collaborators, and ``Harness``, a Monitor driven by hand.

Nothing here starts a thread or sleeps: clocks are set by the test, and the actuator,
the state writer and the notifier only record what the probe loop hands them.
"""

from __future__ import annotations

from lz_failover_monitor.config import validate_document
from lz_failover_monitor.daemon import Monitor
from lz_failover_monitor.metrics import Metrics
from lz_failover_monitor.state_file import PersistedState
from tests.support.fake_clock import FakeClock
from tests.support.monitor_configs import document

WALL_OFFSET = 1700000000.0  # the fake wall clock is the fake monotonic clock plus this
# One probe round to the two TARGETS, two echoes each, as the daemon hands it
# to the state machine (per target, the RTT in ms of each echo): all answer, or none does.
UP, DOWN = [[1.0, 1.1], [1.2, 1.3]], [[None, None], [None, None]]


def sample(metrics, name, **labels):
    """The value of one Prometheus sample of ``metrics``; 0.0 when it was never recorded."""
    return metrics.registry.get_sample_value(name, labels) or 0.0


class RecordingLog:
    """Collects events as (level, name, fields)."""

    def __init__(self):
        self.records = []

    def _add(self, level, name, fields):
        self.records.append((level, name, fields))

    def debug(self, name, **fields):
        self._add("debug", name, fields)

    def info(self, name, **fields):
        self._add("info", name, fields)

    def warning(self, name, **fields):
        self._add("warning", name, fields)

    def error(self, name, **fields):
        self._add("error", name, fields)

    def exception(self, name, **fields):
        self._add("error", name, fields)

    def named(self, name):
        return [fields for _level, event, fields in self.records if event == name]


class RecordingActuator:
    def __init__(self, initial_path=None):
        self.initial_path = initial_path
        self.desired = []
        self.configs = []
        self.book = type("Book", (), {"applied": initial_path, "converged": True})()
        self.failures = 0
        self.last_error = None
        self.foreign_routes = ()
        self.wakes = 0

    def set_desired(self, path):
        self.desired.append(path)

    def wake(self):
        self.wakes += 1

    def reconfigure(self, config):
        self.configs.append(config)


class RecordingWriter:
    def __init__(self):
        self.states = []
        self.path = None

    def submit(self, state):
        self.states.append(state)


class RecordingNotifier:
    def __init__(self):
        self.messages = []

    def submit(self, subject, message):
        self.messages.append((subject, message))


class Harness:
    """A Monitor with recorders instead of threads, and rounds every 0.1 s on a fake clock."""

    def __init__(self, config=None, initial_path="dx", persisted=None, config_path="/nonexistent/config.yml"):
        self.clock = FakeClock(start=1000.0, wall_offset=WALL_OFFSET)
        self.log = RecordingLog()
        self.metrics = Metrics()
        config = config or validate_document(document())
        self.monitor = Monitor(config, config_path, self.log, metrics=self.metrics, clock=self.clock.monotonic, wall=self.clock.time)
        self.monitor.actuator = RecordingActuator(initial_path)
        self.monitor.writer = RecordingWriter()
        self.monitor.notifier = RecordingNotifier()
        self.monitor.persisted = persisted or PersistedState()
        self.monitor.last_transition = self.monitor.persisted.last_transition
        self.monitor.bind_targets(self.monitor.config)

    def rounds(self, count, echo_rtts_ms):
        for _round in range(count):
            self.clock.now += 0.1
            self.monitor.take_round(self.clock.now, [list(rtts) for rtts in echo_rtts_ms])
        return self

    def sample(self, name, **labels):
        return self.metrics.registry.get_sample_value(name, labels)


class StubVpn:
    """A VPN path check that has found the VPN path down."""

    healthy = False
