# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A whole drill: milestones and their timings, the judgement, and the report they make.

Times in the report are seconds relative to the fault's start. ``analyse_drill`` is the
entry point; it takes what parse.py reads and returns a Drill.
"""

from __future__ import annotations

from ..events import ROUTES_CONVERGED, TO_PATH, TRANSITION
from ..routes import PATH_DX, PATH_VPN
from .outages import analyse_direction
from .parse import (
    MASTER,
    ROLE_DX,
    ROLE_VPN,
    flow_log_problems,
    normalise_events,
    normalise_fault,
    normalise_route_changes,
    parse_flow_log,
    parse_monitor_log,
    parse_vrrp_log,
)
from .timeline import build_timeline
from .values import _ms, _rel

DEFAULT_TITLE = "Failover drill"
FORMAT_VERSION = 1
# Records this long before the fault or the first flow start belong to earlier activity.
LEAD_S = 10.0

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


class Drill:
    """An analysed drill: ``report`` (JSON-ready, every number) and the per-datagram points the plot draws."""

    def __init__(self, report, points):
        self.report = report
        self.points = points


def analyse_drill(fault, flows, monitor_lines=None, vrrp_logs=None, route_changes=None, events=None, max_outage_s=None,
                  title=DEFAULT_TITLE, environment=None, settings=None, input_problems=(), max_failback_asymmetry_s=None):
    """Analyse a drill; returns a Drill.

    ``flows``: ``[{"name", "sender_lines", "receiver_lines"}]``; ``monitor_lines``: the
    monitor's log lines or None when not given; ``vrrp_logs``: ``[{"host", "role", "lines"}]``;
    ``route_changes``: lz_route_watch's ``changes`` or None; ``events``: extra
    ``{time, source, event}``; ``input_problems``: what went wrong reading the inputs;
    ``max_outage_s`` and ``max_failback_asymmetry_s``: optional pass/fail limits.
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
    _passed, failed_checks = judge(directions, milestones, sources, max_outage_s)
    failed_checks += asymmetry_failures(summary["failback_asymmetry_s"], max_failback_asymmetry_s)
    passed = not failed_checks
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
        "max_failback_asymmetry_s": max_failback_asymmetry_s,
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


def _first(records, since, test):
    return next((record for record in records if (since is None or record["time"] >= since) and test(record)), None)


def _time(record):
    return None if record is None else record["time"]


def route_table_moves(changes, started):
    """Per route table: the first change to vpn at or after the fault, and the first change back to dx after it."""
    tables = []
    for table_id in sorted({change["route_table_id"] for change in changes}):
        own = [change for change in changes if change["route_table_id"] == table_id]
        to_vpn = _first(own, started, lambda change: change[TO_PATH] == PATH_VPN)
        back = _first(own, to_vpn["time"], lambda change: change[TO_PATH] == PATH_DX and change is not to_vpn) if to_vpn else None
        tables.append({"route_table_id": table_id, "to_vpn": to_vpn, "back_on_dx": back})
    return tables


def find_milestones(fault, monitor, vrrp, route_changes):
    """The records that mark each step of the failover and the failback (None where it did not happen)."""
    started = fault["started"]
    detection = _first(monitor, started, lambda event: event["event"] == TRANSITION and event[TO_PATH] == PATH_VPN)
    converged = _first(monitor, _time(detection), lambda event: event["event"] == ROUTES_CONVERGED and event["path"] == PATH_VPN) \
        if detection else None
    monitor_back = _first(monitor, _time(detection), lambda event: event["event"] == TRANSITION and event[TO_PATH] == PATH_DX) \
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
        "failback_asymmetry_s": failback_asymmetry(milestones),
        "longest_outage_s": max(longest) if longest else None,
        "outages": [{"name": direction["name"], "longest_outage_s": direction["longest_outage_s"], "total_outage_s": direction["total_outage_s"],
                     "lost": direction["lost"], "recovered": direction["recovered"]} for direction in directions],
    }


def failback_asymmetry(milestones):
    """Seconds between the two directions moving back to DX: the route tables minus the DX router's VRRP mastership.

    Positive when on-premises moved back first.  For this long the traffic of one
    connection goes out over one path and comes back over the other, which a stateful
    firewall on either path drops.  None unless both moves were seen.
    """
    routes_back, vrrp_back = milestones["routes_back_on_dx"], milestones["vrrp_back_on_dx"]
    if routes_back is None or vrrp_back is None:
        return None
    return _ms(routes_back["time"] - vrrp_back["time"])


def asymmetry_failures(asymmetry_s, max_asymmetry_s):
    """The failed check when the failback's asymmetric window is longer than ``max_asymmetry_s`` (None: not judged)."""
    if max_asymmetry_s is None:
        return []
    if asymmetry_s is None:
        return ["the failback's asymmetric window cannot be measured (the route tables' or VRRP's return was not seen)"]
    if abs(asymmetry_s) > max_asymmetry_s:
        first = "on-premises" if asymmetry_s > 0 else "the route tables"
        return ["failback: %s moved back to DX %.3f s before the other direction (limit %.3f s)" % (first, abs(asymmetry_s), max_asymmetry_s)]
    return []


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


def _table_summary(table, fault):
    def when(change, origin):
        if change is None:
            return None
        resolution = None if change["previous_read_time"] is None else _ms(change["time"] - change["previous_read_time"])
        return {"time": _ms(change["time"]), "since_s": _since(change, origin), "resolution_s": resolution}
    return {"route_table_id": table["route_table_id"], "to_vpn": when(table["to_vpn"], fault["started"]),
            "back_on_dx": when(table["back_on_dx"], fault["stopped"])}


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
