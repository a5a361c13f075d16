# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: public_ipv4_problems
author:
  - Local Zones Failover Maintainers (@localzones)
version_added: 0.1.0
short_description: Say why an address is not a public unicast IPv4 address
description:
  - Returns an empty list for a public unicast IPv4 address, else a list with one sentence that names the setting and
    says what the address is instead (private, loopback, link-local, multicast, reserved, benchmark or documentation
    space, shared CGN space, an IPv6 address, a network, or not an address at all).
  - The ranges are those of the IANA IPv4 Special-Purpose Address Registry that are not globally reachable, plus
    multicast; the rule lives once, in C(plugins/module_utils/validation.py).
  - A list, so that a role can add it to its other setting problems and name them all at once.
positional: setting, allow_benchmark
options:
  _input:
    description: The address to check.
    type: raw
    required: true
  setting:
    description: The name of the variable that holds the address, for the message.
    type: str
    default: address
  allow_benchmark:
    description:
      - Also accept 198.18.0.0/15, the RFC 2544 benchmark space that test labs use. For labs and tests only.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Refuse a customer gateway address that is not public
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join(' ') }}"
  vars:
    problems: "{{ '10.1.2.3' | localzones.failover.public_ipv4_problems('customer_gateway_address') }}"
"""

RETURN = r"""
_value:
  description: One sentence when the address is not a public unicast IPv4 address, else nothing.
  type: list
  elements: str
  sample: ["customer_gateway_address: 10.1.2.3 is not a public unicast IPv4 address: it is in 10.0.0.0/8, private (RFC 1918)."]
"""

from ansible_collections.localzones.failover.plugins.module_utils.validation import public_ipv4_problem


def public_ipv4_problems(value, setting="address", allow_benchmark=False):
    """[] for a public unicast IPv4 address, else [why not]."""
    problem = public_ipv4_problem(value, setting, allow_benchmark=bool(allow_benchmark))
    return [problem] if problem else []


class FilterModule:
    """The public_ipv4_problems filter."""

    def filters(self):
        return {"public_ipv4_problems": public_ipv4_problems}
