# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A drill's timeline: every record as a row, in time order, with the milestones flagged."""

from __future__ import annotations

from ..events import ALERT, FROM_PATH, REASON, ROUTE_ACTION, ROUTES_CONVERGED, TO_PATH, TRANSITION
from .values import _ms, _rel, _seconds

# Loss windows per direction that get a timeline row (the longest); all are in the directions.
TIMELINE_WINDOWS_PER_DIRECTION = 10

MILESTONE_KINDS = {
    "detection": "monitor_transition",
    "routes_converged": "monitor_routes_converged",
    "route_on_vpn": "route_change",
    "vrrp_on_vpn": "vrrp_state",
    "monitor_back_on_dx": "monitor_transition",
    "routes_back_on_dx": "route_change",
    "vrrp_back_on_dx": "vrrp_state",
}


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
    if event["event"] == TRANSITION:
        return "monitor: %s -> %s (%s)" % (event[FROM_PATH], event[TO_PATH], event[REASON])
    if event["event"] == ROUTES_CONVERGED:
        return "monitor: route tables converged on %s, %s ms after the decision" % (event["path"], event["since_decision_ms"])
    if event["event"] == ROUTE_ACTION:
        failed = " (%s)" % event["code"] if event["code"] else ""
        return "monitor: %s route in %s: %s%s, %s ms" % (event["action"], event["route_table_id"], event["outcome"], failed, event["latency_ms"])
    if event["event"] == ALERT:
        return "monitor: alert %s (path %s)" % (event["alert"], event["path"])
    return "monitor: EC2 API error %s on %s (%s in a row)" % (event["code"], event["operation"], event["consecutive_failures"])


def _monitor_entries(monitor, origin):
    entries = []
    for event in monitor:
        transition = event["event"] == TRANSITION
        entries.append(_entry(event["time"], origin, "monitor", "monitor_" + event["event"], _monitor_text(event),
                              "monitor path" if transition else None, event[TO_PATH] if transition else None,
                              event[FROM_PATH] if transition else None))
    return entries


def _route_entries(changes, origin):
    entries = []
    for change in changes:
        window = ""
        if change["previous_read_time"] is not None:
            window = ", changed within %.3f s before" % (change["time"] - change["previous_read_time"])
        text = "route table %s: %s -> %s (seen%s)" % (change["route_table_id"], change[FROM_PATH] or "?", change[TO_PATH], window)
        entries.append(_entry(change["time"], origin, "route", "route_change", text, "route " + change["route_table_id"],
                              change[TO_PATH], change[FROM_PATH]))
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


def _record_lane(record):
    """The timeline lane of a milestone's record: its router, its route table, or the monitor's path."""
    if "host" in record:
        return vrrp_lane(record)
    if "event" in record:
        return "monitor path" if record["event"] == TRANSITION else None
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
