#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lz_coordination_table
version_added: 0.2.0
short_description: Keep the DynamoDB table in which monitors in pairs elect their one writer
description:
  - Ensures the DynamoDB table the failover monitors share when they run in pairs (or more) per failover
    group. One table serves any number of groups. Its layout is fixed - partition key C(failover_group)
    and sort key C(record), both strings - with on-demand capacity (C(PAY_PER_REQUEST)).
  - The module creates the table with the tag C(localzones.failover/role=coordination) and waits until
    it is C(ACTIVE). An existing table that carries the tag gets on-demand capacity and the given tags
    when it lacks them; its items are never touched.
  - A table of that name without the tag was not created by this project, and one with another key
    schema cannot hold the monitors' items - the module fails and changes nothing. With O(state=absent)
    it deletes only a table that carries the tag.
author:
  - Local Zones Failover Maintainers (@localzones)
options:
  name:
    description:
      - The table's name, 3 to 255 letters, digits, C(_), C(.) or C(-).
    type: str
    required: true
  tags:
    description:
      - Tags for the table, besides C(localzones.failover/role=coordination). Tags the table already has are kept.
    type: dict
    default: {}
  state:
    description:
      - C(present) creates the table or completes its settings; C(absent) deletes it when it carries the tag.
    type: str
    default: present
    choices: [present, absent]
  wait_timeout:
    description:
      - Seconds to wait for DynamoDB to settle each change of the table before the module fails.
    type: int
    default: 300
notes:
  - Needs C(dynamodb:DescribeTable) and C(dynamodb:ListTagsOfResource), and for changes C(dynamodb:CreateTable),
    C(dynamodb:UpdateTable), C(dynamodb:TagResource) and C(dynamodb:DeleteTable).
  - Deleting the table deletes the monitors' items (lease, pin, views); delete it only after the monitors are gone.
attributes:
  check_mode:
    support: full
    details: Reports the planned calls without making them.
  diff_mode:
    support: none
extends_documentation_fragment:
  - localzones.failover.attributes
  - localzones.failover.aws_attributes
  - localzones.failover.aws_connection
"""

EXAMPLES = r"""
- name: Keep the monitors' coordination table
  localzones.failover.lz_coordination_table:
    region: us-east-1
    name: lz-failover-coordination
    tags:
      localzones.failover/managed-by: lz-failover
  register: coordination

- name: Delete it once the monitors are gone (only when this project created it)
  localzones.failover.lz_coordination_table:
    region: us-east-1
    name: lz-failover-coordination
    state: absent
"""

RETURN = r"""
table_name:
  description: The table's name.
  returned: always
  type: str
  sample: lz-failover-coordination
table_arn:
  description: The table's ARN; null when it does not exist (in check mode before it is created, and after O(state=absent)).
  returned: always
  type: str
  sample: arn:aws:dynamodb:us-east-1:123456789012:table/lz-failover-coordination
billing_mode:
  description: The table's billing mode afterwards (in check mode, would have); null when it does not exist.
  returned: always
  type: str
  sample: PAY_PER_REQUEST
actions:
  description: The changes made, or in check mode the ones that would be made, in order.
  returned: always
  type: list
  elements: dict
  sample: [{step: create, table_name: lz-failover-coordination, tags: {localzones.failover/role: coordination}}]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.localzones.failover.plugins.module_utils.aws.coordination_table import STEP_DELETE
from ansible_collections.localzones.failover.plugins.module_utils.aws.coordination_table import billing_mode
from ansible_collections.localzones.failover.plugins.module_utils.aws.coordination_table import execute_table_plan
from ansible_collections.localzones.failover.plugins.module_utils.aws.coordination_table import plan_table
from ansible_collections.localzones.failover.plugins.module_utils.aws.coordination_table import plan_table_absent
from ansible_collections.localzones.failover.plugins.module_utils.aws.coordination_table import read_table
from ansible_collections.localzones.failover.plugins.module_utils.aws.coordination_table import read_table_tags
from ansible_collections.localzones.failover.plugins.module_utils.aws.coordination_table import validate_table_name
from ansible_collections.localzones.failover.plugins.module_utils.aws.modules import retrying_client
from ansible_collections.localzones.failover.plugins.module_utils.aws.modules import run_or_fail
from ansible_collections.localzones.failover.plugins.module_utils.coordination.schema import BILLING_MODE
from ansible_collections.localzones.failover.plugins.module_utils.tags import ROLE_COORDINATION
from ansible_collections.localzones.failover.plugins.module_utils.tags import ROLE_KEY


def result_of(name, table):
    """The returned values for the table DynamoDB answered (None: there is none)."""
    if table is None:
        return {"table_name": name, "table_arn": None, "billing_mode": None}
    return {"table_name": name, "table_arn": table.get("TableArn"), "billing_mode": billing_mode(table)}


def planned_result(name, current, steps):
    """The table as it will be after ``steps``: what check mode returns."""
    if steps and steps[-1]["step"] == STEP_DELETE:
        return result_of(name, None)
    if not steps:
        return result_of(name, current)
    # A table still to be created has no ARN yet; every planned table is on-demand.
    return {"table_name": name, "table_arn": current.get("TableArn") if current else None, "billing_mode": BILLING_MODE}


def run(module):
    params = module.params
    name = params["name"]
    # The name is checked before the first call.
    validate_table_name(name)
    client = retrying_client(module, "dynamodb")
    current = read_table(client, name)
    current_tags = read_table_tags(client, current["TableArn"]) if current else {}
    if params["state"] == "present":
        steps = plan_table(current, current_tags, name, dict(params["tags"], **{ROLE_KEY: ROLE_COORDINATION}))
    else:
        steps, foreign = plan_table_absent(current, current_tags, name)
        if foreign:
            module.warn("table %r was not created by this project (no tag %s=%s); it is left alone" % (name, ROLE_KEY, ROLE_COORDINATION))
    result = {"changed": bool(steps), "actions": steps}
    if module.check_mode or not steps:
        module.exit_json(**dict(result, **planned_result(name, current, steps)))
    final = execute_table_plan(client, steps, params["wait_timeout"])
    module.exit_json(**dict(result, **result_of(name, final)))


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        tags=dict(type="dict", default={}),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        wait_timeout=dict(type="int", default=300),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    run_or_fail(module, run)


if __name__ == "__main__":
    main()
