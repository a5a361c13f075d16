# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drill's timeline plot: state lanes, flow lanes and milestone lines. matplotlib is imported only when a plot is drawn."""

from __future__ import annotations

from ..routes import PATH_DX, PATH_MIXED, PATH_VPN
from .parse import MASTER
from .values import _seconds

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
