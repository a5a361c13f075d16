# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CloudWatch publishing: interval sums, batches within the API limits, the bounded backlog,
failures that are kept or dropped, and the probe loop's side of it. Fake clocks and fake
clients: nothing sleeps and nothing leaves the process."""

from __future__ import annotations

import os
import threading
from datetime import datetime
from datetime import timezone
from urllib.parse import urlencode

import botocore.serialize
import botocore.session
import pytest
import yaml
from botocore.exceptions import ClientError
from botocore.exceptions import ReadTimeoutError

from lz_failover_monitor.cloudwatch import MAX_DATA_PER_REQUEST
from lz_failover_monitor.cloudwatch import Aggregator
from lz_failover_monitor.cloudwatch import Publisher
from lz_failover_monitor.cloudwatch import batches
from lz_failover_monitor.cloudwatch import datum_size
from lz_failover_monitor.cloudwatch import interval_data
from lz_failover_monitor.config import CLOUDWATCH_SCHEMA
from lz_failover_monitor.config import validate_document
from lz_failover_monitor.metrics import Metrics
from harness.paths import REPO_ROOT
from tests.support.fake_clock import FakeClock
from tests.support.monitor_configs import document
from tests.support.monitor_configs import write_config
from tests.support.monitor_doubles import DOWN
from tests.support.monitor_doubles import UP
from tests.support.monitor_doubles import Harness
from tests.support.monitor_doubles import RecordingLog
from tests.support.monitor_doubles import StubVpn
from tests.support.monitor_doubles import sample

AT = datetime(2026, 12, 2, 20, 0, tzinfo=timezone.utc)
GROUP = [{"Name": "FailoverGroup", "Value": "lz-test"}]


def settings(**changes):
    cloudwatch = {"enabled": True, "failover_group": "lz-test", "interval_s": 60, **changes}
    return validate_document(document(cloudwatch=cloudwatch)).cloudwatch


def by_name(data):
    return {(datum["MetricName"], tuple(d["Value"] for d in datum["Dimensions"][1:])): datum for datum in data}


# --------------------------------------------------------------------------- interval sums


def test_an_interval_becomes_one_statistic_set_per_metric_and_zero_counts():
    aggregator = Aggregator()
    aggregator.record_round([[1.0], [None]], None, None)  # before start-up settled the path
    aggregator.record_round([[2.0], [4.0]], "dx", False)
    aggregator.record_round([[None], [None]], "vpn", True)
    aggregator.count_transition("vpn")
    aggregator.count_api_error()
    aggregator.count_api_error()
    data = by_name(interval_data(aggregator.take(), "lz-test", AT))

    assert data[("OnVpn", ())]["StatisticValues"] == {"SampleCount": 2.0, "Sum": 1.0, "Minimum": 0.0, "Maximum": 1.0}
    assert data[("BothPathsDown", ())]["StatisticValues"] == {"SampleCount": 2.0, "Sum": 1.0, "Minimum": 0.0, "Maximum": 1.0}
    assert data[("ProbeLoss", ())]["StatisticValues"] == {"SampleCount": 3.0, "Sum": 150.0, "Minimum": 0.0, "Maximum": 100.0}
    assert data[("ProbeLoss", ())]["Unit"] == "Percent"
    assert data[("ProbeRtt", ())]["StatisticValues"] == {"SampleCount": 3.0, "Sum": 7.0, "Minimum": 1.0, "Maximum": 4.0}
    assert data[("ProbeRtt", ())]["Unit"] == "Milliseconds"
    assert data[("Transitions", ("ToVpn",))]["Value"] == 1.0 and data[("Transitions", ("ToDx",))]["Value"] == 0.0
    assert data[("ApiErrors", ())]["Value"] == 2.0
    assert all(datum["Dimensions"][0] == GROUP[0] and datum["Timestamp"] == AT for datum in data.values())


def test_probe_loss_is_the_share_of_the_rounds_echoes_lost_and_every_answer_is_an_rtt():
    aggregator = Aggregator()
    aggregator.record_round([[1.0, None], [2.0, 4.0]], "dx", None)  # two echoes per target, one of four lost
    data = by_name(interval_data(aggregator.take(), "lz-test", AT))
    assert data[("ProbeLoss", ())]["StatisticValues"] == {"SampleCount": 1.0, "Sum": 25.0, "Minimum": 25.0, "Maximum": 25.0}
    assert data[("ProbeRtt", ())]["StatisticValues"] == {"SampleCount": 3.0, "Sum": 7.0, "Minimum": 1.0, "Maximum": 4.0}


def test_take_starts_a_new_interval_and_empty_statistics_are_left_out():
    aggregator = Aggregator()
    aggregator.record_round([[None]], "dx", None)
    aggregator.take()
    data = by_name(interval_data(aggregator.take(), "lz-test", AT))
    assert set(data) == {("Transitions", ("ToDx",)), ("Transitions", ("ToVpn",)), ("ApiErrors", ())}, "counts are sent as 0, never skipped"
    assert all(datum["Value"] == 0.0 for datum in data.values())


# --------------------------------------------------------------------------- request limits


def query_encoded_size(data):
    """The size botocore's query serializer gives a PutMetricData body with ``data``."""
    model = botocore.session.get_session().get_service_model("cloudwatch").operation_model("PutMetricData")
    request = botocore.serialize.create_serializer("query").serialize_to_request({"Namespace": "N", "MetricData": data}, model)
    return len(urlencode(request["body"]).encode()) - len(urlencode({"Action": "PutMetricData", "Version": "2010-08-01", "Namespace": "N"}))


def test_datum_size_is_never_below_the_encoded_size():
    aggregator = Aggregator()
    aggregator.record_round([[1.25], [None]], "vpn", True)
    aggregator.count_transition("dx")
    data = interval_data(aggregator.take(), "a group/with:odd#chars", AT)
    assert query_encoded_size(data) <= sum(datum_size(datum) for datum in data)


def test_batches_respect_the_item_and_byte_limits_in_order():
    data = [{"MetricName": "M%d" % index, "Dimensions": GROUP, "Timestamp": AT, "Unit": "Count", "Value": 1.0} for index in range(2500)]
    assert [len(batch) for batch in batches(data)] == [MAX_DATA_PER_REQUEST, MAX_DATA_PER_REQUEST, 500]
    assert [datum for batch in batches(data) for datum in batch] == data
    one = datum_size(data[0])
    assert [len(batch) for batch in batches(data[:10], max_bytes=3 * one)] == [3, 3, 3, 1]
    assert [len(batch) for batch in batches(data[:2], max_bytes=1)] == [1, 1], "an item larger than the limit still goes, alone"


# --------------------------------------------------------------------------- the publisher


class FakeCloudWatch:
    """Records PutMetricData calls; ``errors`` are raised first, one per call."""

    def __init__(self, errors=(), clock=None, call_s=0.0):
        self.calls = []
        self.errors = list(errors)
        self.clock = clock
        self.call_s = call_s

    def put_metric_data(self, **request):
        if self.clock is not None:
            self.clock.now += self.call_s
        if self.errors:
            raise self.errors.pop(0)
        self.calls.append(request)


def client_error(code, status):
    return ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutMetricData")


def publisher(client, metrics=None, backlog_limit=5000, clock=None, **changes):
    clock = clock or FakeClock(start=100.0)
    return Publisher(settings(**changes), RecordingLog(), metrics or Metrics(), client_factory=lambda _settings: client, clock=clock.monotonic,
                     wall=lambda: 1796241600.0, backlog_limit=backlog_limit)


def test_a_flush_sends_the_interval_to_the_namespace_and_counts_it():
    client, metrics = FakeCloudWatch(), Metrics()
    pub = publisher(client, metrics, namespace="Custom/Failover")
    pub.record_round([[1.0]], "dx", None)
    assert pub.flush() == 6
    assert len(client.calls) == 1 and client.calls[0]["Namespace"] == "Custom/Failover"
    assert {datum["MetricName"] for datum in client.calls[0]["MetricData"]} == {"OnVpn", "ProbeLoss", "ProbeRtt", "Transitions", "ApiErrors"}
    assert client.calls[0]["MetricData"][0]["Timestamp"] == datetime.fromtimestamp(1796241600.0, timezone.utc)
    assert sample(metrics, "lz_failover_cloudwatch_data_total", outcome="sent") == 6
    assert sample(metrics, "lz_failover_cloudwatch_requests_total", code="OK") == 1
    assert pub.backlog == 0 and sample(metrics, "lz_failover_cloudwatch_backlog") == 0


@pytest.mark.parametrize("error", [client_error("Throttling", 400), client_error("InternalFailure", 500),
                                   ReadTimeoutError(endpoint_url="http://127.0.0.1:1")])
def test_a_failed_send_keeps_the_data_for_the_next_flush(error):
    client, metrics = FakeCloudWatch(errors=[error]), Metrics()
    pub = publisher(client, metrics)
    assert pub.flush() == 0 and pub.backlog == 3
    assert sample(metrics, "lz_failover_cloudwatch_backlog") == 3
    assert pub.flush() == 6, "both intervals go out together once CloudWatch answers"
    assert len(client.calls) == 1 and sample(metrics, "lz_failover_cloudwatch_data_total", outcome="sent") == 6
    failed = pub._log.named("cloudwatch_failed")[0]  # pylint: disable=protected-access
    assert failed["kept"] is True and failed["items"] == 3


def test_data_cloudwatch_refuses_is_dropped_not_retried():
    client, metrics = FakeCloudWatch(errors=[client_error("InvalidParameterValue", 400)]), Metrics()
    pub = publisher(client, metrics)
    assert pub.flush() == 0 and pub.backlog == 0
    assert sample(metrics, "lz_failover_cloudwatch_data_total", outcome="rejected") == 3
    assert sample(metrics, "lz_failover_cloudwatch_requests_total", code="InvalidParameterValue") == 1
    assert pub.flush() == 3 and len(client.calls) == 1


def test_a_full_backlog_drops_the_oldest_data_and_counts_it():
    down = FakeCloudWatch(errors=[client_error("ServiceUnavailable", 503)] * 3)
    metrics = Metrics()
    pub = publisher(down, metrics, backlog_limit=7)
    for _interval in range(3):
        pub.count_api_error()
        pub.flush()
    assert pub.backlog == 7 and sample(metrics, "lz_failover_cloudwatch_data_total", outcome="dropped") == 2
    assert pub._log.named("cloudwatch_dropped")[0]["items"] == 2  # pylint: disable=protected-access
    pub.flush()
    sent = down.calls[0]["MetricData"]
    assert len(sent) == 7 and sent[-1]["MetricName"] == "ApiErrors" and sent[-1]["Value"] == 0.0, "the newest data survives"


def test_a_slow_flush_stops_starting_batches_after_half_an_interval():
    clock = FakeClock(start=100.0)
    client = FakeCloudWatch(clock=clock, call_s=20.0)  # every call takes 20 s of a 60 s interval
    pub = publisher(client, clock=clock, backlog_limit=10000)
    waiting = [{"MetricName": "M", "Dimensions": GROUP, "Timestamp": AT, "Unit": "Count", "Value": 1.0}] * 4000
    pub._backlog.extend(waiting)  # pylint: disable=protected-access
    assert pub.flush() == 2000, "two calls, then the rest waits for the next flush"
    assert pub.backlog == 2003 and len(client.calls) == 2
    assert pub.flush(final=True) == 2006 and pub.backlog == 0, "the last flush before stopping sends everything"


class HangingCloudWatch:
    """A PutMetricData that does not return until ``release`` is set."""

    def __init__(self):
        self.entered, self.release = threading.Event(), threading.Event()

    def put_metric_data(self, **_request):
        self.entered.set()
        self.release.wait(10)


def test_recording_never_waits_for_a_send_in_flight():
    hanging = HangingCloudWatch()
    pub = publisher(hanging)
    pub.record_round([[1.0]], "dx", None)
    sender = threading.Thread(target=pub.flush)
    sender.start()
    try:
        assert hanging.entered.wait(10)
        for _round in range(1000):  # would hang here if a send held the aggregator
            pub.record_round([[1.0], [None]], "vpn", False)
        pub.count_transition("vpn")
        pub.count_api_error()
        assert pub.aggregator.take().on_vpn.count == 1000
    finally:
        hanging.release.set()
        sender.join(10)


def test_stop_without_waiting_returns_while_the_last_flush_hangs():
    hanging = HangingCloudWatch()
    pub = Publisher(settings(interval_s=10, timeout_s=1), RecordingLog(), Metrics(), client_factory=lambda _settings: hanging).start()
    try:
        pub.stop(timeout=0)
        assert hanging.entered.wait(10), "stopping flushes once more"
        assert pub._thread.is_alive(), "and stop() returned without waiting for it"  # pylint: disable=protected-access
    finally:
        hanging.release.set()


# --------------------------------------------------------------------------- the probe loop's side


def test_the_probe_loop_reports_rounds_transitions_both_down_and_api_errors():
    harness = Harness()
    client = FakeCloudWatch()
    harness.monitor.cloudwatch = publisher(client)
    hard_failure_rounds = harness.monitor.config.policy.hard_failure_rounds
    harness.rounds(3, UP).rounds(hard_failure_rounds, DOWN)  # the last failed round decides the failover
    harness.monitor.vpn_checker = StubVpn()  # VPN down from here: both paths are down once DX fails again
    # What the actuator thread calls after a failed EC2 call.
    harness.monitor._count_api_error()  # pylint: disable=protected-access
    sums = harness.monitor.cloudwatch.aggregator.take()
    assert sums.transitions == {"ToVpn": 1, "ToDx": 0} and sums.api_errors == 1
    # The first round only starts the state machine (no path yet); the deciding round counts as on the VPN.
    assert (sums.on_vpn.count, sums.on_vpn.total) == (2 + hard_failure_rounds, 1.0)
    assert sums.both_down.count == 0, "not reported while the VPN path is not checked"
    assert (sums.loss_pct.count, sums.loss_pct.total) == (3 + hard_failure_rounds, 100.0 * hard_failure_rounds)

    harness.rounds(2, DOWN)
    sums = harness.monitor.cloudwatch.aggregator.take()
    assert (sums.both_down.count, sums.both_down.maximum) == (2, 1.0)


def test_the_daemon_only_publishes_when_enabled():
    harness = Harness()
    assert harness.monitor._new_cloudwatch(harness.monitor.config) is None  # pylint: disable=protected-access


def test_the_iam_role_allows_the_namespace_the_daemon_and_the_monitor_role_default_to():
    """PutMetricData is allowed for one namespace only: the three defaults must agree."""
    def role_yaml(role, name):
        with open(os.path.join(REPO_ROOT, "roles", role, name, "main.yml"), encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    iam = role_yaml("failover_iam", "defaults")["failover_iam_cloudwatch_metrics"]["namespace"]
    monitor_role = role_yaml("monitor", "vars")["__monitor_config_defaults"]["cloudwatch"]["namespace"]
    assert iam == monitor_role == CLOUDWATCH_SCHEMA["namespace"][0] == "LocalZonesFailover"


def test_a_reload_with_a_new_cloudwatch_section_replaces_the_publisher_and_off_removes_it(tmp_path):
    config_path = tmp_path / "config.yml"
    write_config(config_path, document())
    harness = Harness(config_path=str(config_path)).rounds(2, UP)
    # A closed loopback port: the publisher's last flush, on its way out, goes nowhere else.
    cloudwatch = {"enabled": True, "failover_group": "lz-test", "endpoint_url": "http://127.0.0.1:9", "timeout_s": 1}
    write_config(config_path, document(cloudwatch=cloudwatch))
    harness.monitor.reload()
    publisher_in_use = harness.monitor.cloudwatch
    try:
        assert publisher_in_use is not None and publisher_in_use.settings.failover_group == "lz-test"
        assert harness.log.named("config_reloaded")[0]["changed"] == ["cloudwatch"]
        harness.rounds(3, UP)
        assert publisher_in_use.aggregator.take().on_vpn.count == 3, "rounds go to the new publisher"
    finally:
        write_config(config_path, document())
        harness.monitor.reload()
    assert harness.monitor.cloudwatch is None
