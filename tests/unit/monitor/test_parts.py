# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The daemon's small parts: VPN health debouncing, interval statistics, notifications, metrics, CLI."""

from __future__ import annotations

import io
import json

import pytest
from prometheus_client import generate_latest

from lz_failover_monitor.cli import check_config
from lz_failover_monitor.cli import main
from lz_failover_monitor.cli import parse_arguments
from lz_failover_monitor.metrics import Metrics
from lz_failover_monitor.notify import Notifier
from lz_failover_monitor.status import IntervalStats
from lz_failover_monitor.status import target_rtts_for_log
from lz_failover_monitor.vpn_check import VpnHealthTracker
from tests.support.monitor_configs import FULL_YAML
from tests.support.monitor_doubles import RecordingLog
from tests.support.monitor_doubles import sample

# --------------------------------------------------------------------------- VPN health


def states(tracker, verdicts):
    return [(tracker.record(passed), tracker.healthy) for passed in verdicts]


def test_vpn_health_is_unknown_until_enough_rounds_agree():
    tracker = VpnHealthTracker(unhealthy_after_rounds=3, healthy_after_rounds=2)
    assert states(tracker, [True, True]) == [(False, None), (True, True)]


def test_vpn_health_needs_consecutive_failures_to_go_down_and_passes_to_come_back():
    tracker = VpnHealthTracker(unhealthy_after_rounds=3, healthy_after_rounds=2)
    states(tracker, [True, True])
    assert states(tracker, [False, False, True, False, False, False]) == [
        (False, True), (False, True), (False, True), (False, True), (False, True), (True, False),
    ], "isolated losses never flip it; three failures in a row do"
    assert states(tracker, [True, False, True, True]) == [(False, False), (False, False), (False, False), (True, True)]


# --------------------------------------------------------------------------- interval statistics


def test_interval_stats_report_and_restart():
    stats = IntervalStats(["a", "b"])
    stats.add([[1.0], [None]], passed=True)
    stats.add([[3.0], [None]], passed=True)
    stats.add([[None], [None]], passed=False)
    report = stats.report()
    assert report["rounds"] == 3 and report["failed_rounds"] == 1
    assert report["targets"] == [
        {"target": "a", "sent": 3, "lost": 1, "loss_pct": 33.3, "rtt_avg_ms": 2.0, "rtt_max_ms": 3.0},
        {"target": "b", "sent": 3, "lost": 3, "loss_pct": 100.0, "rtt_avg_ms": None, "rtt_max_ms": None},
    ]
    assert stats.report()["targets"][0] == {"target": "a", "sent": 0, "lost": 0, "loss_pct": None, "rtt_avg_ms": None, "rtt_max_ms": None}


def test_interval_stats_count_every_echo_of_a_round():
    stats = IntervalStats(["a", "b"])
    stats.add([[1.0, None], [2.0, 4.0]], passed=True)
    assert stats.report()["targets"] == [
        {"target": "a", "sent": 2, "lost": 1, "loss_pct": 50.0, "rtt_avg_ms": 1.0, "rtt_max_ms": 1.0},
        {"target": "b", "sent": 2, "lost": 0, "loss_pct": 0.0, "rtt_avg_ms": 3.0, "rtt_max_ms": 4.0},
    ]


def test_a_round_is_logged_as_one_rtt_per_target_its_fastest_echo():
    assert target_rtts_for_log([[None, 2.34567], [None, None], [3.0, 1.5]]) == [2.346, None, 1.5]


# --------------------------------------------------------------------------- notifications


class FakeSns:
    def __init__(self, fail=False):
        self.published = []
        self.fail = fail

    def publish(self, **request):
        if self.fail:
            raise RuntimeError("SNS is not reachable")
        self.published.append(request)


def test_notifications_are_published_in_order_with_a_short_subject():
    sns, metrics = FakeSns(), Metrics()
    notifier = Notifier("arn:aws:sns:us-east-1:123456789012:failover", lambda: sns, RecordingLog(), metrics).start()
    notifier.submit("x" * 150, {"event": "transition", "to": "vpn"})
    notifier.submit("second", {"event": "alert"})
    notifier.stop()
    assert [request["Subject"] for request in sns.published] == ["x" * 100, "second"]
    assert json.loads(sns.published[0]["Message"]) == {"event": "transition", "to": "vpn"}
    assert sns.published[0]["TopicArn"] == "arn:aws:sns:us-east-1:123456789012:failover"
    assert sample(metrics, "lz_failover_notifications_total", outcome="sent") == 2


def test_a_full_notification_queue_drops_instead_of_blocking():
    metrics = Metrics()
    notifier = Notifier("arn:aws:sns:us-east-1:123456789012:failover", FakeSns, RecordingLog(), metrics, queue_size=2)  # not started: nothing drains
    assert [notifier.submit("s", {}) for _message in range(4)] == [True, True, False, False]
    assert sample(metrics, "lz_failover_notifications_total", outcome="dropped") == 2


def test_a_failed_publish_is_logged_and_counted():
    metrics, log = Metrics(), RecordingLog()
    notifier = Notifier("arn:aws:sns:us-east-1:123456789012:failover", lambda: FakeSns(fail=True), log, metrics).start()
    notifier.submit("s", {})
    notifier.stop()
    assert sample(metrics, "lz_failover_notifications_total", outcome="failed") == 1
    assert log.named("notification_failed")[0]["code"] == "RuntimeError"


# --------------------------------------------------------------------------- metrics


def test_metrics_rebinding_targets_drops_the_old_ones():
    metrics = Metrics()
    children = metrics.bind_targets(("198.19.0.10", "198.19.0.11"))
    children[1].sent.inc()
    metrics.bind_targets(("198.19.0.10",))
    text = generate_latest(metrics.registry).decode()
    assert 'target="198.19.0.11"' not in text and 'lz_failover_echoes_sent_total{target="198.19.0.10"} 0.0' in text


def test_path_gauges_mark_exactly_one_path():
    metrics = Metrics()
    metrics.set_path(metrics.active_path, "mixed")
    values = {path: sample(metrics, "lz_failover_active_path", path=path) for path in ("dx", "vpn", "mixed", "unknown")}
    assert values == {"dx": 0, "vpn": 0, "mixed": 1, "unknown": 0}


def test_unknown_vpn_health_is_minus_one_at_start():
    assert Metrics().registry.get_sample_value("lz_failover_vpn_path_healthy") == -1


# --------------------------------------------------------------------------- command line


def test_check_config_prints_a_summary_or_every_problem(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(FULL_YAML)
    out, err = io.StringIO(), io.StringIO()
    assert check_config(str(good), out, err) == 0
    assert "configuration is valid" in out.getvalue() and "rtb-0123456789abcdef0" in out.getvalue() and err.getvalue() == ""

    bad = tmp_path / "bad.yaml"
    bad.write_text(FULL_YAML.replace("targets: [198.19.0.10]", "targets: [198.19.0.10, 198.19.0.300]").replace("log_level: info", "log_level: loud"))
    out, err = io.StringIO(), io.StringIO()
    assert check_config(str(bad), out, err) == 1
    lines = err.getvalue().splitlines()
    assert lines[0] == "%s: 2 problem(s):" % bad
    assert "  probe.targets[1]: '198.19.0.300' is not an IP address" in lines and out.getvalue() == ""


def test_main_with_check_config_returns_the_exit_code(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("region: us-east-1\n")
    assert main(["--config", str(bad), "--check-config"]) == 1
    assert "route_table_ids: required key is missing" in capsys.readouterr().err


def test_arguments_default_to_the_packaged_config_path():
    arguments = parse_arguments([])
    assert arguments.config == "/etc/lz-failover-monitor/config.yml" and arguments.check_config is False
    with pytest.raises(SystemExit) as caught:
        parse_arguments(["--no-such-option"])
    assert caught.value.code == 2
