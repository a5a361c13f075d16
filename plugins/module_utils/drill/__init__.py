# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Failover drill analysis: from a drill's raw records to a timeline, outages and a report.

A drill takes Direct Connect down for a bounded time and restores it while two flow
endpoints (a workload in AWS, a host on-premises) send each other one UDP datagram every
``interval_s``. This package reads what was recorded and says what happened, when. It is
used by the lz_drill_report module and the lab benchmark, never by the monitor daemon,
so the daemon's wheel leaves it out.

* ``parse``: the records (flow logs, the monitor's journal, VRRP logs, route changes, the fault);
* ``outages``: one flow direction's loss windows, outages and path changes;
* ``timeline``: every record as a timeline row, milestones flagged;
* ``analysis``: milestones, timings and the pass/fail judgement of a whole drill (``analyse_drill``);
* ``report``: the report as Markdown and JSON; ``plot``: the timeline plot (matplotlib, imported
  only when a plot is drawn);
* ``values``: numbers and times as records carry them.

The names most callers need are re-exported here.
"""

from __future__ import annotations

from .analysis import DEFAULT_TITLE, Drill, analyse_drill, judge
from .outages import SendTimes, analyse_direction
from .parse import MASTER, ROLE_DX, ROLE_VPN, ROLES, read_drill_inputs, read_lines
from .parse import normalise_events, normalise_fault, normalise_route_changes, parse_flow_log, parse_monitor_log, parse_vrrp_log
from .plot import render_plot, state_lanes
from .report import JSON_FILE, PLOT_FILE, REPORT_FILE, output_paths, render_json, render_markdown
from .values import parse_utc_timestamp, utc_text

__all__ = (
    "DEFAULT_TITLE", "Drill", "JSON_FILE", "MASTER", "PLOT_FILE", "REPORT_FILE", "ROLES", "ROLE_DX", "ROLE_VPN", "SendTimes",
    "analyse_direction", "analyse_drill", "judge", "normalise_events", "normalise_fault", "normalise_route_changes", "output_paths",
    "parse_flow_log", "parse_monitor_log", "parse_utc_timestamp", "parse_vrrp_log", "read_drill_inputs", "read_lines", "render_json",
    "render_markdown", "render_plot", "state_lanes", "utc_text",
)
