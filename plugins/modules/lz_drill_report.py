#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lz_drill_report
short_description: Turn a failover drill's raw records into a timeline, outages and a report
version_added: 0.1.0
description:
  - Analyses what a failover drill recorded while Direct Connect was down and after it was
    restored - the flow endpoints' logs, the monitor's log, the on-premises routers' VRRP logs,
    the route changes seen by M(localzones.failover.lz_route_watch) - and writes a report into
    O(dest) - C(report.md) (Markdown), C(timeline.png) (the timeline plot, 1600x900) and
    C(drill.json) (every number).
  - For each flow direction it counts the datagrams sent, received and lost, finds the loss
    windows (runs of consecutive lost sequence numbers; each lasts lost x interval, so the
    resolution is one send interval) and the path changes seen in the IP TTL.
  - It puts every event on one timeline relative to the fault's start and measures detection,
    route change, VRRP failover and failback times.
  - Messy records never make it fail - an unreadable file, a missing end line, a route that never
    moved, or a flow that never recovered is listed in RV(problems).
  - "Runs where the files are, normally the controller (C(delegate_to: localhost) or a play on C(localhost))."
  - The report holds timings and events only; of the inputs it shows O(settings), the fault's
    method and detail, route table IDs and router names, never configuration or messages.
requirements:
  - matplotlib (on the host that runs the module, only when O(plot) is true)
author:
  - Local Zones Failover Maintainers (@localzones)
options:
  dest:
    description:
      - Directory to write C(report.md), C(timeline.png) and C(drill.json) into; created when absent.
    type: path
    required: true
  title:
    description:
      - Title of the report.
    type: str
    default: Failover drill
  environment:
    description:
      - Where the drill ran, for example C(lab) or C(aws); shown in the report.
    type: str
  settings:
    description:
      - Settings to show in the report's settings table, for example the monitor's thresholds and the flow interval.
    type: dict
    default: {}
  fault:
    description:
      - The fault the drill injected.
    type: dict
    required: true
    suboptions:
      method:
        description:
          - How the fault was made, for example C(lab_command) or C(bgp_failover_test).
        type: str
      started:
        description:
          - When the fault started (epoch seconds). Every time in the report is relative to it.
        type: float
      stopped:
        description:
          - When the fault was undone (epoch seconds); null when it was not.
        type: float
      detail:
        description:
          - One line about the fault, shown in the report.
        type: str
  flows:
    description:
      - The flow directions to analyse. The direction from A to B is judged from B's log of what
        it received, with A's log of how many datagrams it sent and when.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - Name of the direction, for example C(workload -> onprem-host).
        type: str
        required: true
      sender_log:
        description:
          - Flow log (JSON lines) of the sending endpoint.
        type: path
        required: true
      receiver_log:
        description:
          - Flow log (JSON lines) of the receiving endpoint.
        type: path
        required: true
  monitor_log:
    description:
      - The monitor's log as C(journalctl -u lz-failover-monitor -o cat) prints it (JSON lines; other lines are ignored).
      - Its C(transition), C(routes_converged), C(route_action), C(alert) and C(api_error) events go on the timeline.
    type: path
  vrrp_logs:
    description:
      - Each on-premises router's VRRP transitions, as C(journalctl -t lz-fhrp -o json) prints them.
    type: list
    elements: dict
    suboptions:
      host:
        description:
          - The router's inventory name.
        type: str
        required: true
      role:
        description:
          - Whether the router is the DX or the VPN router.
        type: str
        required: true
        choices: [dx, vpn]
      path:
        description:
          - File with the journal output.
        type: path
        required: true
  route_changes:
    description:
      - The C(changes) list returned by M(localzones.failover.lz_route_watch) - items with C(time), C(previous_read_time),
        C(route_table_id), C(from_path) and C(to_path).
      - Leave unset when the route tables were not watched; an empty list means they never changed.
    type: list
    elements: dict
  events:
    description:
      - Extra events to put on the timeline, each with C(time) (epoch seconds), C(source) and C(event).
    type: list
    elements: dict
  max_outage_s:
    description:
      - The longest outage, in seconds, that a direction may see for RV(passed) to be true.
      - Unset, RV(passed) judges only that the traffic moved and came back and that every flow recovered.
    type: float
  max_failback_asymmetry_s:
    description:
      - The longest time, in seconds, that one direction may be back on Direct Connect before the other
        (RV(failback_asymmetry_s)) for RV(passed) to be true.
      - Unset, the asymmetry is reported but not judged.
    type: float
  plot:
    description:
      - Whether to draw C(timeline.png). Needs matplotlib.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    details: Analyses and renders everything, writes nothing, and reports whether the files would change.
  diff_mode:
    support: none
extends_documentation_fragment:
  - localzones.failover.attributes
notes:
  - Outage durations use the sender's timestamps only, so the endpoints' clocks need not agree;
    one-way delay compares two clocks and is shown as information only.
  - A route table change is timed by the read of M(localzones.failover.lz_route_watch) that first saw it.
seealso:
  - module: localzones.failover.lz_route_failover_info
"""

EXAMPLES = r"""
- name: Write the drill report on the controller
  localzones.failover.lz_drill_report:
    dest: "{{ playbook_dir }}/../results/drill-{{ drill_id }}"
    title: DX failover drill
    environment: lab
    settings:
      flow_interval_s: 0.02
      failback_hold_s: 30
    fault:
      method: lab_command
      started: "{{ fault_started }}"
      stopped: "{{ fault_stopped }}"
      detail: DX link dropped with nftables
    flows:
      - name: workload -> onprem-host
        sender_log: "{{ drill_dir }}/workload.jsonl"
        receiver_log: "{{ drill_dir }}/onprem-host.jsonl"
      - name: onprem-host -> workload
        sender_log: "{{ drill_dir }}/onprem-host.jsonl"
        receiver_log: "{{ drill_dir }}/workload.jsonl"
    monitor_log: "{{ drill_dir }}/monitor.log"
    vrrp_logs:
      - {host: onprem-dx, role: dx, path: "{{ drill_dir }}/vrrp-onprem-dx.json"}
      - {host: onprem-vpn, role: vpn, path: "{{ drill_dir }}/vrrp-onprem-vpn.json"}
    route_changes: "{{ route_watch.changes }}"
    max_outage_s: 10
  delegate_to: localhost
  register: drill

- name: Fail the drill when an outage was too long or the traffic did not come back
  ansible.builtin.assert:
    that: drill.passed
    fail_msg: "{{ drill.failed_checks | join('; ') }}"
"""

RETURN = r"""
report:
  description: The Markdown report (written, or that would be written in check mode).
  returned: always
  type: str
  sample: /srv/drill/report.md
files:
  description: The files the report consists of (written, or that would be written in check mode); C(plot) is null when O(plot) is false.
  returned: always
  type: dict
  sample: {"report": "/srv/drill/report.md", "plot": "/srv/drill/timeline.png", "json": "/srv/drill/drill.json"}
written:
  description: The files that were written because they were absent or different; empty in check mode.
  returned: always
  type: list
  elements: str
passed:
  description:
    - Whether the drill proved the failover - every kind of record given (monitor log, route changes, VRRP logs, TTLs where they
      differ) shows the traffic moving to the VPN and back to DX, at least one does, every flow direction received datagrams and
      recovered, and, when O(max_outage_s) is set, no direction's longest outage exceeds it.
  returned: always
  type: bool
  sample: true
failed_checks:
  description: Why the drill did not pass; empty when it passed.
  returned: always
  type: list
  elements: str
problems:
  description: What was missing or odd in the records (unreadable files, missing end lines, a route that never moved, TTLs that never changed).
  returned: always
  type: list
  elements: str
detection_s:
  description: Fault start to the monitor's first transition to the VPN, in seconds; null when it did not happen or was not recorded.
  returned: always
  type: float
  sample: 0.59
routes_converged_s:
  description: Fault start to the monitor's log that its route tables are on the VPN, in seconds.
  returned: always
  type: float
route_change_s:
  description: Fault start to the first route table seen on the VPN path, in seconds.
  returned: always
  type: float
  sample: 0.75
vrrp_failover_s:
  description: Fault start to the VPN router becoming VRRP master, in seconds.
  returned: always
  type: float
fault_duration_s:
  description: Fault start to restore, in seconds.
  returned: always
  type: float
monitor_failback_s:
  description: Restore to the monitor's transition back to DX, in seconds.
  returned: always
  type: float
failback_s:
  description: Restore to every route table that moved being back on DX, in seconds.
  returned: always
  type: float
  sample: 30.4
vrrp_failback_s:
  description: Restore to the DX router becoming VRRP master again, in seconds.
  returned: always
  type: float
failback_asymmetry_s:
  description:
    - The DX router becoming VRRP master again to every route table back on DX, in seconds; positive when
      on-premises moved back first. Null unless both were seen.
    - For this long the two directions of a connection take different paths, which stateful firewalls drop.
  returned: always
  type: float
longest_outage_s:
  description: The longest outage of any direction, in seconds.
  returned: always
  type: float
  sample: 2.0
outages:
  description: Each direction's outage.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The direction.
      type: str
    longest_outage_s:
      description: Its longest loss window, in seconds.
      type: float
    total_outage_s:
      description: All its loss windows added up, in seconds.
      type: float
    lost:
      description: Datagrams lost.
      type: int
    recovered:
      description: Whether datagrams arrived again after the last loss.
      type: bool
directions:
  description: Everything measured per direction.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The direction.
      type: str
    interval_s:
      description: The sender's interval, the resolution of every outage.
      type: float
    sent:
      description: Datagrams the sender sent.
      type: int
    counted:
      description: Datagrams the receiver could have received (sent while it ran).
      type: int
    not_counted:
      description: Datagrams sent before the receiver started or too late to arrive before it stopped.
      type: int
    received:
      description: Distinct datagrams received.
      type: int
    lost:
      description: Counted datagrams that never arrived.
      type: int
    loss_pct:
      description: Lost as a percentage of counted.
      type: float
    duplicates:
      description: Extra copies received.
      type: int
    reordered:
      description: Datagrams that arrived after one with a higher sequence number.
      type: int
    loss_windows:
      description:
        - Runs of consecutive lost sequence numbers, with C(first_seq), C(last_seq), C(lost), C(start) (estimated send time of
          the first lost datagram, epoch), C(t_start), C(t_end), C(duration_s) (lost x interval) and C(recovered).
      type: list
      elements: dict
    longest_outage_s:
      description: The longest loss window.
      type: float
    total_outage_s:
      description: All loss windows added up.
      type: float
    recovered:
      description: Whether datagrams arrived after the last loss window.
      type: bool
    ttl:
      description:
        - C(baseline_ttl) (first path), C(values), C(changes) (each with C(seq), C(time), C(t), C(from_ttl), C(to_ttl)),
          C(distinguishable), C(first_on_new_path) and C(first_back_on_first_path).
      type: dict
    one_way_delay_ms:
      description: C(min), C(median) and C(max) one-way delay; information only, as it compares two clocks.
      type: dict
    sender_end_line:
      description: Whether the sender's log has its end line.
      type: bool
    receiver_end_line:
      description: Whether the receiver's log has its end line.
      type: bool
    ended_by:
      description: How the sender ended, from its end line.
      type: str
route_tables:
  description: Per watched route table, when it was first seen on the VPN after the fault and back on DX after the restore.
  returned: always
  type: list
  elements: dict
timeline:
  description: Every event in time order.
  returned: always
  type: list
  elements: dict
  contains:
    time:
      description: Epoch seconds.
      type: float
    t:
      description: Seconds since the fault started.
      type: float
    source:
      description: C(fault), C(monitor), C(route), C(vrrp), C(flow) or the source of an extra event.
      type: str
    kind:
      description: What kind of event it is, for example C(monitor_transition), C(route_change), C(vrrp_state), C(loss_window), C(path_new).
      type: str
    event:
      description: The event in words.
      type: str
    lane:
      description: The plot lane of a state change (C(monitor path), C(route rtb-...), C(VRRP host (role)), C(fault)), else null.
      type: str
    state:
      description: The state entered, for state changes.
      type: str
    previous:
      description: The state left, when known.
      type: str
    milestone:
      description:
        - C(detection), C(routes_converged), C(route_on_vpn), C(vrrp_on_vpn), C(monitor_back_on_dx), C(routes_back_on_dx) or
          C(vrrp_back_on_dx) when the event is that step of the drill, else null.
      type: str
"""

import os
import tempfile
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.localzones.failover.plugins.module_utils.drill.analysis import analyse_drill
from ansible_collections.localzones.failover.plugins.module_utils.drill.parse import read_drill_inputs
from ansible_collections.localzones.failover.plugins.module_utils.drill.plot import render_plot
from ansible_collections.localzones.failover.plugins.module_utils.drill.report import PLOT_FILE, output_paths, render_json, render_markdown

try:
    import matplotlib
except ImportError:  # ansible-test's import sanity test runs without third-party packages; only the plot needs it
    matplotlib = None
    MATPLOTLIB_IMPORT_TRACEBACK = traceback.format_exc()
else:
    MATPLOTLIB_IMPORT_TRACEBACK = None

SUMMARY_KEYS = ("detection_s", "routes_converged_s", "route_change_s", "vrrp_failover_s", "fault_duration_s", "monitor_failback_s",
                "failback_s", "vrrp_failback_s", "failback_asymmetry_s", "longest_outage_s", "outages")


def argument_spec():
    return dict(
        dest=dict(type="path", required=True),
        title=dict(type="str", default="Failover drill"),
        environment=dict(type="str"),
        settings=dict(type="dict", default={}),
        fault=dict(type="dict", required=True, options=dict(
            method=dict(type="str"),
            started=dict(type="float"),
            stopped=dict(type="float"),
            detail=dict(type="str"),
        )),
        flows=dict(type="list", elements="dict", required=True, options=dict(
            name=dict(type="str", required=True),
            sender_log=dict(type="path", required=True),
            receiver_log=dict(type="path", required=True),
        )),
        monitor_log=dict(type="path"),
        vrrp_logs=dict(type="list", elements="dict", options=dict(
            host=dict(type="str", required=True),
            role=dict(type="str", required=True, choices=["dx", "vpn"]),
            path=dict(type="path", required=True),
        )),
        route_changes=dict(type="list", elements="dict"),
        events=dict(type="list", elements="dict"),
        max_outage_s=dict(type="float"),
        max_failback_asymmetry_s=dict(type="float"),
        plot=dict(type="bool", default=True),
    )


def analyse(params):
    flows, monitor_lines, vrrp_logs, problems = read_drill_inputs(params["flows"], params["monitor_log"], params["vrrp_logs"])
    return analyse_drill(
        params["fault"], flows, monitor_lines=monitor_lines, vrrp_logs=vrrp_logs, route_changes=params["route_changes"],
        events=params["events"], max_outage_s=params["max_outage_s"], title=params["title"], environment=params["environment"],
        settings=params["settings"], input_problems=problems, max_failback_asymmetry_s=params["max_failback_asymmetry_s"],
    )


def render(drill, plot):
    """``{file key: bytes}`` of every file of the report."""
    contents = {"report": render_markdown(drill.report, PLOT_FILE if plot else None).encode("utf-8"),
                "json": render_json(drill.report).encode("utf-8")}
    if plot:
        with tempfile.SpooledTemporaryFile() as handle:
            render_plot(drill, handle)
            handle.seek(0)
            contents["plot"] = handle.read()
    return contents


def current_content(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def write_file(module, path, content):
    """Replace ``path`` atomically, so a reader never sees half a report."""
    descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".lz-drill-")
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    module.atomic_move(temporary, path)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    if params["plot"] and matplotlib is None:
        module.fail_json(msg=missing_required_lib("matplotlib", reason="to draw the timeline plot (or set plot: false)"),
                         exception=MATPLOTLIB_IMPORT_TRACEBACK)
    dest = params["dest"]
    if os.path.exists(dest) and not os.path.isdir(dest):
        module.fail_json(msg="dest %s exists and is not a directory" % dest)
    drill = analyse(params)
    contents = render(drill, params["plot"])
    paths = output_paths(dest, params["plot"])
    stale = [key for key in ("report", "plot", "json") if key in contents and current_content(paths[key]) != contents[key]]
    written = []
    if stale and not module.check_mode:
        try:
            os.makedirs(dest, exist_ok=True)
            for key in stale:
                write_file(module, paths[key], contents[key])
                written.append(paths[key])
        except OSError as exc:
            module.fail_json(msg="cannot write the report into %s: %s" % (dest, exc), written=written)
    report = drill.report
    summary = {key: report["summary"][key] for key in SUMMARY_KEYS}
    module.exit_json(changed=bool(stale), report=paths["report"], files=paths, written=written, passed=report["passed"], failed_checks=report["failed_checks"],
                     problems=report["problems"], directions=report["directions"], route_tables=report["route_tables"],
                     timeline=report["timeline"], **summary)


if __name__ == "__main__":
    main()
