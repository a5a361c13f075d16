# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: failover_tags
author:
  - Local Zones Failover Maintainers (@localzones)
version_added: 0.1.0
short_description: The tag keys and values that mark the failover's resources
description:
  - Returns, for each name given, the tag key or value the collection uses, from the one definition in
    C(plugins/module_utils/tags.py) that the modules and the monitor daemon use too.
  - V(managed_by_key) is the key every created resource carries (its value is the failover's name);
    V(role_key) the key of a resource's part in the failover, whose values are V(vpn_appliance) and V(utility).
options:
  _terms:
    description: Names of tags, from V(managed_by_key), V(role_key), V(vpn_appliance), V(utility).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Tags of a resource a role creates
  ansible.builtin.set_fact:
    created_tags: "{{ {lookup('localzones.failover.failover_tags', 'managed_by_key'): lz_failover_name} }}"
"""

RETURN = r"""
_raw:
  description: The tag key or value of each name, in order.
  type: list
  elements: str
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.localzones.failover.plugins.module_utils.tags import BY_NAME


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        unknown = [term for term in terms if term not in BY_NAME]
        if unknown:
            raise AnsibleLookupError("unknown failover tag name(s) %s; known: %s" % (", ".join(unknown), ", ".join(sorted(BY_NAME))))
        return [BY_NAME[term] for term in terms]
