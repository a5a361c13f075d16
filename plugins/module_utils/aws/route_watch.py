# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A timestamped record of the path each managed route table is on, read at a fixed cadence.

A failover drill runs the watch beside its own actions, so it has a record of
when each production route table moved between Direct Connect and the VPN that
does not depend on the code being tested. A table's path is ``paths.path_of``,
the answer the monitor and the other modules give for the same tables.

Timing
------
Every read is one DescribeRouteTables call. A route change is seen by the first
read that returns it, and it happened after the previous successful read began
and before the read that saw it ended. A change's ``previous_read_time`` (start of
the previous successful read) and ``time`` (end of the read that saw it) are
those bounds, so they hold even when a read is slow or retried.

Reads are scheduled on a fixed grid (``interval`` apart, counted from the first
read), so the time each read takes does not make the cadence drift; slots missed
while a slow read was still running are skipped rather than run back to back.

What ends the watch
-------------------
* ``duration`` seconds after the first read began: one last read, then the end;
* ``stop_file``: the read that follows the first sight of the file is the last;
* ``until_path``: after at least one change, the first read that finds every
  table on that path.

A read that fails (throttling and 5xx after botocore's retries, any other API
error, a table that is gone) is counted and its message kept, and the watch
carries on: ending early would lose the record a drill depends on.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

from ..errors import AwsApiError
from ..events import FROM_PATH
from ..events import TO_PATH
from ..errors import ValidationError
from ..routes.model import find_conflicts
from ..routes.paths import PATH_DX
from ..routes.paths import PATH_VPN
from ..routes.paths import describe_table
from ..validation import ROUTE_STRATEGY_PER_ROUTE
from ..validation import validate_route_inputs
from .calls import retry_config
from .ec2 import DEFAULT_ROUTES_PER_TABLE
from .ec2 import load_snapshot
from .ec2 import read_route_tables

MIN_INTERVAL = 0.1
MAX_DURATION = 3600.0

ENDED_BY_DURATION = "duration"
ENDED_BY_STOP_FILE = "stop_file"
ENDED_BY_UNTIL_PATH = "until_path"


def watch_retry_config():
    """botocore client settings for a watch: the project's retry policy with a tighter budget.

    The watch reads again one interval later anyway, so long retries buy little,
    and a read still running when ``duration`` is over delays the end: with 3
    attempts of at most 2 s to connect and 4 s to answer, plus backoff, a read
    takes at most about 21 s, which is the margin ``async`` needs over ``duration``.
    """
    return retry_config(max_attempts=3, connect_timeout=2, read_timeout=4)


class SystemClock:
    """Wall time for the record, monotonic time for the cadence."""

    @staticmethod
    def time():
        return time.time()

    @staticmethod
    def monotonic():
        return time.monotonic()

    @staticmethod
    def sleep(seconds):
        time.sleep(seconds)


@dataclass(frozen=True)
class WatchSettings:
    """Validated, normalized inputs of a watch."""

    route_table_ids: tuple
    destinations: tuple
    vpn_eni_id: str
    duration: float
    interval: float = 0.5
    probe_route_table_id: str = None
    stop_file: str = None
    until_path: str = None
    route_strategy: str = ROUTE_STRATEGY_PER_ROUTE
    prefix_list_id: str = None
    routes_per_table_quota: int = DEFAULT_ROUTES_PER_TABLE


def _timing_problems(interval, duration):
    problems = []
    if interval is None or not interval >= MIN_INTERVAL:
        problems.append("interval must be at least %s seconds, not %r" % (MIN_INTERVAL, interval))
    if duration is None or not 0 < duration <= MAX_DURATION:
        problems.append("duration must be more than 0 and at most %d seconds, not %r" % (MAX_DURATION, duration))
    return problems


def _stop_problems(stop_file, until_path):
    problems = []
    # A file left over from an earlier drill would end this watch at its first read.
    if stop_file and os.path.lexists(stop_file):
        problems.append("stop_file %s already exists; remove it before the watch starts" % stop_file)
    if until_path is not None and until_path not in (PATH_DX, PATH_VPN):
        problems.append("until_path must be %r or %r, not %r" % (PATH_DX, PATH_VPN, until_path))
    return problems


def validate_watch_settings(
    route_table_ids, destination_cidrs, vpn_eni_id, duration, interval=0.5, probe_route_table_id=None, stop_file=None, until_path=None,
    route_strategy=ROUTE_STRATEGY_PER_ROUTE, prefix_list_id=None, routes_per_table_quota=DEFAULT_ROUTES_PER_TABLE,
):
    """Check every offline-checkable input at once; return WatchSettings or raise one ValidationError."""
    problems = []
    try:
        route_table_ids, destinations = validate_route_inputs(
            route_table_ids, destination_cidrs, vpn_eni_id, probe_route_table_id, route_strategy, prefix_list_id)
    except ValidationError as exc:
        problems.extend(exc.problems)
        destinations = ()
    problems.extend(_timing_problems(interval, duration))
    problems.extend(_stop_problems(stop_file, until_path))
    if problems:
        raise ValidationError(problems)
    return WatchSettings(
        route_table_ids=tuple(route_table_ids),
        destinations=tuple(destinations),
        vpn_eni_id=vpn_eni_id,
        duration=float(duration),
        interval=float(interval),
        probe_route_table_id=probe_route_table_id,
        stop_file=stop_file or None,
        until_path=until_path,
        route_strategy=route_strategy,
        prefix_list_id=prefix_list_id,
        routes_per_table_quota=routes_per_table_quota,
    )


@dataclass(frozen=True)
class TableView:
    """What one read saw of one table: the active path and the per-destination detail."""

    route_table_id: str
    path: str
    destinations: tuple

    @classmethod
    def of(cls, table, destinations, ownership):
        summary = describe_table(table, destinations, ownership)
        return cls(table.route_table_id, summary["active_path"], tuple(summary["destinations"]))

    @property
    def signature(self):
        """The path of each destination: a change here is a change even when the table stays mixed."""
        return tuple(entry["path"] for entry in self.destinations)


def _startup_warnings(snapshot):
    conflicts = find_conflicts(snapshot.tables, snapshot.destinations, snapshot.ownership)
    notes = ["at the start of the watch %s; it is reported as its target, not as a path" % conflict.describe() for conflict in conflicts]
    return list(snapshot.warnings) + notes


class RouteWatch:
    """Reads the managed tables on a fixed cadence and records every path change.

    ``start()`` makes the first read, which also validates the inputs against EC2
    (``load_snapshot``), so a bad input fails before anything is watched, and learns
    which routes are ours (``Ownership``) for every later read: a later read is
    one DescribeRouteTables call and nothing else.
    ``run()`` then reads until a stop condition and returns the record.
    """

    def __init__(self, client, settings, clock=None):
        self.client = client
        self.settings = settings
        self.clock = clock or SystemClock()
        self.ownership = None  # which routes are ours, read once by start()
        self.views = {}
        self.initial = {}
        self.changes = []
        self.reads = 0
        self.read_errors = 0
        self.last_error = None
        self.warnings = []
        self.started = None
        self._started_monotonic = None
        self._last_read_started = None

    def start(self):
        """The validating first read; raises ValidationError or AwsApiError for a bad input."""
        self.started = self.clock.time()
        self._started_monotonic = self.clock.monotonic()
        settings = self.settings
        snapshot = load_snapshot(
            self.client, settings.route_table_ids, settings.destinations, settings.vpn_eni_id, settings.probe_route_table_id,
            settings.route_strategy, settings.prefix_list_id, settings.routes_per_table_quota,
        )
        self.reads = 1
        self._last_read_started = self.started
        self.ownership = snapshot.ownership
        self.views = {table.route_table_id: TableView.of(table, settings.destinations, self.ownership) for table in snapshot.tables}
        self.initial = self.paths()
        self.warnings = _startup_warnings(snapshot)
        return self

    def paths(self):
        return {rtb: self.views[rtb].path for rtb in self.settings.route_table_ids}

    def read(self):
        """One read: record the changes it shows, or count its failure."""
        read_started = self.clock.time()
        self.reads += 1
        try:
            tables = read_route_tables(self.client, self.settings.route_table_ids)
        except AwsApiError as exc:
            self._count_error(exc.message)
            return
        read_ended = self.clock.time()
        missing = [rtb for rtb in self.settings.route_table_ids if rtb not in tables]
        if missing:
            self._count_error("route table(s) %s no longer found" % ", ".join(missing))
            return
        for rtb in self.settings.route_table_ids:
            self._compare(TableView.of(tables[rtb], self.settings.destinations, self.ownership), read_ended)
        self._last_read_started = read_started

    def _count_error(self, message):
        self.read_errors += 1
        self.last_error = message

    def _compare(self, view, read_ended):
        previous = self.views[view.route_table_id]
        if view.signature == previous.signature:
            return
        self.changes.append(
            {
                "time": read_ended,
                "previous_read_time": self._last_read_started,
                "route_table_id": view.route_table_id,
                FROM_PATH: previous.path,
                TO_PATH: view.path,
                "destinations": [dict(entry) for entry in view.destinations],
            }
        )
        self.views[view.route_table_id] = view

    def until_path_reached(self):
        until = self.settings.until_path
        return bool(until and self.changes and all(view.path == until for view in self.views.values()))

    def stop_file_exists(self):
        return bool(self.settings.stop_file and os.path.lexists(self.settings.stop_file))

    def _next_slot(self, now):
        interval = self.settings.interval
        elapsed = now - self._started_monotonic
        return self._started_monotonic + (math.floor(elapsed / interval) + 1) * interval

    def _wait_for_next_read(self):
        """Sleep until the next slot of the grid, or the end of the duration; True once the duration is over."""
        end_at = self._started_monotonic + self.settings.duration
        now = self.clock.monotonic()
        target = min(self._next_slot(now), end_at)
        if target > now:
            self.clock.sleep(target - now)
        return target >= end_at or self.clock.monotonic() >= end_at

    def run(self):
        """Read until a stop condition holds; return the record as a dict."""
        if self.started is None:
            self.start()
        while True:
            out_of_time = self._wait_for_next_read()
            # Looked at before the read, so the last read sees what was done before the file appeared.
            stop_requested = self.stop_file_exists()
            self.read()
            ended_by = self._ended_by(stop_requested, out_of_time)
            if ended_by:
                return self.report(ended_by)

    def _ended_by(self, stop_requested, out_of_time):
        if self.until_path_reached():
            return ENDED_BY_UNTIL_PATH
        if stop_requested:
            return ENDED_BY_STOP_FILE
        if out_of_time:
            return ENDED_BY_DURATION
        return None

    def report(self, ended_by):
        return {
            "initial": dict(self.initial),
            "final": self.paths(),
            "changes": list(self.changes),
            "reads": self.reads,
            "read_errors": self.read_errors,
            "last_error": self.last_error,
            "ended_by": ended_by,
            # Not "started"/"ended": async_status reads "started" in a job's result as its own
            # flag, and a result carrying it without "finished" reads as a job that never finishes.
            "started_at": self.started,
            "ended_at": self.clock.time(),
        }


def watch_routes(client, settings, clock=None):
    """Validate against EC2, watch until a stop condition, return ``(record, warnings)``."""
    watch = RouteWatch(client, settings, clock).start()
    return watch.run(), list(watch.warnings)
