#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lz_route_failover_info
version_added: 0.1.0
short_description: Report which path, Direct Connect or VPN, a Local Zone's route tables use
description:
  - Reads the managed route tables and reports, for each one and each managed destination, whether
    traffic follows the route propagated from Direct Connect (C(dx)), the static route to the VPN
    appliance (C(vpn)), or something else.
  - A static route owned by this collection, as M(localzones.failover.lz_route_failover) defines it,
    is C(vpn), also when it targets the interface of a replaced appliance; with
    I(route_strategy=prefix_list), so is the owned route to I(prefix_list_id). The failover monitor reads
    the paths the same way.
  - Runs the same validation as M(localzones.failover.lz_route_failover), so it is also a safe way
    to check a failover's settings before the first switch.
  - Reports, as a failure, static routes for managed destinations that this collection does not
    own, exactly as M(localzones.failover.lz_route_failover) would refuse them.
author:
  - Local Zones Failover Maintainers (@localzones)
extends_documentation_fragment:
  - localzones.failover.attributes
  - localzones.failover.attributes.read_only
  - localzones.failover.aws_attributes
  - localzones.failover.routes
  - localzones.failover.aws_connection
seealso:
  - module: localzones.failover.lz_route_failover
"""

EXAMPLES = r"""
- name: Which path does production use?
  localzones.failover.lz_route_failover_info:
    region: us-east-1
    route_table_ids: [rtb-0123456789abcdef0]
    destination_cidrs: [192.168.0.0/16]
    vpn_eni_id: eni-0123456789abcdef0
  register: failover

- name: Alert when production is not on Direct Connect
  ansible.builtin.debug:
    msg: "{{ item.route_table_id }} is on {{ item.active_path }}"
  loop: "{{ failover.route_tables }}"
  when: item.active_path != 'dx'
"""

RETURN = r"""
route_tables:
  description: Each managed route table.
  returned: always
  type: list
  elements: dict
  contains:
    route_table_id:
      description: The route table.
      type: str
      sample: rtb-0123456789abcdef0
    vpc_id:
      description: Its VPC.
      type: str
      sample: vpc-0123456789abcdef0
    active_path:
      description: C(vpn) or C(dx) when every managed destination agrees, else C(mixed).
      type: str
      sample: dx
    propagating_vgws:
      description: The virtual private gateways that propagate routes into the table.
      type: list
      elements: str
      sample: [vgw-0123456789abcdef0]
    destinations:
      description: Each managed destination.
      type: list
      elements: dict
      contains:
        destination_cidr:
          description: The destination.
          type: str
        path:
          description: C(vpn) or C(dx).
          type: str
        target:
          description:
            - The static route's target, else the target of the route to the prefix list
              (I(route_strategy=prefix_list)), else the propagating gateway, else null.
          type: str
        propagated_dx_route:
          description: Whether Direct Connect currently advertises the destination into the table.
          type: bool
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.localzones.failover.plugins.module_utils.aws.modules import load_managed_routes
from ansible_collections.localzones.failover.plugins.module_utils.aws.modules import managed_routes_argument_spec
from ansible_collections.localzones.failover.plugins.module_utils.aws.modules import run_or_fail
from ansible_collections.localzones.failover.plugins.module_utils.errors import RouteConflictError
from ansible_collections.localzones.failover.plugins.module_utils.routes import describe_table
from ansible_collections.localzones.failover.plugins.module_utils.routes import find_conflicts
from ansible_collections.localzones.failover.plugins.module_utils.routes import leftover_prefix_list_notes
from ansible_collections.localzones.failover.plugins.module_utils.routes import routing_notes
from ansible_collections.localzones.failover.plugins.module_utils.validation import ROUTE_STRATEGY_PER_ROUTE


def run(module):
    _client, snapshot = load_managed_routes(module)
    conflicts = find_conflicts(snapshot.tables, snapshot.destinations, snapshot.ownership)
    if conflicts:
        raise RouteConflictError(conflicts)
    summaries = [describe_table(table, snapshot.destinations, snapshot.ownership) for table in snapshot.tables]
    # Notes about missing DX routes only matter while DX carries the traffic.
    notes_path = "dx" if all(summary["active_path"] == "dx" for summary in summaries) else "vpn"
    notes = routing_notes(snapshot.tables, snapshot.destinations, notes_path)
    if snapshot.route_strategy == ROUTE_STRATEGY_PER_ROUTE:
        notes.extend(leftover_prefix_list_notes(snapshot.tables, snapshot.ownership))
    for warning in snapshot.warnings + tuple(notes):
        module.warn(warning)
    module.exit_json(changed=False, route_tables=summaries)


def main():
    module = AnsibleAWSModule(argument_spec=managed_routes_argument_spec(), supports_check_mode=True)
    run_or_fail(module, run)


if __name__ == "__main__":
    main()
