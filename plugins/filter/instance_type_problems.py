# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: instance_type_problems
author:
  - Local Zones Failover Maintainers (@localzones)
version_added: 0.1.0
short_description: Say when a zone does not offer an instance type
description:
  - Takes a zone as M(localzones.failover.lz_zone_info) describes it with O(localzones.failover.lz_zone_info#module:instance_type_offerings=true)
    and returns an empty list when it offers the instance type, else a list with one sentence that names the types it
    does offer and the setting to change.
  - The roles that launch instances in a Local Zone share it, so the check and its message live once.
positional: instance_type, setting
options:
  _input:
    description: The zone, an element of RV(localzones.failover.lz_zone_info#module:zones).
    type: dict
    required: true
  instance_type:
    description: The instance type to look for.
    type: str
    required: true
  setting:
    description: The name of the variable that holds the instance type, for the message.
    type: str
    default: instance_type
"""

EXAMPLES = r"""
- name: Refuse an instance type the Local Zone does not offer
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join(' ') }}"
  vars:
    problems: "{{ zone_info.zones[0] | localzones.failover.instance_type_problems('t3.medium', 'my_instance_type') }}"
"""

RETURN = r"""
_value:
  description: One sentence when the zone does not offer the instance type, else nothing.
  type: list
  elements: str
  sample: ["The instance type t2.micro is not offered in the Local Zone us-east-1-bos-1a. It offers t3.medium, t3.xlarge: set my_instance_type to one of them."]
"""

from ansible_collections.localzones.failover.plugins.module_utils.validation import instance_type_problem


def instance_type_problems(zone, instance_type, setting="instance_type"):
    """[] when the zone offers the instance type, else [what it offers instead]."""
    problem = instance_type_problem(zone, instance_type, setting)
    return [problem] if problem else []


class FilterModule:
    """The instance_type_problems filter."""

    def filters(self):
        return {"instance_type_problems": instance_type_problems}
