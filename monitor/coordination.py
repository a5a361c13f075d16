# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The coordinator: a thread that keeps this monitor's part of the lease (one writer per failover group).

Only started when ``coordination.table`` is set. Every ``coordination.renew_interval_s``
it reads the group (one Query), takes or renews the lease when the rules allow it
(``coordination.lease``, one conditional UpdateItem) and writes this monitor's view item.
The actuator asks ``is_writer()`` before every route call: True only while this monitor
holds the lease AND its monotonic clock is before ``writer_until`` (see the lease's
docstring for why that keeps two holders from overlapping).

* Becoming the holder wakes the actuator (``on_acquired``), which converges at once.
* Losing it (another monitor took it, or no renewal in time) is logged; route calls stop
  at once because ``is_writer()`` says no.
* DynamoDB errors are logged and counted; a holder cut off from the table keeps writing
  only until ``writer_until``, then stops.
* A monitor whose EC2 calls have failed without a break for two lease durations
  (``lease.may_hold``) releases the lease and does not take it (``lease_stepped_down``)
  until EC2 answers it again: cut off from EC2 but not from the table, a holder would
  otherwise keep the lease while nobody moves the routes.
* ``stop()`` releases the lease (``expires_at = now``) so a standby takes it at its next read.
"""

from __future__ import annotations

import threading
import time

from .aws import dynamodb_client
from ansible_collections.localzones.failover.plugins.module_utils.aws.coordination import acquire_or_renew
from ansible_collections.localzones.failover.plugins.module_utils.aws.coordination import put_view
from ansible_collections.localzones.failover.plugins.module_utils.aws.coordination import read_group
from ansible_collections.localzones.failover.plugins.module_utils.aws.coordination import release
from ansible_collections.localzones.failover.plugins.module_utils.coordination.lease import ROLE_HOLDER
from ansible_collections.localzones.failover.plugins.module_utils.coordination.lease import ROLE_STANDBY
from ansible_collections.localzones.failover.plugins.module_utils.coordination.lease import lease_of
from ansible_collections.localzones.failover.plugins.module_utils.coordination.lease import may_hold
from ansible_collections.localzones.failover.plugins.module_utils.coordination.lease import writer_until
from ansible_collections.localzones.failover.plugins.module_utils.errors import AwsApiError
from ansible_collections.localzones.failover.plugins.module_utils import events

# How long a release waits for a route call in flight before it leaves the lease to run out.
RELEASE_WAIT_S = 2.0


class Coordinator:  # pylint: disable=too-many-instance-attributes
    """This monitor's side of the lease (see the module docstring)."""

    def __init__(  # pylint: disable=too-many-arguments
        self, config, log, metrics, client_factory=dynamodb_client, clock=time.monotonic, wall=time.time, on_acquired=None,
        ec2_failing_for=None, routes_idle=None,
    ):
        self._config = config
        self._settings = config.coordination
        self.monitor_id = self._settings.monitor_id
        self._log = log
        self._metrics = metrics
        self._client_factory = client_factory
        self._clock = clock
        self._wall = wall
        self._on_acquired = on_acquired
        self._ec2_failing_for = ec2_failing_for or (lambda: None)
        # routes_idle(timeout): True once no route call of this monitor is in flight (the actuator's pass ended).
        self._routes_idle = routes_idle or (lambda timeout: True)
        self._stepped_down = False
        self._client = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._record = None  # the lease as last read or written
        self._writer_until = None  # monotonic; None while this monitor does not hold the lease
        self._records = ()
        self._view = {}
        self._was_writer = False
        self._last_other_holder = None  # the last holder read that was another monitor (None: none yet)
        self.errors = 0  # failed coordination calls, in total
        self._thread = threading.Thread(target=self._run, name="coordinator", daemon=True)

    # -- what the other threads read

    def is_writer(self):
        """True while this monitor holds the lease and its monotonic clock is before ``writer_until``."""
        with self._lock:
            until = self._writer_until
        return until is not None and self._clock() < until

    @property
    def fencing(self):
        """The fencing number of the lease as last read or written (None before the first read)."""
        with self._lock:
            return None if self._record is None else self._record.fencing

    @property
    def holder(self):
        """The holder's monitor ID as last read or written (None when nobody held the lease)."""
        with self._lock:
            return None if self._record is None else self._record.holder

    @property
    def role(self):
        return ROLE_HOLDER if self.is_writer() else ROLE_STANDBY

    def latest_records(self):
        """The items of the group at the last read (DynamoDB attribute-value form): lease, pin, monitor views."""
        with self._lock:
            return list(self._records)

    def set_view(self, dx_state=None, desired_path=None):
        """What this monitor's view item says at the next renewal (the probe loop calls this)."""
        with self._lock:
            self._view = {"dx_state": dx_state, "desired_path": desired_path}

    def status(self):
        """Fields for the status line."""
        return {"role": self.role, "holder": self.holder, "fencing": self.fencing, "monitor_id": self.monitor_id}

    # -- lifecycle

    def start(self):
        self._thread.start()
        return self

    def stop(self, timeout=2.0):
        """Stop renewing and release the lease when this monitor holds it (call after the actuator stopped)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self.release()

    def release(self):
        """Give the lease up at once: no further write by this monitor, then ``expires_at = now`` in the table."""
        with self._lock:
            record, self._writer_until = self._record, None
        # Giving the lease up is not losing it: no lease_lost line, the release is logged below.
        self._was_writer = False
        self._metrics.lease_holder.set(0)
        if record is None or record.holder != self.monitor_id:
            return False
        settings = self._settings
        # The writer window is closed, so no route call starts; one already sent could still land after a
        # release lets a standby take over at once. Wait for it; if it does not end, the lease runs out instead.
        if not self._routes_idle(RELEASE_WAIT_S):
            self._log.warning(events.LEASE_LEFT_TO_EXPIRE, monitor_id=self.monitor_id, fencing=record.fencing,
                              group=settings.failover_group, waited_s=RELEASE_WAIT_S)
            return False
        try:
            released = release(self._dynamodb(), settings.table, settings.failover_group, self.monitor_id, record.fencing, self._wall())
        except AwsApiError as exc:
            self._error(exc)
            return False
        if released:
            self._metrics.lease_transitions.labels("released").inc()
            self._log.info(events.LEASE_RELEASED, monitor_id=self.monitor_id, fencing=record.fencing, group=settings.failover_group)
        return released

    def _run(self):
        interval = self._settings.renew_interval_s
        while not self._stopping.is_set():
            started = self._clock()
            try:
                self.tick()
            except Exception as exc:  # pylint: disable=broad-except
                # Never let the thread die: without it the lease lapses and writes stop, which is safe but silent.
                self._log.exception(events.COORDINATION_ERROR, operation="tick", error=repr(exc))
            self._stopping.wait(max(0.0, interval - (self._clock() - started)))

    # -- one round

    def tick(self):
        """One round: read the group, take or renew the lease when allowed, write the view; publish the role."""
        settings = self._settings
        client = self._dynamodb()
        try:
            items = read_group(client, settings.table, settings.failover_group)
        except AwsApiError as exc:
            self._error(exc)
            self._publish()
            return
        seen = lease_of(items)
        with self._lock:
            self._records = tuple(items)
            self._record = seen
        if not self._may_hold():
            self.release()  # only when it holds the lease: a standby just does not take it
            self._publish()
            self._write_view(client)
            return
        if seen is not None and seen.holder != self.monitor_id:
            self._last_other_holder = seen.holder
        sent_at = self._clock()  # BEFORE the write: the holder's validity counts from here
        try:
            record = acquire_or_renew(client, settings.table, settings.failover_group, self.monitor_id, seen, self._wall(), settings.lease_s)
        except AwsApiError as exc:
            self._error(exc)  # no answer is no extension: the holder writes until writer_until
        else:
            self._settle(record, sent_at)
        self._publish()
        self._write_view(client)

    def _settle(self, record, sent_at):
        with self._lock:
            if record is not None:
                self._record = record
                self._writer_until = writer_until(sent_at, record.lease_s if record.lease_s else self._settings.lease_s,
                                                  self._settings.max_clock_skew_s, self._config.api.connect_timeout_s)
            else:
                self._writer_until = None  # held by another monitor, or taken from under us

    def _may_hold(self):
        """False while this monitor's EC2 calls have failed too long to act (``lease.may_hold``); logged once per change."""
        failing_for = self._ec2_failing_for()
        allowed = may_hold(failing_for, self._settings.lease_s)
        if allowed == self._stepped_down:
            self._stepped_down = not allowed
            if allowed:
                self._log.info(events.LEASE_ELIGIBLE, monitor_id=self.monitor_id, message="EC2 answers again: this monitor may hold the lease")
            else:
                self._log.warning(events.LEASE_STEPPED_DOWN, monitor_id=self.monitor_id, ec2_failing_for_s=round(failing_for, 1),
                                  message="EC2 calls have failed too long: this monitor gives the lease up and does not take it")
        return allowed

    def _publish(self):
        """Log, count and export a change of role; wake the actuator on becoming the writer."""
        writer = self.is_writer()
        self._metrics.lease_holder.set(1 if writer else 0)
        fencing = self.fencing
        if fencing is not None:
            self._metrics.lease_fencing.set(fencing)
        if writer == self._was_writer:
            return
        self._was_writer = writer
        group = self._settings.failover_group
        if writer:
            self._metrics.lease_transitions.labels("acquired").inc()
            self._log.warning(events.LEASE_ACQUIRED, monitor_id=self.monitor_id, fencing=fencing, group=group)
            if self._on_acquired is not None:
                self._on_acquired(self._last_other_holder)
        else:
            self._metrics.lease_transitions.labels("lost").inc()
            self._log.warning(events.LEASE_LOST, monitor_id=self.monitor_id, holder=self.holder, fencing=fencing, group=group)

    def _write_view(self, client):
        settings = self._settings
        with self._lock:
            view = dict(self._view)
        try:
            put_view(client, settings.table, settings.failover_group, self.monitor_id, self._wall(),
                     dx_state=view.get("dx_state"), desired_path=view.get("desired_path"), role=self.role)
        except AwsApiError as exc:
            self._error(exc)

    def _error(self, exc):
        self.errors += 1
        self._metrics.coordination_errors.labels(exc.operation, exc.code).inc()
        self._log.warning(events.COORDINATION_ERROR, operation=exc.operation, code=exc.code, message=exc.message,
                          writer=self.is_writer(), errors=self.errors)

    def _dynamodb(self):
        if self._client is None:
            self._client = self._client_factory(self._config, self._metrics)
        return self._client
