#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lz_prefix_list
version_added: 0.1.0
short_description: Keep the customer-managed prefix list of the on-premises CIDRs
description:
  - Ensures a customer-managed prefix list that holds exactly the on-premises CIDRs, for the
    C(prefix_list) route strategy of M(localzones.failover.lz_route_failover) and the monitor
    daemon, where the VPN path of a route table is one route to the list instead of one route per CIDR.
  - The list is found by its name and the tag C(localzones.failover/role=on-prem-destinations),
    which the module gives it when it creates it (C(CreateManagedPrefixList)).
  - An existing list is brought to the given entries with C(ModifyManagedPrefixList), always sending
    the version it read (EC2 refuses the change when the list changed in between), and the module
    waits until EC2 reports the change complete.
  - A prefix list with that name that does not carry the tag was not created by this project - the
    module fails and changes nothing. With O(state=absent) it deletes only a list that carries the tag.
  - Every input is checked before the first call - CIDR syntax, one address family for all entries,
    O(max_entries) not below the number of entries - and a bad input fails with one message listing
    every problem.
  - The maximum number of entries of a list counts against the route quota of every route table that
    references it (routes per route table), so the default is the number of entries.
author:
  - Local Zones Failover Maintainers (@localzones)
options:
  name:
    description:
      - The prefix list's name. The C(localzones.failover.network) role derives it from the failover's name.
    type: str
    required: true
  entries:
    description:
      - The CIDRs the list holds, all IPv4 or all IPv6; the list's address family is theirs.
      - Required with O(state=present).
    type: list
    elements: str
  max_entries:
    description:
      - The list's maximum number of entries; at least the number of O(entries).
      - Defaults to the number of O(entries), the least a route table's quota is charged for it.
    type: int
  tags:
    description:
      - Tags for the list, besides C(localzones.failover/role=on-prem-destinations). Tags the list
        already has are kept.
    type: dict
    default: {}
  state:
    description:
      - C(present) creates the list or brings it to O(entries); C(absent) deletes it when it carries the tag.
    type: str
    default: present
    choices: [present, absent]
  wait_timeout:
    description:
      - Seconds to wait for EC2 to complete each change of the list before the module fails.
    type: int
    default: 300
notes:
  - Needs C(ec2:DescribeManagedPrefixLists), C(ec2:GetManagedPrefixListEntries), and for changes
    C(ec2:CreateManagedPrefixList), C(ec2:ModifyManagedPrefixList), C(ec2:DeleteManagedPrefixList) and
    C(ec2:CreateTags) on prefix lists.
  - EC2's own refusals (for example the account's quota of prefix lists per Region) are reported with
    EC2's error code and message, before anything else is changed.
attributes:
  check_mode:
    support: full
    details: Reports the planned calls without making them.
  diff_mode:
    support: full
    details: Shows the list's entries and maximum before and after.
extends_documentation_fragment:
  - localzones.failover.attributes
  - localzones.failover.aws_attributes
  - localzones.failover.aws_connection
seealso:
  - module: localzones.failover.lz_route_failover
    description: Routes each table's on-premises traffic to this list with I(route_strategy=prefix_list); the collection's
      page on route strategies says when that pays off, how the list counts against quotas, and where it is not available.
"""

EXAMPLES = r"""
- name: Keep the on-premises CIDRs in the failover's prefix list
  localzones.failover.lz_prefix_list:
    region: us-east-1
    name: lz-failover-on-prem
    entries:
      - 192.168.0.0/16
      - 172.20.0.0/16
  register: on_prem

- name: Use it with the prefix_list route strategy
  localzones.failover.lz_route_failover:
    route_table_ids: "{{ lz_failover_route_table_ids }}"
    destination_cidrs: "{{ lz_failover_destination_cidrs }}"
    vpn_eni_id: "{{ lz_failover_vpn_eni_id }}"
    route_strategy: prefix_list
    prefix_list_id: "{{ on_prem.prefix_list_id }}"
    path: vpn

- name: Delete it (only when this project created it)
  localzones.failover.lz_prefix_list:
    name: lz-failover-on-prem
    state: absent
"""

RETURN = r"""
prefix_list_id:
  description: The list's ID; null in check mode before it exists, and after O(state=absent).
  returned: always
  type: str
  sample: pl-0123456789abcdef0
entries:
  description: The CIDRs the list holds afterwards (in check mode, would hold).
  returned: always
  type: list
  elements: str
  sample: [192.168.0.0/16, 172.20.0.0/16]
version:
  description: The list's version afterwards; null when it does not exist or in check mode before a change.
  returned: always
  type: int
  sample: 3
max_entries:
  description: The list's maximum number of entries afterwards.
  returned: always
  type: int
  sample: 2
address_family:
  description: C(IPv4) or C(IPv6).
  returned: when O(state=present)
  type: str
  sample: IPv4
actions:
  description: The changes made, or in check mode the ones that would be made, in order.
  returned: always
  type: list
  elements: dict
  sample: [{step: modify-entries, add: [172.20.0.0/16], remove: []}]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.localzones.failover.plugins.module_utils.aws.modules import retrying_client
from ansible_collections.localzones.failover.plugins.module_utils.aws.modules import run_or_fail
from ansible_collections.localzones.failover.plugins.module_utils.aws.prefix_lists import STEP_DELETE
from ansible_collections.localzones.failover.plugins.module_utils.aws.prefix_lists import execute_prefix_list_plan
from ansible_collections.localzones.failover.plugins.module_utils.aws.prefix_lists import find_owned_prefix_list
from ansible_collections.localzones.failover.plugins.module_utils.aws.prefix_lists import find_prefix_lists_by_name
from ansible_collections.localzones.failover.plugins.module_utils.aws.prefix_lists import plan_prefix_list
from ansible_collections.localzones.failover.plugins.module_utils.aws.prefix_lists import read_prefix_list_entries
from ansible_collections.localzones.failover.plugins.module_utils.aws.prefix_lists import validate_prefix_list_inputs

# EC2 error codes that mean the account has no room for another list or entry: a quota.
_QUOTA_CODES = ("PrefixListLimitExceeded", "PrefixListMaxEntriesExceeded", "ResourceLimitExceeded", "LimitExceeded")


def list_view(prefix_list, entries):
    """What diff mode shows of a list ({} when it does not exist)."""
    if prefix_list is None:
        return {}
    return {"prefix_list_id": prefix_list.get("PrefixListId"), "entries": list(entries), "max_entries": prefix_list.get("MaxEntries")}


def planned_result(current, current_entries, steps, entries, max_entries):
    """The list as it will be after ``steps``: what check mode returns and diff mode shows as after."""
    if not steps:
        return result_of(current, current_entries)
    if steps[-1]["step"] == STEP_DELETE:
        return result_of(None, ())
    # The version a change will give is EC2's to choose: unknown until it is made.
    return {"prefix_list_id": current.get("PrefixListId") if current else None, "entries": list(entries), "version": None,
            "max_entries": max_entries}


def result_of(prefix_list, entries):
    """The returned values for the list EC2 answered (None: there is none)."""
    if prefix_list is None:
        return {"prefix_list_id": None, "entries": [], "version": None, "max_entries": None}
    return {"prefix_list_id": prefix_list.get("PrefixListId"), "entries": list(entries), "version": prefix_list.get("Version"),
            "max_entries": prefix_list.get("MaxEntries")}


def plan_absent(client, module, name):
    """``(current, entries, steps)`` for state=absent: delete only the list this project owns."""
    owned, foreign = find_prefix_lists_by_name(client, name)
    if foreign and not owned:
        module.warn("prefix list %r (%s) was not created by this project; it is left alone"
                    % (name, ", ".join(item["PrefixListId"] for item in foreign)))
    current = find_owned_prefix_list(client, name) if owned else None
    if current is None:
        return None, (), []
    return current, read_prefix_list_entries(client, current["PrefixListId"]), [{"step": STEP_DELETE, "prefix_list_id": current["PrefixListId"]}]


def run(module):
    params = module.params
    # Every input is checked before the first call.
    desired = validate_prefix_list_inputs(params["name"], params["entries"], params["max_entries"]) if params["state"] == "present" else None
    client = retrying_client(module, "ec2")
    if desired:
        entries, address_family, max_entries = desired
        current = find_owned_prefix_list(client, params["name"])
        current_entries = read_prefix_list_entries(client, current["PrefixListId"]) if current else ()
        steps = plan_prefix_list(current, current_entries, params["name"], entries, address_family, max_entries, params["tags"])
    else:
        entries, address_family, max_entries = (), None, None
        current, current_entries, steps = plan_absent(client, module, params["name"])

    planned = planned_result(current, current_entries, steps, entries, max_entries)
    result = {"changed": bool(steps), "actions": steps}
    if address_family:
        result["address_family"] = address_family
    if module._diff:
        after = {key: planned[key] for key in ("prefix_list_id", "entries", "max_entries")} if planned["prefix_list_id"] or entries else {}
        result["diff"] = {"before": list_view(current, current_entries), "after": after}
    if module.check_mode or not steps:
        module.exit_json(**dict(result, **planned))

    final = execute_prefix_list_plan(client, current, steps, params["wait_timeout"])
    final_entries = read_prefix_list_entries(client, final["PrefixListId"]) if final else ()
    module.exit_json(**dict(result, **result_of(final, final_entries)))


def quota_hint(error):
    """EC2's quota refusals keep EC2's words, with what to do about them."""
    if getattr(error, "code", None) in _QUOTA_CODES:
        return {"msg": "%s. The account's prefix-list quotas (lists per Region, entries per list) are raised through AWS "
                       "Support (Service Quotas does not list them)." % error.message}
    return {}


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        entries=dict(type="list", elements="str"),
        max_entries=dict(type="int"),
        tags=dict(type="dict", default={}),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        wait_timeout=dict(type="int", default=300),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              required_if=[("state", "present", ["entries"])])
    run_or_fail(module, run, failure_report=quota_hint)


if __name__ == "__main__":
    main()
