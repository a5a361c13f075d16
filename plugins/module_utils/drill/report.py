# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A drill report as Markdown and as JSON, and the files it is written to."""

from __future__ import annotations

import json
import os

from .values import _seconds, utc_text

REPORT_FILE = "report.md"
PLOT_FILE = "timeline.png"
JSON_FILE = "drill.json"
MARKDOWN_LOSS_WINDOWS = 30


def output_paths(dest, plot=True):
    """The files a report writes into ``dest``."""
    return {"report": os.path.join(dest, REPORT_FILE), "plot": os.path.join(dest, PLOT_FILE) if plot else None, "json": os.path.join(dest, JSON_FILE)}


def _cell(value):
    """A Markdown table cell: pipes escaped, newlines flattened, structures as compact JSON."""
    if value is None:
        return "-"
    if isinstance(value, (dict, list, tuple)):
        value = json.dumps(value, sort_keys=True, separators=(", ", ": "))
    return str(value).replace("|", "\\|").replace("\n", " ")


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
    ("failback_asymmetry_s", "Failback asymmetry",
     "DX router VRRP master again -> every route table back on DX (positive: on-premises moved back first); "
     "for this long the two directions of a connection take different paths"),
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
