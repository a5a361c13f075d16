# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Failover drill analysis: from a drill's raw records to a timeline, outages and a report.

A drill takes Direct Connect down for a bounded time and restores it while two flow
endpoints (a workload in AWS, a host on-premises) send each other one UDP datagram every
``interval_s``. This module reads what was recorded and says what happened, when:

* **flow logs** (JSON lines per endpoint: ``start``, ``rx`` per datagram received,
  ``end``). The direction A->B is judged from B's ``rx`` lines and A's start/end lines.
* the **monitor's log** (``journalctl -u lz-failover-monitor -o cat``, monitor/logs.py);
* each on-premises router's **VRRP log** (``journalctl -t lz-fhrp -o json``);
* the **route changes** seen by lz_route_watch;
* the **fault** (method, start, stop) and optional extra events.

Definitions (repeated in the report's notes):

* A **loss window** is a run of consecutive sequence numbers that never arrived. It starts
  at the estimated send time of its first lost datagram (interpolated between the send
  times of the received neighbours, which travel in the datagrams) and lasts
  ``lost * interval_s``: the resolution of every outage is one interval.
* Outage arithmetic uses the sender's timestamps only, so the two endpoints' clocks need
  not agree; one-way delay (receiver clock minus sender clock) is information only.
* Datagrams sent before the receiver started, or too late to arrive before it stopped,
  are not counted. A loss that lasts until the end is **not recovered**.
* The TTL of the first datagrams marks the first path. Each change of TTL, in send order,
  is a path change (via DX and via the VPN differ by a hop); when it never changes the
  paths cannot be told apart by TTL, and no change is invented.
* Times in the timeline are seconds relative to the fault's start.

Nothing here raises on messy records: every oddity becomes an entry of ``problems``.
matplotlib is imported only when a plot is drawn.
"""

from __future__ import annotations

import bisect
import json
import math
import os
import re
from datetime import datetime, timezone

from .routes import PATH_DX, PATH_MIXED, PATH_VPN

ROLE_DX = "dx"
ROLE_VPN = "vpn"
ROLES = (ROLE_DX, ROLE_VPN)
MASTER = "MASTER"

DEFAULT_TITLE = "Failover drill"
REPORT_FILE = "report.md"
PLOT_FILE = "timeline.png"
JSON_FILE = "drill.json"
FORMAT_VERSION = 1

# Monitor log events that belong in a drill's timeline, and the fields kept of each. Other
# fields (evidence, messages, targets) are left out: a report carries timings and events only.
MONITOR_FIELDS = {
    "transition": ("from_path", "to_path", "reason"),
    "routes_converged": ("path", "since_decision_ms", "actions"),
    "route_action": ("action", "route_table_id", "outcome", "latency_ms", "code"),
    "alert": ("alert", "path"),
    "api_error": ("operation", "code", "consecutive_failures"),
}
VRRP_MESSAGE = re.compile(r"VRRP instance (?P<instance>\S+) is now (?P<state>[A-Z]+) \(priority (?P<priority>-?\d+)\)")
# Records this long before the fault or the first flow start belong to earlier activity.
LEAD_S = 10.0
# Loss windows per direction that get a timeline row (the longest); all are in the directions.
TIMELINE_WINDOWS_PER_DIRECTION = 10
MARKDOWN_LOSS_WINDOWS = 30

NOTES = (
    "Times are seconds relative to the fault's start (t = 0); the report keeps millisecond resolution.",
    "A loss window is a run of consecutive lost sequence numbers. It starts at the estimated send time of its first lost datagram "
    "(interpolated between the send times carried by the received neighbours) and lasts lost x interval: "
    "outages have a resolution of one send interval.",
    "Outage durations use the sender's clock only; one-way delay compares the receiver's clock with the sender's and is information only. "
    "The fault, route-watch, monitor and VRRP times come from other clocks (the same one in the lab, NTP-synchronised on AWS).",
    "Datagrams sent before the receiver started, or later than one interval plus the largest one-way delay before it stopped, are not counted.",
    "A path change is a change of the IP TTL seen by the receiver, in send order, from the TTL of the first datagrams (the first path).",
    "A route table change is timed by the read that first saw it; it happened after the previous read (resolution in the route table section).",
)


# --------------------------------------------------------------------------- small helpers


def _number(value):
    """A finite float, or None. Numeric text counts (templated module arguments can arrive as text); booleans and NaN do not."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        value = float(value)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _count(value):
    """A non-negative int, or None."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _text(value):
    return value if isinstance(value, str) else None


def _ms(value):
    return None if value is None else round(value, 3)


def _rel(time, origin):
    return None if time is None or origin is None else round(time - origin, 3)


def _median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0


def _json_lines(lines):
    """Each line that is a JSON object, as ``(object, None)``, else ``(None, line)`` for non-blank others."""
    for line in lines:
        text = line.strip() if isinstance(line, str) else ""
        if not text:
            continue
        try:
            document = json.loads(text)
        except ValueError:
            yield None, text
            continue
        yield (document, None) if isinstance(document, dict) else (None, text)


def read_lines(path):
    """``(lines, problem)``: the lines of a file, or ``([], why)`` when it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().splitlines(), None
    except (OSError, TypeError) as exc:
        return [], "cannot read %s: %s" % (path, getattr(exc, "strerror", None) or exc)


def parse_utc_timestamp(text):
    """Epoch seconds of the monitor's ``ts`` (``2024-05-01T12:00:00.123Z``), or None."""
    if not isinstance(text, str):
        return None
    for pattern in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
    return None


def utc_text(epoch):
    """``2024-05-01 12:00:00.123 UTC`` for the report, or ``-``."""
    if epoch is None:
        return "-"
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return "%s.%03d UTC" % (moment.strftime("%Y-%m-%d %H:%M:%S"), moment.microsecond // 1000)


# --------------------------------------------------------------------------- flow logs


class FlowLog:
    """One endpoint's flow log: its start and end lines and the datagrams it received, by sequence number."""

    def __init__(self):
        self.start = None
        self.end = None
        self.packets = {}
        self.duplicates = 0
        self.reordered = 0
        self.malformed = 0
        self.extra_starts = 0

    @property
    def start_time(self):
        return _number((self.start or {}).get("time"))

    @property
    def end_time(self):
        return _number((self.end or {}).get("time"))

    def ordered_packets(self):
        return [self.packets[seq] for seq in sorted(self.packets)]


def _rx_record(document):
    """A received datagram reduced to ``{seq, sent, received, ttl}``, or None when it is unusable."""
    seq, sent = _count(document.get("seq")), _number(document.get("sent"))
    if seq is None or sent is None:
        return None
    ttl = _count(document.get("ttl"))
    return {"seq": seq, "sent": sent, "received": _number(document.get("received")), "ttl": ttl}


def parse_flow_log(lines):
    """A FlowLog from a flow log's lines. Duplicates keep the first copy; unusable lines are counted."""
    log = FlowLog()
    highest = -1
    for document, _other in _json_lines(lines):
        kind = (document or {}).get("type")
        if kind == "start":
            if log.start is None:
                log.start = document
            else:
                log.extra_starts += 1
        elif kind == "end":
            log.end = document
        elif kind == "rx":
            record = _rx_record(document)
            if record is None:
                log.malformed += 1
            elif record["seq"] in log.packets:
                log.duplicates += 1
            else:
                log.reordered += 1 if record["seq"] < highest else 0
                highest = max(highest, record["seq"])
                log.packets[record["seq"]] = record
        else:
            log.malformed += 1
    return log


def flow_log_problems(log, label):
    """What is wrong with one flow log on its own."""
    problems = []
    if log.start is None:
        problems.append("%s has no start line" % label)
    if log.extra_starts:
        problems.append("%s has %d more start lines (endpoint restarted?): the first is used" % (label, log.extra_starts))
    if log.malformed:
        problems.append("%s: %d unusable lines ignored" % (label, log.malformed))
    return problems


class SendTimes:
    """Estimated send time of any sequence number.

    Received datagrams carry their send time; a lost one is placed between its received
    neighbours, or one interval per sequence number beyond them, or from the sender's first
    send time when nothing arrived.
    """

    def __init__(self, packets, interval, first_sent=None):
        self.seqs = [packet["seq"] for packet in packets]
        self.sent = [packet["sent"] for packet in packets]
        self.interval = interval
        self.first_sent = first_sent

    def at(self, seq):
        index = bisect.bisect_left(self.seqs, seq)
        if index < len(self.seqs) and self.seqs[index] == seq:
            return self.sent[index]
        has_before, has_after = index > 0, index < len(self.seqs)
        if has_before and has_after:
            low, high = index - 1, index
            step = (self.sent[high] - self.sent[low]) / (self.seqs[high] - self.seqs[low])
            return self.sent[low] + (seq - self.seqs[low]) * step
        if self.interval is None:
            return None
        if has_before:
            return self.sent[index - 1] + (seq - self.seqs[index - 1]) * self.interval
        if has_after:
            return self.sent[index] - (self.seqs[index] - seq) * self.interval
        return None if self.first_sent is None else self.first_sent + seq * self.interval


def _interval(sender, packets):
    """The sender's interval from its start line, else the median send-time step of the received datagrams."""
    declared = _number((sender.start or {}).get("interval_s"))
    if declared is not None and declared > 0:
        return declared, None
    steps = [(b["sent"] - a["sent"]) / (b["seq"] - a["seq"]) for a, b in zip(packets, packets[1:])]
    steps = [step for step in steps if step > 0]
    if steps:
        return _median(steps), "the sender's interval is not in its start line: %.4f s estimated from the send times" % _median(steps)
    return None, "the sender's interval is unknown: outage durations cannot be computed"


def _sent_count(sender, packets):
    """How many datagrams the sender sent, from its end line, else at least the highest sequence received + 1."""
    declared = _count((sender.end or {}).get("sent"))
    highest = packets[-1]["seq"] + 1 if packets else 0
    if sender.end is None:
        return highest, "the sender log has no end line (endpoint killed?): sent is taken as the highest sequence received + 1, " \
                        "so a loss at the end cannot be seen"
    if declared is None:
        return highest, "the sender's end line has no usable sent count: sent is taken as the highest sequence received + 1"
    if declared < highest:
        return highest, "the sender's end line says %d sent but sequence %d arrived: sent is taken as %d" % (declared, highest - 1, highest)
    return declared, None


def _one_way_delays(packets):
    return [(packet["received"] - packet["sent"]) * 1000.0 for packet in packets if packet["received"] is not None]


def _counted_range(sent, receiver, packets, times, interval, max_delay_s):
    """``(first, last, notes)``: the sequence numbers the receiver could have received."""
    notes = []
    first, last = 0, sent - 1
    start = receiver.start_time
    if start is not None:
        while first <= last and times.at(first) is not None and times.at(first) < start:
            first += 1
    if receiver.end is None:
        last = packets[-1]["seq"] if packets else -1
        notes.append("the receiver log has no end line (endpoint killed?): datagrams after the last one it logged are not counted, "
                     "so a loss at the end cannot be seen")
    elif receiver.end_time is not None:
        cutoff = receiver.end_time - (interval or 0.0) - max(0.0, max_delay_s or 0.0)
        while last >= first and times.at(last) is not None and times.at(last) > cutoff:
            last -= 1
    if packets:
        # A datagram that arrived was certainly receivable, whatever the clocks say.
        first, last = min(first, packets[0]["seq"]), max(last, packets[-1]["seq"])
    return first, last, notes


def _loss_runs(received, first, last):
    """``[(first_lost, last_lost)]`` of each run of missing sequence numbers in ``first..last``."""
    runs, run_start = [], None
    for seq in range(first, last + 1):
        if seq in received:
            if run_start is not None:
                runs.append((run_start, seq - 1))
                run_start = None
        elif run_start is None:
            run_start = seq
    if run_start is not None:
        runs.append((run_start, last))
    return runs


def _loss_window(run, last, times, interval, origin):
    first_lost, last_lost = run
    lost = last_lost - first_lost + 1
    start = times.at(first_lost)
    duration = None if interval is None else lost * interval
    return {
        "first_seq": first_lost,
        "last_seq": last_lost,
        "lost": lost,
        "start": _ms(start),
        "t_start": _rel(start, origin),
        "duration_s": _ms(duration),
        "t_end": _rel(None if start is None or duration is None else start + duration, origin),
        "recovered": last_lost < last,
    }


def _path_change(packet, previous_ttl, origin):
    return {"seq": packet["seq"], "time": _ms(packet["sent"]), "t": _rel(packet["sent"], origin), "from_ttl": previous_ttl, "to_ttl": packet["ttl"]}


def ttl_paths(packets, origin):
    """The first path's TTL, every TTL change in send order, and the first datagrams on a new path after the fault and back."""
    with_ttl = [packet for packet in packets if packet["ttl"] is not None]
    baseline = with_ttl[0]["ttl"] if with_ttl else None
    changes, previous = [], baseline
    for packet in with_ttl[1:]:
        if packet["ttl"] != previous:
            changes.append(_path_change(packet, previous, origin))
            previous = packet["ttl"]
    first_new = next((change for change in changes if change["to_ttl"] != baseline and (origin is None or change["time"] >= origin)), None)
    first_back = None
    if first_new is not None:
        first_back = next((change for change in changes if change["to_ttl"] == baseline and change["seq"] > first_new["seq"]), None)
    return {
        "baseline_ttl": baseline,
        "values": sorted({packet["ttl"] for packet in with_ttl}),
        "changes": changes,
        "distinguishable": bool(changes),
        "first_on_new_path": first_new,
        "first_back_on_first_path": first_back,
    }


def _ttl_problems(ttl, packets):
    if not packets:
        return []
    if ttl["baseline_ttl"] is None:
        return ["no received datagram has a TTL: the paths cannot be told apart"]
    if not ttl["distinguishable"]:
        return ["the TTL never changed (always %d): the paths are indistinguishable by TTL" % ttl["baseline_ttl"]]
    return []


def _delay_summary(delays):
    if not delays:
        return None
    return {"min": _ms(min(delays)), "median": _ms(_median(delays)), "max": _ms(max(delays))}


def _endpoint_problems(sender, receiver):
    """Whether the two logs are a pair: the sender's peer should be the receiver's address."""
    peer = ((sender.start or {}).get("peer"), (sender.start or {}).get("peer_port"))
    own = ((receiver.start or {}).get("address"), (receiver.start or {}).get("port"))
    if None in peer or None in own or peer == own:
        return []
    return ["the sender log's peer is not the receiver log's address and port: are the two logs of this flow swapped?"]


def analyse_direction(name, sender, receiver, origin=None):
    """Loss, outages and path changes of one direction, from the sender's FlowLog and the receiver's FlowLog.

    ``origin`` is the fault's start (epoch); it places the windows and picks the first
    datagram on a new path after the fault. Returns ``(direction, points)``: the numbers,
    and ``[(send time, ttl)]`` of every datagram received, for the plot.
    """
    packets = receiver.ordered_packets()
    interval, interval_problem = _interval(sender, packets)
    sent, sent_problem = _sent_count(sender, packets)
    first_sent = _number((sender.end or {}).get("first_sent")) or sender.start_time
    times = SendTimes(packets, interval, first_sent)
    delays = _one_way_delays(packets)
    first, last, range_problems = _counted_range(sent, receiver, packets, times, interval, max(delays) / 1000.0 if delays else None)
    received = {packet["seq"] for packet in packets if first <= packet["seq"] <= last}
    windows = [_loss_window(run, last, times, interval, origin) for run in _loss_runs(received, first, last)]
    # Without an interval there is no duration: unknown, not zero.
    durations = None if interval is None else [window["duration_s"] for window in windows]
    counted = max(0, last - first + 1)
    ttl = ttl_paths(packets, origin)
    problems = [problem for problem in (interval_problem, sent_problem) if problem] + range_problems
    problems += _ttl_problems(ttl, packets) + _endpoint_problems(sender, receiver)
    if counted and not received:
        problems.append("nothing was received")
    elif windows and not windows[-1]["recovered"]:
        problems.append("the flow never recovered: %d datagrams lost from t=%s s to the end" % (windows[-1]["lost"], windows[-1]["t_start"]))
    direction = {
        "name": name,
        "interval_s": interval,
        "sent": sent,
        "counted": counted,
        "not_counted": sent - counted,
        "received": len(received),
        "lost": counted - len(received),
        "loss_pct": round(100.0 * (counted - len(received)) / counted, 3) if counted else None,
        "duplicates": receiver.duplicates,
        "reordered": receiver.reordered,
        "loss_windows": windows,
        "longest_outage_s": None if durations is None else _ms(max(durations, default=0.0)),
        "total_outage_s": None if durations is None else _ms(sum(durations)),
        "recovered": bool(received) and (not windows or windows[-1]["recovered"]),
        "ttl": ttl,
        "one_way_delay_ms": _delay_summary(delays),
        "sender_end_line": sender.end is not None,
        "receiver_end_line": receiver.end is not None,
        "ended_by": _text((sender.end or {}).get("ended_by")),
        "problems": ["%s: %s" % (name, problem) for problem in problems],
    }
    points = [(packet["sent"], packet["ttl"]) for packet in packets]
    return direction, points


# --------------------------------------------------------------------------- monitor, VRRP, routes, fault, events


def parse_monitor_log(lines):
    """``(events, problems)``: the monitor's drill-relevant events with their time, in log order."""
    events, unreadable = [], 0
    for document, _other in _json_lines(lines):
        if document is None or document.get("event") not in MONITOR_FIELDS:
            continue  # other text and other events are not part of a drill
        time = parse_utc_timestamp(document.get("ts"))
        if time is None:
            unreadable += 1
            continue
        event = {"time": time, "event": document["event"]}
        for field in MONITOR_FIELDS[document["event"]]:
            value = document.get(field)
            event[field] = value if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None
        events.append(event)
    problems = ["monitor log: %d drill events without a readable ts ignored" % unreadable] if unreadable else []
    return events, problems


def _journal_message(entry):
    """journald writes MESSAGE as text, or as a list of bytes when it is not valid UTF-8."""
    message = entry.get("MESSAGE")
    if isinstance(message, list):
        try:
            return bytes(message).decode("utf-8", errors="replace")
        except (TypeError, ValueError):
            return None
    return message if isinstance(message, str) else None


def _journal_time(entry):
    try:
        return int(entry.get("__REALTIME_TIMESTAMP")) / 1e6
    except (TypeError, ValueError):
        return None


def parse_vrrp_log(lines, host, role):
    """``(changes, problems)``: each VRRP instance state change a router logged, ordered by time."""
    changes, unreadable, problems = [], 0, []
    if role not in ROLES:
        problems.append("VRRP log of %s: role %r is neither dx nor vpn" % (host, role))
    for document, other in _json_lines(lines):
        if document is None:
            unreadable += 1 if other else 0
            continue
        message, time = _journal_message(document), _journal_time(document)
        match = VRRP_MESSAGE.search(message or "")
        if match is None:
            continue  # group notifications and other messages
        if time is None:
            unreadable += 1
            continue
        changes.append({"time": time, "host": host, "role": role, "instance": match.group("instance"),
                        "state": match.group("state"), "priority": int(match.group("priority"))})
    if unreadable:
        problems.append("VRRP log of %s: %d unreadable lines ignored" % (host, unreadable))
    return sorted(changes, key=lambda change: change["time"]), problems


def normalise_route_changes(changes):
    """``(changes, problems)``: lz_route_watch's changes with a usable time and table, ordered by time."""
    usable, problems = [], []
    for index, item in enumerate(changes or []):
        item = item if isinstance(item, dict) else {}
        time, table = _number(item.get("time")), item.get("route_table_id")
        if time is None or not isinstance(table, str) or not isinstance(item.get("to_path"), str):
            problems.append("route change %d has no usable time, route_table_id or to_path: ignored" % index)
            continue
        usable.append({"time": time, "previous_read_time": _number(item.get("previous_read_time")), "route_table_id": table,
                       "from_path": _text(item.get("from_path")), "to_path": item["to_path"]})
    return sorted(usable, key=lambda change: change["time"]), problems


def normalise_fault(fault):
    """``(fault, problems)``: method, started, stopped, detail and duration_s of the fault."""
    fault = fault if isinstance(fault, dict) else {}
    started, stopped = _number(fault.get("started")), _number(fault.get("stopped"))
    problems = []
    if started is None:
        problems.append("the fault's start time is missing: times are relative to the first record instead, and no failover time is measured")
    if stopped is None:
        problems.append("the fault's end (restore) time is missing: no failback time is measured")
    elif started is not None and stopped < started:
        problems.append("the fault ends before it starts: its end time is ignored")
        stopped = None
    method, detail = _text(fault.get("method")), _text(fault.get("detail"))
    duration = None if started is None or stopped is None else _ms(stopped - started)
    return {"method": method, "started": started, "stopped": stopped, "detail": detail, "duration_s": duration}, problems


def normalise_events(events):
    """``(events, problems)``: extra ``{time, source, event}`` records with a usable time."""
    usable, problems = [], []
    for index, item in enumerate(events or []):
        item = item if isinstance(item, dict) else {}
        time = _number(item.get("time"))
        if time is None:
            problems.append("extra event %d has no usable time: ignored" % index)
            continue
        usable.append({"time": time, "source": str(item.get("source") or "event"), "event": str(item.get("event") or "")})
    return usable, problems


# --------------------------------------------------------------------------- milestones


def _first(records, since, test):
    return next((record for record in records if (since is None or record["time"] >= since) and test(record)), None)


def _time(record):
    return None if record is None else record["time"]


def route_table_moves(changes, started):
    """Per route table: the first change to vpn at or after the fault, and the first change back to dx after it."""
    tables = []
    for table_id in sorted({change["route_table_id"] for change in changes}):
        own = [change for change in changes if change["route_table_id"] == table_id]
        to_vpn = _first(own, started, lambda change: change["to_path"] == PATH_VPN)
        back = _first(own, to_vpn["time"], lambda change: change["to_path"] == PATH_DX and change is not to_vpn) if to_vpn else None
        tables.append({"route_table_id": table_id, "to_vpn": to_vpn, "back_on_dx": back})
    return tables


def find_milestones(fault, monitor, vrrp, route_changes):
    """The records that mark each step of the failover and the failback (None where it did not happen)."""
    started = fault["started"]
    detection = _first(monitor, started, lambda event: event["event"] == "transition" and event["to_path"] == PATH_VPN)
    converged = _first(monitor, _time(detection), lambda event: event["event"] == "routes_converged" and event["path"] == PATH_VPN) \
        if detection else None
    monitor_back = _first(monitor, _time(detection), lambda event: event["event"] == "transition" and event["to_path"] == PATH_DX) \
        if detection else None
    tables = route_table_moves(route_changes, started)
    moved = [table for table in tables if table["to_vpn"]]
    route_on_vpn = min((table["to_vpn"] for table in moved), key=_time, default=None)
    routes_back = None
    if moved and all(table["back_on_dx"] for table in moved):
        routes_back = max((table["back_on_dx"] for table in moved), key=_time)
    vrrp_on_vpn = _first(vrrp, started, lambda change: change["role"] == ROLE_VPN and change["state"] == MASTER)
    vrrp_back = _first(vrrp, _time(vrrp_on_vpn), lambda change: change["role"] == ROLE_DX and change["state"] == MASTER) \
        if vrrp_on_vpn else None
    return {
        "detection": detection,
        "routes_converged": converged,
        "route_on_vpn": route_on_vpn,
        "vrrp_on_vpn": vrrp_on_vpn,
        "monitor_back_on_dx": monitor_back,
        "routes_back_on_dx": routes_back,
        "vrrp_back_on_dx": vrrp_back,
    }, tables


def _since(record, origin):
    return None if record is None or origin is None else _ms(record["time"] - origin)


def summary_numbers(fault, milestones, directions):
    """The drill's headline numbers, in seconds."""
    started, stopped = fault["started"], fault["stopped"]
    longest = [direction["longest_outage_s"] for direction in directions if direction["longest_outage_s"] is not None]
    return {
        "detection_s": _since(milestones["detection"], started),
        "routes_converged_s": _since(milestones["routes_converged"], started),
        "route_change_s": _since(milestones["route_on_vpn"], started),
        "vrrp_failover_s": _since(milestones["vrrp_on_vpn"], started),
        "fault_duration_s": fault["duration_s"],
        "monitor_failback_s": _since(milestones["monitor_back_on_dx"], stopped),
        "failback_s": _since(milestones["routes_back_on_dx"], stopped),
        "vrrp_failback_s": _since(milestones["vrrp_back_on_dx"], stopped),
        "longest_outage_s": max(longest) if longest else None,
        "outages": [{"name": direction["name"], "longest_outage_s": direction["longest_outage_s"], "total_outage_s": direction["total_outage_s"],
                     "lost": direction["lost"], "recovered": direction["recovered"]} for direction in directions],
    }


def _milestone_problems(fault, milestones, sources):
    """Steps that should have happened, for each kind of record that was given."""
    problems = []
    if fault["started"] is None:
        return problems
    if sources["monitor"] and milestones["detection"] is None:
        problems.append("the monitor never moved to vpn after the fault started")
    if sources["monitor"] and milestones["detection"] and fault["stopped"] is not None and milestones["monitor_back_on_dx"] is None:
        problems.append("the monitor never moved back to dx")
    if sources["routes"] and milestones["route_on_vpn"] is None:
        problems.append("no route table moved to vpn after the fault started")
    if sources["routes"] and milestones["route_on_vpn"] and fault["stopped"] is not None and milestones["routes_back_on_dx"] is None:
        problems.append("not every route table that moved to vpn came back to dx")
    if sources["vrrp"] and milestones["vrrp_on_vpn"] is None:
        problems.append("the VPN router never became VRRP master after the fault started")
    if sources["vrrp"] and milestones["vrrp_on_vpn"] and fault["stopped"] is not None and milestones["vrrp_back_on_dx"] is None:
        problems.append("the DX router never became VRRP master again")
    return problems


# --------------------------------------------------------------------------- timeline


def _entry(time, origin, source, kind, event, lane=None, state=None, previous=None):
    return {"time": _ms(time), "t": _rel(time, origin), "source": source, "kind": kind, "event": event,
            "lane": lane, "state": state, "previous": previous, "milestone": None}


def _fault_entries(fault, origin):
    entries = []
    method = fault["method"] or "fault"
    if fault["started"] is not None:
        detail = " (%s)" % fault["detail"] if fault["detail"] else ""
        entries.append(_entry(fault["started"], origin, "fault", "fault_start", "fault started: %s%s" % (method, detail), "fault", "fault"))
    if fault["stopped"] is not None:
        entries.append(_entry(fault["stopped"], origin, "fault", "fault_stop", "fault stopped: DX restored", "fault", "restored", "fault"))
    return entries


def _monitor_text(event):
    if event["event"] == "transition":
        return "monitor: %s -> %s (%s)" % (event["from_path"], event["to_path"], event["reason"])
    if event["event"] == "routes_converged":
        return "monitor: route tables converged on %s, %s ms after the decision" % (event["path"], event["since_decision_ms"])
    if event["event"] == "route_action":
        failed = " (%s)" % event["code"] if event["code"] else ""
        return "monitor: %s route in %s: %s%s, %s ms" % (event["action"], event["route_table_id"], event["outcome"], failed, event["latency_ms"])
    if event["event"] == "alert":
        return "monitor: alert %s (path %s)" % (event["alert"], event["path"])
    return "monitor: EC2 API error %s on %s (%s in a row)" % (event["code"], event["operation"], event["consecutive_failures"])


def _monitor_entries(monitor, origin):
    entries = []
    for event in monitor:
        transition = event["event"] == "transition"
        entries.append(_entry(event["time"], origin, "monitor", "monitor_" + event["event"], _monitor_text(event),
                              "monitor path" if transition else None, event["to_path"] if transition else None,
                              event["from_path"] if transition else None))
    return entries


def _route_entries(changes, origin):
    entries = []
    for change in changes:
        window = ""
        if change["previous_read_time"] is not None:
            window = ", changed within %.3f s before" % (change["time"] - change["previous_read_time"])
        text = "route table %s: %s -> %s (seen%s)" % (change["route_table_id"], change["from_path"] or "?", change["to_path"], window)
        entries.append(_entry(change["time"], origin, "route", "route_change", text, "route " + change["route_table_id"],
                              change["to_path"], change["from_path"]))
    return entries


def vrrp_lane(change):
    return "VRRP %s (%s)" % (change["host"], change["role"])


def _vrrp_entries(vrrp, origin):
    previous, entries = {}, []
    for change in vrrp:
        text = "VRRP %s (%s router): %s, priority %d" % (change["host"], change["role"], change["state"], change["priority"])
        lane = vrrp_lane(change)
        entries.append(_entry(change["time"], origin, "vrrp", "vrrp_state", text, lane, change["state"], previous.get(lane)))
        previous[lane] = change["state"]
    return entries


def _flow_entries(direction, origin):
    name, entries = direction["name"], []
    longest = sorted((w for w in direction["loss_windows"] if w["start"] is not None), key=lambda w: (-w["lost"], w["first_seq"]))
    for window in longest[:TIMELINE_WINDOWS_PER_DIRECTION]:
        ending = "recovered" if window["recovered"] else "not recovered"
        text = "flow %s: %d datagrams lost (%s), %s" % (name, window["lost"], _seconds(window["duration_s"]), ending)
        entries.append(_entry(window["start"], origin, "flow", "loss_window", text))
    ttl = direction["ttl"]
    first_new, first_back = ttl["first_on_new_path"], ttl["first_back_on_first_path"]
    if first_new:
        text = "flow %s: first datagram on another path (TTL %s -> %s)" % (name, first_new["from_ttl"], first_new["to_ttl"])
        entries.append(_entry(first_new["time"], origin, "flow", "path_new", text))
    if first_back:
        text = "flow %s: first datagram back on the first path (TTL %s)" % (name, first_back["to_ttl"])
        entries.append(_entry(first_back["time"], origin, "flow", "path_back", text))
    return entries


def _extra_entries(events, origin):
    return [_entry(event["time"], origin, event["source"], "extra", "%s: %s" % (event["source"], event["event"])) for event in events]


MILESTONE_KINDS = {
    "detection": "monitor_transition",
    "routes_converged": "monitor_routes_converged",
    "route_on_vpn": "route_change",
    "vrrp_on_vpn": "vrrp_state",
    "monitor_back_on_dx": "monitor_transition",
    "routes_back_on_dx": "route_change",
    "vrrp_back_on_dx": "vrrp_state",
}


def _record_lane(record):
    """The timeline lane of a milestone's record: its router, its route table, or the monitor's path."""
    if "host" in record:
        return vrrp_lane(record)
    if "event" in record:
        return "monitor path" if record["event"] == "transition" else None
    return "route " + record["route_table_id"]


def _mark_milestones(entries, milestones):
    """Flag the timeline row of each milestone: same kind, same time, same lane."""
    for name, record in milestones.items():
        if record is None:
            continue
        lane = _record_lane(record)
        for entry in entries:
            if entry["kind"] == MILESTONE_KINDS[name] and entry["time"] == _ms(record["time"]) and entry["lane"] == lane and entry["milestone"] is None:
                entry["milestone"] = name
                break


def build_timeline(fault, origin, monitor, route_changes, vrrp, directions, events, milestones, window_start):
    """Every event in time order (ties keep source order); records before ``window_start`` are left out."""
    entries = _fault_entries(fault, origin) + _monitor_entries(monitor, origin) + _route_entries(route_changes, origin)
    entries += _vrrp_entries(vrrp, origin)
    for direction in directions:
        entries += _flow_entries(direction, origin)
    entries += _extra_entries(events, origin)
    _mark_milestones(entries, milestones)
    early = [entry for entry in entries if window_start is not None and entry["time"] < window_start]
    kept = [entry for entry in entries if window_start is None or entry["time"] >= window_start]
    kept.sort(key=lambda entry: entry["time"])
    return kept, len(early)


# --------------------------------------------------------------------------- the drill


class Drill:
    """An analysed drill: ``report`` (JSON-ready, every number) and the per-datagram points the plot draws."""

    def __init__(self, report, points):
        self.report = report
        self.points = points


def _origin(fault, flows):
    """The fault's start, else the earliest flow record."""
    if fault["started"] is not None:
        return fault["started"]
    starts = [time for flow in flows for time in (flow["sender"].start_time, flow["receiver"].start_time) if time is not None]
    return min(starts) if starts else None


def _window_start(fault, flows):
    starts = [flow["sender"].start_time for flow in flows if flow["sender"].start_time is not None]
    if fault["started"] is not None:
        starts.append(fault["started"])
    return min(starts) - LEAD_S if starts else None


def judge(directions, milestones, sources, max_outage_s):
    """``(passed, failed_checks)``: passed when traffic moved and came back, every flow recovered and (with a limit) every outage fits."""
    failed = []
    for direction in directions:
        if not direction["received"]:
            failed.append("%s: nothing was received" % direction["name"])
        elif not direction["recovered"]:
            failed.append("%s: the flow never recovered" % direction["name"])
        failed += _outage_failures(direction, max_outage_s)
    if not directions:
        failed.append("no flow was analysed")
    failed += _movement_failures(milestones, directions, sources)
    return not failed, failed


def _outage_failures(direction, max_outage_s):
    longest = direction["longest_outage_s"]
    if max_outage_s is None:
        return []
    if longest is None:
        return ["%s: the outage cannot be measured (the sender's interval is unknown)" % direction["name"]]
    if longest > max_outage_s:
        return ["%s: longest outage %.3f s exceeds %.3f s" % (direction["name"], longest, max_outage_s)]
    return []


def _movement_failures(milestones, directions, sources):
    """Each given kind of record must show the move to the VPN and the return to DX."""
    failed, evidence = [], 0
    checks = (("monitor", "detection", "monitor_back_on_dx", "the monitor"), ("routes", "route_on_vpn", "routes_back_on_dx", "the route tables"),
              ("vrrp", "vrrp_on_vpn", "vrrp_back_on_dx", "VRRP"))
    for source, there, back, label in checks:
        if not sources[source]:
            continue
        evidence += 1
        if milestones[there] is None:
            failed.append("%s never moved to the VPN" % label)
        elif milestones[back] is None:
            failed.append("%s never came back to DX" % label)
    for direction in directions:
        ttl = direction["ttl"]
        if ttl["distinguishable"]:
            evidence += 1
            if ttl["first_on_new_path"] is None:
                failed.append("%s: no datagram took another path after the fault" % direction["name"])
            elif ttl["first_back_on_first_path"] is None:
                failed.append("%s: the datagrams never came back to the first path" % direction["name"])
    if not evidence:
        failed.append("no record shows the traffic moving (no monitor log, route changes or VRRP logs, and TTLs indistinguishable)")
    return failed


def analyse_drill(fault, flows, monitor_lines=None, vrrp_logs=None, route_changes=None, events=None, max_outage_s=None,
                  title=DEFAULT_TITLE, environment=None, settings=None, input_problems=()):
    """Analyse a drill; returns a Drill.

    ``flows``: ``[{"name", "sender_lines", "receiver_lines"}]``; ``monitor_lines``: the
    monitor's log lines or None when not given; ``vrrp_logs``: ``[{"host", "role", "lines"}]``;
    ``route_changes``: lz_route_watch's ``changes`` or None; ``events``: extra
    ``{time, source, event}``; ``input_problems``: what went wrong reading the inputs.
    """
    problems = list(input_problems)
    fault, fault_problems = normalise_fault(fault)
    problems += fault_problems
    parsed = _parse_flows(flows or [], problems)
    origin = _origin(fault, parsed)
    if origin is None:
        problems.append("no time to measure from: neither the fault's start nor any flow start is known")
    directions, points = [], {}
    for flow in parsed:
        direction, flow_points = analyse_direction(flow["name"], flow["sender"], flow["receiver"], origin)
        problems += direction.pop("problems")
        directions.append(direction)
        points[flow["name"]] = [(_rel(sent, origin), ttl) for sent, ttl in flow_points]
    if not parsed:
        problems.append("no flows were given: no outage is measured")
    monitor, monitor_problems = parse_monitor_log(monitor_lines or [])
    vrrp = []
    for log in vrrp_logs or []:
        changes, vrrp_problems = parse_vrrp_log(log.get("lines") or [], log.get("host"), log.get("role"))
        vrrp += changes
        problems += vrrp_problems
    vrrp.sort(key=lambda change: change["time"])
    changes, change_problems = normalise_route_changes(route_changes)
    extra, event_problems = normalise_events(events)
    problems += monitor_problems + change_problems + event_problems
    sources = {"monitor": monitor_lines is not None, "routes": route_changes is not None, "vrrp": bool(vrrp_logs)}
    milestones, tables = find_milestones(fault, monitor, vrrp, changes)
    problems += _milestone_problems(fault, milestones, sources)
    timeline, early = build_timeline(fault, origin, monitor, changes, vrrp, directions, extra, milestones, _window_start(fault, parsed))
    summary = summary_numbers(fault, milestones, directions)
    passed, failed_checks = judge(directions, milestones, sources, max_outage_s)
    notes = list(NOTES)
    if early:
        notes.append("%d records from more than %d s before the drill started were left out of the timeline." % (early, LEAD_S))
    report = {
        "format": FORMAT_VERSION,
        "title": title or DEFAULT_TITLE,
        "environment": environment,
        "settings": settings or {},
        "fault": {key: (_ms(value) if key in ("started", "stopped") else value) for key, value in fault.items()},
        "origin": _ms(origin),
        "summary": summary,
        "route_tables": [_table_summary(table, fault) for table in tables],
        "directions": directions,
        "timeline": timeline,
        "sources": sources,
        "max_outage_s": max_outage_s,
        "passed": passed,
        "failed_checks": failed_checks,
        "problems": problems,
        "notes": notes,
    }
    return Drill(report, points)


def _parse_flows(flows, problems):
    parsed = []
    for index, flow in enumerate(flows):
        name = flow.get("name") or "flow %d" % (index + 1)
        sender, receiver = parse_flow_log(flow.get("sender_lines") or []), parse_flow_log(flow.get("receiver_lines") or [])
        problems += flow_log_problems(sender, "%s: the sender log" % name) + flow_log_problems(receiver, "%s: the receiver log" % name)
        parsed.append({"name": name, "sender": sender, "receiver": receiver})
    return parsed


def _table_summary(table, fault):
    def when(change, origin):
        if change is None:
            return None
        resolution = None if change["previous_read_time"] is None else _ms(change["time"] - change["previous_read_time"])
        return {"time": _ms(change["time"]), "since_s": _since(change, origin), "resolution_s": resolution}
    return {"route_table_id": table["route_table_id"], "to_vpn": when(table["to_vpn"], fault["started"]),
            "back_on_dx": when(table["back_on_dx"], fault["stopped"])}


def read_drill_inputs(flows, monitor_log=None, vrrp_logs=None):
    """Read the files a drill left: ``(flows, monitor_lines, vrrp_logs, problems)`` in the shapes analyse_drill takes.

    ``flows``: ``[{"name", "sender_log", "receiver_log"}]``; ``vrrp_logs``: ``[{"host", "role", "path"}]``.
    A file that cannot be read becomes a problem and counts as empty.
    """
    problems, read_flows, read_vrrp, cache = [], [], [], {}

    def lines_of(path):
        if path not in cache:
            cache[path] = read_lines(path)
            if cache[path][1]:
                problems.append(cache[path][1])
        return cache[path][0]

    for flow in flows or []:
        read_flows.append({"name": flow.get("name"), "sender_lines": lines_of(flow.get("sender_log")),
                           "receiver_lines": lines_of(flow.get("receiver_log"))})
    monitor_lines = None if monitor_log is None else lines_of(monitor_log)
    for log in vrrp_logs or []:
        read_vrrp.append({"host": log.get("host"), "role": log.get("role"), "lines": lines_of(log.get("path"))})
    return read_flows, monitor_lines, read_vrrp, problems


# --------------------------------------------------------------------------- Markdown


def _cell(value):
    """A Markdown table cell: pipes escaped, newlines flattened, structures as compact JSON."""
    if value is None:
        return "-"
    if isinstance(value, (dict, list, tuple)):
        value = json.dumps(value, sort_keys=True, separators=(", ", ": "))
    return str(value).replace("|", "\\|").replace("\n", " ")


def _seconds(value):
    return "-" if value is None else "%.3f s" % value


def _verdict(report):
    criteria = "traffic moved and came back, every flow recovered"
    if report["max_outage_s"] is not None:
        criteria += ", longest outage <= %.3f s" % report["max_outage_s"]
    return ("**PASSED** (%s)" if report["passed"] else "**FAILED** (%s)") % criteria


def _markdown_header(report):
    fault = report["fault"]
    lines = ["# %s" % report["title"], "",
             "* Environment: %s" % (report["environment"] or "not given"),
             "* Fault: %s%s" % (fault["method"] or "not given", " - %s" % fault["detail"] if fault["detail"] else ""),
             "* Fault started: %s; stopped: %s (%s)" % (utc_text(fault["started"]), utc_text(fault["stopped"]), _seconds(fault["duration_s"])),
             "* Result: %s" % _verdict(report)]
    lines += ["  * %s" % check for check in report["failed_checks"]]
    return lines + [""]


def _markdown_settings(report):
    lines = ["## Settings", ""]
    if not report["settings"]:
        return lines + ["None given.", ""]
    lines += ["| Setting | Value |", "| --- | --- |"]
    lines += ["| %s | %s |" % (_cell(key), _cell(value)) for key, value in sorted(report["settings"].items(), key=lambda item: str(item[0]))]
    return lines + [""]


SUMMARY_ROWS = (
    ("detection_s", "Detection", "fault start -> the monitor decides to move to the VPN"),
    ("routes_converged_s", "Routes converged", "fault start -> the monitor sees its route tables on the VPN"),
    ("route_change_s", "Route change", "fault start -> the first route table seen on the VPN"),
    ("vrrp_failover_s", "VRRP failover", "fault start -> the VPN router is VRRP master"),
    ("fault_duration_s", "Fault duration", "fault start -> restore"),
    ("monitor_failback_s", "Monitor failback", "restore -> the monitor decides to move back to DX"),
    ("failback_s", "Failback", "restore -> every route table that moved is back on DX"),
    ("vrrp_failback_s", "VRRP failback", "restore -> the DX router is VRRP master again"),
)


def _markdown_summary(report):
    summary = report["summary"]
    lines = ["## Summary", "", "| Measure | Value | Definition |", "| --- | --- | --- |"]
    lines += ["| %s | %s | %s |" % (label, _seconds(summary[key]), meaning) for key, label, meaning in SUMMARY_ROWS]
    for outage in summary["outages"]:
        lines.append("| Outage %s | longest %s, total %s | loss windows of the direction; %s datagrams lost%s |" % (
            _cell(outage["name"]), _seconds(outage["longest_outage_s"]), _seconds(outage["total_outage_s"]), outage["lost"],
            "" if outage["recovered"] else ", never recovered"))
    return lines + [""]


def _markdown_timeline(report, plot_file):
    lines = ["## Timeline", ""]
    if plot_file:
        lines += ["![Timeline of the drill](%s)" % plot_file, ""]
    lines += ["| t (s) | Source | Event |", "| ---: | --- | --- |"]
    for entry in report["timeline"]:
        text = "**%s**" % _cell(entry["event"]) if entry["milestone"] else _cell(entry["event"])
        lines.append("| %s | %s | %s |" % ("-" if entry["t"] is None else "%.3f" % entry["t"], _cell(entry["source"]), text))
    return lines + [""]


def _markdown_direction(direction):
    delay = direction["one_way_delay_ms"]
    ttl = direction["ttl"]
    lines = ["### %s" % _cell(direction["name"]), "",
             "| Sent | Counted | Received | Lost | Loss | Duplicates | Reordered | Longest outage | Total outage | Recovered |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
             "| %d | %d | %d | %d | %s | %d | %d | %s | %s | %s |" % (
                 direction["sent"], direction["counted"], direction["received"], direction["lost"],
                 "-" if direction["loss_pct"] is None else "%.3f%%" % direction["loss_pct"], direction["duplicates"], direction["reordered"],
                 _seconds(direction["longest_outage_s"]), _seconds(direction["total_outage_s"]), "yes" if direction["recovered"] else "no"),
             "",
             "Interval %s; one-way delay (information only, two clocks): %s." % (
                 _seconds(direction["interval_s"]),
                 "-" if delay is None else "min %.3f ms, median %.3f ms, max %.3f ms" % (delay["min"], delay["median"], delay["max"])),
             ""]
    lines += _markdown_ttl(ttl) + _markdown_windows(direction)
    return lines


def _markdown_ttl(ttl):
    if ttl["baseline_ttl"] is None:
        return ["Paths: no TTL was recorded, so the paths cannot be told apart.", ""]
    if not ttl["distinguishable"]:
        return ["Paths: the TTL stayed %d: the paths are indistinguishable by TTL." % ttl["baseline_ttl"], ""]
    changes = ", ".join("t=%s s TTL %s -> %s (seq %d)" % (change["t"], change["from_ttl"], change["to_ttl"], change["seq"]) for change in ttl["changes"])
    return ["Paths: first TTL %d; changes: %s." % (ttl["baseline_ttl"], changes), ""]


def _markdown_windows(direction):
    windows = direction["loss_windows"]
    if not windows:
        return ["No datagram was lost.", ""]
    shown = sorted(sorted(windows, key=lambda w: (-w["lost"], w["first_seq"]))[:MARKDOWN_LOSS_WINDOWS], key=lambda w: w["first_seq"])
    lines = ["| Start t (s) | Duration | Lost | Sequence numbers | Recovered |", "| ---: | ---: | ---: | --- | --- |"]
    for window in shown:
        start = "-" if window["t_start"] is None else "%.3f" % window["t_start"]
        seqs = "%d-%d" % (window["first_seq"], window["last_seq"])
        lines.append("| %s | %s | %d | %s | %s |" % (start, _seconds(window["duration_s"]), window["lost"], seqs, "yes" if window["recovered"] else "no"))
    if len(windows) > len(shown):
        lines.append("")
        lines.append("The %d longest of %d loss windows; every one is in %s." % (len(shown), len(windows), JSON_FILE))
    return lines + [""]


def _markdown_route_tables(report):
    if not report["route_tables"]:
        return []
    lines = ["## Route tables", "", "| Route table | On VPN after fault | Back on DX after restore | Read resolution |", "| --- | ---: | ---: | --- |"]
    for table in report["route_tables"]:
        to_vpn, back = table["to_vpn"] or {}, table["back_on_dx"] or {}
        resolution = "%s / %s" % (_seconds(to_vpn.get("resolution_s")), _seconds(back.get("resolution_s")))
        lines.append("| %s | %s | %s | %s |" % (_cell(table["route_table_id"]), _seconds(to_vpn.get("since_s")), _seconds(back.get("since_s")), resolution))
    return lines + [""]


def render_markdown(report, plot_file=PLOT_FILE):
    """The report as Markdown; ``plot_file`` (relative to the report) is embedded when given."""
    lines = _markdown_header(report) + _markdown_settings(report) + _markdown_summary(report) + _markdown_timeline(report, plot_file)
    lines += _markdown_route_tables(report)
    lines += ["## Flows", ""]
    for direction in report["directions"]:
        lines += _markdown_direction(direction)
    if not report["directions"]:
        lines += ["No flow was analysed.", ""]
    lines += ["## Problems", ""] + (["* %s" % problem for problem in report["problems"]] or ["None."]) + [""]
    lines += ["## Method", ""] + ["* %s" % note for note in report["notes"]] + [""]
    return "\n".join(lines)


def render_json(report):
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


# --------------------------------------------------------------------------- plot

STATE_COLOURS = {PATH_DX: "#1f77b4", PATH_VPN: "#ff7f0e", PATH_MIXED: "#8c564b", MASTER: "#2ca02c", "BACKUP": "#bdbdbd",
                 "FAULT": "#d62728", "fault": "#d62728", "restored": "#ffffff"}
TTL_COLOURS = ("#1f77b4", "#ff7f0e", "#9467bd", "#17becf", "#e377c2")
# Milestone lines: (milestone, label, summary number, colour, line style); failover dashed, failback dotted.
MARKERS = (("detection", "detection: monitor -> vpn", "detection_s", "#d62728", "--"),
           ("route_on_vpn", "first route table on vpn", "route_change_s", "#ff7f0e", "--"),
           ("vrrp_on_vpn", "VPN router VRRP master", "vrrp_failover_s", "#2ca02c", "--"),
           ("monitor_back_on_dx", "monitor -> dx", "monitor_failback_s", "#d62728", ":"),
           ("routes_back_on_dx", "failback: route tables on dx", "failback_s", "#1f77b4", ":"),
           ("vrrp_back_on_dx", "DX router VRRP master", "vrrp_failback_s", "#2ca02c", ":"))


def state_lanes(report, x_end):
    """``[(lane, [(t0, t1, state)])]`` of the step lanes: fault, monitor path, each route table, each VRRP router."""
    lanes, order = {}, []
    for entry in report["timeline"]:
        if entry["lane"] is None or entry["t"] is None or entry["lane"] == "fault":
            continue
        if entry["lane"] not in lanes:
            order.append(entry["lane"])
            lanes[entry["lane"]] = []
        lanes[entry["lane"]].append(entry)
    result = []
    fault = report["fault"]
    if fault["started"] is not None and report["origin"] is not None:
        stop = x_end if fault["stopped"] is None else fault["stopped"] - report["origin"]
        result.append(("fault", [(fault["started"] - report["origin"], stop, "fault")]))
    for lane in sorted(order, key=_lane_order):
        segments, entries = [], lanes[lane]
        if entries[0]["previous"] is not None:
            segments.append((None, entries[0]["t"], entries[0]["previous"]))
        for entry, following in zip(entries, entries[1:] + [None]):
            segments.append((entry["t"], x_end if following is None else following["t"], entry["state"]))
        result.append((lane, segments))
    return result


def _lane_order(lane):
    return (0 if lane.startswith("monitor") else 1 if lane.startswith("route") else 2, lane)


def _plot_range(report, points):
    times = [entry["t"] for entry in report["timeline"] if entry["t"] is not None]
    times += [t for flow in points.values() for t, _ttl in flow if t is not None]
    if not times:
        return -5.0, 5.0
    low, high = min(times), max(times)
    margin = max(1.0, (high - low) * 0.02)
    return low - margin, high + margin


def _draw_state_lane(axes, y, segments, x_start):
    for start, end, state in segments:
        start = x_start if start is None else start
        colour = STATE_COLOURS.get(state, "#9467bd")
        axes.broken_barh([(start, max(end - start, 1e-3))], (y - 0.3, 0.6), facecolors=colour, edgecolors="#555555", linewidth=0.5)
        if end - start > 0:
            axes.text(start + 0.002 * (end - start), y, " %s" % state, va="center", ha="left", fontsize=9, clip_on=True)


def _draw_flow_lane(axes, y, direction, points):
    """Received datagrams as dots at their send time, one row per TTL (first path below), loss windows shaded."""
    for window in direction["loss_windows"]:
        if window["t_start"] is not None and window["t_end"] is not None:
            axes.broken_barh([(window["t_start"], window["t_end"] - window["t_start"])], (y - 0.4, 0.8), facecolors="#d62728", alpha=0.35)
    baseline = direction["ttl"]["baseline_ttl"]
    ttls = sorted({ttl for _t, ttl in points}, key=lambda ttl: (ttl != baseline, ttl is None, ttl or 0))
    for index, ttl in enumerate(ttls):
        xs = [t for t, value in points if value == ttl and t is not None]
        offset = -0.15 if ttl == baseline else 0.15
        label = "TTL %s%s" % ("unknown" if ttl is None else ttl, " (first path)" if ttl == baseline and ttl is not None else "")
        axes.plot(xs, [y + offset] * len(xs), linestyle="none", marker="o", markersize=2, color=TTL_COLOURS[index % len(TTL_COLOURS)],
                  label="%s: %s" % (direction["name"], label))


def render_plot(drill, handle):
    """Draw the timeline plot (PNG, 1600x900) into ``handle``, a binary file object. Needs matplotlib."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=import-outside-toplevel
    from matplotlib.figure import Figure  # pylint: disable=import-outside-toplevel

    report = drill.report
    x_start, x_end = _plot_range(report, drill.points)
    lanes = state_lanes(report, x_end)
    flows = [direction for direction in report["directions"] if direction["name"] in drill.points]
    figure = Figure(figsize=(16, 9), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.17, 0.2, 0.8, 0.72))
    labels = [lane for lane, _segments in lanes] + ["flow %s" % direction["name"] for direction in flows]
    count = len(labels)
    for index, (lane, segments) in enumerate(lanes):
        _draw_state_lane(axes, count - index, segments, x_start)
    for index, direction in enumerate(flows):
        _draw_flow_lane(axes, count - len(lanes) - index, direction, drill.points[direction["name"]])
    _draw_fault_span(axes, report, x_end)
    _draw_markers(axes, report)
    axes.set_yticks(range(count, 0, -1))
    axes.set_yticklabels(labels, fontsize=10)
    axes.set_ylim(0.4, count + 0.6)
    axes.set_xlim(x_start, x_end)
    axes.set_xlabel("seconds since the fault started", fontsize=11)
    axes.grid(axis="x", color="#dddddd", linewidth=0.6)
    axes.set_title(_plot_title(report), fontsize=13)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="upper center", bbox_to_anchor=(0.45, -0.07), ncol=3, fontsize=9, frameon=False, markerscale=3)
    figure.savefig(handle, format="png", dpi=100)


def _draw_fault_span(axes, report, x_end):
    fault = report["fault"]
    if fault["started"] is None or report["origin"] is None:
        return
    stop = x_end if fault["stopped"] is None else fault["stopped"] - report["origin"]
    axes.axvspan(fault["started"] - report["origin"], stop, color="#d62728", alpha=0.07, zorder=0)


def _draw_markers(axes, report):
    """A vertical line per milestone; the legend gives its time since the fault (failover) or the restore (failback)."""
    by_name = {entry["milestone"]: entry for entry in report["timeline"] if entry["milestone"]}
    for name, label, number, colour, style in MARKERS:
        entry = by_name.get(name)
        if entry is None or entry["t"] is None:
            continue
        since = "fault" if style == "--" else "restore"
        axes.axvline(entry["t"], color=colour, linestyle=style, linewidth=1.2, label="%s: %s after %s" % (label, _seconds(report["summary"][number]), since))


def _plot_title(report):
    summary = report["summary"]
    parts = ["%s - %s" % (report["title"], report["environment"] or "environment not given")]
    parts.append("detection %s, route change %s, failback %s, longest outage %s" % (
        _seconds(summary["detection_s"]), _seconds(summary["route_change_s"]), _seconds(summary["failback_s"]), _seconds(summary["longest_outage_s"])))
    return "\n".join(parts)


def output_paths(dest, plot=True):
    """The files a report writes into ``dest``."""
    return {"report": os.path.join(dest, REPORT_FILE), "plot": os.path.join(dest, PLOT_FILE) if plot else None, "json": os.path.join(dest, JSON_FILE)}
