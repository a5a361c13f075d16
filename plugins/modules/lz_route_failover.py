#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lz_route_failover
version_added: 0.1.0
short_description: Move a Local Zone's on-premises routes between Direct Connect and a VPN appliance
description:
  - Puts the traffic of one or more route tables towards one or more on-premises CIDRs on the
    Direct Connect path or on the VPN appliance path.
  - The Direct Connect path is the route the virtual private gateway propagates into each route
    table. The VPN path is a static route I(destination_cidr) -> I(vpn_eni_id), which takes
    precedence over the propagated route for the same destination.
  - With I(path=vpn) the module creates the static route where none exists, leaves a correct one
    alone, and replaces only a static route it owns that points at another VPN appliance
    interface (for example the interface of a replaced appliance).
  - With I(path=dx) the module deletes the static routes it owns. Propagated routes are never
    modified.
  - With I(route_strategy=prefix_list) the VPN path is one route per table to the prefix list
    I(prefix_list_id) instead (see I(route_strategy)); I(path=dx) deletes it and any per-CIDR
    static route the module owns.
  - A route is owned by this module when its origin is C(CreateRoute) and its target is
    I(vpn_eni_id) or a network interface in the same VPC tagged
    C(localzones.failover/role=vpn-appliance). Any other static route for a managed destination
    is a conflict - the module fails, names it, and changes nothing in any route table.
    A blackholed conflict is named with the C(aws ec2 delete-route) command that clears it.
  - A route to I(vpn_eni_id) stays owned after that interface is deleted (the route is then a
    blackhole), so I(path=dx) still removes it; I(path=vpn) fails while the interface does not exist.
  - Right before the first delete or replace in a route table the module reads that table again and
    skips (outcome C(skipped)) a route that someone changed since the plan.
  - Every input is validated before the first change - malformed IDs or CIDRs, unknown route
    tables or interface, an interface in another VPC than a route table, a destination inside the
    VPC's own CIDR, or the probe route table among the managed ones. A bad input fails with one
    message listing every problem and changes nothing.
  - The plan (the list of route calls) is computed first; check mode and diff mode report it
    without calling any mutating API.
author:
  - Local Zones Failover Maintainers (@localzones)
options:
  path:
    description:
      - C(vpn) routes the destinations through the VPN appliance.
      - C(dx) returns them to the routes propagated from Direct Connect.
    type: str
    required: true
    choices: [vpn, dx]
notes:
  - The module only needs C(ec2:DescribeRouteTables), C(ec2:DescribeNetworkInterfaces) and
    C(ec2:CreateRoute), C(ec2:ReplaceRoute), C(ec2:DeleteRoute) on the managed route tables, and with
    I(route_strategy=prefix_list) C(ec2:DescribeManagedPrefixLists) and C(ec2:GetManagedPrefixListEntries).
  - Route calls are paced inside EC2's request budget, tables in the order of I(route_table_ids)
    (list the most important tables first) - up to 8 calls in flight while a client-side bucket per
    API action (50 tokens, refilled at 5 per second) has tokens.
  - A throttled route call (C(RequestLimitExceeded)) is made again after a short jittered wait (at most
    1 s); other server and connection errors are retried once by botocore's standard retry mode.
  - The module warns when the interface still has source/destination checking on, and when a
    route table has no route propagation from a virtual private gateway.
attributes:
  check_mode:
    support: full
    details: Can run in check mode and return the planned route calls without making them.
  diff_mode:
    support: full
    details: Shows, per route table, each managed destination's target before and after.
extends_documentation_fragment:
  - localzones.failover.attributes
  - localzones.failover.aws_attributes
  - localzones.failover.routes
  - localzones.failover.aws_connection
seealso:
  - module: localzones.failover.lz_route_failover_info
  - module: localzones.failover.icmp_probe
"""

EXAMPLES = r"""
- name: Fail over the production subnet to the VPN appliance
  localzones.failover.lz_route_failover:
    region: us-east-1
    route_table_ids:
      - rtb-0123456789abcdef0
    destination_cidrs:
      - 192.168.0.0/16
    vpn_eni_id: eni-0123456789abcdef0
    probe_route_table_id: rtb-0fedcba9876543210
    path: vpn

- name: Return to Direct Connect, showing the change first
  localzones.failover.lz_route_failover:
    route_table_ids: "{{ lz_failover_route_table_ids }}"
    destination_cidrs: "{{ lz_failover_destination_cidrs }}"
    vpn_eni_id: "{{ lz_failover_vpn_eni_id }}"
    path: dx
  check_mode: true
  diff: true
  register: planned

- name: Show the planned route calls
  ansible.builtin.debug:
    var: planned.actions

- name: Fail over with one route per table to the prefix list of the on-premises networks
  localzones.failover.lz_route_failover:
    route_table_ids: "{{ lz_failover_route_table_ids }}"
    destination_cidrs: [192.168.0.0/16, 172.20.0.0/16]
    vpn_eni_id: eni-0123456789abcdef0
    route_strategy: prefix_list
    prefix_list_id: pl-0123456789abcdef0
    path: vpn

- name: Set connection details once for the whole play
  module_defaults:
    group/localzones.failover.aws:
      region: us-east-1
      endpoint_url: http://198.18.0.1:5000
  localzones.failover.lz_route_failover:
    route_table_ids: [rtb-0123456789abcdef0]
    destination_cidrs: [192.168.0.0/16, "2001:db8:100::/56"]
    vpn_eni_id: eni-0123456789abcdef0
    path: vpn
"""

RETURN = r"""
actions:
  description: The route calls made, or in check mode the ones that would be made.
  returned: always
  type: list
  elements: dict
  contains:
    route_table_id:
      description: The route table the call changes.
      type: str
      sample: rtb-0123456789abcdef0
    destination_cidr:
      description: The destination of the route.
      type: str
      returned: when the route's destination is a CIDR
      sample: 192.168.0.0/16
    destination_prefix_list_id:
      description: The destination of the route when it is the prefix list (I(route_strategy=prefix_list)).
      type: str
      returned: when the route's destination is a prefix list
      sample: pl-0123456789abcdef0
    action:
      description: C(create), C(replace) or C(delete).
      type: str
      sample: create
    target:
      description: The interface the route points at afterwards (create and replace).
      type: str
      returned: when I(action) is C(create) or C(replace)
      sample: eni-0123456789abcdef0
    previous_target:
      description: The interface the route pointed at before (replace and delete).
      type: str
      returned: when I(action) is C(replace) or C(delete)
      sample: eni-0aaaaaaaaaaaaaaaa
    outcome:
      description:
        - C(done) when the call was made, C(already-done) when EC2 reported that the route was
          already as planned (for example a retried request that had succeeded).
        - C(skipped) when a delete or replace was not made because the route changed between the
          module's read and the call (another target or origin, see I(reason)); the module
          leaves such a route alone and warns.
      type: str
      returned: when not in check mode
      sample: done
    reason:
      description: Why the action was skipped.
      type: str
      returned: when I(outcome) is C(skipped)
    latency_ms:
      description: How long the call took, retries included.
      type: float
      returned: when not in check mode
      sample: 84.2
failed_action:
  description:
    - The route call that failed when the module fails part-way (for example C(RouteLimitExceeded)).
      I(actions) then lists the calls that were applied, which stay; running the task again converges.
  type: dict
  returned: on a failure during the route calls
not_applied:
  description: The planned route calls that were not made because of the failure (same keys as I(actions)).
  type: list
  elements: dict
  returned: on a failure during the route calls
route_tables:
  description: Each managed route table after the change (in check mode, as it would be).
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
      sample: vpn
    previous_path:
      description: The active path before the module ran.
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
          description: C(vpn), C(dx), or the target of a static route that is not this module's.
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

from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import OUTCOME_SKIPPED
from ansible_collections.localzones.failover.plugins.module_utils.aws.ec2 import apply_plan
from ansible_collections.localzones.failover.plugins.module_utils.aws.pacing import Pacer
from ansible_collections.localzones.failover.plugins.module_utils.aws.modules import load_managed_routes
from ansible_collections.localzones.failover.plugins.module_utils.aws.modules import managed_routes_argument_spec
from ansible_collections.localzones.failover.plugins.module_utils.aws.modules import run_or_fail
from ansible_collections.localzones.failover.plugins.module_utils.routes import apply_to_snapshot
from ansible_collections.localzones.failover.plugins.module_utils.routes import describe_table
from ansible_collections.localzones.failover.plugins.module_utils.routes import diff_view
from ansible_collections.localzones.failover.plugins.module_utils.routes import path_of
from ansible_collections.localzones.failover.plugins.module_utils.routes import plan_routes


def build_diff(snapshot, planned_tables):
    before = {table.route_table_id: diff_view(table, snapshot.destinations, snapshot.ownership) for table in snapshot.tables}
    after = {table.route_table_id: diff_view(table, snapshot.destinations, snapshot.ownership) for table in planned_tables}
    return {"before": before, "after": after}


def run(module):
    params = module.params
    client, snapshot = load_managed_routes(module)
    plan = plan_routes(snapshot.tables, snapshot.destinations, params["path"], snapshot.ownership, snapshot.route_strategy)
    for warning in snapshot.warnings + plan.notes:
        module.warn(warning)

    made, changed = plan.actions, plan.changed
    actions = [action.as_dict() for action in plan.actions]
    if plan.changed and not module.check_mode:
        outcomes = apply_plan(client, plan, pacer=Pacer())
        actions = [outcome.as_dict() for outcome in outcomes]
        made = [outcome.action for outcome in outcomes if outcome.outcome != OUTCOME_SKIPPED]
        changed = bool(made)
        for outcome in outcomes:
            if outcome.outcome == OUTCOME_SKIPPED:
                module.warn("%s: %s %s skipped: %s" % (outcome.action.route_table_id, outcome.action.action, outcome.action.destination, outcome.reason))
    planned_tables = [apply_to_snapshot(table, made) for table in snapshot.tables]

    route_tables = []
    for before, after in zip(snapshot.tables, planned_tables):
        summary = describe_table(after, snapshot.destinations, snapshot.ownership)
        summary["previous_path"] = path_of([before], snapshot.destinations, snapshot.ownership)
        route_tables.append(summary)

    result = {"changed": changed, "actions": actions, "route_tables": route_tables}
    if module._diff:
        result["diff"] = build_diff(snapshot, planned_tables)
    module.exit_json(**result)


def completed_actions(error):
    """A plan stopped half-way has still changed the route tables: say which calls ran, which failed, which were not made.

    The applied part stays (each call is one the plan wanted); running the task again
    reads the tables afresh and makes only the calls still missing.
    """
    completed = [outcome.as_dict() for outcome in error.completed]
    report = {"changed": any(outcome.outcome != OUTCOME_SKIPPED for outcome in error.completed), "actions": completed}
    if error.failed_action is None:
        return report
    not_applied = [action.as_dict() for action in error.not_applied]
    report.update(failed_action=error.failed_action.as_dict(), not_applied=not_applied, msg=(
        "%s. The route tables are partly changed: %d route call(s) were applied (actions), %s %s %s failed "
        "(failed_action), %d were not made (not_applied). The applied calls stay; run the task again to converge."
        % (error.message, len(completed), error.failed_action.action, error.failed_action.route_table_id,
           error.failed_action.destination, len(not_applied))
    ))
    return report


def main():
    argument_spec = managed_routes_argument_spec(path=dict(type="str", required=True, choices=["vpn", "dx"]))
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    run_or_fail(module, run, failure_report=completed_actions)


if __name__ == "__main__":
    main()
