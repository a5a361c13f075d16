# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: cidr_problems
author:
  - Local Zones Failover Maintainers (@localzones)
version_added: 0.1.0
short_description: Say which entries of a list are not network CIDR blocks
description:
  - Returns one sentence per entry that is not an IPv4 or IPv6 network in CIDR notation with its host bits clear,
    naming the setting, and nothing when every entry is one. An empty list is a problem too.
  - The CIDR rule lives once, in C(plugins/module_utils/validation.py), where the route modules use it.
  - A list, so that a role can add it to its other setting problems and name them all at once.
positional: setting
options:
  _input:
    description: The list to check.
    type: raw
    required: true
  setting:
    description: The name of the variable that holds the list, for the messages.
    type: str
    default: prefixes
"""

EXAMPLES = r"""
# Stop before the first change, naming every bad entry of the list.
- name: Refuse prefixes that are not CIDR blocks
  ansible.builtin.fail:
    msg: "Bad prefixes: {{ bad | join(' ') }}"
  when: bad | length > 0
  vars:
    bad: "{{ my_prefixes | localzones.failover.cidr_problems('my_prefixes') }}"
"""

RETURN = r"""
_value:
  description: One sentence per entry that is not a CIDR block (or one when the list is empty or not a list).
  type: list
  elements: str
  sample: ["fhrp_track_script.prefixes: '10.1.2.3/8' has host bits set; did you mean 10.0.0.0/8?"]
"""

from ansible_collections.localzones.failover.plugins.module_utils.validation import cidr_problem


def cidr_problems(values, setting="prefixes"):
    """[] when ``values`` is a non-empty list of CIDR blocks, else a sentence per problem."""
    if not isinstance(values, (list, tuple)) or not values:
        return ["%s must be a non-empty list of CIDR blocks (got %r)." % (setting, values)]
    problems = (cidr_problem(value) for value in values)
    return ["%s: %s%s" % (setting, problem, "" if problem.endswith("?") else ".") for problem in problems if problem]


class FilterModule:
    """The cidr_problems filter."""

    def filters(self):
        return {"cidr_problems": cidr_problems}
