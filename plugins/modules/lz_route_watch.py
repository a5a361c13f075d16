#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lz_route_watch
version_added: 0.1.0
short_description: Record when each managed route table changes path between Direct Connect and the VPN
description:
  - Reads the managed route tables every I(interval) seconds and records, with timestamps, every
    change of the path each table is on (C(dx), C(vpn) or C(mixed)), until I(duration) has passed,
    I(stop_file) appears, or every table is on I(until_path).
  - Meant to run in the background during a failover drill (C(async) with C(poll) set to 0), so the drill
    has a record of when production moved that does not depend on what moved it. Collect the
    result with M(ansible.builtin.async_status).
  - Runs the same validation as M(localzones.failover.lz_route_failover_info) before it starts, so
    a bad input fails at once with one error that lists every problem.
  - The first read validates the inputs and gives the initial paths. A read that fails later, for
    example under throttling or a 5xx answer after botocore's retries, does not end the watch; it
    is counted in RV(read_errors) and the watch carries on.
  - A destination is on C(vpn) when its static route is owned by this collection, as
    M(localzones.failover.lz_route_failover) defines it, also when that route targets the interface
    of a replaced appliance (tagged as a VPN appliance in the same VPC at the first read); it is on
    C(dx) when it has no static route. The failover monitor reads the paths the same way.
  - Static routes for managed destinations that this collection does not own are reported as
    warnings, not refused; such a destination's path is the route's target, and it is left out of
    its table's path, which says where this collection's routes put the table (C(dx) when there
    are none).
  - The first read validates the inputs as M(localzones.failover.lz_route_failover_info) does; every
    later read is one C(DescribeRouteTables) call, so the IAM policy needs nothing beyond what
    M(localzones.failover.lz_route_failover_info) needs.
author:
  - Local Zones Failover Maintainers (@localzones)
options:
  interval:
    description:
      - Seconds between the starts of two reads, at least C(0.1).
      - Reads keep to a fixed schedule; when a read takes longer than I(interval), the reads it
        overlapped are skipped rather than made late.
    type: float
    default: 0.5
  duration:
    description:
      - The longest the watch runs, in seconds, at most C(3600). When it has passed, one last read
        is made and the watch ends.
      - A read still in progress then finishes first. A read makes at most 3 attempts with short
        timeouts, so one takes at most about 21 seconds; give C(async) at least 30 seconds more than
        I(duration), or the job is killed and its record lost.
    type: float
    required: true
  stop_file:
    description:
      - A path on the host the module runs on. The watch ends at the first read after this file
        exists, so that read shows the state at the end of the drill.
      - It must not exist when the watch starts.
    type: path
  until_path:
    description:
      - End the watch as soon as every managed route table is on this path, after at least one
        change was seen. With C(dx), a drill that fails over and back ends the watch on its own.
    type: str
    choices: [dx, vpn]
extends_documentation_fragment:
  - localzones.failover.attributes
  - localzones.failover.attributes.read_only
  - localzones.failover.aws_attributes
  - localzones.failover.routes
  - localzones.failover.aws_connection
seealso:
  - module: localzones.failover.lz_route_failover_info
  - module: localzones.failover.lz_route_failover
  - module: ansible.builtin.async_status
"""

EXAMPLES = r"""
# A drill: watch in the background, take DX down and bring it back, then collect the record.
- name: Start recording the production route tables
  localzones.failover.lz_route_watch:
    region: us-east-1
    route_table_ids: [rtb-0123456789abcdef0]
    destination_cidrs: [192.168.0.0/16]
    vpn_eni_id: eni-0123456789abcdef0
    interval: 0.5
    duration: 900
    stop_file: /tmp/lz-drill.stop
  async: 960
  poll: 0
  register: route_watch

- name: Take Direct Connect down, wait for the failover, restore it, wait for the failback
  ansible.builtin.include_tasks: drill_steps.yml

- name: Tell the watch that the drill is over
  ansible.builtin.file:
    path: /tmp/lz-drill.stop
    state: touch
    mode: "0600"

- name: Collect the record
  ansible.builtin.async_status:
    jid: "{{ route_watch.ansible_job_id }}"
  register: route_record
  until: route_record.finished
  retries: 30
  delay: 1

- name: Show when each table moved
  ansible.builtin.debug:
    msg: >-
      {{ item.route_table_id }}: {{ item.from_path }} -> {{ item.to_path }}
      between {{ item.previous_read_time }} and {{ item.time }}
  loop: "{{ route_record.changes }}"

- name: Fail the drill unless production went to the VPN and came back
  ansible.builtin.assert:
    that:
      - "'vpn' in route_record.changes | map(attribute='to_path')"
      - route_record.final.values() | unique | list == ['dx']

# Without a stop file: end as soon as production is back on Direct Connect.
- name: Wait for the failback, at most 10 minutes
  localzones.failover.lz_route_watch:
    region: us-east-1
    route_table_ids: [rtb-0123456789abcdef0]
    destination_cidrs: [192.168.0.0/16]
    vpn_eni_id: eni-0123456789abcdef0
    duration: 600
    until_path: dx
  register: failback
"""

RETURN = r"""
initial:
  description: The path of each managed route table at the first read, C(dx), C(vpn) or C(mixed).
  returned: always
  type: dict
  sample: {"rtb-0123456789abcdef0": "dx"}
final:
  description: The path of each managed route table at the last successful read.
  returned: always
  type: dict
  sample: {"rtb-0123456789abcdef0": "dx"}
changes:
  description:
    - Every change seen, in the order seen. The change happened between I(previous_read_time) and
      I(time).
    - A change between the paths of single destinations of a C(mixed) table is listed too, with
      the same I(from_path) and I(to_path).
  returned: always
  type: list
  elements: dict
  contains:
    time:
      description: When the read that first saw the change ended (seconds since the epoch).
      type: float
      sample: 1767225605.412
    previous_read_time:
      description: When the successful read before it, which still saw the old path, began (seconds since the epoch).
      type: float
      sample: 1767225604.903
    route_table_id:
      description: The route table.
      type: str
      sample: rtb-0123456789abcdef0
    from_path:
      description: The table's path before, C(dx), C(vpn) or C(mixed).
      type: str
      sample: dx
    to_path:
      description: The table's path after.
      type: str
      sample: vpn
    destinations:
      description: Each managed destination as the read saw it.
      type: list
      elements: dict
      contains:
        destination_cidr:
          description: The destination.
          type: str
        path:
          description: C(vpn), C(dx), or the target of a static route that is not this collection's.
          type: str
        target:
          description: The static route's target, else the propagating gateway, else null.
          type: str
        propagated_dx_route:
          description: Whether Direct Connect advertised the destination into the table.
          type: bool
reads:
  description: DescribeRouteTables reads made, the validating first read and failed reads included.
  returned: always
  type: int
  sample: 1201
read_errors:
  description: Reads that failed after botocore's retries, or found a managed table missing.
  returned: always
  type: int
  sample: 0
last_error:
  description: The message of the last failed read, null when none failed.
  returned: always
  type: str
  sample: "EC2 DescribeRouteTables failed: RequestLimitExceeded: Request limit exceeded."
ended_by:
  description: What ended the watch, C(duration), C(stop_file) or C(until_path).
  returned: always
  type: str
  sample: stop_file
started_at:
  description:
    - When the first read began (seconds since the epoch).
    - Not C(started), which M(ansible.builtin.async_status) uses for its own flag.
  returned: always
  type: float
  sample: 1767225000.118
ended_at:
  description: When the watch ended (seconds since the epoch).
  returned: always
  type: float
  sample: 1767225900.671
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.localzones.failover.plugins.module_utils.aws.modules import managed_routes_argument_spec
from ansible_collections.localzones.failover.plugins.module_utils.aws.modules import retrying_client
from ansible_collections.localzones.failover.plugins.module_utils.aws.modules import run_or_fail
from ansible_collections.localzones.failover.plugins.module_utils.aws.route_watch import validate_watch_settings
from ansible_collections.localzones.failover.plugins.module_utils.aws.route_watch import watch_retry_config
from ansible_collections.localzones.failover.plugins.module_utils.aws.route_watch import watch_routes


def run(module):
    params = module.params
    settings = validate_watch_settings(
        params["route_table_ids"],
        params["destination_cidrs"],
        params["vpn_eni_id"],
        params["duration"],
        interval=params["interval"],
        probe_route_table_id=params["probe_route_table_id"],
        stop_file=params["stop_file"],
        until_path=params["until_path"],
        route_strategy=params["route_strategy"],
        prefix_list_id=params["prefix_list_id"],
        routes_per_table_quota=params["routes_per_table_quota"],
    )
    client = retrying_client(module, "ec2", watch_retry_config())
    record, warnings = watch_routes(client, settings)
    for warning in warnings:
        module.warn(warning)
    if record["read_errors"]:
        module.warn("%d of %d reads failed; the last: %s" % (record["read_errors"], record["reads"], record["last_error"]))
    module.exit_json(changed=False, **record)


def main():
    argument_spec = managed_routes_argument_spec(
        interval=dict(type="float", default=0.5),
        duration=dict(type="float", required=True),
        stop_file=dict(type="path"),
        until_path=dict(type="str", choices=["dx", "vpn"]),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    run_or_fail(module, run)


if __name__ == "__main__":
    main()
