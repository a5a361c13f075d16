# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CloudWatch metrics of the daemon: summed up in memory, published by a background thread.

The probe loop only adds to an ``Aggregator`` (a lock held for a few additions, no I/O,
no allocation that grows), so CloudWatch being slow, throttling or unreachable can
never delay a probe round or a route change. Every ``interval_s`` the ``Publisher``
thread takes the interval's sums, turns them into one statistic set per metric, and
sends what it holds with PutMetricData in batches within the API's limits.

Bounded in every direction:

* memory: the aggregator is a fixed set of sums; unsent data waits in a backlog of at
  most ``backlog_limit`` items, and the oldest are dropped (counted) beyond it;
* time: one send per batch per flush, with botocore's short timeouts and 2 attempts;
  a flush that fails stops there and the backlog waits for the next flush, so retries
  never pile up; no new batch starts after half an interval;
* data CloudWatch refuses (a 4xx other than throttling) is dropped, counted, not retried.

Metrics, all with the dimension ``FailoverGroup``:

* ``OnVpn`` (per round: 1 on the VPN path, 0 on DX; statistic set, so Maximum says
  "was on the VPN at all" and Average "share of the interval");
* ``BothPathsDown`` (per round, only when the VPN path check is on: 1 while DX fails
  and the VPN path is down too, the state machine's ``both_down``);
* ``ProbeLoss`` (Percent, per round: share of the round's echoes to DX targets that
  were lost; with one echo per target, the share of targets that did not answer);
* ``ProbeRtt`` (Milliseconds, per answered echo);
* ``Transitions`` (Count, with ``Direction`` ``ToVpn`` or ``ToDx``);
* ``ApiErrors`` (Count: EC2 calls that failed after the client's retries).

Counts are sent as 0 when nothing happened, so a missing data point means a silent
daemon, not a quiet network.
"""

from __future__ import annotations

import collections
import threading
import time
from datetime import datetime
from datetime import timezone

from .aws import reporting_client
from ansible_collections.localzones.failover.plugins.module_utils.aws.calls import call
from ansible_collections.localzones.failover.plugins.module_utils.errors import AwsApiError
from ansible_collections.localzones.failover.plugins.module_utils.policy.state_machine import PATH_VPN
from ansible_collections.localzones.failover.plugins.module_utils import events

# PutMetricData limits (API reference): 1000 metric data items and 1 MB per request.
MAX_DATA_PER_REQUEST = 1000
MAX_REQUEST_BYTES = 1000 * 1000
# Room for the parts of a request that are not data items (action, version, namespace).
REQUEST_OVERHEAD_BYTES = 1024
BACKLOG_LIMIT = 5000
ATTEMPTS = 2

DIMENSION_GROUP = "FailoverGroup"
DIMENSION_DIRECTION = "Direction"
DIRECTIONS = {"vpn": "ToVpn", "dx": "ToDx"}
SENT, REJECTED, KEPT = "sent", "rejected", "kept"
THROTTLING_CODES = frozenset(("Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"))


class StatisticSet:
    """SampleCount, Sum, Minimum and Maximum of the values added (CloudWatch's StatisticValues)."""

    __slots__ = ("count", "total", "minimum", "maximum")

    def __init__(self):
        self.count = 0
        self.total = 0.0
        self.minimum = None
        self.maximum = None

    def add(self, value):
        self.count += 1
        self.total += value
        if self.minimum is None or value < self.minimum:
            self.minimum = value
        if self.maximum is None or value > self.maximum:
            self.maximum = value

    def as_statistic_values(self):
        return {"SampleCount": float(self.count), "Sum": self.total, "Minimum": self.minimum, "Maximum": self.maximum}


class IntervalSums:
    """Everything measured in one publishing interval."""

    def __init__(self):
        self.on_vpn = StatisticSet()
        self.both_down = StatisticSet()
        self.loss_pct = StatisticSet()
        self.rtt_ms = StatisticSet()
        self.transitions = dict.fromkeys(DIRECTIONS.values(), 0)
        self.api_errors = 0


class Aggregator:
    """Sums what the daemon reports, from any thread; ``take()`` hands the interval over and starts a new one."""

    def __init__(self):
        self._lock = threading.Lock()
        self._sums = IntervalSums()

    def record_round(self, echo_rtts_ms, path, both_down):
        """One DX probe round: per target the RTT of each echo (None when lost), the decided
        path (None before start-up settled it) and the both-paths-down state (None when not known)."""
        sent = sum(len(rtts_ms) for rtts_ms in echo_rtts_ms)
        answered = [rtt for rtts_ms in echo_rtts_ms for rtt in rtts_ms if rtt is not None]
        with self._lock:
            sums = self._sums
            if sent:
                sums.loss_pct.add(100.0 * (sent - len(answered)) / sent)
            for rtt in answered:
                sums.rtt_ms.add(rtt)
            if path is not None:
                sums.on_vpn.add(1.0 if path == PATH_VPN else 0.0)
            if both_down is not None:
                sums.both_down.add(1.0 if both_down else 0.0)

    def count_transition(self, to_path):
        with self._lock:
            self._sums.transitions[DIRECTIONS[to_path]] += 1

    def count_api_error(self):
        with self._lock:
            self._sums.api_errors += 1

    def take(self):
        with self._lock:
            sums, self._sums = self._sums, IntervalSums()
        return sums


def interval_data(sums, failover_group, timestamp):
    """The MetricDatum dicts of one interval (statistic sets without samples are left out)."""
    group = [{"Name": DIMENSION_GROUP, "Value": failover_group}]

    def datum(name, unit, dimensions=None, **value):
        return dict(MetricName=name, Dimensions=dimensions or group, Timestamp=timestamp, Unit=unit, **value)

    data = []
    for name, unit, statistics in (
        ("OnVpn", "None", sums.on_vpn), ("BothPathsDown", "None", sums.both_down),
        ("ProbeLoss", "Percent", sums.loss_pct), ("ProbeRtt", "Milliseconds", sums.rtt_ms),
    ):
        if statistics.count:
            data.append(datum(name, unit, StatisticValues=statistics.as_statistic_values()))
    for direction, count in sorted(sums.transitions.items()):
        data.append(datum("Transitions", "Count", group + [{"Name": DIMENSION_DIRECTION, "Value": direction}], Value=float(count)))
    data.append(datum("ApiErrors", "Count", Value=float(sums.api_errors)))
    return data


def datum_size(datum):
    """Bytes one item adds to a request, as the query protocol (the most verbose) encodes it.

    ``MetricData.member.NNNN.`` prefixes every field; numbers and the timestamp are
    counted at their longest, so the estimate is never below the real size.
    """
    prefix = len("&MetricData.member.1000.")
    size = prefix + len("MetricName=") + len(datum["MetricName"])
    size += prefix + len("Unit=") + len(datum["Unit"])
    size += prefix + len("Timestamp=2026-01-01T00%3A00%3A00.000000Z")
    for index, dimension in enumerate(datum["Dimensions"], 1):
        size += 2 * (prefix + len("Dimensions.member.%d.Value=" % index)) + 3 * (len(dimension["Name"]) + len(dimension["Value"]))
    fields = len(datum.get("StatisticValues", ())) or 1
    size += fields * (prefix + len("StatisticValues.SampleCount=") + 24)
    return size


def batches(data, max_items=MAX_DATA_PER_REQUEST, max_bytes=MAX_REQUEST_BYTES - REQUEST_OVERHEAD_BYTES):
    """Split ``data`` in order into lists within the item and size limits of one request."""
    current, current_bytes = [], 0
    for datum in data:
        size = datum_size(datum)
        if current and (len(current) >= max_items or current_bytes + size > max_bytes):
            yield current
            current, current_bytes = [], 0
        current.append(datum)
        current_bytes += size
    if current:
        yield current


def worth_retrying(exc):
    """False when CloudWatch answered that the data itself is wrong (4xx other than throttling)."""
    response = getattr(exc.__cause__, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if status is None:
        return True  # no answer at all (timeout, connection refused): the data is fine
    return status >= 500 or exc.code in THROTTLING_CODES


def cloudwatch_client(settings):
    return reporting_client("cloudwatch", settings.region, settings.endpoint_url, settings.timeout_s, settings.timeout_s, ATTEMPTS)


class Publisher:  # pylint: disable=too-many-instance-attributes
    """Sends the aggregator's intervals to CloudWatch from its own thread (see the module docstring)."""

    def __init__(self, settings, log, metrics, client_factory=cloudwatch_client, clock=time.monotonic, wall=time.time, backlog_limit=BACKLOG_LIMIT):
        self.settings = settings
        self.aggregator = Aggregator()
        self._log = log
        self._client_factory = client_factory
        self._client = None
        self._clock = clock
        self._wall = wall
        self._backlog = collections.deque()
        self._backlog_limit = backlog_limit
        self._stop = threading.Event()
        self._sent = metrics.cloudwatch_data.labels("sent")
        self._dropped = metrics.cloudwatch_data.labels("dropped")
        self._rejected = metrics.cloudwatch_data.labels("rejected")
        self._requests = metrics.cloudwatch_requests
        self._backlog_gauge = metrics.cloudwatch_backlog
        self._thread = threading.Thread(target=self._run, name="cloudwatch", daemon=True)

    # -- what the daemon reports (any thread, never blocks on I/O)

    def record_round(self, echo_rtts_ms, path, both_down):
        self.aggregator.record_round(echo_rtts_ms, path, both_down)

    def count_transition(self, to_path):
        self.aggregator.count_transition(to_path)

    def count_api_error(self):
        self.aggregator.count_api_error()

    # -- the thread

    def start(self):
        self._thread.start()
        return self

    def stop(self, timeout=1.0):
        """Flush once more and end the thread; wait at most ``timeout`` (0: not at all)."""
        self._stop.set()
        if timeout and self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self):
        next_flush = self._clock() + self.settings.interval_s
        while not self._stop.wait(max(0.0, next_flush - self._clock())):
            self.flush()
            # A flush that ran long moves the schedule instead of starting flushes back to back.
            next_flush = max(next_flush + self.settings.interval_s, self._clock() + self.settings.interval_s / 2.0)
        self.flush(final=True)

    @property
    def backlog(self):
        return len(self._backlog)

    def flush(self, final=False):
        """Take the interval, queue its data, send what is queued; return the items sent."""
        self._enqueue(interval_data(self.aggregator.take(), self.settings.failover_group, datetime.fromtimestamp(self._wall(), timezone.utc)))
        started = self._clock()
        sent = 0
        try:
            while self._backlog:
                if not final and sent and self._clock() - started > self.settings.interval_s / 2.0:
                    break  # the rest waits for the next flush rather than stretching this one
                batch = next(batches(self._backlog))
                outcome = self._send(batch)
                if outcome == KEPT:
                    break  # CloudWatch is in trouble: no further call until the next flush
                for _item in batch:
                    self._backlog.popleft()
                if outcome == SENT:
                    sent += len(batch)
        finally:
            self._backlog_gauge.set(len(self._backlog))
        return sent

    def _enqueue(self, data):
        self._backlog.extend(data)
        overflow = len(self._backlog) - self._backlog_limit
        if overflow > 0:
            for _item in range(overflow):
                self._backlog.popleft()
            self._dropped.inc(overflow)
            self._log.warning(events.CLOUDWATCH_DROPPED, items=overflow, reason="backlog full", backlog_limit=self._backlog_limit)

    def _send(self, batch):
        """One PutMetricData call: SENT, REJECTED (refused for good) or KEPT (to try again later)."""
        try:
            self._client = self._client or self._client_factory(self.settings)
            call(self._client, "put_metric_data", Namespace=self.settings.namespace, MetricData=list(batch))
        except AwsApiError as exc:
            self._requests.labels(exc.code).inc()
            retry = worth_retrying(exc)
            if not retry:
                self._rejected.inc(len(batch))
            backlog = len(self._backlog) - (0 if retry else len(batch))
            self._log.warning(events.CLOUDWATCH_FAILED, code=exc.code, message=exc.message, items=len(batch), kept=retry, backlog=backlog)
            return KEPT if retry else REJECTED
        except Exception as exc:  # pylint: disable=broad-except
            # No region, a bad endpoint URL, no botocore: nothing a retry would fix soon, but not the data's fault.
            self._requests.labels(type(exc).__name__).inc()
            self._log.warning(events.CLOUDWATCH_FAILED, code=type(exc).__name__, message=str(exc), items=len(batch), kept=True, backlog=len(self._backlog))
            return KEPT
        self._requests.labels("OK").inc()
        self._sent.inc(len(batch))
        return SENT
