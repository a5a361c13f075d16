# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a drill's records: flow logs, the monitor's journal, VRRP logs, route changes, the fault.

* **flow logs** (JSON lines per endpoint: ``start``, ``rx`` per datagram received, ``end``);
* the **monitor's log** (``journalctl -u lz-failover-monitor -o cat``): the events and fields
  named in ``events.DRILL_FIELDS``, the names the daemon logs with;
* each on-premises router's **VRRP log** (``journalctl -t lz-fhrp -o json``);
* the **route changes** seen by lz_route_watch;
* the **fault** (method, start, stop) and optional extra events.

Nothing here raises on messy records: every oddity becomes a problem string.
"""

from __future__ import annotations

import json
import re

from ..events import DRILL_FIELDS, FROM_PATH, TO_PATH
from .values import _count, _ms, _number, _text, parse_utc_timestamp

ROLE_DX = "dx"
ROLE_VPN = "vpn"
ROLES = (ROLE_DX, ROLE_VPN)
MASTER = "MASTER"
VRRP_MESSAGE = re.compile(r"VRRP instance (?P<instance>\S+) is now (?P<state>[A-Z]+) \(priority (?P<priority>-?\d+)\)")


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


def parse_monitor_log(lines):
    """``(events, problems)``: the monitor's drill-relevant events with their time, in log order."""
    events, unreadable = [], 0
    for document, _other in _json_lines(lines):
        if document is None or document.get("event") not in DRILL_FIELDS:
            continue  # other text and other events are not part of a drill
        time = parse_utc_timestamp(document.get("ts"))
        if time is None:
            unreadable += 1
            continue
        event = {"time": time, "event": document["event"]}
        for field in DRILL_FIELDS[document["event"]]:
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
        if time is None or not isinstance(table, str) or not isinstance(item.get(TO_PATH), str):
            problems.append("route change %d has no usable time, route_table_id or to_path: ignored" % index)
            continue
        usable.append({"time": time, "previous_read_time": _number(item.get("previous_read_time")), "route_table_id": table,
                       FROM_PATH: _text(item.get(FROM_PATH)), TO_PATH: item[TO_PATH]})
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
