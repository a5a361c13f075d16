# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The probe loop's decisions and bookkeeping, fed synthetic rounds with a fake clock.

The actuator, the state writer and the notifier are replaced by recorders: these
tests check what the loop hands them, not what they do with it.
"""

from __future__ import annotations

import math

import pytest

from lz_failover_monitor.config import validate_document
from lz_failover_monitor.state_file import PersistedState
from lz_failover_monitor.state_file import Transition
from tests.support.monitor_configs import TARGETS
from tests.support.monitor_configs import document
from tests.support.monitor_configs import write_config
from tests.support.monitor_doubles import DOWN
from tests.support.monitor_doubles import UP
from tests.support.monitor_doubles import WALL_OFFSET
from tests.support.monitor_doubles import Harness
from tests.support.monitor_doubles import StubVpn


def test_rounds_are_only_judged_once_the_tables_were_read():
    harness = Harness(initial_path=None)
    harness.rounds(10, DOWN)
    assert harness.monitor.machine is None and harness.monitor.actuator.desired == []
    assert harness.sample("lz_failover_probe_rounds_total") == 10 and harness.sample("lz_failover_probe_rounds_failed_total") == 10
    harness.monitor.actuator.initial_path = "mixed"
    harness.rounds(1, UP)
    assert harness.monitor.machine.path == "vpn", "mixed tables are treated as the VPN path"
    assert harness.monitor.actuator.desired == ["vpn"]
    assert harness.log.named("initial_path")[0]["tables_path"] == "mixed"
    assert harness.monitor.writer.states[-1].desired_path == "vpn"


def test_a_hard_failure_sets_the_desired_path_and_reports_it_everywhere():
    harness = Harness().rounds(3, UP).rounds(5, DOWN)
    monitor = harness.monitor
    assert monitor.actuator.desired == ["dx", "vpn"]
    transition = harness.log.named("transition")[0]
    assert (transition["from_path"], transition["to_path"], transition["reason"]) == ("dx", "vpn", "hard_failure")
    assert transition["evidence"]["targets"] == TARGETS and transition["evidence"]["last_round_rtt_ms"] == [None, None]
    assert transition["evidence"]["consecutive_failed_rounds"] == monitor.config.policy.hard_failure_rounds == 4
    assert harness.sample("lz_failover_transitions_total", from_path="dx", to_path="vpn", reason="hard_failure") == 1
    assert harness.sample("lz_failover_last_transition_timestamp_seconds") == pytest.approx(harness.clock.now + WALL_OFFSET)
    saved = monitor.writer.states[-1]
    assert saved.desired_path == "vpn" and saved.last_transition.to_path == "vpn"
    assert saved.failover_history == (pytest.approx(harness.clock.now + WALL_OFFSET),), "history is saved in wall-clock time"
    subject, message = monitor.notifier.messages[0]
    assert subject == "lz-failover-monitor: dx -> vpn (hard_failure)" and message["route_table_ids"] == ["rtb-0123456789abcdef0"]


def test_per_target_metrics_follow_each_echo():
    harness = Harness().rounds(4, [[2.5, 1.5], [None, 3.0]])
    assert harness.sample("lz_failover_echoes_sent_total", target=TARGETS[0]) == 8
    assert harness.sample("lz_failover_echoes_lost_total", target=TARGETS[0]) == 0
    assert harness.sample("lz_failover_echoes_sent_total", target=TARGETS[1]) == 8
    assert harness.sample("lz_failover_echoes_lost_total", target=TARGETS[1]) == 4
    assert harness.sample("lz_failover_target_rtt_seconds", target=TARGETS[0]) == pytest.approx(0.0015), "the fastest echo of the round"
    assert harness.sample("lz_failover_target_rtt_seconds", target=TARGETS[1]) == pytest.approx(0.003)
    assert harness.sample("lz_failover_target_window_loss_ratio", target=TARGETS[1]) == 0.5, "every echo counts in the window"
    assert harness.sample("lz_failover_target_window_rtt_seconds", target=TARGETS[0]) == pytest.approx(0.002)
    assert harness.sample("lz_failover_probe_rounds_failed_total") == 0


def test_a_target_with_every_echo_lost_shows_no_rtt():
    harness = Harness().rounds(1, [[1.0, 1.0], [None, None]])
    assert math.isnan(harness.sample("lz_failover_target_rtt_seconds", target=TARGETS[1]))
    assert harness.sample("lz_failover_echoes_lost_total", target=TARGETS[1]) == 2


def test_the_status_line_reports_loss_and_rtt_per_target_since_the_last_one():
    harness = Harness().rounds(2, [[1.0, 1.0], [None, None]]).rounds(2, [[3.0, 3.0], [2.0, None]])
    harness.monitor.report_status()
    status = harness.log.named("status")[0]
    assert status["path"] == "dx" and status["rounds"] == 4 and status["failed_rounds"] == 0
    assert status["targets"][0] == {"target": TARGETS[0], "sent": 8, "lost": 0, "loss_pct": 0.0, "rtt_avg_ms": 2.0, "rtt_max_ms": 3.0}
    assert (status["targets"][1]["sent"], status["targets"][1]["lost"], status["targets"][1]["loss_pct"]) == (8, 6, 75.0), "every echo counts"
    harness.monitor.report_status()
    assert harness.log.named("status")[1]["rounds"] == 0, "each status line covers its own interval"


def test_failover_history_from_the_state_file_keeps_dampening_across_a_restart():
    now_wall = 1000.0 + WALL_OFFSET
    persisted = PersistedState("vpn", Transition("dx", "vpn", "hard_failure", now_wall - 50), (now_wall - 400, now_wall - 50))
    harness = Harness(initial_path="vpn", persisted=persisted).rounds(1, UP)
    machine = harness.monitor.machine
    assert list(machine.failover_history) == [pytest.approx(600.0), pytest.approx(950.0)], "wall-clock times mapped onto the monotonic clock"
    assert machine.failback_hold_s(harness.clock.now) == 6, "two recent failovers double the 3 s hold"
    assert machine.entered_path_at == pytest.approx(950.0), "time in state continues from the transition in the file"


def test_both_paths_down_raises_one_alert_and_no_transition():
    harness = Harness().rounds(2, UP)
    harness.monitor.vpn_checker = StubVpn()
    harness.rounds(10, DOWN)
    assert harness.monitor.actuator.desired == ["dx"]
    alerts = harness.log.named("alert")
    assert len(alerts) == 1 and alerts[0]["alert"] == "both_down" and alerts[0]["evidence"]["vpn_healthy"] is False
    assert harness.sample("lz_failover_alerts_total", alert="both_down") == 1
    assert harness.monitor.notifier.messages[0][0] == "lz-failover-monitor: alert: both_down"


def test_reload_keeps_the_running_config_when_the_new_one_is_invalid(tmp_path):
    config_path = write_config(tmp_path / "config.yml", document(probe={"targets": list(TARGETS), "interval": "fast"}))
    harness = Harness(config_path=config_path).rounds(6, UP)
    before = harness.monitor.config
    harness.monitor.reload()
    assert harness.monitor.config is before
    assert "probe.interval: must be a number, got a string 'fast'" in harness.log.named("config_reload_rejected")[0]["problems"]
    assert harness.sample("lz_failover_config_reloads_total", outcome="rejected") == 1


def test_reload_of_the_policy_keeps_the_path_and_the_failover_history(tmp_path):
    config_path = write_config(tmp_path / "config.yml", document())
    harness = Harness(config_path=config_path).rounds(3, UP).rounds(5, DOWN)
    history = list(harness.monitor.machine.failover_history)
    write_config(tmp_path / "config.yml", document(policy={"failback_hold_s": 7, "dampening_max_hold_s": 60}))
    harness.monitor.reload()
    machine = harness.monitor.machine
    assert machine.path == "vpn" and list(machine.failover_history) == history and machine.settings.failback_hold_s == 7
    assert harness.log.named("config_reloaded")[0]["changed"] == ["policy"]
    assert harness.monitor.actuator.configs[-1].policy.failback_hold_s == 7


class BrokenProber:
    def round(self):
        raise OSError(9, "Bad file descriptor")


def test_an_unexpected_probe_error_skips_the_round_and_is_logged_once_per_status_interval():
    harness = Harness().rounds(2, UP)
    harness.monitor.prober = BrokenProber()
    for _round in range(5):
        harness.clock.now += 0.1
        harness.monitor._probe_once(harness.clock.now)  # pylint: disable=protected-access
    assert harness.sample("lz_failover_probe_errors_total") == 5
    assert len(harness.log.named("probe_error")) == 1
    assert harness.sample("lz_failover_probe_rounds_total") == 2, "a skipped round is not a lost round"
    assert harness.monitor.machine.consecutive_failed_rounds == 0


def test_the_schedule_stays_on_its_grid_and_counts_whole_missed_slots():
    harness = Harness()
    monitor, clock = harness.monitor, harness.clock
    clock.now = 1000.05  # a round that ended half a slot after it began
    assert monitor._next_slot(1000.0, 0.1) == pytest.approx(1000.1)  # pylint: disable=protected-access
    clock.now = 1000.37  # a stall: the slot at 1000.2 is gone, the one at 1000.3 starts late, at once
    assert monitor._next_slot(1000.1, 0.1) == pytest.approx(1000.3)  # pylint: disable=protected-access
    assert harness.sample("lz_failover_probe_round_overruns_total") == 1


class StubCoordinator:
    """The lease as the probe loop sees it: writer or not, no table behind it."""

    fencing = 2

    def __init__(self, writer):
        self.writer = writer

    def is_writer(self):
        return self.writer

    def latest_records(self):
        return []

    def set_view(self, **view):
        pass


def paired_harness(writer):
    coordination = {"table": "lz-failover-coordination", "failover_group": "pair", "monitor_id": "monitor-b"}
    harness = Harness(config=validate_document(document(coordination=coordination)))
    harness.monitor.coordinator = StubCoordinator(writer)
    return harness


def test_of_monitors_in_pairs_only_the_holder_notifies_and_says_which_monitor_it_is():
    standby = paired_harness(writer=False).rounds(3, UP).rounds(5, DOWN)
    assert standby.monitor.actuator.desired == ["dx", "vpn"] and standby.log.named("transition"), "the standby decides alike"
    assert standby.monitor.notifier.messages == [], "the standby publishes nothing"

    holder = paired_harness(writer=True).rounds(3, UP).rounds(5, DOWN)
    subject, message = holder.monitor.notifier.messages[0]
    assert subject == "lz-failover-monitor: dx -> vpn (hard_failure)" and message["monitor_id"] == "monitor-b"


def test_a_takeover_is_published_with_the_old_holder_and_the_routes_path_and_a_first_lease_is_not():
    harness = paired_harness(writer=True).rounds(3, UP).rounds(5, DOWN)
    harness.monitor.notifier.messages.clear()
    harness.monitor._lease_acquired(None)  # pylint: disable=protected-access
    assert harness.monitor.notifier.messages == [], "a group's first holder is no news"
    assert harness.monitor.actuator.wakes == 1, "the new writer converges at once"
    harness.monitor._lease_acquired("monitor-a")  # pylint: disable=protected-access
    subject, message = harness.monitor.notifier.messages[0]
    assert subject == "lz-failover-monitor: monitor-b took the lease from monitor-a: routes on vpn"
    assert (message["event"], message["taken_from"], message["fencing"], message["routes_path"]) == ("lease_acquired", "monitor-a", 2, "vpn")
