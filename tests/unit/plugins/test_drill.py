# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The failover drill analysis (module_utils/drill/) on synthetic records, and the lz_drill_report module.

The synthetic drill: two endpoints send a datagram every 20 ms for 60 s from T0. The
fault starts at T0+10 s and is undone at T0+20 s. workload -> onprem-host loses sequence
numbers 500-599 (2.0 s from the fault's start), its TTL goes 62 -> 61 at seq 600 and back
at seq 2520; onprem-host -> workload loses 510-524 (0.3 s) and its TTL stays 63.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import time

import pytest

from ansible_collections.localzones.failover.plugins.module_utils import drill
from harness.paths import COLLECTIONS_ROOT
from harness.paths import REPO_ROOT

T0 = 1764100000.0
INTERVAL = 0.02
COUNT = 3000
WORKLOAD_FIRST_SENT = T0
ONPREM_FIRST_SENT = T0 + 0.01
FORWARD = "workload -> onprem-host"
REVERSE = "onprem-host -> workload"
FAULT = {"method": "lab_command", "started": T0 + 10.0, "stopped": T0 + 20.0, "detail": "DX link dropped"}


# --------------------------------------------------------------------------- synthetic records


def forward_ttl(seq):
    return 61 if 600 <= seq < 2520 else 62


def rx_records(first_sent, count, lost=(), ttl=lambda seq: 62, delay=0.001, duplicates=(), swapped=()):
    """The rx lines of what one endpoint received, in arrival order (``swapped`` seqs arrive after their successor)."""
    lost = set(lost)
    order = [seq for seq in range(count) if seq not in lost]
    for seq in swapped:
        index = order.index(seq)
        order[index], order[index + 1] = order[index + 1], order[index]
    records = []
    for seq in order:
        sent = first_sent + seq * INTERVAL
        record = {"type": "rx", "seq": seq, "sent": sent, "received": sent + delay, "ttl": ttl(seq)}
        records.append(record)
        records.extend(dict(record) for _copy in range(list(duplicates).count(seq)))
    return records


def endpoint_lines(host, address, peer, first_sent, sent_count, received, start=T0 - 0.5, end=T0 + 60.5, with_end=True):
    """One endpoint's flow log: start line, what it received, end line with its own sent count."""
    records = [{"type": "start", "host": host, "address": address, "port": 47000, "peer": peer, "peer_port": 47000,
                "interval_s": INTERVAL, "time": start}]
    records += received
    if with_end:
        records.append({"type": "end", "time": end, "sent": sent_count, "first_sent": first_sent,
                        "last_sent": first_sent + (sent_count - 1) * INTERVAL, "received": len(received), "ended_by": "stop_file"})
    return [json.dumps(record) for record in records]


def workload_lines(**overrides):
    received = overrides.pop("received", None)
    if received is None:
        received = rx_records(ONPREM_FIRST_SENT, COUNT, lost=range(510, 525), ttl=lambda seq: 63, delay=0.0015)
    return endpoint_lines("workload", "198.18.2.10", "198.19.0.10", WORKLOAD_FIRST_SENT, COUNT, received, **overrides)


def onprem_lines(**overrides):
    received = overrides.pop("received", None)
    sent_count = overrides.pop("sent_count", COUNT)
    if received is None:
        received = rx_records(WORKLOAD_FIRST_SENT, COUNT, lost=range(500, 600), ttl=forward_ttl, duplicates=[100, 101, 101], swapped=[200])
    return endpoint_lines("onprem-host", "198.19.0.10", "198.18.2.10", ONPREM_FIRST_SENT, sent_count, received, **overrides)


def flows(workload=None, onprem=None):
    workload = workload_lines() if workload is None else workload
    onprem = onprem_lines() if onprem is None else onprem
    return [{"name": FORWARD, "sender_lines": workload, "receiver_lines": onprem},
            {"name": REVERSE, "sender_lines": onprem, "receiver_lines": workload}]


def ts(offset_ms):
    """The monitor's ``ts`` for T0 + offset_ms milliseconds."""
    seconds, millis = divmod(int(T0) * 1000 + offset_ms, 1000)
    return "%s.%03dZ" % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)), millis)


def monitor_lines():
    return [
        "Started lz-failover-monitor.service - Local Zones failover monitor.",
        json.dumps({"ts": ts(-5000), "level": "info", "event": "status", "path": "dx"}),
        json.dumps({"ts": ts(10590), "level": "warning", "event": "transition", "from_path": "dx", "to_path": "vpn", "reason": "hard_failure",
                    "evidence": {"targets": ["198.19.0.10"]}}),
        json.dumps({"ts": ts(10650), "level": "warning", "event": "api_error", "operation": "CreateRoute", "code": "RequestLimitExceeded",
                    "message": "Request limit exceeded.", "consecutive_failures": 1, "retry_in_s": 0.05}),
        json.dumps({"ts": ts(10680), "level": "info", "event": "route_action", "route_table_id": "rtb-1", "destination_cidr": "198.19.0.0/24",
                    "action": "create", "target": "eni-0123456789abcdef0", "outcome": "done", "latency_ms": 85.2}),
        json.dumps({"ts": ts(10690), "level": "info", "event": "routes_converged", "path": "vpn", "actions": 2, "since_decision_ms": 95.0}),
        "{not json",
        json.dumps({"ts": ts(50200), "level": "warning", "event": "transition", "from_path": "vpn", "to_path": "dx", "reason": "failback"}),
        json.dumps({"ts": ts(50300), "level": "info", "event": "routes_converged", "path": "dx", "actions": 2, "since_decision_ms": 101.0}),
    ]


def vrrp_lines(*changes):
    """journalctl -o json lines: (offset s, message) pairs."""
    return [json.dumps({"__REALTIME_TIMESTAMP": str(int(round((T0 + offset) * 1e6))), "MESSAGE": message, "_HOSTNAME": "router",
                        "SYSLOG_IDENTIFIER": "lz-fhrp"}) for offset, message in changes]


def vrrp_logs():
    dx = vrrp_lines((-100.0, "VRRP instance lan_gateway is now MASTER (priority 150)"),
                    (11.0, "VRRP instance lan_gateway is now FAULT (priority 150)"),
                    (25.0, "VRRP instance lan_gateway is now MASTER (priority 150)"))
    vpn = vrrp_lines((-100.0, "VRRP instance lan_gateway is now BACKUP (priority 100)"),
                     (11.2, "VRRP instance lan_gateway is now MASTER (priority 100)"),
                     (25.1, "VRRP instance lan_gateway is now BACKUP (priority 100)"))
    return [{"host": "onprem-dx", "role": "dx", "lines": dx}, {"host": "onprem-vpn", "role": "vpn", "lines": vpn}]


def route_changes():
    def change(table, at, previous, from_path, to_path):
        return {"time": T0 + at, "previous_read_time": T0 + previous, "route_table_id": table, "from_path": from_path, "to_path": to_path}
    return [change("rtb-1", 10.75, 10.55, "dx", "vpn"), change("rtb-2", 10.80, 10.60, "dx", "vpn"),
            change("rtb-1", 50.35, 50.15, "vpn", "dx"), change("rtb-2", 50.40, 50.20, "vpn", "dx")]


def full_drill(**overrides):
    arguments = dict(fault=FAULT, flows=flows(), monitor_lines=monitor_lines(), vrrp_logs=vrrp_logs(), route_changes=route_changes(),
                     events=[{"time": T0 + 5.0, "source": "drill", "event": "flows started"}], max_outage_s=2.5, title="Lab drill",
                     environment="lab", settings={"flow_interval_s": INTERVAL, "failback_hold_s": 30})
    arguments.update(overrides)
    return drill.analyse_drill(**arguments)


def direction_named(report, name):
    return next(direction for direction in report["directions"] if direction["name"] == name)


# --------------------------------------------------------------------------- flow analysis


def test_forward_direction_two_second_gap_duplicates_reordering_and_ttl_change():
    forward = direction_named(full_drill().report, FORWARD)
    assert {key: forward[key] for key in ("interval_s", "sent", "counted", "not_counted", "received", "lost", "loss_pct", "duplicates", "reordered")} == {
        "interval_s": 0.02, "sent": 3000, "counted": 3000, "not_counted": 0, "received": 2900, "lost": 100, "loss_pct": 3.333,
        "duplicates": 3, "reordered": 1}
    assert forward["loss_windows"] == [{"first_seq": 500, "last_seq": 599, "lost": 100, "start": T0 + 10.0, "t_start": 0.0,
                                        "duration_s": 2.0, "t_end": 2.0, "recovered": True}]
    assert (forward["longest_outage_s"], forward["total_outage_s"], forward["recovered"]) == (2.0, 2.0, True)
    ttl = forward["ttl"]
    assert (ttl["baseline_ttl"], ttl["values"], ttl["distinguishable"]) == (62, [61, 62], True)
    assert ttl["changes"] == [{"seq": 600, "time": T0 + 12.0, "t": 2.0, "from_ttl": 62, "to_ttl": 61},
                              {"seq": 2520, "time": T0 + 50.4, "t": 40.4, "from_ttl": 61, "to_ttl": 62}]
    assert ttl["first_on_new_path"]["seq"] == 600 and ttl["first_back_on_first_path"]["seq"] == 2520
    assert forward["one_way_delay_ms"] == {"min": 1.0, "median": 1.0, "max": 1.0}
    assert (forward["sender_end_line"], forward["receiver_end_line"], forward["ended_by"]) == (True, True, "stop_file")


def test_reverse_direction_short_gap_and_indistinguishable_ttl():
    report = full_drill().report
    reverse = direction_named(report, REVERSE)
    assert (reverse["sent"], reverse["received"], reverse["lost"], reverse["duplicates"], reverse["reordered"]) == (3000, 2985, 15, 0, 0)
    assert reverse["loss_windows"] == [{"first_seq": 510, "last_seq": 524, "lost": 15, "start": T0 + 10.21, "t_start": 0.21,
                                        "duration_s": 0.3, "t_end": 0.51, "recovered": True}]
    assert (reverse["longest_outage_s"], reverse["total_outage_s"]) == (0.3, 0.3)
    assert reverse["ttl"] == {"baseline_ttl": 63, "values": [63], "changes": [], "distinguishable": False,
                              "first_on_new_path": None, "first_back_on_first_path": None}
    assert reverse["one_way_delay_ms"] == {"min": 1.5, "median": 1.5, "max": 1.5}
    assert report["problems"] == [REVERSE + ": the TTL never changed (always 63): the paths are indistinguishable by TTL"]


def test_loss_window_start_is_interpolated_between_received_neighbours():
    packets = [{"seq": 10, "sent": 100.0}, {"seq": 20, "sent": 100.5}]
    times = drill.SendTimes(packets, 0.02)
    assert times.at(15) == pytest.approx(100.25)  # the neighbours' pace (50 ms), not the nominal interval
    assert times.at(22) == pytest.approx(100.54)
    assert times.at(8) == pytest.approx(99.96)
    assert drill.SendTimes([], 0.02, first_sent=50.0).at(5) == pytest.approx(50.1)
    assert drill.SendTimes([], None).at(5) is None


def test_missing_end_line_uses_what_is_there_and_says_so():
    # onprem-host was killed at T0+50: it logged nothing after, so it has no end line.
    until = 2500
    received = rx_records(WORKLOAD_FIRST_SENT, until, lost=range(500, 600), ttl=forward_ttl)
    onprem = onprem_lines(received=received, with_end=False)
    workload = workload_lines(received=rx_records(ONPREM_FIRST_SENT, until, lost=range(510, 525), ttl=lambda seq: 63))
    report = drill.analyse_drill(FAULT, flows(workload, onprem)).report
    forward, reverse = direction_named(report, FORWARD), direction_named(report, REVERSE)
    assert (forward["sent"], forward["counted"], forward["not_counted"], forward["received"], forward["lost"]) == (3000, 2500, 500, 2400, 100)
    assert (forward["receiver_end_line"], forward["recovered"]) == (False, True)
    assert (reverse["sent"], reverse["counted"], reverse["received"], reverse["lost"], reverse["sender_end_line"]) == (2500, 2500, 2485, 15, False)
    assert FORWARD + ": the receiver log has no end line (endpoint killed?): datagrams after the last one it logged are not counted, " \
                     "so a loss at the end cannot be seen" in report["problems"]
    assert REVERSE + ": the sender log has no end line (endpoint killed?): sent is taken as the highest sequence received + 1, " \
                     "so a loss at the end cannot be seen" in report["problems"]


def test_flow_that_never_recovers_is_a_trailing_loss():
    received = rx_records(WORKLOAD_FIRST_SENT, 2800, lost=range(500, 600), ttl=forward_ttl)
    result = full_drill(flows=flows(onprem=onprem_lines(received=received)), max_outage_s=10.0)
    forward = direction_named(result.report, FORWARD)
    assert forward["loss_windows"][-1] == {"first_seq": 2800, "last_seq": 2999, "lost": 200, "start": T0 + 56.0, "t_start": 46.0,
                                           "duration_s": 4.0, "t_end": 50.0, "recovered": False}
    assert (forward["lost"], forward["longest_outage_s"], forward["total_outage_s"], forward["recovered"]) == (300, 4.0, 6.0, False)
    assert FORWARD + ": the flow never recovered: 200 datagrams lost from t=46.0 s to the end" in result.report["problems"]
    assert result.report["passed"] is False
    assert result.report["failed_checks"] == [FORWARD + ": the flow never recovered"]


def test_datagrams_the_receiver_could_not_get_are_not_counted():
    # onprem-host started 0.5 s after workload's first datagram and stopped at T0+55 while workload sent until T0+59.98.
    received = [record for record in rx_records(WORKLOAD_FIRST_SENT, 2749, ttl=forward_ttl) if record["seq"] >= 25]
    onprem = onprem_lines(received=received, start=T0 + 0.5, end=T0 + 55.0)
    forward = direction_named(drill.analyse_drill(FAULT, flows(onprem=onprem)).report, FORWARD)
    assert (forward["sent"], forward["counted"], forward["not_counted"], forward["received"], forward["lost"]) == (3000, 2724, 276, 2724, 0)
    assert (forward["loss_windows"], forward["longest_outage_s"], forward["recovered"]) == ([], 0.0, True)


def test_interval_missing_from_the_start_line_is_estimated():
    workload = [line.replace('"interval_s": 0.02, ', "") for line in workload_lines()]
    report = drill.analyse_drill(FAULT, flows(workload=workload)).report
    forward = direction_named(report, FORWARD)
    assert forward["interval_s"] == pytest.approx(INTERVAL)
    assert (forward["lost"], forward["longest_outage_s"]) == (100, 2.0)
    assert FORWARD + ": the sender's interval is not in its start line: 0.0200 s estimated from the send times" in report["problems"]


def test_unknown_interval_leaves_the_outage_unknown():
    sender = drill.parse_flow_log([json.dumps({"type": "start", "time": T0}), json.dumps({"type": "end", "time": T0 + 1, "sent": 3})])
    receiver = drill.parse_flow_log([json.dumps({"type": "start", "time": T0 - 1}), json.dumps({"type": "end", "time": T0 + 2, "sent": 0})])
    direction, points = drill.analyse_direction("a -> b", sender, receiver, T0)
    assert (direction["sent"], direction["lost"], direction["longest_outage_s"], direction["total_outage_s"], points) == (3, 3, None, None, [])
    assert "a -> b: the sender's interval is unknown: outage durations cannot be computed" in direction["problems"]
    assert "a -> b: nothing was received" in direction["problems"]


def test_unusable_lines_are_counted_not_fatal():
    onprem = onprem_lines() + ["garbage", json.dumps({"type": "rx", "seq": "x", "sent": 1.0}), json.dumps({"type": "rx", "seq": 3, "sent": None}),
                               json.dumps([1, 2]), "", json.dumps({"type": "start", "time": T0})]
    report = drill.analyse_drill(FAULT, flows(onprem=onprem)).report
    assert direction_named(report, FORWARD)["received"] == 2900
    assert FORWARD + ": the receiver log: 4 unusable lines ignored" in report["problems"]
    assert FORWARD + ": the receiver log has 1 more start lines (endpoint restarted?): the first is used" in report["problems"]


# --------------------------------------------------------------------------- the other records


def test_parse_monitor_log_keeps_drill_events_and_drops_details():
    events, problems = drill.parse_monitor_log(monitor_lines() + [json.dumps({"ts": "yesterday", "event": "transition"})])
    assert [event["event"] for event in events] == ["transition", "api_error", "route_action", "routes_converged", "transition", "routes_converged"]
    assert events[0] == {"time": T0 + 10.59, "event": "transition", "from_path": "dx", "to_path": "vpn", "reason": "hard_failure"}
    assert events[2] == {"time": T0 + 10.68, "event": "route_action", "action": "create", "route_table_id": "rtb-1", "outcome": "done",
                         "latency_ms": 85.2, "code": None}
    assert problems == ["monitor log: 1 drill events without a readable ts ignored"]


def test_parse_utc_timestamp():
    assert drill.parse_utc_timestamp("2025-11-25T19:46:40.123Z") == pytest.approx(1764100000.123)
    assert drill.parse_utc_timestamp("2025-11-25T19:46:40Z") == 1764100000.0
    assert drill.parse_utc_timestamp("19:46") is None and drill.parse_utc_timestamp(None) is None


def test_parse_vrrp_log_reads_journal_json():
    lines = vrrp_lines((1.0, "VRRP instance lan_gateway is now MASTER (priority 150)"), (2.0, "VRRP group lan is now MASTER (priority 150)"),
                       (3.0, "something else"))
    as_bytes = json.dumps({"__REALTIME_TIMESTAMP": str(int((T0 + 4.0) * 1e6)), "MESSAGE": list(b"VRRP instance lan_gateway is now FAULT (priority 150)")})
    changes, problems = drill.parse_vrrp_log(lines + [as_bytes, "not json", json.dumps({"MESSAGE": "VRRP instance x is now BACKUP (priority 1)"})],
                                             "onprem-dx", "dx")
    assert [(change["time"], change["state"], change["priority"], change["instance"]) for change in changes] == [
        (T0 + 1.0, "MASTER", 150, "lan_gateway"), (T0 + 4.0, "FAULT", 150, "lan_gateway")]
    assert problems == ["VRRP log of onprem-dx: 2 unreadable lines ignored"]


def test_fault_and_route_change_inputs_are_checked_not_trusted():
    fault, problems = drill.normalise_fault({"method": "lab_command", "started": T0 + 5, "stopped": T0 + 1})
    assert (fault["started"], fault["stopped"], fault["duration_s"]) == (T0 + 5, None, None)
    assert problems == ["the fault ends before it starts: its end time is ignored"]
    changes, problems = drill.normalise_route_changes([{"time": "soon", "route_table_id": "rtb-1", "to_path": "vpn"}, "x",
                                                       {"time": str(T0), "route_table_id": "rtb-1", "to_path": "vpn"}])
    assert changes == [{"time": T0, "previous_read_time": None, "route_table_id": "rtb-1", "from_path": None, "to_path": "vpn"}]
    assert problems == ["route change 0 has no usable time, route_table_id or to_path: ignored",
                        "route change 1 has no usable time, route_table_id or to_path: ignored"]


# --------------------------------------------------------------------------- the whole drill


def test_summary_numbers():
    report = full_drill().report
    assert report["summary"] == {
        "detection_s": 0.59, "routes_converged_s": 0.69, "route_change_s": 0.75, "vrrp_failover_s": 1.2, "fault_duration_s": 10.0,
        "monitor_failback_s": 30.2, "failback_s": 30.4, "vrrp_failback_s": 5.0, "failback_asymmetry_s": 25.4, "longest_outage_s": 2.0,
        "outages": [{"name": FORWARD, "longest_outage_s": 2.0, "total_outage_s": 2.0, "lost": 100, "recovered": True},
                    {"name": REVERSE, "longest_outage_s": 0.3, "total_outage_s": 0.3, "lost": 15, "recovered": True}]}
    assert report["route_tables"] == [
        {"route_table_id": "rtb-1", "to_vpn": {"time": T0 + 10.75, "since_s": 0.75, "resolution_s": 0.2},
         "back_on_dx": {"time": T0 + 50.35, "since_s": 30.35, "resolution_s": 0.2}},
        {"route_table_id": "rtb-2", "to_vpn": {"time": T0 + 10.8, "since_s": 0.8, "resolution_s": 0.2},
         "back_on_dx": {"time": T0 + 50.4, "since_s": 30.4, "resolution_s": 0.2}}]
    assert (report["passed"], report["failed_checks"]) == (True, [])


def test_timeline_is_ordered_relative_to_the_fault_with_milestones():
    report = full_drill().report
    rows = [(entry["t"], entry["kind"], entry["milestone"]) for entry in report["timeline"]]
    assert rows == [
        (-5.0, "extra", None),
        (0.0, "fault_start", None),
        (0.0, "loss_window", None),
        (0.21, "loss_window", None),
        (0.59, "monitor_transition", "detection"),
        (0.65, "monitor_api_error", None),
        (0.68, "monitor_route_action", None),
        (0.69, "monitor_routes_converged", "routes_converged"),
        (0.75, "route_change", "route_on_vpn"),
        (0.8, "route_change", None),
        (1.0, "vrrp_state", None),
        (1.2, "vrrp_state", "vrrp_on_vpn"),
        (2.0, "path_new", None),
        (10.0, "fault_stop", None),
        (15.0, "vrrp_state", "vrrp_back_on_dx"),
        (15.1, "vrrp_state", None),
        (40.2, "monitor_transition", "monitor_back_on_dx"),
        (40.3, "monitor_routes_converged", None),
        (40.35, "route_change", None),
        (40.4, "route_change", "routes_back_on_dx"),
        (40.4, "path_back", None),
    ]
    texts = [entry["event"] for entry in report["timeline"]]
    assert "monitor: dx -> vpn (hard_failure)" in texts
    assert "route table rtb-1: dx -> vpn (seen, changed within 0.200 s before)" in texts
    assert "VRRP onprem-vpn (vpn router): MASTER, priority 100" in texts
    assert "flow %s: first datagram on another path (TTL 62 -> 61)" % FORWARD in texts
    assert "flow %s: 100 datagrams lost (2.000 s), recovered" % FORWARD in texts
    # The VRRP states from before the drill are left out, and said so.
    assert "2 records from more than 10 s before the drill started were left out of the timeline." in report["notes"]
    # Nothing beyond timings and events: no targets, CIDRs, ENIs or API messages.
    dumped = json.dumps(report)
    for secret in ("198.19.0.0/24", "eni-0123456789abcdef0", "Request limit exceeded", "198.19.0.10", "198.18.2.10"):
        assert secret not in dumped


def test_outage_over_the_limit_fails_the_drill():
    report = full_drill(max_outage_s=1.5).report
    assert report["passed"] is False
    assert report["failed_checks"] == [FORWARD + ": longest outage 2.000 s exceeds 1.500 s"]
    # Without a limit only the movement and the recovery are judged.
    unlimited = full_drill(max_outage_s=None).report
    assert (unlimited["passed"], unlimited["failed_checks"]) == (True, [])


def test_failback_asymmetry_over_the_limit_fails_the_drill():
    # On-premises returned to DX 25.4 s before the route tables did.
    report = full_drill(max_failback_asymmetry_s=1.0).report
    assert report["passed"] is False
    assert report["failed_checks"] == ["failback: on-premises moved back to DX 25.400 s before the other direction (limit 1.000 s)"]
    assert report["max_failback_asymmetry_s"] == 1.0
    assert full_drill(max_failback_asymmetry_s=30.0).report["passed"] is True


def test_route_tables_moving_back_first_is_a_negative_asymmetry():
    late_vrrp = vrrp_logs()
    late_vrrp[0]["lines"][-1] = vrrp_lines((51.0, "VRRP instance lan_gateway is now MASTER (priority 150)"))[0]
    report = full_drill(vrrp_logs=late_vrrp, max_failback_asymmetry_s=0.5).report
    assert report["summary"]["failback_asymmetry_s"] == -0.6
    assert report["failed_checks"] == ["failback: the route tables moved back to DX 0.600 s before the other direction (limit 0.500 s)"]


def test_unmeasurable_asymmetry_is_not_judged_without_a_limit_and_fails_with_one():
    report = full_drill(vrrp_logs=None).report
    assert report["summary"]["failback_asymmetry_s"] is None and report["passed"] is True
    limited = full_drill(vrrp_logs=None, max_failback_asymmetry_s=1.0).report
    assert limited["failed_checks"] == [
        "the failback's asymmetric window cannot be measured (the route tables' or VRRP's return was not seen)"]


def test_route_that_never_moved_is_reported():
    report = full_drill(route_changes=[], monitor_lines=None, vrrp_logs=None).report
    assert report["summary"]["route_change_s"] is None and report["summary"]["failback_s"] is None
    assert "no route table moved to vpn after the fault started" in report["problems"]
    assert report["failed_checks"] == ["the route tables never moved to the VPN"]


def test_route_tables_that_stay_on_vpn_have_no_failback():
    report = full_drill(route_changes=route_changes()[:3]).report
    assert report["summary"]["failback_s"] is None
    assert "not every route table that moved to vpn came back to dx" in report["problems"]
    assert "the route tables never came back to DX" in report["failed_checks"]


def test_without_any_evidence_of_movement_the_drill_cannot_pass():
    only_flows = flows(onprem=onprem_lines(received=rx_records(WORKLOAD_FIRST_SENT, COUNT, lost=range(500, 600))))
    report = drill.analyse_drill(FAULT, only_flows, max_outage_s=5.0).report
    assert report["passed"] is False
    assert report["failed_checks"] == ["no record shows the traffic moving (no monitor log, route changes or VRRP logs, and TTLs indistinguishable)"]
    assert report["summary"]["detection_s"] is None


def test_messy_inputs_never_raise(tmp_path):
    read_flows, monitor, vrrp, problems = drill.read_drill_inputs(
        [{"name": "a -> b", "sender_log": str(tmp_path / "missing-a.jsonl"), "receiver_log": str(tmp_path / "missing-b.jsonl")}],
        monitor_log=str(tmp_path / "missing-monitor.log"), vrrp_logs=[{"host": "r1", "role": "dx", "path": str(tmp_path / "missing-vrrp.json")}])
    assert len(problems) == 4 and all(problem.startswith("cannot read ") for problem in problems)
    result = drill.analyse_drill({"method": None}, read_flows, monitor_lines=monitor, vrrp_logs=vrrp, route_changes=[{"time": None}],
                                 events=[{"event": "x"}], max_outage_s=1.0, input_problems=problems)
    report = result.report
    assert report["passed"] is False and report["origin"] is None
    assert "no time to measure from: neither the fault's start nor any flow start is known" in report["problems"]
    assert "a -> b: the sender log has no start line" in report["problems"]
    drill.render_markdown(report)
    pytest.importorskip("matplotlib")
    drill.render_plot(result, io.BytesIO())


# --------------------------------------------------------------------------- rendering


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_markdown_report_has_every_section():
    text = drill.render_markdown(full_drill().report)
    assert text.startswith("# Lab drill\n")
    for expected in ("* Environment: lab", "**PASSED**", "## Settings", "| failback_hold_s | 30 |", "## Summary", "| Detection | 0.590 s |",
                     "| Route change | 0.750 s |", "| VRRP failover | 1.200 s |", "| Failback | 30.400 s |",
                     "| Outage workload -> onprem-host | longest 2.000 s, total 2.000 s | loss windows of the direction; 100 datagrams lost |",
                     "![Timeline of the drill](timeline.png)",
                     "| 0.590 | monitor | **monitor: dx -> vpn (hard_failure)** |", "## Route tables", "### workload -> onprem-host",
                     "| 0.000 | 2.000 s | 100 | 500-599 | yes |", "Paths: the TTL stayed 63: the paths are indistinguishable by TTL.",
                     "## Problems", "## Method", "resolution of one send interval"):
        assert expected in text, expected
    assert "timeline.png" not in drill.render_markdown(full_drill().report, plot_file=None)


def test_plot_is_a_1600_by_900_png():
    pytest.importorskip("matplotlib")
    handle = io.BytesIO()
    drill.render_plot(full_drill(), handle)
    assert png_size(handle.getvalue()) == (1600, 900)


def test_state_lanes_start_with_the_state_left():
    lanes = dict(drill.state_lanes(full_drill().report, 60.0))
    assert lanes["fault"] == [(0.0, 10.0, "fault")]
    assert lanes["monitor path"] == [(None, 0.59, "dx"), (0.59, 40.2, "vpn"), (40.2, 60.0, "dx")]
    assert lanes["route rtb-2"] == [(None, 0.8, "dx"), (0.8, 40.4, "vpn"), (40.4, 60.0, "dx")]
    # The state before the drill's window still tells what the router was when the lane starts.
    assert lanes["VRRP onprem-vpn (vpn)"] == [(None, 1.2, "BACKUP"), (1.2, 15.1, "MASTER"), (15.1, 60.0, "BACKUP")]


# --------------------------------------------------------------------------- the module


def write_inputs(directory):
    """The synthetic drill as the files the drill playbook leaves; returns the module's arguments."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {"workload.jsonl": workload_lines(), "onprem-host.jsonl": onprem_lines(), "monitor.log": monitor_lines()}
    for log in vrrp_logs():
        files["vrrp-%s.json" % log["host"]] = log["lines"]
    for name, lines in files.items():
        (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {
        "title": "Lab drill", "environment": "lab", "settings": {"flow_interval_s": INTERVAL}, "fault": FAULT, "max_outage_s": 2.5,
        "flows": [{"name": FORWARD, "sender_log": str(directory / "workload.jsonl"), "receiver_log": str(directory / "onprem-host.jsonl")},
                  {"name": REVERSE, "sender_log": str(directory / "onprem-host.jsonl"), "receiver_log": str(directory / "workload.jsonl")}],
        "monitor_log": str(directory / "monitor.log"),
        "vrrp_logs": [{"host": "onprem-dx", "role": "dx", "path": str(directory / "vrrp-onprem-dx.json")},
                      {"host": "onprem-vpn", "role": "vpn", "path": str(directory / "vrrp-onprem-vpn.json")}],
        "route_changes": route_changes(),
        "events": [{"time": T0 + 5.0, "source": "drill", "event": "flows started"}],
    }


def run_module(args, tmp_path, check_mode=False):
    """Run localzones.failover.lz_drill_report with ad-hoc ansible on localhost; returns (status, result)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_PYTHON_INTERPRETER=os.path.join(REPO_ROOT, ".venv", "bin", "python"),
               ANSIBLE_HOME=str(tmp_path / "ansible-home"), ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_DEPRECATION_WARNINGS="false",
               ANSIBLE_NOCOLOR="true")
    argv = [os.path.join(REPO_ROOT, ".venv", "bin", "ansible"), "localhost", "-m", "localzones.failover.lz_drill_report", "-a", json.dumps(args), "-o"]
    if check_mode:
        argv.append("--check")
    completed = subprocess.run(argv, env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=180, check=False)
    line = next((line for line in completed.stdout.splitlines() if line.startswith("localhost |")), None)
    assert line is not None, "no result line\nstdout: %s\nstderr: %s" % (completed.stdout, completed.stderr)
    status, payload = line.split(" => ", 1)
    return status.split("|", 1)[1].strip(), json.loads(payload)


def test_module_writes_the_report_and_is_idempotent(tmp_path):
    pytest.importorskip("matplotlib")
    args = dict(write_inputs(tmp_path / "raw"), dest=str(tmp_path / "results" / "drill-1"))
    status, result = run_module(args, tmp_path)
    assert status == "CHANGED", result
    dest = tmp_path / "results" / "drill-1"
    assert result["files"] == {"report": str(dest / "report.md"), "plot": str(dest / "timeline.png"), "json": str(dest / "drill.json")}
    assert result["report"] == str(dest / "report.md")
    assert sorted(result["written"]) == sorted(result["files"].values())
    assert (result["detection_s"], result["route_change_s"], result["vrrp_failover_s"], result["failback_s"]) == (0.59, 0.75, 1.2, 30.4)
    assert (result["passed"], result["longest_outage_s"]) == (True, 2.0)
    assert [outage["lost"] for outage in result["outages"]] == [100, 15]
    assert result["problems"] == [REVERSE + ": the TTL never changed (always 63): the paths are indistinguishable by TTL"]
    assert png_size((dest / "timeline.png").read_bytes()) == (1600, 900)
    markdown = (dest / "report.md").read_text(encoding="utf-8")
    assert "## Summary" in markdown and "| Detection | 0.590 s |" in markdown and "| Failback | 30.400 s |" in markdown
    saved = json.loads((dest / "drill.json").read_text(encoding="utf-8"))
    assert saved["summary"]["detection_s"] == 0.59 and saved["directions"][0]["loss_windows"][0]["duration_s"] == 2.0
    status, again = run_module(args, tmp_path)
    assert (status, again["changed"], again["written"]) == ("SUCCESS", False, [])


def test_module_check_mode_writes_nothing(tmp_path):
    args = dict(write_inputs(tmp_path / "raw"), dest=str(tmp_path / "results"), plot=False)
    status, result = run_module(args, tmp_path, check_mode=True)
    assert status == "CHANGED", result
    assert result["written"] == [] and result["files"]["plot"] is None
    assert result["files"]["report"] == str(tmp_path / "results" / "report.md")
    assert result["detection_s"] == 0.59
    assert not (tmp_path / "results").exists()


def test_module_refuses_a_file_as_dest(tmp_path):
    args = dict(write_inputs(tmp_path / "raw"), dest=str(tmp_path / "raw" / "monitor.log"), plot=False)
    status, result = run_module(args, tmp_path)
    assert status == "FAILED!" and "is not a directory" in result["msg"]
